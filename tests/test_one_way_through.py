"""One way through: every input takes the same checks and gives the same numbers on every
dispatch path (NumPy's small and fused kernels, the Array API core) and every backend.

The NumPy path of a call is decided from types and shapes alone (`losskit.kernels.dispatch`);
`numpy_path` asks the same questions the losses ask, and every parametrisation below
asserts the path it means to take, so that none can silently collapse onto one path.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from backends import configure, installed, to_backend, to_numpy

import losskit as lk
from losskit._validate import NO_DELTA, binary_inputs, class_inputs
from losskit.kernels import dispatch

LOSSES: dict[str, Any] = {
    "mean_squared_error": lk.mean_squared_error,
    "cross_entropy_error": lk.cross_entropy_error,
    "softmax_cross_entropy": lk.softmax_cross_entropy,
    "binary_cross_entropy": lk.binary_cross_entropy,
    "sigmoid_binary_cross_entropy": lk.sigmoid_binary_cross_entropy,
}
CLASS_LOSSES = ("mean_squared_error", "cross_entropy_error", "softmax_cross_entropy")
BINARY_LOSSES = ("binary_cross_entropy", "sigmoid_binary_cross_entropy")
U64_MAX = 2**64 - 1


def numpy_path(name: str, y: Any, t: Any, **kw: Any) -> str:
    """The implementation a NumPy call of loss `name` takes ("small", "fused" or "generic"),
    asked exactly as the loss itself asks (validated inputs, then the `takes_*` tests)."""
    reduction = kw.get("reduction", "mean")
    if name in BINARY_LOSSES:
        bce = name == "binary_cross_entropy"
        binp = binary_inputs(
            "p" if bce else "logits",
            y,
            t,
            reduction=reduction,
            xp=None,
            pos_weight=kw.get("pos_weight"),
            weight=kw.get("weight"),
            sample_weight=kw.get("sample_weight"),
            delta=kw.get("delta", 1e-7) if bce else NO_DELTA,
            probabilities=bce,
        )
        return "fused" if bce and dispatch.takes_binary_loss(binp) else "generic"
    sce = name == "softmax_cross_entropy"
    cee = name == "cross_entropy_error"
    inp = class_inputs(
        "logits" if sce else "y",
        y,
        t,
        axis=kw.get("axis", -1),
        reduction=reduction,
        xp=None,
        weight=kw.get("weight"),
        sample_weight=kw.get("sample_weight"),
        ignore_index=kw.get("ignore_index"),
        label_smoothing=kw.get("label_smoothing", 0.0),
        delta=kw.get("delta", 1e-7) if cee else NO_DELTA,
        probabilities=cee,
    )
    if sce:
        if dispatch.takes_small_softmax_cross_entropy(inp):
            return "small"
        return "fused" if dispatch.takes_softmax_cross_entropy(inp) else "generic"
    return "fused" if dispatch.takes_class_loss(inp) else "generic"


def realize(call: Callable[[], Any]) -> Any:
    """Run a call and compute its result: Dask runs its value checks only at compute time."""
    out = call()
    if isinstance(out, tuple):
        return tuple(to_numpy(o) for o in out)
    return to_numpy(out)


def strict(a: Any) -> Any:
    import array_api_strict as xps

    return xps.asarray(a)


@contextmanager
def quiet_ieee() -> Iterator[None]:
    """NumPy (also in Dask's worker threads) warns about inf - inf and log(0) as IEEE
    arithmetic does; pytest turns warnings into errors."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


needs_strict = pytest.mark.skipif(
    not installed("array_api_strict"), reason="array_api_strict is not installed"
)


# ====================================================================== 1. the chapter

Y_RIGHT = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
Y_WRONG = np.array([0.1, 0.05, 0.0, 0.0, 0.05, 0.1, 0.6, 0.1, 0.0, 0.0])
ONE_HOT_2 = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
MSE_RIGHT = 0.09750000000000003  # the book's 0.0975, as NumPy prints 0.5 * np.sum((y - t)**2)
MSE_WRONG = 0.6975
CEE_RIGHT = 0.510825457099338
CEE_WRONG = 16.11809565095832  # -log(0 + 1e-7): the δ keeps log(0) finite

CHAPTER_TARGETS: dict[str, Any] = {
    "int64": np.array(ONE_HOT_2, dtype=np.int64),
    "int8": np.array(ONE_HOT_2, dtype=np.int8),
    "uint8": np.array(ONE_HOT_2, dtype=np.uint8),
    "bool": np.array(ONE_HOT_2, dtype=bool),
    "float64": np.array(ONE_HOT_2, dtype=np.float64),
    "list": ONE_HOT_2,
}


def _chapter_call(path: str, loss: Any, y: np.ndarray, t: Any, **kw: Any) -> float:
    if path == "fused":
        assert numpy_path(loss.__name__, y, np.asarray(t), **kw) == "fused"
        return float(loss(y, t, **kw))
    if path == "generic":  # NumPy through the Array API core (a unit sample weight)
        sw = np.ones(y.shape[:-1])
        assert numpy_path(loss.__name__, y, np.asarray(t), sample_weight=sw, **kw) == "generic"
        return float(loss(y, t, sample_weight=sw, **kw))
    assert path == "strict"
    t = t if isinstance(t, list) else strict(t)
    return float(to_numpy(loss(strict(y), t, **kw)))


CHAPTER_PATHS = ["fused", "generic", pytest.param("strict", marks=needs_strict)]


@pytest.mark.parametrize("path", CHAPTER_PATHS)
@pytest.mark.parametrize("target", CHAPTER_TARGETS)
def test_chapter_numbers_exactly_for_every_target_dtype(path: str, target: str) -> None:
    t = CHAPTER_TARGETS[target]
    # Exact: these are the digits the book prints, on every path.
    assert _chapter_call(path, lk.mean_squared_error, Y_RIGHT, t) == MSE_RIGHT
    assert _chapter_call(path, lk.mean_squared_error, Y_WRONG, t) == MSE_WRONG
    assert _chapter_call(path, lk.cross_entropy_error, Y_RIGHT, t) == CEE_RIGHT
    assert _chapter_call(path, lk.cross_entropy_error, Y_WRONG, t) == CEE_WRONG


@pytest.mark.parametrize("path", CHAPTER_PATHS)
@pytest.mark.parametrize("target", ["int64", "int8", "uint8", "bool"])
def test_chapter_batch_of_two_integer_one_hot_rows(path: str, target: str) -> None:
    y = np.stack([Y_RIGHT, Y_WRONG])
    t = np.stack([CHAPTER_TARGETS[target]] * 2)
    mse = lk.mean_squared_error
    assert _chapter_call(path, mse, y, t) == (MSE_RIGHT + MSE_WRONG) / 2
    assert _chapter_call(path, lk.cross_entropy_error, y, t) == (CEE_RIGHT + CEE_WRONG) / 2
    if path == "fused":
        per_sample = mse(y, t, reduction="none")
    elif path == "generic":
        per_sample = mse(y, t, reduction="none", sample_weight=np.ones(2))
    else:
        per_sample = to_numpy(mse(strict(y), strict(t), reduction="none"))
    assert per_sample.tolist() == [MSE_RIGHT, MSE_WRONG]


def test_chapter_numbers_on_every_backend(backend: str) -> None:
    t = CHAPTER_TARGETS["int64"]
    for y, mse, cee in ((Y_RIGHT, MSE_RIGHT, CEE_RIGHT), (Y_WRONG, MSE_WRONG, CEE_WRONG)):
        yb, tb = to_backend(backend, y[None]), to_backend(backend, t[None])
        assert np.isclose(realize(lambda yb=yb, tb=tb: lk.mean_squared_error(yb, tb)), mse)
        assert np.isclose(realize(lambda yb=yb, tb=tb: lk.cross_entropy_error(yb, tb)), cee)
    yb = to_backend(backend, np.stack([Y_RIGHT, Y_WRONG]))
    tb = to_backend(backend, np.stack([t, t]))
    got = realize(lambda: lk.mean_squared_error(yb, tb, reduction="none"))
    np.testing.assert_allclose(got, [MSE_RIGHT, MSE_WRONG], rtol=1e-12)


def test_chapter_numbers_with_a_python_list_target_on_every_backend(backend: str) -> None:
    y = to_backend(backend, Y_RIGHT)
    assert np.isclose(realize(lambda: lk.mean_squared_error(y, ONE_HOT_2)), MSE_RIGHT)
    assert np.isclose(realize(lambda: lk.cross_entropy_error(y, ONE_HOT_2)), CEE_RIGHT)


@pytest.mark.skipif(not installed("torch"), reason="backend torch is not installed")
def test_chapter_numbers_with_torch_one_hot() -> None:
    configure("torch")
    import torch

    t = torch.nn.functional.one_hot(torch.tensor(2), 10)
    assert t.dtype == torch.int64
    for y, mse, cee in ((Y_RIGHT, MSE_RIGHT, CEE_RIGHT), (Y_WRONG, MSE_WRONG, CEE_WRONG)):
        yt = torch.from_numpy(y.copy())
        assert np.isclose(float(lk.mean_squared_error(yt, t)), mse, rtol=1e-14, atol=0)
        assert np.isclose(float(lk.cross_entropy_error(yt, t)), cee, rtol=1e-14, atol=0)
    batch = torch.nn.functional.one_hot(torch.tensor([2, 2]), 10)
    y2 = torch.from_numpy(np.stack([Y_RIGHT, Y_WRONG]))
    got = lk.mean_squared_error(y2, batch, reduction="none").numpy()
    np.testing.assert_allclose(got, [MSE_RIGHT, MSE_WRONG], rtol=1e-14)


# ====================================================================== 2. layouts

_rng = np.random.default_rng(20240609)
N, C = 6, 4
LOGITS = _rng.normal(size=(N, C)) * 3
PROBS = _rng.dirichlet(np.ones(C), N)
LABELS = np.array([0, 3, 1, 2, 3, 1])
SOFT = _rng.dirichlet(np.ones(C), N)
ONE_HOT_INT = np.eye(C, dtype=np.int64)[LABELS]
BIN_P = _rng.uniform(0.05, 0.95, (N, C))
BIN_LOGITS = _rng.normal(size=(N, C)) * 3
BIN_SOFT = _rng.uniform(0.0, 1.0, (N, C))
BIN_INT = _rng.integers(0, 2, (N, C))

LOGITS_3D = _rng.normal(size=(2, 3, C))
LABELS_3D = np.array([[0, 3, 1], [2, 2, 1]])
PROBS_3D = _rng.dirichlet(np.ones(C), (2, 3))

LAYOUT_DATA: dict[str, tuple[str, np.ndarray, np.ndarray]] = {
    "mse-labels": ("mean_squared_error", PROBS, LABELS),
    "mse-int-one-hot": ("mean_squared_error", PROBS, ONE_HOT_INT),
    "cee-labels": ("cross_entropy_error", PROBS, LABELS),
    "cee-soft": ("cross_entropy_error", PROBS, SOFT),
    "sce-labels": ("softmax_cross_entropy", LOGITS, LABELS),
    "sce-soft": ("softmax_cross_entropy", LOGITS, SOFT),
    "bce-soft": ("binary_cross_entropy", BIN_P, BIN_SOFT),
    "bce-int": ("binary_cross_entropy", BIN_P, BIN_INT),
    "sbce-soft": ("sigmoid_binary_cross_entropy", BIN_LOGITS, BIN_SOFT),
    "sbce-int": ("sigmoid_binary_cross_entropy", BIN_LOGITS, BIN_INT),
    # Three axes (sample axes (2, 3), classes last): the fused kernels, never the small one.
    "mse-3d-labels": ("mean_squared_error", PROBS_3D, LABELS_3D),
    "cee-3d-soft": ("cross_entropy_error", PROBS_3D, _rng.dirichlet(np.ones(C), (2, 3))),
    "sce-3d-labels": ("softmax_cross_entropy", LOGITS_3D, LABELS_3D),
    # float32 (big-endian: '>f4'), with float32 targets where they are distributions.
    "mse-f32-labels": ("mean_squared_error", PROBS.astype(np.float32), LABELS),
    "cee-f32-soft": ("cross_entropy_error", PROBS.astype(np.float32), SOFT.astype(np.float32)),
    "sce-f32-labels": ("softmax_cross_entropy", LOGITS.astype(np.float32), LABELS),
    "bce-f32-soft": ("binary_cross_entropy", BIN_P.astype(np.float32), BIN_SOFT.astype(np.float32)),
}

ALL3 = ("mean", "sum", "none")
# (data, NumPy path it must take, options, reductions). The small kernel takes no "none";
# softmax_cross_entropy's distribution targets always take the core.
LAYOUT_PATHS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("mse-labels", "fused", "plain", ALL3),
    ("mse-labels", "generic", "sample_weight", ALL3),
    ("mse-int-one-hot", "fused", "plain", ALL3),
    ("mse-int-one-hot", "generic", "sample_weight", ALL3),
    ("cee-labels", "fused", "plain", ALL3),
    ("cee-labels", "generic", "sample_weight", ALL3),
    ("cee-soft", "fused", "plain", ALL3),
    ("cee-soft", "generic", "sample_weight", ALL3),
    ("sce-labels", "small", "plain", ("mean", "sum")),
    ("sce-labels", "fused", "plain", ("none",)),
    ("sce-labels", "fused", "class_weight", ALL3),
    ("sce-labels", "generic", "sample_weight", ALL3),
    ("sce-soft", "generic", "plain", ALL3),
    ("sce-soft", "generic", "sample_weight", ALL3),
    ("bce-soft", "fused", "plain", ALL3),
    ("bce-soft", "generic", "sample_weight", ALL3),
    ("bce-int", "fused", "plain", ALL3),
    ("bce-int", "generic", "sample_weight", ALL3),
    ("sbce-soft", "generic", "plain", ALL3),
    ("sbce-int", "generic", "plain", ALL3),
    ("mse-3d-labels", "fused", "plain", ALL3),
    ("mse-3d-labels", "generic", "sample_weight", ("mean", "none")),
    ("cee-3d-soft", "fused", "plain", ("mean", "none")),
    ("sce-3d-labels", "fused", "plain", ALL3),
    ("sce-3d-labels", "generic", "sample_weight", ("mean", "none")),
    ("mse-f32-labels", "fused", "plain", ("mean", "none")),
    ("mse-f32-labels", "generic", "sample_weight", ("none",)),
    ("cee-f32-soft", "fused", "plain", ("mean", "none")),
    ("cee-f32-soft", "generic", "sample_weight", ("none",)),
    ("sce-f32-labels", "small", "plain", ("mean",)),
    ("sce-f32-labels", "fused", "plain", ("none",)),
    ("sce-f32-labels", "generic", "sample_weight", ("mean",)),
    ("bce-f32-soft", "fused", "plain", ("mean", "none")),
    ("bce-f32-soft", "generic", "sample_weight", ("none",)),
]


def test_layout_parametrisation_covers_every_numpy_path_of_every_loss() -> None:
    covered = {(LAYOUT_DATA[d][0], path) for d, path, _, _ in LAYOUT_PATHS}
    assert covered == {
        *((n, p) for n in CLASS_LOSSES for p in ("fused", "generic")),
        ("softmax_cross_entropy", "small"),
        ("binary_cross_entropy", "fused"),
        ("binary_cross_entropy", "generic"),
        ("sigmoid_binary_cross_entropy", "generic"),
    }


def options(name: str, y: np.ndarray, which: str) -> dict[str, Any]:
    if which == "plain":
        return {}
    if which == "class_weight":
        return {"weight": np.ones(y.shape[-1])}
    assert which == "sample_weight"
    shape = y.shape if name in BINARY_LOSSES else y.shape[:-1]
    return {"sample_weight": np.ones(shape)}


def _garbage(a: np.ndarray) -> Any:
    """What the skipped elements of a strided view hold: wrong if ever read."""
    return {"f": np.nan, "b": True}.get(a.dtype.kind, 99)


def with_layout(a: np.ndarray, layout: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """(a view holding a's values, or a broadcast of its first row/element, in `layout`;
    the arrays whose memory it shows, to check afterwards that nothing wrote to them)."""
    if layout == "readonly":
        v = a.copy()
        v.setflags(write=False)
        return v, [v]
    if layout == "fortran":
        v = np.asfortranarray(a)
        return v, [v]
    if layout == "strided-last":  # every other element of a wider array
        wide = np.empty((*a.shape[:-1], 2 * a.shape[-1]), a.dtype)
        wide[..., 1::2] = _garbage(a)
        wide[..., ::2] = a
        return wide[..., ::2], [wide]
    if layout == "strided-rows":  # a[::2] of a twice-as-long array
        wide = np.empty((2 * a.shape[0], *a.shape[1:]), a.dtype)
        wide[1::2] = _garbage(a)
        wide[::2] = a
        return wide[::2], [wide]
    if layout == "big-endian":
        v = a.astype(a.dtype.newbyteorder(">"))
        return v, [v]
    if layout == "broadcast-rows":  # 0-stride along the first axis
        base = a[:1].copy()
        return np.broadcast_to(base, a.shape), [base]
    if layout == "broadcast-all":  # 0-stride along every axis
        base = a.reshape(-1)[:1].copy()
        return np.broadcast_to(base.reshape(()), a.shape), [base]
    raise ValueError(layout)


LAYOUTS = [
    "readonly",
    "fortran",
    "strided-last",
    "strided-rows",
    "big-endian",
    "broadcast-rows",
    "broadcast-all",
]


def fresh(v: np.ndarray) -> np.ndarray:
    """A C-contiguous, native-endian, writable copy of v's values (of NumPy's own dtype
    object: the small kernel tests `labels.dtype is int64`, which a byte-order-swapped
    dtype object fails even when it is native)."""
    return np.array(v, dtype=np.dtype(v.dtype.char), order="C", copy=True)


def _layout_params() -> list[Any]:
    params = []
    for data, path, opts, reductions in LAYOUT_PATHS:
        for layout in LAYOUTS:
            params.append(
                pytest.param(
                    data, path, opts, reductions, layout, id=f"{data}-{path}-{opts}-{layout}"
                )
            )
    for data in LAYOUT_DATA:
        for layout in LAYOUTS:
            if layout != "big-endian":  # array_api_strict refuses non-native dtypes
                params.append(
                    pytest.param(
                        data,
                        "strict",
                        "plain",
                        ALL3,
                        layout,
                        marks=needs_strict,
                        id=f"{data}-strict-{layout}",
                    )
                )
    return params


_RESULTS = ("value", "value of value_and_grad", "gradient of value_and_grad", "grad")


def _run_both(loss: Any, y: Any, t: Any, **kw: Any) -> tuple[Any, Any, Any, Any]:
    value = loss(y, t, **kw)
    value2, grad = loss.value_and_grad(y, t, **kw)
    grad2 = loss.grad(y, t, **kw)
    return value, value2, grad, grad2


@pytest.mark.parametrize(("data", "path", "opts", "reductions", "layout"), _layout_params())
def test_every_layout_gives_the_numbers_of_a_fresh_copy_and_is_never_written(
    data: str, path: str, opts: str, reductions: tuple[str, ...], layout: str
) -> None:
    name, y0, t0 = LAYOUT_DATA[data]
    loss = LOSSES[name]
    yv, y_owners = with_layout(y0, layout)
    tv, t_owners = with_layout(t0, layout)
    y_ref, t_ref = fresh(yv), fresh(tv)
    owners = y_owners + t_owners
    before = [(o.tobytes(), o.dtype, o.strides, o.flags.writeable) for o in owners]
    # float32: a layout that leaves the small kernel for the fused one sums in another order.
    tol = {"rtol": 1e-12, "atol": 1e-15} if y0.dtype == np.float64 else {"rtol": 1e-6, "atol": 1e-7}

    for reduction in reductions:
        kw = {"reduction": reduction, **options(name, y0, opts)}
        if path == "strict":
            got = [to_numpy(r) for r in _run_both(loss, strict(yv), strict(tv), **kw)]
            ref = [to_numpy(r) for r in _run_both(loss, strict(y_ref), strict(t_ref), **kw)]
        else:
            assert numpy_path(name, y_ref, t_ref, **kw) == path, reduction
            got = [np.asarray(r) for r in _run_both(loss, yv, tv, **kw)]
            ref = [np.asarray(r) for r in _run_both(loss, y_ref, t_ref, **kw)]
        for what, g, r in zip(_RESULTS, got, ref, strict=True):
            assert g.shape == r.shape
            assert g.dtype.newbyteorder("=") == r.dtype.newbyteorder("=")
            np.testing.assert_allclose(g, r, **tol, err_msg=f"{what}, reduction={reduction!r}")
        assert np.all(np.isfinite(got[2]))
        after = [(o.tobytes(), o.dtype, o.strides, o.flags.writeable) for o in owners]
        assert after == before, f"an input was modified (reduction={reduction!r})"


# ====================================================================== 3. bad input

BAD_PROBS = np.full((4, 3), 1 / 3)
BAD_LOGITS = np.random.default_rng(1).normal(size=(4, 3))
BAD_LABELS = np.array([0, 2, 1, 1])
BAD_BIN_P = np.full((4, 3), 0.5)
BAD_BIN_T = np.ones((4, 3), dtype=np.int64)

BOTH_READINGS = "labels need shape (4,); a one-hot target needs shape (4, 3); got {}"


@dataclass
class Bad:
    loss: str
    y: np.ndarray
    t: np.ndarray
    expect: list[str]  # substrings of the message (so that the reference itself is checked)
    kw: dict[str, Any] = field(default_factory=dict)
    exc: type[Exception] = ValueError


def _y_for(name: str) -> np.ndarray:
    return {
        "mean_squared_error": BAD_PROBS,
        "cross_entropy_error": BAD_PROBS,
        "softmax_cross_entropy": BAD_LOGITS,
        "binary_cross_entropy": BAD_BIN_P,
        "sigmoid_binary_cross_entropy": BAD_LOGITS,
    }[name]


def _bad_cases() -> dict[str, Bad]:
    cases: dict[str, Bad] = {}
    out_of_range = "out of range for 3 classes: labels must lie in [0, 2]"
    for name in CLASS_LOSSES:
        y = _y_for(name)
        short = name.split("_")[0] if name != "softmax_cross_entropy" else "sce"
        short = {"mean": "mse", "cross": "cee"}.get(short, short)
        cases[f"{short}-label-7"] = Bad(
            name, y, np.array([0, 1, 7, 2]), [f"label 7 at index 2 is {out_of_range}"]
        )
        cases[f"{short}-label-negative"] = Bad(
            name, y, np.array([0, 1, -1, 2]), [f"label -1 at index 2 is {out_of_range}"]
        )
        cases[f"{short}-label-shape"] = Bad(name, y, BAD_LABELS[:3], [BOTH_READINGS.format("(3,)")])
        cases[f"{short}-float-labels"] = Bad(
            name,
            y,
            BAD_LABELS.astype(np.float64),
            ["cast labels to an integer dtype", "dtype float64"],
        )
        cases[f"{short}-int-fits-neither"] = Bad(
            name,
            y,
            np.zeros((4, 2), dtype=np.int64),
            [BOTH_READINGS.format("(4, 2)"), "labels need shape", "a one-hot target needs shape"],
        )
        cases[f"{short}-uint64-max"] = Bad(
            name,
            y,
            np.array([0, U64_MAX, 1, 1], dtype=np.uint64),
            [f"label 18446744073709551615 at index 1 is {out_of_range}"],
        )
        cases[f"{short}-int8-bad"] = Bad(
            name,
            y,
            np.array([0, 1, 2, -128], dtype=np.int8),
            [f"label -128 at index 3 is {out_of_range}"],
        )
        cases[f"{short}-empty-mean"] = Bad(
            name,
            np.zeros((0, 3)),
            np.zeros(0, dtype=np.int64),
            ["reduction='mean' needs at least one sample", "shape (0, 3)"],
        )
        cases[f"{short}-bad-reduction"] = Bad(
            name, y, BAD_LABELS, ["one of 'mean', 'sum', 'none', got 'avg'"], {"reduction": "avg"}
        )
    hot = np.eye(3, dtype=np.int64)[BAD_LABELS]
    hot[1, 2] = 2
    cases["cee-int-one-hot-2"] = Bad(
        "cross_entropy_error",
        BAD_PROBS,
        hot,
        ["t must hold target probabilities in [0, 1], got 2.0 at index (1, 2)"],
    )
    cases["cee-uint8-one-hot-255"] = Bad(
        "cross_entropy_error",
        BAD_PROBS,
        np.where(hot == 2, 255, hot).astype(np.uint8),
        ["t must hold target probabilities in [0, 1], got 255.0 at index (1, 2)"],
    )
    cases["sce-uint64-ignore-minus-1"] = Bad(
        "softmax_cross_entropy",
        BAD_LOGITS,
        BAD_LABELS.astype(np.uint64),
        ["ignore_index=-1 does not fit labels of dtype uint64"],
        {"ignore_index": -1},
    )
    cases["sce-label-smoothing-1.5"] = Bad(
        "softmax_cross_entropy",
        BAD_LOGITS,
        BAD_LABELS,
        ["label_smoothing must lie in [0, 1], got 1.5"],
        {"label_smoothing": 1.5},
    )
    cases["cee-delta-minus-1"] = Bad(
        "cross_entropy_error",
        BAD_PROBS,
        BAD_LABELS,
        ["delta must be >= 0", "got -1"],
        {"delta": -1},
    )
    cases["bce-delta-minus-1"] = Bad(
        "binary_cross_entropy",
        BAD_BIN_P,
        BAD_BIN_T,
        ["delta must be >= 0", "got -1"],
        {"delta": -1},
    )
    for bad in (1.5, -0.5):
        p = BAD_PROBS.copy()
        p[1, 2] = bad
        cases[f"cee-y-{bad}"] = Bad(
            "cross_entropy_error", p, BAD_LABELS, [f"in [0, 1], got {bad} at index (1, 2)"]
        )
        q = BAD_PROBS.copy()
        q[1, 2] = bad
        cases[f"cee-t-{bad}"] = Bad(
            "cross_entropy_error",
            BAD_PROBS,
            q,
            [f"t must hold target probabilities in [0, 1], got {bad} at index (1, 2)"],
        )
        p = BAD_BIN_P.copy()
        p[1, 2] = bad
        cases[f"bce-p-{bad}"] = Bad(
            "binary_cross_entropy", p, BAD_BIN_T, [f"in [0, 1], got {bad} at index (1, 2)"]
        )
        q = BAD_BIN_P.copy()
        q[1, 2] = bad
        cases[f"bce-t-{bad}"] = Bad(
            "binary_cross_entropy",
            BAD_BIN_P,
            q,
            [f"t must hold target probabilities in [0, 1], got {bad} at index (1, 2)"],
        )
    for name in BINARY_LOSSES:
        short = "bce" if name == "binary_cross_entropy" else "sbce"
        y = _y_for(name)
        t = BAD_BIN_T.copy()
        t[2, 1] = 2
        cases[f"{short}-int-target-2"] = Bad(
            name, y, t, ["label 2 at index (2, 1) is out of range for 2 classes"]
        )
        cases[f"{short}-empty-mean"] = Bad(
            name, np.zeros((0,)), np.zeros(0), ["reduction='mean' needs at least one sample"]
        )
        cases[f"{short}-bad-reduction"] = Bad(
            name, y, BAD_BIN_T, ["one of 'mean', 'sum', 'none', got 'avg'"], {"reduction": "avg"}
        )
        cases[f"{short}-shape"] = Bad(name, y, np.ones((4, 2)), ["(4, 2)", "(4, 3)"])
    return cases


BAD_CASES = _bad_cases()

# NumPy variants of one call, chosen to take every path (see test_bad_input_variants_*).
NUMPY_VARIANTS = ("plain", "class_weight", "sample_weight", "float16")


def _variant_applies(name: str, variant: str) -> bool:
    return variant != "class_weight" or name in ("cross_entropy_error", "softmax_cross_entropy")


def _variant(case: Bad, variant: str) -> tuple[np.ndarray, dict[str, Any]]:
    y, kw = case.y, dict(case.kw)
    if variant == "float16":
        return y.astype(np.float16), kw
    if variant == "plain":
        return y, kw
    return y, {**kw, **options(case.loss, y, variant)}


def _error(call: Callable[[], Any]) -> BaseException:
    with pytest.raises(Exception) as info:  # noqa: PT011 - compared in full below
        realize(call)
    return info.value


def _reference(case: Bad) -> BaseException:
    """The error on one reference path (plain NumPy), checked against what it must say."""
    err = _error(lambda: LOSSES[case.loss](case.y, case.t, **case.kw))
    assert type(err) is case.exc, f"{type(err).__name__}: {err}"
    for part in case.expect:
        assert part in str(err), f"{part!r} not in {str(err)!r}"
    return err


def _assert_same(err: BaseException, ref: BaseException) -> None:
    assert type(err) is type(ref), f"{type(err).__name__}: {err}  !=  {type(ref).__name__}: {ref}"
    assert str(err) == str(ref)


@pytest.mark.parametrize(
    ("case", "variant"),
    [
        pytest.param(c, v, id=f"{c}-{v}")
        for c, bad in BAD_CASES.items()
        for v in NUMPY_VARIANTS
        if _variant_applies(bad.loss, v)
    ],
)
def test_bad_input_same_error_on_every_numpy_path(case: str, variant: str) -> None:
    bad = BAD_CASES[case]
    ref = _reference(bad)
    y, kw = _variant(bad, variant)
    loss = LOSSES[bad.loss]
    _assert_same(_error(lambda: loss(y, bad.t, **kw)), ref)
    _assert_same(_error(lambda: loss.value_and_grad(y, bad.t, **kw)), ref)


def _good_twin(name: str) -> tuple[np.ndarray, np.ndarray]:
    return _y_for(name), BAD_BIN_T if name in BINARY_LOSSES else BAD_LABELS


VARIANT_PATHS = {
    ("softmax_cross_entropy", "plain"): "small",
    ("softmax_cross_entropy", "class_weight"): "fused",
    ("cross_entropy_error", "plain"): "fused",
    ("cross_entropy_error", "class_weight"): "fused",
    ("mean_squared_error", "plain"): "fused",
    ("binary_cross_entropy", "plain"): "fused",
    ("sigmoid_binary_cross_entropy", "plain"): "generic",
}


@pytest.mark.parametrize(
    ("name", "variant"),
    [(n, v) for n in LOSSES for v in NUMPY_VARIANTS if _variant_applies(n, v)],
)
def test_bad_input_variants_take_the_paths_they_are_meant_to(name: str, variant: str) -> None:
    y, t = _good_twin(name)
    y, kw = _variant(Bad(name, y, t, []), variant)
    assert numpy_path(name, y, t, **kw) == VARIANT_PATHS.get((name, variant), "generic")


def _torch_lacks_uint64(t: Any) -> bool:
    """Whether torch itself refuses the comparisons a label check needs on uint64."""
    try:
        _ = (t >= 3) | (t != 1)
    except (NotImplementedError, RuntimeError, TypeError):
        return True
    return False


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_same_error_on_every_backend(backend: str, case: str) -> None:
    bad = BAD_CASES[case]
    ref = _reference(bad)
    loss = LOSSES[bad.loss]
    y, t = to_backend(backend, bad.y), to_backend(backend, bad.t)
    if backend == "torch" and bad.t.dtype == np.uint64 and _torch_lacks_uint64(t):
        # torch cannot compare uint64 tensors at all: a clear TypeError, never a wrong check.
        err = _error(lambda: loss(y, t, **bad.kw))
        if str(err) != str(ref):
            assert isinstance(err, TypeError), err
            assert "cannot be checked on this array library" in str(err), err
            assert "cast them to int64" in str(err), err
            return
    _assert_same(_error(lambda: loss(y, t, **bad.kw)), ref)
    _assert_same(_error(lambda: loss.value_and_grad(y, t, **bad.kw)), ref)


ACCEPTED_TARGETS = {
    "mse-t-outside": ("mean_squared_error", BAD_PROBS),
    "sce-t-outside": ("softmax_cross_entropy", BAD_LOGITS),
    "sbce-t-outside": ("sigmoid_binary_cross_entropy", BAD_LOGITS),
}


def _outside_targets() -> np.ndarray:
    q = np.full((4, 3), 1 / 3)
    q[1, 2] = 1.5
    q[2, 0] = -0.5
    return q


@pytest.mark.parametrize("variant", ["plain", "sample_weight", "float16"])
@pytest.mark.parametrize("case", ACCEPTED_TARGETS)
def test_targets_outside_unit_interval_are_accepted_where_documented_numpy(
    case: str, variant: str
) -> None:
    name, y0 = ACCEPTED_TARGETS[case]
    bad = Bad(name, y0, _outside_targets(), [])
    y, kw = _variant(bad, variant)
    for reduction in ALL3:
        value, grad = LOSSES[name].value_and_grad(y, bad.t, reduction=reduction, **kw)
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))


@pytest.mark.parametrize("case", ACCEPTED_TARGETS)
def test_targets_outside_unit_interval_are_accepted_where_documented(
    backend: str, case: str
) -> None:
    name, y0 = ACCEPTED_TARGETS[case]
    y, t = to_backend(backend, y0), to_backend(backend, _outside_targets())
    for reduction in ALL3:
        value, grad = realize(lambda r=reduction: LOSSES[name].value_and_grad(y, t, reduction=r))
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))


# ====================================================================== 4. NaN and inf

NAN_ROW = 1  # the sample holding the NaN; its label is 2, the NaN sits at class 0


def _nan_cases() -> dict[str, tuple[str, np.ndarray, np.ndarray, list[Any]]]:
    """name -> (loss, y with NaN where the target is 0, t, indices that must be NaN)."""
    labels = BAD_LABELS.copy()
    labels[NAN_ROW] = 2
    hot = np.eye(3)[labels]
    probs = BAD_PROBS.copy()
    probs[NAN_ROW, 0] = np.nan
    logits = BAD_LOGITS.copy()
    logits[NAN_ROW, 0] = np.nan
    p = BAD_BIN_P.copy()
    t = np.ones((4, 3), dtype=np.int64)
    t[1, 0] = 0
    p[1, 0] = np.nan  # t = 0
    p[2, 1] = np.nan  # t = 1
    z = BAD_LOGITS.copy()
    z[1, 0] = np.nan
    z[2, 1] = np.nan
    return {
        "cee-labels": ("cross_entropy_error", probs, labels, [NAN_ROW]),
        "cee-one-hot": ("cross_entropy_error", probs, hot, [NAN_ROW]),
        "mse-labels": ("mean_squared_error", probs, labels, [NAN_ROW]),
        "mse-one-hot": ("mean_squared_error", probs, hot, [NAN_ROW]),
        "sce-labels": ("softmax_cross_entropy", logits, labels, [NAN_ROW]),
        "sce-one-hot": ("softmax_cross_entropy", logits, hot, [NAN_ROW]),
        "bce-t0-t1": ("binary_cross_entropy", p, t, [(1, 0), (2, 1)]),
        "bce-float-t0-t1": ("binary_cross_entropy", p, t.astype(np.float64), [(1, 0), (2, 1)]),
        "sbce-t0-t1": ("sigmoid_binary_cross_entropy", z, t, [(1, 0), (2, 1)]),
    }


NAN_CASES = _nan_cases()


def _check_nan_per_sample(per_sample: np.ndarray, nan_at: list[Any]) -> None:
    mask = np.zeros(per_sample.shape, dtype=bool)
    for i in nan_at:
        mask[i] = True
    assert np.all(np.isnan(per_sample[mask])), per_sample
    assert np.all(np.isfinite(per_sample[~mask])), per_sample


def _nan_numpy_params() -> list[Any]:
    params = []
    for case, (name, y, t, _) in NAN_CASES.items():
        variants = ["plain", "sample_weight", "float16"]
        if name in ("cross_entropy_error", "softmax_cross_entropy"):
            variants.append("class_weight")
        for v in variants:
            for reduction in ("none", "mean", "sum"):
                kw = {"reduction": reduction, **(options(name, y, v) if v != "float16" else {})}
                yy = y.astype(np.float16) if v == "float16" else y
                path = numpy_path(name, yy, t, **kw)
                params.append(
                    pytest.param(case, v, reduction, path, id=f"{case}-{v}-{reduction}-{path}")
                )
    return params


NAN_NUMPY_PARAMS = _nan_numpy_params()


def test_nan_parametrisation_covers_every_numpy_path() -> None:
    paths = {p.values[3] for p in NAN_NUMPY_PARAMS}
    assert paths == {"small", "fused", "generic"}
    assert numpy_path("softmax_cross_entropy", *NAN_CASES["sce-labels"][1:3]) == "small"


@pytest.mark.parametrize(("case", "variant", "reduction", "path"), NAN_NUMPY_PARAMS)
def test_nan_at_a_zero_target_propagates_on_every_numpy_path(
    case: str, variant: str, reduction: str, path: str
) -> None:
    name, y, t, nan_at = NAN_CASES[case]
    kw = options(name, y, variant) if variant != "float16" else {}
    if variant == "float16":
        y = y.astype(np.float16)
    assert numpy_path(name, y, t, reduction=reduction, **kw) == path
    with quiet_ieee():
        value = np.asarray(LOSSES[name](y, t, reduction=reduction, **kw))
        value2, _ = LOSSES[name].value_and_grad(y, t, reduction=reduction, **kw)
    if reduction == "none":
        _check_nan_per_sample(value, nan_at)
        _check_nan_per_sample(np.asarray(value2), nan_at)
    else:
        assert np.isnan(value) and np.isnan(value2)


@pytest.mark.parametrize("case", NAN_CASES)
def test_nan_at_a_zero_target_propagates_on_every_backend(backend: str, case: str) -> None:
    name, y, t, nan_at = NAN_CASES[case]
    yb, tb = to_backend(backend, y), to_backend(backend, t)
    with quiet_ieee():
        per_sample = realize(lambda: LOSSES[name](yb, tb, reduction="none"))
        value = realize(lambda: LOSSES[name](yb, tb))
    _check_nan_per_sample(per_sample, nan_at)
    assert np.isnan(value)


INF_ROW = 1


def _inf_cases() -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    """name -> (targets, options): row INF_ROW of the logits is all -inf, and the target
    puts no weight on it."""
    labels = BAD_LABELS.copy()
    labels[INF_ROW] = 2
    dist = np.eye(3)[labels]
    dist[INF_ROW] = 0.0
    ignored = labels.copy()
    ignored[INF_ROW] = -100
    return {
        "class-weight-0": (labels, {"weight": np.array([1.0, 0.5, 0.0])}),
        "zero-distribution": (dist, {}),
        "ignored": (ignored, {"ignore_index": -100}),
    }


INF_CASES = _inf_cases()


def _inf_logits() -> np.ndarray:
    z = BAD_LOGITS.copy()
    z[INF_ROW] = -np.inf
    return z


def _check_inf_row(per_sample: Any, mean: Any, grads: list[Any]) -> None:
    per_sample = np.asarray(per_sample)
    assert per_sample[INF_ROW] == 0.0, per_sample
    assert np.all(np.isfinite(np.delete(per_sample, INF_ROW))), per_sample
    assert np.isfinite(mean)
    for g in grads:
        g = np.asarray(g)
        assert np.all(g[INF_ROW] == 0.0), g
        assert np.all(np.isfinite(g)), g


def _inf_numpy_params() -> list[Any]:
    params = []
    for case, (t, kw) in INF_CASES.items():
        for v in ("plain", "sample_weight", "float16"):
            y = _inf_logits()
            opts = {**kw, **(options("softmax_cross_entropy", y, v) if v != "float16" else {})}
            if v == "float16":
                y = y.astype(np.float16)
            for reduction in ("none", "mean"):
                path = numpy_path("softmax_cross_entropy", y, t, reduction=reduction, **opts)
                params.append(pytest.param(case, v, path, id=f"{case}-{v}-{reduction}-{path}"))
    return params


def test_inf_parametrisation_covers_fused_and_generic() -> None:
    # The small kernel takes plain labels only: every label puts weight on its row, so an
    # all -inf row "with no weight on it" never reaches it (it needs a weight, a
    # distribution or ignore_index).
    assert {p.values[2] for p in _inf_numpy_params()} == {"fused", "generic"}


@pytest.mark.parametrize(
    ("case", "variant", "path"),
    sorted({(p.values[0], p.values[1], p.values[2]) for p in _inf_numpy_params()}),
)
def test_all_minus_inf_row_without_weight_gives_zero_on_every_numpy_path(
    case: str, variant: str, path: str
) -> None:
    t, kw = INF_CASES[case]
    y = _inf_logits()
    kw = {**kw, **(options("softmax_cross_entropy", y, variant) if variant != "float16" else {})}
    if variant == "float16":
        y = y.astype(np.float16)
    loss = lk.softmax_cross_entropy
    with quiet_ieee():
        paths = {numpy_path("softmax_cross_entropy", y, t, reduction=r, **kw) for r in ALL3}
        assert path in paths
        per_sample, g_none = loss.value_and_grad(y, t, reduction="none", **kw)
        mean, g_mean = loss.value_and_grad(y, t, **kw)
        value = loss(y, t, reduction="none", **kw)
        g = loss.grad(y, t, **kw)
    _check_inf_row(per_sample, mean, [g_none, g_mean, g])
    assert np.asarray(value)[INF_ROW] == 0.0


@pytest.mark.parametrize("case", INF_CASES)
def test_all_minus_inf_row_without_weight_gives_zero_on_every_backend(
    backend: str, case: str
) -> None:
    loss = lk.softmax_cross_entropy
    t, kw0 = INF_CASES[case]
    kw = {k: to_backend(backend, v) if isinstance(v, np.ndarray) else v for k, v in kw0.items()}
    y, tb = to_backend(backend, _inf_logits()), to_backend(backend, t)
    with quiet_ieee():
        per_sample, g_none = realize(lambda: loss.value_and_grad(y, tb, reduction="none", **kw))
        mean, g_mean = realize(lambda: loss.value_and_grad(y, tb, **kw))
    _check_inf_row(per_sample, mean, [g_none, g_mean])


IGNORED_FILLS: dict[str, Any] = {
    "nan": [np.nan, 0.0, 1.0],
    "all-nan": np.nan,
    "inf": [np.inf, 0.0, -np.inf],
    "all-minus-inf": -np.inf,
}
IGNORED_VARIANTS = ("plain", "class_weight", "sample_weight", "float16", "label_smoothing")


def _ignored_call(
    xp_of: Callable[[np.ndarray], Any], fill: str, variant: str, reduction: str, *, keep: bool
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """(value, gradient, NumPy path) of softmax_cross_entropy on a batch whose sample INF_ROW
    holds `fill` and is ignored (keep=False), or on the same batch without it (keep=True)."""
    z = BAD_LOGITS.copy()
    z[INF_ROW] = IGNORED_FILLS[fill]
    labels = BAD_LABELS.copy()
    labels[INF_ROW] = -100
    kw: dict[str, Any] = {"reduction": reduction}
    if keep:
        rows = np.delete(np.arange(len(z)), INF_ROW)
        z, labels = z[rows], labels[rows]
    else:
        rows = np.arange(len(z))
        kw["ignore_index"] = -100
    if variant == "float16":
        z = z.astype(np.float16)
    elif variant == "class_weight":
        kw["weight"] = xp_of(np.array([1.0, 0.5, 2.0]))
    elif variant == "sample_weight":
        kw["sample_weight"] = xp_of(np.array([1.0, 2.0, 0.5, 3.0])[rows])
    elif variant == "label_smoothing":
        kw["label_smoothing"] = 0.1
    path = None
    if xp_of is np.asarray:
        path = numpy_path("softmax_cross_entropy", z, labels, **kw)
    with quiet_ieee():
        value, grad = realize(
            lambda: lk.softmax_cross_entropy.value_and_grad(xp_of(z), xp_of(labels), **kw)
        )
        value_only = realize(lambda: lk.softmax_cross_entropy(xp_of(z), xp_of(labels), **kw))
    np.testing.assert_allclose(value_only, value, rtol=1e-12, atol=0)
    return np.asarray(value, np.float64), np.asarray(grad, np.float64), path


def _check_ignored(xp_of: Callable[[np.ndarray], Any], fill: str, variant: str) -> set[str | None]:
    """The ignored sample counts for nothing: loss 0, gradient row 0, and the rest (the
    mean's denominator included) as if it were not in the batch."""
    tol = {"rtol": 2e-3, "atol": 2e-3} if variant == "float16" else {"rtol": 1e-12, "atol": 1e-15}
    paths = set()
    for reduction in ALL3:
        value, grad, path = _ignored_call(xp_of, fill, variant, reduction, keep=False)
        sub_value, sub_grad, _ = _ignored_call(xp_of, fill, variant, reduction, keep=True)
        paths.add(path)
        where = f"reduction={reduction!r}, path {path}"
        assert np.all(grad[INF_ROW] == 0.0), f"{where}: gradient row {grad[INF_ROW]}"
        np.testing.assert_allclose(np.delete(grad, INF_ROW, axis=0), sub_grad, **tol, err_msg=where)
        if reduction == "none":
            assert value[INF_ROW] == 0.0, f"{where}: per-sample {value}"
            np.testing.assert_allclose(np.delete(value, INF_ROW), sub_value, **tol, err_msg=where)
        else:
            np.testing.assert_allclose(value, sub_value, **tol, err_msg=where)
    return paths


@pytest.mark.parametrize("variant", IGNORED_VARIANTS)
@pytest.mark.parametrize("fill", IGNORED_FILLS)
def test_ignored_sample_counts_for_nothing_whatever_its_logits_numpy(
    fill: str, variant: str
) -> None:
    paths = _check_ignored(np.asarray, fill, variant)
    expected = "generic" if variant in ("sample_weight", "float16") else "fused"
    assert paths == {expected}


@pytest.mark.parametrize("variant", ["plain", "class_weight"])
@pytest.mark.parametrize("fill", ["nan", "all-minus-inf"])
def test_ignored_sample_counts_for_nothing_whatever_its_logits(
    backend: str, fill: str, variant: str
) -> None:
    _check_ignored(lambda a: to_backend(backend, a), fill, variant)


# ====================================================================== 5. low precision

BIG = 10**6
_CHUNK = 10**5


@pytest.fixture(scope="module")
def big_labels() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 10, BIG)


def _chunked(f: Callable[[slice], float]) -> float:
    return float(sum(f(slice(i, i + _CHUNK)) for i in range(0, BIG, _CHUNK)))


def _sce_sum64(z: np.ndarray, labels: np.ndarray) -> float:
    def part(s: slice) -> float:
        zz = z[s].astype(np.float64)
        m = zz.max(axis=1)
        lse = np.log(np.exp(zz - m[:, None]).sum(axis=1)) + m
        return float((lse - zz[np.arange(len(zz)), labels[s]]).sum())

    return _chunked(part)


def _rel(got: Any, expected: float) -> float:
    return abs(float(got) / expected - 1.0)


def test_float16_softmax_cross_entropy_of_a_million_rows(big_labels: np.ndarray) -> None:
    z = np.random.default_rng(6).standard_normal((BIG, 10), dtype=np.float32).astype(np.float16)
    assert numpy_path("softmax_cross_entropy", z, big_labels) == "generic"
    expected = _sce_sum64(z, big_labels)
    mean = lk.softmax_cross_entropy(z, big_labels)
    assert mean.dtype == np.float16 and np.isfinite(mean)
    assert _rel(mean, expected / BIG) < 1e-3
    total = lk.softmax_cross_entropy(z, big_labels, reduction="sum")
    assert total.dtype == np.float32 and np.isfinite(total)
    assert _rel(total, expected) < 1e-3


def test_float16_probability_losses_of_a_million_rows(big_labels: np.ndarray) -> None:
    rng = np.random.default_rng(7)
    # Dirichlet rows, drawn a chunk at a time (float64 draws of 10**7 values are 80 MB).
    y = np.concatenate(
        [rng.dirichlet(np.ones(10), _CHUNK).astype(np.float16) for _ in range(BIG // _CHUNK)]
    )
    cee64 = _chunked(
        lambda s: float(
            -np.log(y[s].astype(np.float64)[np.arange(_CHUNK), big_labels[s]] + 1e-7).sum()
        )
    )

    def mse_part(s: slice) -> float:
        d = y[s].astype(np.float64)
        d[np.arange(_CHUNK), big_labels[s]] -= 1.0
        return float(0.5 * (d * d).sum())

    mse64 = _chunked(mse_part)
    for loss, expected in ((lk.cross_entropy_error, cee64), (lk.mean_squared_error, mse64)):
        assert numpy_path(loss.__name__, y, big_labels) == "generic"
        mean = loss(y, big_labels)
        assert mean.dtype == np.float16 and np.isfinite(mean), loss
        assert _rel(mean, expected / BIG) < 1e-3, loss
        total = loss(y, big_labels, reduction="sum")
        assert total.dtype == np.float32 and np.isfinite(total), loss
        assert _rel(total, expected) < 1e-3, loss

    p = rng.uniform(0.01, 0.99, BIG).astype(np.float16)
    t = rng.integers(0, 2, BIG)
    p64 = p.astype(np.float64)
    bce64 = float(-(t * np.log(p64 + 1e-7) + (1 - t) * np.log(1 - p64 + 1e-7)).sum())
    assert numpy_path("binary_cross_entropy", p, t) == "generic"
    mean = lk.binary_cross_entropy(p, t)
    assert mean.dtype == np.float16 and np.isfinite(mean)
    assert _rel(mean, bce64 / BIG) < 1e-3
    total = lk.binary_cross_entropy(p, t, reduction="sum")
    assert total.dtype == np.float32 and _rel(total, bce64) < 1e-3


@pytest.mark.skipif(not installed("torch"), reason="backend torch is not installed")
def test_torch_bfloat16_softmax_cross_entropy_of_a_million_rows(big_labels: np.ndarray) -> None:
    configure("torch")
    import torch

    z32 = np.random.default_rng(8).standard_normal((BIG, 10), dtype=np.float32)
    z = torch.from_numpy(z32).to(torch.bfloat16)
    labels = torch.from_numpy(big_labels)
    expected = _sce_sum64(z.to(torch.float32).numpy(), big_labels)
    mean = lk.softmax_cross_entropy(z, labels)
    assert mean.dtype == torch.bfloat16 and bool(torch.isfinite(mean))
    assert _rel(mean, expected / BIG) < 1e-2
    total = lk.softmax_cross_entropy(z, labels, reduction="sum")
    assert total.dtype == torch.float32 and _rel(total, expected) < 1e-2


# ====================================================================== 6. uint64 labels

U64_WHERE_MARKS: dict[str, Any] = {
    "numpy-plain": (),
    "numpy-class_weight": (),
    "numpy-sample_weight": (),
    "array_api_strict": needs_strict,
    "dask": pytest.mark.skipif(not installed("dask"), reason="dask is not installed"),
}
U64_WHERE = [pytest.param(w, marks=m, id=w) for w, m in U64_WHERE_MARKS.items()]
U64_PATHS = {
    "numpy-plain": "fused",
    "numpy-class_weight": "fused",
    "numpy-sample_weight": "generic",
}
U64_Y = {"mean_squared_error": PROBS, "cross_entropy_error": PROBS, "softmax_cross_entropy": LOGITS}
U64_CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 1.5])
U64_SAMPLE_WEIGHT = np.array([1.0, 2.0, 0.5, 3.0, 1.5, 1.0])


def _u64_call(
    where: str, name: str, y: np.ndarray, t: np.ndarray, *, rows: Any = slice(None), **kw: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(value, gradient) of loss `name` on rows `rows`, computed at `where`."""
    y = y[rows]
    loss = LOSSES[name]
    if where.startswith("numpy"):
        variant = where.split("-", 1)[1]
        if variant == "class_weight":
            kw["weight"] = U64_CLASS_WEIGHT
        elif variant == "sample_weight":
            kw["sample_weight"] = U64_SAMPLE_WEIGHT[rows]
        value, grad = loss.value_and_grad(y, t, **kw)
        return np.asarray(value), np.asarray(grad)
    value, grad = loss.value_and_grad(to_backend(where, y), to_backend(where, t), **kw)
    return to_numpy(value), to_numpy(grad)


@pytest.mark.parametrize("reduction", ALL3)
@pytest.mark.parametrize(
    ("name", "where"),
    [
        pytest.param(n, w, marks=m, id=f"{n}-{w}")
        for n in CLASS_LOSSES
        for w, m in U64_WHERE_MARKS.items()
        if not (n == "mean_squared_error" and w == "numpy-class_weight")
    ],
)
def test_uint64_labels_give_the_numbers_of_int64_labels(
    name: str, where: str, reduction: str
) -> None:
    y = U64_Y[name]
    if where in U64_PATHS:
        kw: dict[str, Any] = {"reduction": reduction}
        if where == "numpy-class_weight":
            kw["weight"] = U64_CLASS_WEIGHT
        if where == "numpy-sample_weight":
            kw["sample_weight"] = U64_SAMPLE_WEIGHT
        assert numpy_path(name, y, LABELS.astype(np.uint64), **kw) == U64_PATHS[where]
    got = _u64_call(where, name, y, LABELS.astype(np.uint64), reduction=reduction)
    expected = _u64_call(where, name, y, LABELS.astype(np.int64), reduction=reduction)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", ALL3)
@pytest.mark.parametrize("where", U64_WHERE)
def test_uint64_ignore_index_counts_ignored_samples_for_nothing(where: str, reduction: str) -> None:
    name = "softmax_cross_entropy"
    ignored = np.array([1, 4])
    kept = np.setdiff1d(np.arange(N), ignored)
    t = LABELS.astype(np.uint64)
    t[ignored] = U64_MAX
    if where in U64_PATHS:
        kw: dict[str, Any] = {"reduction": reduction, "ignore_index": U64_MAX}
        if where == "numpy-class_weight":
            kw["weight"] = U64_CLASS_WEIGHT
        if where == "numpy-sample_weight":
            kw["sample_weight"] = U64_SAMPLE_WEIGHT
        assert numpy_path(name, LOGITS, t, **kw) == U64_PATHS[where]
    value, grad = _u64_call(where, name, LOGITS, t, reduction=reduction, ignore_index=U64_MAX)
    # The same batch without the ignored samples, as int64 labels and no ignore_index.
    sub_value, sub_grad = _u64_call(
        where, name, LOGITS, LABELS[kept].astype(np.int64), rows=kept, reduction=reduction
    )
    assert np.all(grad[ignored] == 0.0)
    np.testing.assert_allclose(grad[kept], sub_grad, rtol=1e-12, atol=1e-15)
    if reduction == "none":
        assert np.all(value[ignored] == 0.0)
        np.testing.assert_allclose(value[kept], sub_value, rtol=1e-12, atol=1e-15)
    else:
        np.testing.assert_allclose(value, sub_value, rtol=1e-12, atol=1e-15)


def test_uint64_ignore_index_of_every_value_fits() -> None:
    """ignore_index at the edges of uint64's range fits; one past either edge does not."""
    t = LABELS.astype(np.uint64)
    for ok in (0, U64_MAX):
        assert np.isfinite(lk.softmax_cross_entropy(LOGITS, t, ignore_index=ok))
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match=re.escape(f"ignore_index={bad} does not fit")):
            lk.softmax_cross_entropy(LOGITS, t, ignore_index=bad)


@pytest.mark.parametrize("where", ["numpy-plain", "numpy-sample_weight", *U64_WHERE[3:]])
@pytest.mark.parametrize("name", BINARY_LOSSES)
def test_uint64_binary_targets_give_the_numbers_of_int64_targets(name: str, where: str) -> None:
    y = BIN_P if name == "binary_cross_entropy" else BIN_LOGITS
    for reduction in ALL3:
        kw: dict[str, Any] = {"reduction": reduction}
        if where == "numpy-sample_weight":
            kw["sample_weight"] = np.arange(1.0, y.size + 1).reshape(y.shape)
        if where.startswith("numpy"):
            expected_path = "fused" if where == "numpy-plain" else "generic"
            if name == "sigmoid_binary_cross_entropy":
                expected_path = "generic"
            assert numpy_path(name, y, BIN_INT.astype(np.uint64), **kw) == expected_path
            got = LOSSES[name].value_and_grad(y, BIN_INT.astype(np.uint64), **kw)
            expected = LOSSES[name].value_and_grad(y, BIN_INT, **kw)
        else:
            got = realize(
                lambda kw=kw: LOSSES[name].value_and_grad(
                    to_backend(where, y), to_backend(where, BIN_INT.astype(np.uint64)), **kw
                )
            )
            expected = realize(
                lambda kw=kw: LOSSES[name].value_and_grad(
                    to_backend(where, y), to_backend(where, BIN_INT), **kw
                )
            )
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15, err_msg=reduction)
