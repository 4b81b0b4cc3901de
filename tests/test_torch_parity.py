"""PyTorch parity for the logit losses over randomized option combinations:
values and gradients (torch autograd), float64 and float32."""

from __future__ import annotations

import itertools
import zlib
from typing import Any

import numpy as np
import pytest

import losskit as lk

torch = pytest.importorskip("torch", reason="PyTorch parity needs torch installed")
F = torch.nn.functional
torch.set_num_threads(1)

REDUCTIONS = ["mean", "sum", "none"]


def _seed(*parts: object) -> int:
    # Python's hash() of strings changes per process; crc32 keeps runs reproducible.
    return zlib.crc32(repr(parts).encode())


def _combos() -> list[tuple[Any, ...]]:
    # weight × ignore_index × label_smoothing × reduction × labels/distributions
    grid = itertools.product(
        [False, True],
        [None, 0, 3],
        [0.0, 0.3, 1.0],
        REDUCTIONS,
        ["labels", "distribution"],
        ["float64", "float32"],
    )
    return [c for c in grid if not (c[4] == "distribution" and c[1] is not None)]


@pytest.mark.parametrize(
    ("use_weight", "ignore_index", "smoothing", "reduction", "kind", "dtype"), _combos()
)
def test_softmax_cross_entropy_matches_torch(
    use_weight: bool,
    ignore_index: int | None,
    smoothing: float,
    reduction: str,
    kind: str,
    dtype: str,
) -> None:
    rng = np.random.default_rng(_seed(use_weight, ignore_index, smoothing, reduction, kind))
    n, c = int(rng.integers(1, 12)), int(rng.integers(2, 9))
    logits = (rng.normal(size=(n, c)) * rng.uniform(0.1, 10)).astype(dtype)
    if kind == "labels":
        t = rng.integers(0, c, n)
        if ignore_index is not None and ignore_index < c:
            t[rng.random(n) < 0.3] = ignore_index
    else:
        t = rng.dirichlet(np.ones(c) * 0.5, size=n).astype(dtype)
        t[rng.random((n, c)) < 0.2] = 0.0  # exact zeros exercise 0·log 0
    weight = rng.uniform(0.1, 3.0, c).astype(dtype) if use_weight else None

    options: dict[str, Any] = {"label_smoothing": smoothing, "reduction": reduction}
    z = torch.tensor(logits, requires_grad=True)
    expected = F.cross_entropy(
        z,
        torch.tensor(t),
        weight=None if weight is None else torch.tensor(weight),
        ignore_index=-100 if ignore_index is None else ignore_index,
        **options,
    )
    expected.sum().backward()
    assert z.grad is not None

    value, grad = lk.softmax_cross_entropy.value_and_grad(
        logits, t, weight=weight, ignore_index=ignore_index, **options
    )

    expected_value = expected.detach().numpy()
    if (
        kind == "labels"
        and reduction == "mean"
        and ignore_index is not None
        and np.all(t == ignore_index)
    ):
        # The documented edge policy (SPEC §2.5): 0 where PyTorch gives NaN.
        assert np.isnan(expected_value)
        expected_value = np.zeros_like(expected_value)
        z.grad.zero_()
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (2e-5, 2e-6)
    np.testing.assert_allclose(value, expected_value, rtol=rtol, atol=atol)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=rtol, atol=atol)
    assert value.dtype == logits.dtype
    assert grad.dtype == logits.dtype


def test_softmax_cross_entropy_class_axis_1_matches_torch() -> None:
    rng = np.random.default_rng(0)
    logits, t = rng.normal(size=(2, 5, 3, 4)), rng.integers(0, 5, (2, 3, 4))
    z = torch.tensor(logits, requires_grad=True)
    F.cross_entropy(z, torch.tensor(t)).backward()
    value, grad = lk.softmax_cross_entropy.value_and_grad(logits, t, axis=1)
    np.testing.assert_allclose(
        value, F.cross_entropy(torch.tensor(logits), torch.tensor(t)), rtol=1e-12
    )
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_pos_weight", [False, True])
@pytest.mark.parametrize("targets", ["labels", "soft"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sigmoid_binary_cross_entropy_matches_torch(
    reduction: str, use_pos_weight: bool, targets: str, dtype: str
) -> None:
    rng = np.random.default_rng(_seed(reduction, use_pos_weight, targets))
    x = (rng.normal(size=(7, 4)) * 6).astype(dtype)
    x[0, 0], x[1, 1] = 80.0, -80.0  # far tails: stable softplus, no overflow
    t = rng.integers(0, 2, (7, 4)) if targets == "labels" else rng.random((7, 4)).astype(dtype)
    pos_weight = rng.uniform(0.2, 4.0, 4).astype(dtype) if use_pos_weight else None

    z = torch.tensor(x, requires_grad=True)
    expected = F.binary_cross_entropy_with_logits(
        z,
        torch.tensor(t, dtype=z.dtype),
        reduction=reduction,
        pos_weight=None if pos_weight is None else torch.tensor(pos_weight),
    )
    expected.sum().backward()
    assert z.grad is not None

    value, grad = lk.sigmoid_binary_cross_entropy.value_and_grad(
        x, t, pos_weight=pos_weight, reduction=reduction
    )
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (2e-5, 2e-6)
    np.testing.assert_allclose(value, expected.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=rtol, atol=atol)


def test_extreme_logits_stay_finite_in_float32_like_torch() -> None:
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=np.float32)
    t = np.array([1, 2])
    value, grad = lk.softmax_cross_entropy.value_and_grad(logits, t)
    expected = F.cross_entropy(torch.tensor(logits), torch.tensor(t))
    assert np.isfinite(value)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(value, expected.numpy(), rtol=1e-6)
    x = np.array([1e4, -1e4, 1e4], dtype=np.float32)
    value = lk.sigmoid_binary_cross_entropy(x, np.array([0, 1, 1]))
    expected = F.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor([0.0, 1, 1]))
    np.testing.assert_allclose(value, expected.numpy(), rtol=1e-6)


def test_mean_squared_error_relation_to_torch_mse_loss() -> None:
    """Documented mapping: torch's mse_loss = 2 · mean_squared_error / C (no ½, element mean)."""
    rng = np.random.default_rng(3)
    y, t = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    torch_value = F.mse_loss(torch.tensor(y), torch.tensor(t)).item()
    assert np.isclose(torch_value, 2 * float(lk.mean_squared_error(y, t)) / 5, rtol=1e-12)
