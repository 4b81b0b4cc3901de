"""optax parity: softmax cross entropy (integer labels and distributions) and sigmoid binary
cross entropy, values and gradients (jax.grad of optax's functions), on JAX arrays and on
NumPy (the fused kernels), over shapes that take every kernel path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from backends import configure

import losskit as lk

optax = pytest.importorskip("optax", reason="optax parity needs optax installed")
jax = pytest.importorskip("jax")
jnp = jax.numpy
configure("jax")  # float64 on JAX, as the rest of the suite

SHAPES = [(1, 1), (7, 3), (100, 10), (64, 1000), (3, 5000)]


def _data(n: int, c: int, dtype: Any) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(n * 7919 + c)
    z = (rng.standard_normal((n, c)) * 4).astype(dtype)
    t = rng.integers(0, c, n)
    soft = rng.random((n, c)).astype(dtype)
    return z, t, soft / soft.sum(axis=1, keepdims=True)


def _close(a: Any, b: Any, dtype: Any) -> None:
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_integer_labels_match_optax(shape: tuple[int, int], dtype: Any) -> None:
    z, t, _ = _data(*shape, dtype)

    def ref(a: Any) -> Any:
        return optax.softmax_cross_entropy_with_integer_labels(a, jnp.asarray(t)).mean()

    value, grad = jax.value_and_grad(ref)(jnp.asarray(z))
    assert grad.dtype == dtype
    for inputs in ((z, t), (jnp.asarray(z), jnp.asarray(t))):  # the kernels, then the core
        mine, g = lk.softmax_cross_entropy.value_and_grad(*inputs)
        _close(mine, value, dtype)
        _close(g, grad, dtype)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_distributions_match_optax(shape: tuple[int, int]) -> None:
    z, _, soft = _data(*shape, np.float32)

    def ref(a: Any) -> Any:
        return optax.softmax_cross_entropy(a, jnp.asarray(soft)).sum()

    value, grad = jax.value_and_grad(ref)(jnp.asarray(z))
    mine, g = lk.softmax_cross_entropy.value_and_grad(z, soft, reduction="sum")
    _close(mine / shape[0], value / shape[0], np.float32)
    _close(g, grad, np.float32)


def test_sigmoid_binary_cross_entropy_matches_optax() -> None:
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((50, 4)) * 6).astype(np.float32)
    t = (rng.random((50, 4)) > 0.5).astype(np.float32)

    def ref(a: Any) -> Any:
        return optax.sigmoid_binary_cross_entropy(a, jnp.asarray(t)).mean()

    value, grad = jax.value_and_grad(ref)(jnp.asarray(x))
    mine, g = lk.sigmoid_binary_cross_entropy.value_and_grad(x, t)
    _close(mine, value, np.float32)
    _close(g, grad, np.float32)
