"""The fused NumPy kernels give the generic Array API path's numbers."""

from __future__ import annotations

import array_api_strict as xps
import numpy as np
import pytest

import losskit as lk
from losskit import _kernels


def generic(z: np.ndarray, t: np.ndarray, reduction: str) -> tuple[np.ndarray, np.ndarray]:
    """The reference path: the same call on array-api-strict never takes a kernel."""
    value, grad = lk.softmax_cross_entropy.value_and_grad(
        xps.asarray(z), xps.asarray(t), reduction=reduction
    )
    return np.from_dlpack(value), np.from_dlpack(grad)


def test_kernel_is_chosen_for_plain_numpy_labels() -> None:
    z, t = np.zeros((3, 4), np.float32), np.array([0, 1, 2])
    assert _kernels.softmax_cross_entropy_applies(z, t, 1, None, None, 0.0)
    assert not _kernels.softmax_cross_entropy_applies(z, t, 1, None, None, 0.1)
    assert not _kernels.softmax_cross_entropy_applies(z, t.astype(np.float32), 1, None, None, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
def test_fused_equals_generic(dtype: type, reduction: str, scale: float) -> None:
    rng = np.random.default_rng(int(scale))
    z = (rng.normal(size=(64, 37)) * scale).astype(dtype)
    t = rng.integers(0, 37, 64)
    value, grad = lk.softmax_cross_entropy.value_and_grad(z, t, reduction=reduction)
    ref_value, ref_grad = generic(z, t, reduction)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-15}
    np.testing.assert_allclose(value, ref_value, **tol)
    np.testing.assert_allclose(grad, ref_grad, **tol)
    assert value.dtype == dtype
    assert grad.dtype == dtype
    np.testing.assert_array_equal(lk.softmax_cross_entropy(z, t, reduction=reduction), value)


def test_fused_handles_infinities_and_nan_like_generic() -> None:
    z = np.array(
        [
            [0.0, -np.inf, 1.0],  # -inf off target: contributes 0
            [-np.inf, -np.inf, -np.inf],  # all -inf: NaN
            [np.inf, 0.0, 0.0],  # +inf off target: inf loss
            [np.nan, 0.0, 1.0],  # NaN propagates
            [5.0, 4.0, 3.0],
        ]
    )
    t = np.array([2, 0, 1, 2, 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        value, grad = lk.softmax_cross_entropy.value_and_grad(z, t, reduction="none")
        ref_value, ref_grad = generic(z, t, "none")
    np.testing.assert_allclose(value, ref_value, rtol=1e-12)  # NaN == NaN and inf == inf here
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)
    assert np.isnan(value[1])
    assert np.isinf(value[2])
    assert np.isnan(value[3])


def test_fused_reports_bad_labels_like_generic() -> None:
    z = np.zeros((4, 3))
    for call in (
        lk.softmax_cross_entropy,
        lk.softmax_cross_entropy.grad,
        lk.softmax_cross_entropy.value_and_grad,
    ):
        with pytest.raises(ValueError, match=r"label 3 at index 2 is out of range for 3 classes"):
            call(z, np.array([0, 1, 3, -1]))
