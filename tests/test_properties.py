"""Property-based tests (hypothesis) of the numerics."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import losskit as lk

settings.register_profile("losskit", deadline=None, max_examples=60)
# HYPOTHESIS_PROFILE=stress runs fifty times as many examples: use it after touching a tolerance.
settings.register_profile("stress", deadline=None, max_examples=3000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "losskit"))

finite = st.floats(-30, 30, allow_nan=False, width=64)
EPS = float(np.finfo(np.float64).eps)


def _absolute_rounding(z: Any) -> float:
    """The loss is logsumexp(z) − z_t: when both are large and nearly equal the difference
    carries the absolute rounding of |z|, not a relative one (z = [11, 0, 0, 0] gives 5e-5
    with an error of 2e-16), so comparisons of two ways of computing it need this bound."""
    return 8 * float(np.finfo(z.dtype).eps) * max(1.0, float(np.abs(z).max()))


@st.composite
def logits_and_labels(draw: Any, dtype: Any = np.float64) -> tuple[Any, Any]:
    n = draw(st.integers(1, 8))
    c = draw(st.integers(1, 7))
    z = draw(arrays(dtype, (n, c), elements=st.floats(-30, 30, width=32)))
    t = draw(arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return z, t


@given(logits_and_labels(), finite, st.floats(0, 1))
def test_softmax_cross_entropy_is_shift_invariant(zt: Any, shift: float, eps: float) -> None:
    z, t = zt
    a, ga = lk.softmax_cross_entropy.value_and_grad(z, t, label_smoothing=eps)
    b, gb = lk.softmax_cross_entropy.value_and_grad(z + shift, t, label_smoothing=eps)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ga, gb, rtol=1e-7, atol=1e-9)


@given(logits_and_labels())
def test_mean_is_mean_of_none_and_grad_of_mean_is_grad_of_sum_over_n(zt: Any) -> None:
    z, t = zt
    n = z.shape[0]
    none = lk.softmax_cross_entropy(z, t, reduction="none")
    # Per sample, log s − (z_t − m) carries absolute rounding: of log s near s = 1 (a loss
    # of 5e-5 off by 2e-16) and of |z|. Reduced and unreduced calls take different kernels.
    atol = _absolute_rounding(z)
    np.testing.assert_allclose(lk.softmax_cross_entropy(z, t), none.mean(), rtol=1e-12, atol=atol)
    np.testing.assert_allclose(
        lk.softmax_cross_entropy(z, t, reduction="sum"), none.sum(), rtol=1e-12, atol=n * atol
    )
    np.testing.assert_allclose(
        lk.softmax_cross_entropy.grad(z, t),
        lk.softmax_cross_entropy.grad(z, t, reduction="sum") / n,
        rtol=1e-12,
        atol=4 * EPS / n,  # p − 1 cancels near p = 1: entries lie in [−1/n, 1/n]
    )
    # Equal up to rounding: small reduced batches take a leaner kernel than "none", which
    # sums the exps in another order; p − 1 keeps that rounding as an absolute error
    # (z = [0, -6, -6, -6]: -0.0073813667929842 vs ...8442).
    np.testing.assert_allclose(
        lk.softmax_cross_entropy.grad(z, t, reduction="none"),
        lk.softmax_cross_entropy.grad(z, t, reduction="sum"),
        rtol=1e-14,
        atol=4 * EPS,
    )


@given(st.integers(1, 6), st.integers(1, 6), st.data())
def test_probability_losses_mean_of_none(n: int, c: int, data: Any) -> None:
    y = data.draw(arrays(np.float64, (n, c), elements=st.floats(0, 1)))
    t = data.draw(arrays(np.float64, (n, c), elements=st.floats(0, 1)))
    for loss in (lk.mean_squared_error, lk.cross_entropy_error, lk.binary_cross_entropy):
        none = loss(y, t, reduction="none")
        np.testing.assert_allclose(loss(y, t), none.mean(), rtol=1e-12)
        np.testing.assert_allclose(
            loss.grad(y, t),
            loss.grad(y, t, reduction="sum") / none.size,
            rtol=1e-12,
            atol=1e-300,  # subnormal gradients round differently when scaled first
        )


@given(st.integers(1, 5), st.integers(2, 50), st.sampled_from([np.float32, np.float64]), st.data())
def test_extreme_logits_stay_finite(n: int, c: int, dtype: Any, data: Any) -> None:
    big = st.sampled_from([-1e4, -1e3, 0.0, 1e3, 1e4])
    z = data.draw(arrays(dtype, (n, c), elements=big))
    t = data.draw(arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    value, grad = lk.softmax_cross_entropy.value_and_grad(z, t, label_smoothing=0.1)
    assert np.isfinite(value)
    assert np.all(np.isfinite(grad))
    assert value.dtype == dtype
    assert grad.dtype == dtype
    x = data.draw(arrays(dtype, (n, c), elements=big))
    value, grad = lk.sigmoid_binary_cross_entropy.value_and_grad(
        x, (t[:, None] % 2 == 0) * z * 0 + (x > 0).astype(dtype)
    )
    assert np.isfinite(value)
    assert np.all(np.isfinite(grad))


@given(logits_and_labels())
def test_gradient_rows_sum_to_zero_and_softmax_is_a_distribution(zt: Any) -> None:
    z, t = zt
    g = lk.softmax_cross_entropy.grad(z, t, reduction="sum")
    np.testing.assert_allclose(g.sum(axis=-1), 0.0, atol=1e-12)
    p = lk.softmax(z)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(lk.log_softmax(z), np.log(p), rtol=1e-9, atol=1e-9)


@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-700, 700)))
def test_sigmoid_and_softplus_match_their_definitions(x: Any) -> None:
    with np.errstate(over="ignore"):
        expected_sigmoid = 1 / (1 + np.exp(-x))
        expected_softplus = np.logaddexp(0, x)
    np.testing.assert_allclose(lk.sigmoid(x), expected_sigmoid, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(lk.softplus(x), expected_softplus, rtol=1e-14)


@given(logits_and_labels())
def test_labels_and_one_hot_agree(zt: Any) -> None:
    z, t = zt
    one_hot = lk.one_hot(t, z.shape[1])
    np.testing.assert_allclose(
        lk.softmax_cross_entropy(z, t),
        lk.softmax_cross_entropy(z, one_hot),
        rtol=1e-12,
        atol=_absolute_rounding(z),
    )
    np.testing.assert_allclose(
        lk.softmax_cross_entropy.grad(z, t),
        lk.softmax_cross_entropy.grad(z, one_hot),
        rtol=1e-12,
        atol=1e-15,  # entries lie in [-1, 1]; p - 1 cancels, so compare absolutely too
    )
