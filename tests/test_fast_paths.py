"""The fused NumPy kernels give the generic Array API path's numbers, for every option."""

from __future__ import annotations

from typing import Any

import array_api_strict as xps
import numpy as np
import pytest

import losskit as lk
from losskit._validate import ClassInputs, class_inputs
from losskit.kernels import dispatch


def generic(z: np.ndarray, t: np.ndarray, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """The reference path: the same call on array-api-strict never takes a kernel."""
    if options.get("weight") is not None:
        options["weight"] = xps.asarray(options["weight"])
    value, grad = lk.softmax_cross_entropy.value_and_grad(xps.asarray(z), xps.asarray(t), **options)
    return np.from_dlpack(value), np.from_dlpack(grad)


def inputs(z: Any, t: Any, **options: Any) -> ClassInputs:
    options.setdefault("axis", -1)
    options.setdefault("reduction", "mean")
    return class_inputs("logits", z, t, xp=None, **options)


def test_kernel_is_chosen_only_where_it_applies() -> None:
    z, t = np.zeros((3, 4), np.float32), np.array([0, 1, 2])
    assert dispatch.takes_small_softmax_cross_entropy(inputs(z, t))
    assert not dispatch.takes_small_softmax_cross_entropy(inputs(z, t, weight=np.ones(4)))
    assert dispatch.takes_softmax_cross_entropy(inputs(z, t))
    assert dispatch.takes_softmax_cross_entropy(inputs(z, t, weight=np.ones(4)))
    # Distribution targets, a class axis that is not last, float16: the Array API core.
    assert not dispatch.takes_softmax_cross_entropy(inputs(z, np.eye(4, dtype=np.float32)[t]))
    assert not dispatch.takes_softmax_cross_entropy(inputs(np.zeros((4, 3)), t, axis=0))
    assert not dispatch.takes_softmax_cross_entropy(inputs(z.astype(np.float16), t))
    assert not dispatch.takes_softmax_cross_entropy(inputs(z, t, sample_weight=np.ones(3)))
    # Other layouts take the kernels too (copied once into C order), never the reverse.
    assert dispatch.takes_softmax_cross_entropy(inputs(np.asfortranarray(z), t))
    assert dispatch.takes_softmax_cross_entropy(inputs(z.astype(">f4"), t))


OPTIONS = [
    {},
    {"label_smoothing": 0.2},
    {"ignore_index": 3},
    {"weight": "w"},
    {"weight": "w", "ignore_index": -1, "label_smoothing": 0.3},
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o) or "plain")
@pytest.mark.parametrize("shape", [(64, 37), (40, 300), (5, 3, 11), (600, 500)], ids=str)
def test_fused_equals_generic(
    dtype: type, reduction: str, scale: float, options: dict[str, Any], shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(int(scale) + len(shape))
    z = (rng.normal(size=shape) * scale).astype(dtype)
    c = shape[-1]
    t = rng.integers(0, c, shape[:-1])
    opts = dict(options)
    if "ignore_index" in opts:
        t[rng.random(t.shape) < 0.3] = opts["ignore_index"]
    if opts.get("weight") == "w":
        opts["weight"] = rng.uniform(0.2, 2.0, c).astype(dtype)
    value, grad = lk.softmax_cross_entropy.value_and_grad(z, t, reduction=reduction, **opts)
    ref_value, ref_grad = generic(z, t, reduction=reduction, **opts)
    tol = {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    np.testing.assert_allclose(value, ref_value, **tol)
    np.testing.assert_allclose(grad, ref_grad, **tol)
    assert value.dtype == dtype
    assert grad.dtype == dtype
    # The value-only kernel sums in another order than the value-and-gradient one: the
    # two agree to the last bit or two, not bit for bit.
    np.testing.assert_allclose(
        lk.softmax_cross_entropy(z, t, reduction=reduction, **opts),
        value,
        rtol=4 * np.finfo(dtype).eps,
        atol=0,
    )


def test_large_input_takes_the_parallel_kernel_with_the_same_numbers() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 1000)).astype(np.float32)
    assert z.size >= dispatch.PARALLEL_MIN_ELEMENTS
    t = rng.integers(0, 1000, 300)
    value, grad = lk.softmax_cross_entropy.value_and_grad(z, t, reduction="none")
    ref_value, ref_grad = generic(z.astype(np.float64), t, reduction="none")
    np.testing.assert_allclose(value, ref_value, rtol=1e-6)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("shape", [(5, 50_000), (300, 700), (600, 1000)], ids=str)
def test_the_value_allocates_no_n_by_c_temporary(shape: tuple[int, int]) -> None:
    """Small batch of long rows, serial kernel, parallel kernel: extra memory O(N)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    z = rng.normal(size=shape).astype(np.float32)
    t = rng.integers(0, shape[1], shape[0])
    for reduction in ("mean", "none"):
        lk.softmax_cross_entropy(z, t, reduction=reduction)  # compile or load first
        tracemalloc.start()
        try:
            lk.softmax_cross_entropy(z, t, reduction=reduction)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 64 * shape[0] + 16_384, (reduction, peak)  # z itself: ≥ 1 MB


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_handles_infinities_and_nan_like_generic(dtype: type) -> None:
    z = np.array(
        [
            [0.0, -np.inf, 1.0],  # -inf off target: contributes 0
            [-np.inf, -np.inf, -np.inf],  # all -inf: NaN
            [np.inf, 0.0, 0.0],  # +inf off target: inf loss
            [np.nan, 0.0, 1.0],  # NaN propagates
            [5.0, 4.0, 3.0],
            [-1e30, 0.0, 1e30],
        ],
        dtype=dtype,
    )
    t = np.array([2, 0, 1, 2, 0, 2])
    assert dispatch.takes_small_softmax_cross_entropy(inputs(z, t))
    for reduction in ("mean", "sum"):  # the small kernel: its flat sweep must step aside
        for rows in (slice(None), slice(4, 6), slice(2, 3)):
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                value, grad = lk.softmax_cross_entropy.value_and_grad(
                    z[rows], t[rows], reduction=reduction
                )
                ref_value, ref_grad = generic(z[rows], t[rows], reduction=reduction)
                alone = lk.softmax_cross_entropy(z[rows], t[rows], reduction=reduction)
            np.testing.assert_allclose(value, ref_value, rtol=1e-6)
            np.testing.assert_allclose(alone, ref_value, rtol=1e-6)
            np.testing.assert_allclose(grad, ref_grad, rtol=1e-6, atol=1e-7)
    for options in ({}, {"label_smoothing": 0.1}, {"weight": np.array([1.0, 2.0, 0.5])}):
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            value, grad = lk.softmax_cross_entropy.value_and_grad(z, t, reduction="none", **options)
            ref_value, ref_grad = generic(z, t, reduction="none", **options)
        np.testing.assert_allclose(value, ref_value, rtol=1e-6)  # NaN == NaN, inf == inf
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-6, atol=1e-7)
    assert np.isnan(value[1]) and np.isinf(value[2]) and np.isnan(value[3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [31, 100, 1027])  # the short-row loop and the unrolled one
def test_wide_rows_with_non_finite_logits_match_generic(dtype: type, width: int) -> None:
    rng = np.random.default_rng(width)
    z = rng.normal(size=(9, width)).astype(dtype)
    z[0, 0] = np.nan  # NaN first: the max starts from it
    z[1, width // 2] = np.nan
    z[2, -1] = np.nan  # NaN in the remainder of the unrolled loop
    z[3, 5] = np.inf
    z[4, :] = -np.inf
    z[5, ::3] = -np.inf  # -inf among finite logits: the fast path's business
    z[6, -1] = -np.inf
    z[7, 1] = -np.inf  # under a class of weight 0 below: contributes 0, not NaN
    t = rng.integers(0, width, 9)
    t[5] = 0  # a target whose logit is -inf: infinite loss
    t[7] = 2
    weight = rng.uniform(0.5, 2.0, width).astype(dtype)
    weight[1] = 0.0
    for options in ({}, {"label_smoothing": 0.2}, {"weight": weight, "label_smoothing": 0.2}):
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            value, grad = lk.softmax_cross_entropy.value_and_grad(z, t, reduction="none", **options)
            alone = lk.softmax_cross_entropy(z, t, reduction="none", **options)
            ref_value, ref_grad = generic(z, t, reduction="none", **options)
        np.testing.assert_allclose(value, ref_value, rtol=1e-5)  # NaN == NaN, inf == inf
        np.testing.assert_allclose(alone, ref_value, rtol=1e-5)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-5, atol=1e-7)
    assert np.isfinite(value[7]) and np.isinf(value[5])


def test_fused_reports_bad_labels_like_generic() -> None:
    z = np.zeros((4, 3))
    for call in (
        lk.softmax_cross_entropy,
        lk.softmax_cross_entropy.grad,
        lk.softmax_cross_entropy.value_and_grad,
    ):
        with pytest.raises(ValueError, match=r"label 3 at index 2 is out of range for 3 classes"):
            call(z, np.array([0, 1, 3, -1]))
    with pytest.raises(ValueError, match=r"label -1 at index 3 .*ignore_index=-100"):
        lk.softmax_cross_entropy(z, np.array([0, 1, -100, -1]), ignore_index=-100)


def test_every_target_ignored_is_zero_on_the_fast_path() -> None:
    value, grad = lk.softmax_cross_entropy.value_and_grad(
        np.ones((3, 4)), np.full(3, 2), ignore_index=2, label_smoothing=0.5
    )
    assert value == 0.0
    assert not grad.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_polynomial_exp_is_accurate(dtype: type) -> None:
    from losskit.kernels import _numba

    x = np.concatenate([np.linspace(-80.0, 0.0, 100_001), -np.logspace(-12, 0, 1000)])
    x = x.astype(dtype)
    out = np.empty_like(x)
    _numba.exp_array(x, out)
    exact = np.exp(x.astype(np.float64))
    rel = np.abs(out - exact) / exact
    assert rel.max() < (3e-7 if dtype == np.float32 else 5e-15)
    special = np.array([-1000.0, -np.inf, np.nan, -86.5, -708.5], dtype=dtype)
    out = np.empty_like(special)
    _numba.exp_array(special, out)
    with np.errstate(under="ignore"):
        expected = np.exp(special.astype(np.float64))
    assert out[0] == out[1] == 0
    assert np.isnan(out[2])  # the kernels find non-finite rows by this NaN
    np.testing.assert_allclose(out[3:], expected[3:], rtol=3e-7, atol=np.finfo(dtype).tiny)


def _strict(a: Any) -> Any:
    return None if a is None else xps.asarray(a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_polynomial_log_is_within_a_few_ulp(dtype: type) -> None:
    """Over [0, 1] (BCE's p + δ), around 1 (1 − p + δ), across the whole exponent range
    including subnormals, and at the special values."""
    from losskit.kernels import _numba

    rng = np.random.default_rng(5)
    info = np.finfo(dtype)
    x = np.concatenate(
        [
            rng.random(200_000),
            1 + rng.uniform(-1e-3, 1e-3, 100_000),
            np.exp(rng.uniform(np.log(float(info.tiny)), np.log(float(info.max)), 100_000)),
            info.tiny * rng.random(10_000),  # subnormals
            [float(info.smallest_subnormal), float(info.tiny), float(info.max), 0.5, 1.0, 2.0],
        ]
    ).astype(dtype)
    x = x[x > 0]
    out = np.empty_like(x)
    _numba.log_array(x, out)
    exact = np.log(x.astype(np.longdouble if dtype == np.float64 else np.float64))
    ulp = np.abs(out - exact) / np.spacing(np.abs(exact).astype(dtype)).astype(exact.dtype)
    assert ulp.max() <= (2.5 if dtype == np.float32 else 3.5), float(ulp.max())
    assert _numba_log(np.array([1.0], dtype))[0] == 0
    special = _numba_log(np.array([0.0, np.inf, np.nan, -1.0, -np.inf], dtype))
    assert special[0] == -np.inf and special[1] == np.inf
    assert np.isnan(special[2:]).all()


def _numba_log(x: Any) -> Any:
    from losskit.kernels import _numba

    out = np.empty_like(x)
    _numba.log_array(x, out)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_parallel_probability_kernels_equal_the_core(dtype: type) -> None:
    """Above 2^18 elements MSE, BCE and the [0, 1] scan split the work over both cores."""
    rng = np.random.default_rng(11)
    n, c = 300, 1000
    y = rng.dirichlet(np.ones(c), size=n).astype(dtype)
    labels = rng.integers(0, c, n)
    b = (rng.random((n, c)) < 0.4).astype(dtype)
    pos_weight = rng.uniform(0.5, 2, c).astype(dtype)
    tol = {"rtol": 1e-5, "atol": 1e-7} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-15}
    for loss, t, options in (
        (lk.mean_squared_error, labels, {}),
        (lk.mean_squared_error, b, {}),
        (lk.binary_cross_entropy, b, {}),
        (lk.binary_cross_entropy, b, {"pos_weight": pos_weight}),
        (lk.cross_entropy_error, labels, {}),
    ):
        for reduction in ("mean", "sum", "none"):
            fast = loss.value_and_grad(y, t, reduction=reduction, **options)
            ref = loss.value_and_grad(
                xps.asarray(y),
                xps.asarray(t),
                reduction=reduction,
                **{k: _strict(v) for k, v in options.items()},
            )
            np.testing.assert_allclose(fast[0], np.from_dlpack(ref[0]), **tol)
            np.testing.assert_allclose(fast[1], np.from_dlpack(ref[1]), **tol)
    bad = y.copy()
    bad[10, 3] = np.nan  # a NaN early, in another chunk, must not hide the first bad value
    bad[200, 7] = 1.5
    bad[250, 1] = -0.5
    with pytest.raises(ValueError, match=r"\(200, 7\)"):
        lk.cross_entropy_error(bad, labels)


PROBABILITY_CASES = [
    "mse-labels",
    "mse-dist",
    "cee-labels",
    "cee-labels-weight",
    "cee-dist",
    "cee-dist-weight",
    "bce-soft",
    "bce-labels-pos-weight",
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", PROBABILITY_CASES)
@pytest.mark.parametrize("shape", [(1, 10), (10,), (40, 7), (3, 4, 300)], ids=str)
def test_probability_kernels_equal_generic(
    case: str, reduction: str, dtype: type, shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(len(case) + len(shape))
    y = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]).astype(dtype)
    y[..., 0] = 0.0  # exact zeros exercise 0 · log 0
    c = shape[-1]
    options: dict[str, Any] = {}
    if case.startswith("bce"):
        loss = lk.binary_cross_entropy
        t = (
            rng.integers(0, 2, shape)
            if "labels" in case
            else np.where(rng.random(shape) < 0.3, 1.0, rng.random(shape)).astype(dtype)
        )
        if "pos-weight" in case:
            options["pos_weight"] = rng.uniform(0.5, 2, c).astype(dtype)
    else:
        loss = lk.mean_squared_error if case.startswith("mse") else lk.cross_entropy_error
        t = (
            rng.integers(1, c, shape[:-1])
            if "labels" in case
            else rng.dirichlet(np.ones(c) * 0.3, size=shape[:-1]).astype(dtype)
        )
        if "weight" in case:
            options["weight"] = rng.uniform(0.5, 2, c).astype(dtype)
    if case.startswith("mse-labels"):
        t = t.astype(np.int64)
    fast_value, fast_grad = loss.value_and_grad(y, t, reduction=reduction, **options)
    ref_value, ref_grad = loss.value_and_grad(
        xps.asarray(y),
        xps.asarray(t),
        reduction=reduction,
        **{k: _strict(v) for k, v in options.items()},
    )
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    np.testing.assert_allclose(fast_value, np.from_dlpack(ref_value), **tol)
    np.testing.assert_allclose(fast_grad, np.from_dlpack(ref_grad), **tol)
    assert np.asarray(fast_value).dtype == dtype
    assert fast_grad.dtype == dtype


def test_probability_kernels_check_their_inputs() -> None:
    y = np.full((3, 4), 0.25)
    y[1, 2] = 1.5
    for loss, t in (
        (lk.cross_entropy_error, np.array([0, 1, 2])),
        (lk.binary_cross_entropy, np.ones((3, 4))),
    ):
        with pytest.raises(ValueError, match=r"got 1\.5 at index \(1, 2\)"):
            loss(y, t)
    with pytest.raises(ValueError, match="label 4 at index 1 is out of range for 4 classes"):
        lk.mean_squared_error(np.full((3, 4), 0.25), np.array([0, 4, 1]))


def test_mse_kernel_sums_in_numpys_order() -> None:
    """The chapter's numbers print as the book's NumPy code prints them."""
    t = np.eye(10)[2]
    y = np.array([0.1, 0.05, 0.0, 0.0, 0.05, 0.1, 0.6, 0.1, 0.0, 0.0])
    assert repr(float(lk.mean_squared_error(y, t))) == "0.6975"
    rng = np.random.default_rng(1)
    a, b = rng.random((5, 1000)), rng.random((5, 1000))
    np.testing.assert_array_equal(
        lk.mean_squared_error(a, b, reduction="none"), 0.5 * np.sum((a - b) ** 2, axis=-1)
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1000, 300_001], ids=["serial", "parallel"])
def test_an_elements_bce_does_not_depend_on_where_it_sits(dtype: type, size: int) -> None:
    """Vectorised loops and their scalar remainders must round alike: `losskit eval` in
    chunks writes the very numbers of one call."""
    rng = np.random.default_rng(2)
    p = rng.random(size).astype(dtype)
    t = rng.random(size).astype(dtype)
    whole = lk.binary_cross_entropy.value_and_grad(p, t, reduction="none")
    for offset in (1, 5, 13):
        part = lk.binary_cross_entropy.value_and_grad(p[offset:], t[offset:], reduction="none")
        np.testing.assert_array_equal(part[0], whole[0][offset:])
        np.testing.assert_array_equal(part[1], whole[1][offset:])
