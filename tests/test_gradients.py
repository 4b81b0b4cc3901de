"""Analytic gradients: against numerical differences, torch autograd and jax.grad."""

from __future__ import annotations

import functools
from typing import Any

import array_api_compat
import numpy as np
import pytest
from backends import assert_close, configure, installed, to_backend, to_numpy
from test_against_reference import CASES, Case, _prepare

import losskit as lk

CASE_IDS = [c.id for c in CASES]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_analytic_gradient_matches_numerical_gradient(case: Case, reduction: str) -> None:
    pred, t, opts = _prepare(case, "float64", seed=11)

    def f(x: Any) -> float:
        return float(np.sum(case.loss(x, t, reduction=reduction, **opts)))

    result = lk.check_gradient(
        f,
        lambda x: case.loss.grad(x, t, reduction=reduction, **opts),
        pred,
        h=1e-6,
        rtol=1e-6,
        atol=1e-8,
    )
    assert result.passed, str(result)


def test_check_gradient_names_the_worst_element() -> None:
    z, t = np.random.default_rng(0).normal(size=(3, 4)), np.array([0, 1, 3])

    def wrong_grad(x: Any) -> Any:
        g = lk.softmax_cross_entropy.grad(x, t)
        g[1, 2] += 1e-3
        return g

    result = lk.check_gradient(lambda x: lk.softmax_cross_entropy(x, t), wrong_grad, z)
    assert not result.passed
    assert not result
    assert result.worst_index == (1, 2)
    assert result.abs_error == pytest.approx(1e-3, rel=1e-3)
    assert "FAILED" in str(result)
    assert "(1, 2)" in str(result)


def test_numerical_gradient_is_the_books_central_difference(backend: str) -> None:
    x = to_backend(backend, np.array([[3.0, 4.0], [-1.0, 0.5]]))
    xp = array_api_compat.array_namespace(x)
    grad = lk.numerical_gradient(lambda v: xp.sum(v * v), x)
    assert_close(
        backend,
        grad,
        2 * np.array([[3.0, 4.0], [-1.0, 0.5]]),
        dtype="float64",
        rtol=1e-8,
        atol=1e-8,
    )
    np.testing.assert_array_equal(to_numpy(x), [[3.0, 4.0], [-1.0, 0.5]])  # x untouched


@pytest.mark.skipif(not installed("torch"), reason="backend torch is not installed")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torch_autograd_equals_analytic_gradient(case: Case, reduction: str) -> None:
    import torch

    configure("torch")
    pred, t, opts = _prepare(case, "float64", seed=5)
    x = torch.tensor(pred, requires_grad=True)
    t_b = torch.tensor(t)
    options = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in opts.items()}
    case.loss(x, t_b, reduction=reduction, **options).sum().backward()
    analytic = case.loss.grad(x.detach(), t_b, reduction=reduction, **options)
    assert x.grad is not None
    torch.testing.assert_close(x.grad, analytic, rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(not installed("jax"), reason="backend jax is not installed")
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_jax_grad_and_jit_equal_analytic(case: Case, reduction: str) -> None:
    configure("jax")
    import jax
    import jax.numpy as jnp

    pred, t, opts = _prepare(case, "float64", seed=5)
    x, t_j = jnp.asarray(pred), jnp.asarray(t)
    options = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in opts.items()}
    loss = functools.partial(case.loss, reduction=reduction, **options)

    autodiff = jax.grad(lambda v: loss(v, t_j))(x)
    analytic = case.loss.grad(x, t_j, reduction=reduction, **options)
    np.testing.assert_allclose(np.asarray(autodiff), np.asarray(analytic), rtol=1e-10, atol=1e-12)
    jitted_value = jax.jit(loss)(x, t_j)
    np.testing.assert_allclose(np.asarray(jitted_value), np.asarray(loss(x, t_j)), rtol=1e-12)
    jitted_grad = jax.jit(functools.partial(case.loss.grad, reduction=reduction, **options))
    np.testing.assert_allclose(
        np.asarray(jitted_grad(x, t_j)), np.asarray(analytic), rtol=1e-12, atol=1e-15
    )


@pytest.mark.skipif(not installed("jax"), reason="backend jax is not installed")
def test_jax_default_32_bit_mode_works_without_warnings() -> None:
    """The suite enables jax_enable_x64 for float64 tests; users usually do not."""
    import subprocess
    import sys

    code = """
import warnings; warnings.simplefilter("error")
import jax, jax.numpy as jnp, numpy as np, losskit as lk
z = jnp.asarray(np.linspace(-3, 3, 12, dtype=np.float32).reshape(4, 3))
t = jnp.asarray([0, 1, 2, 1])
v, g = lk.softmax_cross_entropy.value_and_grad(z, t, label_smoothing=0.1)
auto = jax.grad(lambda u: lk.softmax_cross_entropy(u, t, label_smoothing=0.1))(z)
assert v.dtype == g.dtype == jnp.float32
assert float(jnp.max(jnp.abs(auto - g))) < 1e-6
assert lk.one_hot(t, 3).dtype == jnp.float32
assert float(jax.jit(lk.softmax_cross_entropy)(z, t)) == float(lk.softmax_cross_entropy(z, t))
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_losses_show_their_real_signature() -> None:
    import inspect

    sig = inspect.signature(lk.softmax_cross_entropy)
    assert list(sig.parameters)[:2] == ["logits", "t"]
    assert sig.parameters["label_smoothing"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.return_annotation == "Array"
    assert lk.softmax_cross_entropy.__doc__
    assert "log-sum-exp" in lk.softmax_cross_entropy.__doc__
