"""``sample_weight=`` on all five losses and ``weight=`` on the binary losses (issue 9).

Values and gradients against a slow float64 reference written like the formulas (below,
one loop per sum, knowing nothing of losskit), on every installed backend; the reference's
own gradients against central differences; then against scikit-learn, Keras and PyTorch
where they are installed, and the shape error.

The rule under test (SPEC §2.3 and the issue's decisions): each sample's loss is
multiplied by its weight; ``"mean"`` divides

- label targets by  Σ_n sw_n · w[t_n] · counted_n   (PyTorch's weighted mean, extended;
  scikit-learn's ``log_loss(sample_weight=...)``),
- distribution targets by N (Keras's ``sum_over_batch_size``),
- binary losses by N, the number of elements (PyTorch BCE with ``weight``, Keras BCE),

and gradients are those of the weighted sum, divided like the value.
"""

from __future__ import annotations

import math
import re
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from backends import assert_close, configure, installed, to_backend, to_numpy
from hypothesis import given, settings
from hypothesis import strategies as st

import losskit as lk

Arr = np.ndarray[Any, Any]
REDUCTIONS = ("mean", "sum", "none")


def _seed(*parts: object) -> int:
    # Python's hash() of strings changes per process; crc32 keeps runs reproducible.
    return zlib.crc32(repr(parts).encode())


# ============================================================== the float64 reference


def _softplus(v: float) -> float:
    """log(1 + e^v), without overflow."""
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


def _mse_row(y: Arr, q: list[float]) -> tuple[float, list[float]]:
    """E = ½ Σ_k (y_k − q_k)²;  ∂E/∂y_k = y_k − q_k."""
    loss = 0.5 * sum((y[k] - q[k]) ** 2 for k in range(len(q)))
    return loss, [y[k] - q[k] for k in range(len(q))]


def _cee_row(y: Arr, q: list[float], w: Arr, delta: float) -> tuple[float, list[float]]:
    """E = −Σ_k w_k q_k log(y_k + δ);  ∂E/∂y_k = −w_k q_k / (y_k + δ); q_k = 0 adds 0."""
    loss, grad = 0.0, [0.0] * len(q)
    for k in range(len(q)):
        if q[k] != 0:
            loss -= w[k] * q[k] * math.log(y[k] + delta)
            grad[k] = -w[k] * q[k] / (y[k] + delta)
    return loss, grad


def _sce_row(z: Arr, c: list[float]) -> tuple[float, list[float]]:
    """E = −Σ_k c_k log softmax(z)_k;  ∂E/∂z_j = (Σ_k c_k)·softmax(z)_j − c_j."""
    m = max(z)
    lse = m + math.log(sum(math.exp(zk - m) for zk in z))
    log_p = [zk - lse for zk in z]
    loss = -sum(c[k] * log_p[k] for k in range(len(c)) if c[k] != 0)
    total = sum(c)
    return loss, [total * math.exp(log_p[j]) - c[j] for j in range(len(c))]


def _reduce(per: Arr, grad: Arr, reduction: str, denominator: float) -> tuple[Arr, Arr]:
    """per: weighted per-sample losses; grad: gradient of their sum."""
    if reduction == "none":
        return per, grad
    if reduction == "sum":
        return np.array(per.sum()), grad
    if denominator == 0:  # every sample weighs 0: loss 0 and gradient 0 (SPEC §2.5's rule)
        return np.array(0.0), np.zeros_like(grad)
    return np.array(per.sum() / denominator), grad / denominator


def class_reference(
    family: str,
    pred: Arr,
    t: Arr,
    sample_weight: Arr | None,
    opts: dict[str, Any],
    reduction: str,
) -> tuple[Arr, Arr]:
    """Value and gradient of a loss with a class axis ("mse", "cee", "sce"), float64.

    Label targets are those with one axis fewer than the prediction (read by shape, not
    dtype: an integer one-hot is a distribution)."""
    axis = opts.get("axis", -1)
    pred = np.moveaxis(np.asarray(pred, np.float64), axis, -1)
    labels = t.ndim < pred.ndim
    if not labels:
        t = np.moveaxis(np.asarray(t, np.float64), axis, -1)
    num_classes = pred.shape[-1]
    sample_shape = pred.shape[:-1]
    w = np.ones(num_classes) if opts.get("weight") is None else np.asarray(opts["weight"], float)
    ignore_index = opts.get("ignore_index")
    eps = opts.get("label_smoothing", 0.0)
    delta = opts.get("delta", 1e-7)
    sw = np.broadcast_to(1.0 if sample_weight is None else sample_weight, sample_shape)

    per = np.zeros(sample_shape)
    grad = np.zeros(pred.shape)
    counted_weight = np.zeros(sample_shape)  # sw_n · w[t_n] · counted_n, labels only
    for n in np.ndindex(sample_shape):
        if labels:
            label = int(t[n])
            if ignore_index is not None and label == ignore_index:
                continue  # counts for nothing: loss 0, gradient 0, weight 0
            q = [1.0 if k == label else 0.0 for k in range(num_classes)]
            counted_weight[n] = sw[n] * (w[label] if family != "mse" else 1.0)
        else:
            q = [float(v) for v in t[n]]
        if family == "mse":
            loss, g = _mse_row(pred[n], q)
        elif family == "cee":
            loss, g = _cee_row(pred[n], q, w, delta)
        elif labels:  # PyTorch's label formula: (1−ε)·w_t·[k = t] + ε/C·w_k
            label = q.index(1.0)
            c = [
                (1 - eps) * w[label] * (k == label) + eps / num_classes * w[k]
                for k in range(num_classes)
            ]
            loss, g = _sce_row(pred[n], c)
        else:  # distributions: w_k·((1−ε)·q_k + ε/C)
            c = [w[k] * ((1 - eps) * q[k] + eps / num_classes) for k in range(num_classes)]
            loss, g = _sce_row(pred[n], c)
        per[n] = sw[n] * loss
        grad[n] = sw[n] * np.array(g)

    denominator = float(counted_weight.sum()) if labels else float(per.size)
    value, grad = _reduce(per, grad, reduction, denominator)
    return value, np.moveaxis(grad, -1, axis)


def binary_reference(
    family: str,
    pred: Arr,
    t: Arr,
    sample_weight: Arr | None,
    opts: dict[str, Any],
    reduction: str,
) -> tuple[Arr, Arr]:
    """Value and gradient of "bce" (on probabilities) or "sbce" (on logits), float64;
    every element a sample; weight, pos_weight and sample_weight broadcast to its shape."""
    pred = np.asarray(pred, np.float64)
    t = np.asarray(t, np.float64)
    shape = pred.shape
    pos_weight = np.broadcast_to(np.asarray(opts.get("pos_weight", 1.0), float), shape)
    weight = np.broadcast_to(np.asarray(opts.get("weight", 1.0), float), shape)
    sw = np.broadcast_to(1.0 if sample_weight is None else sample_weight, shape)
    delta = opts.get("delta", 1e-7)
    per, grad = np.zeros(shape), np.zeros(shape)
    for i in np.ndindex(shape):
        x, ti, pw = pred[i], t[i], pos_weight[i]
        if family == "bce":
            # E = −[w₊ t log(p + δ) + (1 − t) log(1 − p + δ)]
            loss, g = 0.0, 0.0
            if ti != 0:
                loss -= pw * ti * math.log(x + delta)
                g -= pw * ti / (x + delta)
            if ti != 1:
                loss -= (1 - ti) * math.log(1 - x + delta)
                g += (1 - ti) / (1 - x + delta)
        else:
            # E = w₊ t softplus(−x) + (1 − t) softplus(x);  ∂E/∂x = (1 − t)σ(x) − w₊ t σ(−x)
            loss = pw * ti * _softplus(-x) + (1 - ti) * _softplus(x)
            g = (1 - ti) * _sigmoid(x) - pw * ti * _sigmoid(-x)
        per[i] = weight[i] * sw[i] * loss
        grad[i] = weight[i] * sw[i] * g
    return _reduce(per, grad, reduction, float(per.size))


def central_difference(f: Callable[[Arr], float], x: Arr, h: float = 1e-6) -> Arr:
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad


# ============================================================== the cases


def _softmax_rows(z: Arr) -> Arr:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def probs(rng: np.random.Generator, shape: tuple[int, ...]) -> Arr:
    """Probabilities comfortably inside (0, 1), rows summing to 1."""
    return _softmax_rows(rng.normal(size=shape))


def soft_with_zeros(rng: np.random.Generator, shape: tuple[int, ...]) -> Arr:
    q = probs(rng, shape)
    q[rng.random(shape) < 0.2] = 0.0  # exact zeros exercise 0·log 0
    return q


def sw_(rng: np.random.Generator, shape: tuple[int, ...]) -> Arr:
    return rng.uniform(0.2, 3.0, shape)


def binary_p(rng: np.random.Generator, shape: tuple[int, ...]) -> Arr:
    return rng.uniform(0.05, 0.95, shape)


def binary_soft(rng: np.random.Generator, shape: tuple[int, ...]) -> Arr:
    t = rng.uniform(0, 1, shape)
    t[rng.random(shape) < 0.3] = 1.0
    t[rng.random(shape) < 0.2] = 0.0
    return t


@dataclass(frozen=True)
class Case:
    id: str
    loss: lk.Loss[Any]
    family: str  # "mse" | "cee" | "sce" | "bce" | "sbce"
    # rng -> (prediction, target, sample_weight, options)
    make: Callable[[np.random.Generator], tuple[Arr, Arr, Arr, dict[str, Any]]]

    @property
    def binary(self) -> bool:
        return self.family in ("bce", "sbce")


def _sce_3d_labels_ignored(r: np.random.Generator) -> tuple[Arr, Arr, Arr, dict[str, Any]]:
    sw = sw_(r, (3, 4))
    sw[0, 1] = sw[2, 3] = 0.0  # weight 0: counts for nothing, in the sum and the mean
    labels = r.integers(0, 5, (3, 4))
    labels[1, :2] = 2  # ignore_index may be a real class, as in PyTorch
    return (
        3 * r.normal(size=(3, 4, 5)),
        labels,
        sw,
        {"weight": r.uniform(0.2, 2.0, 5), "ignore_index": 2},
    )


CASES = [
    # ---- mean_squared_error
    Case(
        "mse-labels",
        lk.mean_squared_error,
        "mse",
        lambda r: (r.normal(size=(6, 5)), r.integers(0, 5, 6), sw_(r, (6,)), {}),
    ),
    Case(
        "mse-soft-3d-sw(N,S)",
        lk.mean_squared_error,
        "mse",
        lambda r: (r.normal(size=(3, 4, 5)), r.normal(size=(3, 4, 5)), sw_(r, (3, 4)), {}),
    ),
    Case(
        "mse-labels-3d-sw(N,1)",
        lk.mean_squared_error,
        "mse",
        lambda r: (r.normal(size=(3, 4, 5)), r.integers(0, 5, (3, 4)), sw_(r, (3, 1)), {}),
    ),
    # ---- cross_entropy_error
    Case(
        "cee-labels-weight-delta0",
        lk.cross_entropy_error,
        "cee",
        lambda r: (
            probs(r, (6, 5)),
            r.integers(0, 5, 6),
            sw_(r, (6,)),
            {"weight": r.uniform(0.2, 2.0, 5), "delta": 0.0},
        ),
    ),
    Case(
        "cee-labels-3d-weight-sw(N,S)",
        lk.cross_entropy_error,
        "cee",
        lambda r: (
            probs(r, (3, 4, 5)),
            r.integers(0, 5, (3, 4)),
            sw_(r, (3, 4)),
            {"weight": r.uniform(0.2, 2.0, 5)},
        ),
    ),
    Case(
        "cee-soft-weight",
        lk.cross_entropy_error,
        "cee",
        lambda r: (
            probs(r, (6, 5)),
            soft_with_zeros(r, (6, 5)),
            sw_(r, (6,)),
            {"weight": r.uniform(0.2, 2.0, 5)},
        ),
    ),
    Case(
        "cee-int-onehot-3d-sw(N,1)",  # the chapter's integer one-hot: a distribution
        lk.cross_entropy_error,
        "cee",
        lambda r: (
            probs(r, (3, 4, 5)),
            np.eye(5, dtype=np.int64)[r.integers(0, 5, (3, 4))],
            sw_(r, (3, 1)),
            {},
        ),
    ),
    Case(
        "cee-one-sample-sw()",
        lk.cross_entropy_error,
        "cee",
        lambda r: (probs(r, (5,)), np.eye(5)[3], np.array(2.5), {}),
    ),
    Case(
        "cee-soft-axis0",
        lk.cross_entropy_error,
        "cee",
        lambda r: (probs(r, (6, 5)).T.copy(), probs(r, (6, 5)).T.copy(), sw_(r, (6,)), {"axis": 0}),
    ),
    # ---- softmax_cross_entropy
    Case(
        "sce-labels-all-options",
        lk.softmax_cross_entropy,
        "sce",
        lambda r: (
            3 * r.normal(size=(6, 5)),
            np.array([0, 4, 2, -1, 2, -1]),
            sw_(r, (6,)),
            {"weight": r.uniform(0.2, 2.0, 5), "ignore_index": -1, "label_smoothing": 0.2},
        ),
    ),
    Case(
        "sce-labels-3d-weight-ignore-sw(N,S)-zeros",
        lk.softmax_cross_entropy,
        "sce",
        _sce_3d_labels_ignored,
    ),
    Case(
        "sce-labels-3d-sw(N,1)",
        lk.softmax_cross_entropy,
        "sce",
        lambda r: (r.normal(size=(3, 4, 5)), r.integers(0, 5, (3, 4)), sw_(r, (3, 1)), {}),
    ),
    Case(
        "sce-soft-3d-weight-smoothing-sw(N,S)",
        lk.softmax_cross_entropy,
        "sce",
        lambda r: (
            3 * r.normal(size=(3, 4, 5)),
            soft_with_zeros(r, (3, 4, 5)),
            sw_(r, (3, 4)),
            {"weight": r.uniform(0.2, 2.0, 5), "label_smoothing": 0.1},
        ),
    ),
    Case(
        "sce-labels-axis1-ignore-sw(N,1)",
        lk.softmax_cross_entropy,
        "sce",
        lambda r: (
            r.normal(size=(3, 5, 4)),
            r.integers(0, 5, (3, 4)),
            sw_(r, (3, 1)),
            {"axis": 1, "ignore_index": 0},
        ),
    ),
    # ---- binary_cross_entropy
    Case(
        "bce-1d-pos-weight-sw(N,)",
        lk.binary_cross_entropy,
        "bce",
        lambda r: (
            binary_p(r, (6,)),
            binary_soft(r, (6,)),
            sw_(r, (6,)),
            {"pos_weight": r.uniform(0.5, 3.0, 6)},
        ),
    ),
    Case(
        "bce-labels-weight(D,)-sw(N,1)",
        lk.binary_cross_entropy,
        "bce",
        lambda r: (
            binary_p(r, (6, 5)),
            r.integers(0, 2, (6, 5)),
            sw_(r, (6, 1)),
            {"weight": r.uniform(0.2, 2.0, 5)},
        ),
    ),
    Case(
        "bce-soft-weight(N,1)-sw(N,D)-delta0",
        lk.binary_cross_entropy,
        "bce",
        lambda r: (
            binary_p(r, (6, 5)),
            binary_soft(r, (6, 5)),
            sw_(r, (6, 5)),
            {"weight": r.uniform(0.2, 2.0, (6, 1)), "delta": 0.0},
        ),
    ),
    # ---- sigmoid_binary_cross_entropy
    Case(
        "sbce-1d-weight-sw(N,)",
        lk.sigmoid_binary_cross_entropy,
        "sbce",
        lambda r: (
            4 * r.normal(size=6),
            binary_soft(r, (6,)),
            sw_(r, (6,)),
            {"weight": r.uniform(0.2, 2.0, 6)},
        ),
    ),
    Case(
        "sbce-labels-pos-weight-weight(D,)-sw(N,1)",
        lk.sigmoid_binary_cross_entropy,
        "sbce",
        lambda r: (
            4 * r.normal(size=(6, 5)),
            r.integers(0, 2, (6, 5)),
            sw_(r, (6, 1)),
            {"pos_weight": r.uniform(0.5, 3.0, 5), "weight": r.uniform(0.2, 2.0, 5)},
        ),
    ),
    Case(
        "sbce-soft-3d-sw(N,S,1)",
        lk.sigmoid_binary_cross_entropy,
        "sbce",
        lambda r: (4 * r.normal(size=(3, 4, 5)), binary_soft(r, (3, 4, 5)), sw_(r, (3, 4, 1)), {}),
    ),
]
CASE_IDS = [c.id for c in CASES]


def reference(
    case: Case, pred: Arr, t: Arr, sw: Arr | None, opts: dict[str, Any], reduction: str
) -> tuple[Arr, Arr]:
    f = binary_reference if case.binary else class_reference
    return f(case.family, pred, t, sw, opts, reduction)


def _prepare(case: Case, dtype: str, seed: int) -> tuple[Arr, Arr, Arr, dict[str, Any]]:
    """The case's arrays in `dtype` (integer targets stay integer)."""
    pred, t, sw, opts = case.make(np.random.default_rng(seed))
    pred = pred.astype(dtype)
    if np.issubdtype(t.dtype, np.floating):
        t = t.astype(dtype)
    sw = sw.astype(dtype)
    opts = {k: v.astype(dtype) if isinstance(v, np.ndarray) else v for k, v in opts.items()}
    return pred, t, sw, opts


def _as64(opts: dict[str, Any]) -> dict[str, Any]:
    return {k: v.astype(np.float64) if isinstance(v, np.ndarray) else v for k, v in opts.items()}


def _on_backend(backend: str, opts: dict[str, Any]) -> dict[str, Any]:
    return {
        k: to_backend(backend, v, chunks=v.shape[0] if v.ndim else None)
        if isinstance(v, np.ndarray)
        else v
        for k, v in opts.items()
    }


GRAD_TOL = {
    "float32": {"rtol": 1e-4, "atol": 2e-6},
    "float64": {"rtol": 1e-10, "atol": 1e-12},
}


# ============================================================== 1. against the reference


# float32 on a few cases only, one or two per loss: each case and dtype costs JAX a set of
# compilations and Dask a set of graphs (the whole file is to stay well under 20 s on two
# busy cores); these keep the dtype checks and the looser tolerance on every backend.
FLOAT32_CASES = (
    "mse-soft-3d-sw(N,S)",
    "cee-labels-3d-weight-sw(N,S)",
    "sce-labels-3d-weight-ignore-sw(N,S)-zeros",
    "sce-soft-3d-weight-smoothing-sw(N,S)",
    "bce-labels-weight(D,)-sw(N,1)",
    "sbce-labels-pos-weight-weight(D,)-sw(N,1)",
)
CASES_AND_DTYPES = [pytest.param(c, "float64", id=f"float64-{c.id}") for c in CASES] + [
    pytest.param(c, "float32", id=f"float32-{c.id}") for c in CASES if c.id in FLOAT32_CASES
]


@pytest.mark.parametrize(("case", "dtype"), CASES_AND_DTYPES)
def test_weighted_value_and_grad_match_reference(case: Case, dtype: str, backend: str) -> None:
    pred, t, sw, opts = _prepare(case, dtype, seed=_seed(case.id))
    pred64, t64, sw64, opts64 = pred.astype(np.float64), t, sw.astype(np.float64), _as64(opts)
    if np.issubdtype(t.dtype, np.floating):
        t64 = t.astype(np.float64)
    y, target = to_backend(backend, pred), to_backend(backend, t)
    weights, options = to_backend(backend, sw), _on_backend(backend, opts)

    for reduction in REDUCTIONS:
        expected, expected_grad = reference(case, pred64, t64, sw64, opts64, reduction)
        value, grad = case.loss.value_and_grad(
            y, target, reduction=reduction, sample_weight=weights, **options
        )
        assert_close(backend, value, expected, dtype=dtype)
        assert_close(backend, grad, expected_grad, dtype=dtype, **GRAD_TOL[dtype])

    if dtype == "float32":
        return  # the rest is dtype-blind: once is enough (and keeps JAX and Dask quick)
    # The separate entry points agree with the fused one.
    expected, expected_grad = reference(case, pred64, t64, sw64, opts64, "mean")
    assert_close(
        backend, case.loss(y, target, sample_weight=weights, **options), expected, dtype=dtype
    )
    assert_close(
        backend,
        case.loss.grad(y, target, sample_weight=weights, **options),
        expected_grad,
        dtype=dtype,
        **GRAD_TOL[dtype],
    )
    # Inputs are never modified.
    again = _prepare(case, dtype, seed=_seed(case.id))
    np.testing.assert_array_equal(to_numpy(y), again[0])
    np.testing.assert_array_equal(to_numpy(weights), again[2])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_reference_gradients_are_central_differences_of_the_reference(case: Case) -> None:
    """The oracle checks itself: its analytic gradient is the slope of its own value."""
    pred, t, sw, opts = _prepare(case, "float64", seed=_seed(case.id))
    for reduction in REDUCTIONS:
        # "none" differentiates the sum of the (weighted) per-sample values (SPEC §2.4).
        total = "sum" if reduction == "none" else reduction
        _, analytic = reference(case, pred, t, sw, opts, reduction)
        numerical = central_difference(
            lambda p, total=total: float(reference(case, p, t, sw, opts, total)[0]), pred
        )
        np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_analytic_gradient_matches_losskit_numerical_gradient(case: Case) -> None:
    pred, t, sw, opts = _prepare(case, "float64", seed=_seed(case.id))
    for reduction in REDUCTIONS:
        options = {"sample_weight": sw, "reduction": reduction, **opts}
        result = lk.check_gradient(
            lambda x, options=options: float(np.sum(case.loss(x, t, **options))),
            lambda x, options=options: case.loss.grad(x, t, **options),
            pred,
            h=1e-6,
            rtol=1e-6,
            atol=1e-8,
        )
        assert result.passed, f"{reduction}: {result}"


# ============================================================== rules, on NumPy


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_unit_sample_weight_changes_nothing(case: Case) -> None:
    pred, t, sw, opts = _prepare(case, "float64", seed=_seed(case.id))
    for reduction in REDUCTIONS:
        plain = case.loss.value_and_grad(pred, t, reduction=reduction, **opts)
        default = case.loss.value_and_grad(pred, t, reduction=reduction, sample_weight=None, **opts)
        ones = case.loss.value_and_grad(
            pred, t, reduction=reduction, sample_weight=np.ones_like(sw), **opts
        )
        for a, b in ((plain, default), (plain, ones)):
            np.testing.assert_allclose(a[0], b[0], rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(a[1], b[1], rtol=1e-12, atol=1e-14)


def _is_2d_labels(case: Case) -> bool:
    pred, t, _, _ = case.make(np.random.default_rng(0))
    return not case.binary and pred.ndim == 2 and t.ndim == 1


LABEL_CASES_2D = [c for c in CASES if _is_2d_labels(c)]


@pytest.mark.parametrize("case", LABEL_CASES_2D, ids=[c.id for c in LABEL_CASES_2D])
def test_integer_sample_weights_repeat_samples_for_label_targets(case: Case) -> None:
    """scikit-learn's meaning: a weight of k is the sample k times (0: dropped), for the
    label mean (weighted by class weight and ignore_index too)."""
    pred, t, _, opts = _prepare(case, "float64", seed=_seed(case.id))
    counts = np.random.default_rng(1).integers(0, 4, t.shape[0])
    counts[0] = 2
    weighted = case.loss(pred, t, sample_weight=counts.astype(np.float64), **opts)
    repeated = case.loss(np.repeat(pred, counts, axis=0), np.repeat(t, counts), **opts)
    np.testing.assert_allclose(weighted, repeated, rtol=1e-12)
    for reduction in ("sum", "none"):
        a = case.loss(pred, t, sample_weight=counts.astype(np.float64), reduction=reduction, **opts)
        b = counts * case.loss(pred, t, reduction="none", **opts)
        np.testing.assert_allclose(a, np.sum(b) if reduction == "sum" else b, rtol=1e-12)


@pytest.mark.parametrize(
    ("loss", "pred"),
    [
        (lk.mean_squared_error, probs(np.random.default_rng(2), (6, 4))),
        (lk.cross_entropy_error, probs(np.random.default_rng(2), (6, 4))),
        (lk.softmax_cross_entropy, np.random.default_rng(2).normal(size=(6, 4))),
    ],
    ids=["mse", "cee", "sce"],
)
def test_label_mean_divides_by_summed_weight_distribution_mean_by_n(
    loss: lk.Loss[Any], pred: Arr
) -> None:
    """The same samples as labels and as one-hot rows: "sum" and "none" agree, "mean"
    divides by Σ sw (labels, as scikit-learn) or by N (distributions, as Keras)."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 6)
    onehot = np.eye(4)[labels]
    sw = rng.uniform(0.2, 3.0, 6)
    for reduction in ("sum", "none"):
        np.testing.assert_allclose(
            loss(pred, labels, sample_weight=sw, reduction=reduction),
            loss(pred, onehot, sample_weight=sw, reduction=reduction),
            rtol=1e-12,
        )
    total = float(loss(pred, labels, sample_weight=sw, reduction="sum"))
    assert float(loss(pred, labels, sample_weight=sw)) == pytest.approx(total / sw.sum())
    assert float(loss(pred, onehot, sample_weight=sw)) == pytest.approx(total / 6)
    # Scaling every weight: the label mean does not move, the distribution mean does.
    assert float(loss(pred, labels, sample_weight=10 * sw)) == pytest.approx(total / sw.sum())
    assert float(loss(pred, onehot, sample_weight=10 * sw)) == pytest.approx(10 * total / 6)
    g_labels = loss.grad(pred, labels, sample_weight=sw)
    g_onehot = loss.grad(pred, onehot, sample_weight=sw)
    np.testing.assert_allclose(g_labels * sw.sum(), g_onehot * 6, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("loss", [lk.binary_cross_entropy, lk.sigmoid_binary_cross_entropy])
def test_binary_weight_and_sample_weight_are_the_same_per_element_factor(
    loss: lk.Loss[Any],
) -> None:
    rng = np.random.default_rng(4)
    p, t = binary_p(rng, (5, 4)), binary_soft(rng, (5, 4))
    w, sw = rng.uniform(0.2, 2.0, 4), rng.uniform(0.2, 3.0, (5, 1))
    for reduction in REDUCTIONS:
        both = loss.value_and_grad(p, t, weight=w, sample_weight=sw, reduction=reduction)
        product = np.broadcast_to(w * sw, p.shape).copy()
        for other in (
            loss.value_and_grad(p, t, weight=product, reduction=reduction),
            loss.value_and_grad(p, t, sample_weight=product, reduction=reduction),
        ):
            np.testing.assert_allclose(both[0], other[0], rtol=1e-12)
            np.testing.assert_allclose(both[1], other[1], rtol=1e-12)
    # "mean" divides by the number of elements, whatever the weights sum to.
    total = float(loss(p, t, weight=w, sample_weight=sw, reduction="sum"))
    assert float(loss(p, t, weight=w, sample_weight=sw)) == pytest.approx(total / p.size)


@pytest.mark.parametrize("loss", [lk.cross_entropy_error, lk.softmax_cross_entropy])
def test_all_zero_sample_weights_with_labels_give_zero_mean_and_gradient(
    loss: lk.Loss[Any],
) -> None:
    """The counted weight is 0: the documented all-ignored rule (0, not PyTorch's NaN)."""
    y, labels = probs(np.random.default_rng(5), (4, 3)), np.array([0, 2, 1, 1])
    value, grad = loss.value_and_grad(y, labels, sample_weight=np.zeros(4))
    assert float(value) == 0.0
    np.testing.assert_array_equal(grad, np.zeros_like(y))


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 7),
    st.integers(2, 5),
    st.integers(0, 2**32 - 1),
    st.booleans(),
    st.booleans(),
)
def test_weighted_label_mean_is_weighted_sum_over_counted_weight(
    n: int, c: int, seed: int, use_weight: bool, use_ignore: bool
) -> None:
    """Built from losskit's own unweighted "none": Σ sw_n·l_n / Σ sw_n·w[t_n]·counted_n."""
    rng = np.random.default_rng(seed)
    z, t = 3 * rng.normal(size=(n, c)), rng.integers(0, c, n)
    sw = rng.uniform(0.0, 3.0, n)
    w = rng.uniform(0.2, 2.0, c) if use_weight else None
    ignore = 0 if use_ignore else None
    per = lk.softmax_cross_entropy(z, t, weight=w, ignore_index=ignore, reduction="none")
    counted = (np.ones(c) if w is None else w)[t]
    if ignore is not None:
        counted = counted * (t != ignore)
    denominator = float(np.sum(sw * counted))
    expected = float(np.sum(sw * per)) / denominator if denominator else 0.0
    got = lk.softmax_cross_entropy(z, t, weight=w, ignore_index=ignore, sample_weight=sw)
    assert float(got) == pytest.approx(expected, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(
        lk.softmax_cross_entropy(
            z, t, weight=w, ignore_index=ignore, sample_weight=sw, reduction="none"
        ),
        sw * per,
        rtol=1e-12,
        atol=1e-15,
    )


# ============================================================== autograd through losskit


@pytest.mark.skipif(not installed("torch"), reason="backend torch is not installed")
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torch_autograd_of_weighted_loss_equals_analytic_gradient(case: Case) -> None:
    import torch

    configure("torch")
    pred, t, sw, opts = _prepare(case, "float64", seed=_seed(case.id))
    options = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in opts.items()}
    t_b, sw_b = torch.tensor(t), torch.tensor(sw)
    for reduction in REDUCTIONS:
        x = torch.tensor(pred, requires_grad=True)
        case.loss(x, t_b, sample_weight=sw_b, reduction=reduction, **options).sum().backward()
        assert x.grad is not None
        analytic = case.loss.grad(
            x.detach(), t_b, sample_weight=sw_b, reduction=reduction, **options
        )
        torch.testing.assert_close(x.grad, analytic, rtol=1e-10, atol=1e-12)


# ============================================================== 2. scikit-learn


def _probabilities_inside(rng: np.random.Generator, shape: tuple[int, ...]) -> Arr:
    """Rows summing to 1 inside (1e-3, 1): no library's clipping can act on them."""
    q = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]) + 0.01
    return q / q.sum(axis=-1, keepdims=True)


def test_label_mean_is_sklearn_log_loss_with_sample_weight() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(6)
    n, c = 40, 5
    y = _probabilities_inside(rng, (n, c))
    labels = rng.integers(0, c, n)
    labels[:2] = 1  # a class may be missing: labels=range(C) keeps the columns aligned
    labels[labels == 3] = 4
    sw = rng.uniform(0.1, 3.0, n)
    sw[5] = 0.0
    classes = list(range(c))

    for weights in (None, sw):
        expected = metrics.log_loss(labels, y, sample_weight=weights, labels=classes)
        got = lk.cross_entropy_error(y, labels, sample_weight=weights, delta=0.0)
        assert float(got) == pytest.approx(expected, rel=1e-12)
        got = lk.softmax_cross_entropy(np.log(y), labels, sample_weight=weights)
        assert float(got) == pytest.approx(expected, rel=1e-12)

    # One-hot rows are distributions: losskit's mean divides by N, log_loss by Σ sw.
    # (log_loss takes an indicator matrix without labels=: its columns are the classes.)
    onehot = np.eye(c)[labels]
    expected = metrics.log_loss(onehot, y, sample_weight=sw)
    total = float(lk.cross_entropy_error(y, onehot, sample_weight=sw, delta=0.0, reduction="sum"))
    assert total / sw.sum() == pytest.approx(expected, rel=1e-12)
    mean = float(lk.cross_entropy_error(y, onehot, sample_weight=sw, delta=0.0))
    assert mean == pytest.approx(total / n, rel=1e-12)


def test_binary_cross_entropy_is_sklearn_log_loss() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    n = 30
    p = rng.uniform(0.01, 0.99, n)
    t = rng.integers(0, 2, n)
    sw = rng.uniform(0.1, 3.0, n)

    expected = metrics.log_loss(t, p, labels=[0, 1])
    assert float(lk.binary_cross_entropy(p, t, delta=0.0)) == pytest.approx(expected, rel=1e-12)
    assert float(lk.sigmoid_binary_cross_entropy(np.log(p / (1 - p)), t)) == pytest.approx(
        expected, rel=1e-10
    )
    # log_loss divides by Σ sw; losskit's binary mean divides by N.
    expected = metrics.log_loss(t, p, sample_weight=sw, labels=[0, 1])
    total = float(lk.binary_cross_entropy(p, t, sample_weight=sw, delta=0.0, reduction="sum"))
    assert total / sw.sum() == pytest.approx(expected, rel=1e-12)
    mean = float(lk.binary_cross_entropy(p, t, sample_weight=sw, delta=0.0))
    assert mean == pytest.approx(total / n, rel=1e-12)


# ============================================================== 3. Keras


@pytest.fixture(scope="module")
def keras() -> Any:
    if not installed("jax"):
        pytest.skip("Keras is compared on its JAX backend; jax is not installed")
    configure("jax")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAS_BACKEND", "jax")  # read once, when keras is first imported
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # keras's own import-time deprecations
            module = pytest.importorskip("keras")
    if module.backend.backend() != "jax":
        pytest.skip(f"keras was already imported with the {module.backend.backend()} backend")
    return module


def _keras(value: Any) -> Arr:
    return np.asarray(value, dtype=np.float64)


def _f32(a: Arr) -> Arr:
    """Keras computes in float32: losskit gets the same float32-rounded inputs, in float64."""
    return np.asarray(a, np.float32).astype(np.float64)


KERAS_TOL = {"rtol": 1e-6, "atol": 1e-7}


@pytest.mark.parametrize("target", ["onehot", "soft"])
def test_categorical_crossentropy_matches_keras(keras: Any, target: str) -> None:
    rng = np.random.default_rng(8)
    n, c = 16, 5
    y = _f32(_probabilities_inside(rng, (n, c)))
    t = (
        np.eye(c)[rng.integers(0, c, n)]
        if target == "onehot"
        else _probabilities_inside(rng, (n, c))
    )
    t, sw = _f32(t), _f32(rng.uniform(0.1, 3.0, n))
    # Keras divides by N (sum_over_batch_size): losskit's distribution mean.
    np.testing.assert_allclose(
        _keras(keras.losses.CategoricalCrossentropy()(t, y, sample_weight=sw)),
        lk.cross_entropy_error(y, t, sample_weight=sw, delta=0.0),
        **KERAS_TOL,
    )
    np.testing.assert_allclose(
        _keras(keras.losses.CategoricalCrossentropy(reduction="sum")(t, y, sample_weight=sw)),
        lk.cross_entropy_error(y, t, sample_weight=sw, delta=0.0, reduction="sum"),
        **KERAS_TOL,
    )
    np.testing.assert_allclose(
        _keras(keras.losses.CategoricalCrossentropy(reduction=None)(t, y, sample_weight=sw)),
        lk.cross_entropy_error(y, t, sample_weight=sw, delta=0.0, reduction="none"),
        **KERAS_TOL,
    )
    z = _f32(3 * rng.normal(size=(n, c)))
    np.testing.assert_allclose(
        _keras(keras.losses.CategoricalCrossentropy(from_logits=True)(t, z, sample_weight=sw)),
        lk.softmax_cross_entropy(z, t, sample_weight=sw),
        **KERAS_TOL,
    )


@pytest.mark.parametrize("sw_shape", [(3, 4), (3, 1)], ids=["sw(N,S)", "sw(N,1)"])
def test_categorical_crossentropy_3d_matches_keras(keras: Any, sw_shape: tuple[int, ...]) -> None:
    """(N, S, C): Keras's per-sample losses are (N, S), broadcast against sample_weight
    as NumPy does; sum_over_batch_size divides by N·S, losskit's N."""
    rng = np.random.default_rng(9)
    y = _f32(_probabilities_inside(rng, (3, 4, 5)))
    t = _f32(np.eye(5)[rng.integers(0, 5, (3, 4))])
    sw = _f32(rng.uniform(0.1, 3.0, sw_shape))
    np.testing.assert_allclose(
        _keras(keras.losses.CategoricalCrossentropy()(t, y, sample_weight=sw)),
        lk.cross_entropy_error(y, t, sample_weight=sw, delta=0.0),
        **KERAS_TOL,
    )


def test_sparse_categorical_crossentropy_matches_keras_sum_over_n(keras: Any) -> None:
    """Keras divides label losses by N too; losskit's label mean divides by Σ sw, so the
    comparable number is losskit's "sum" / N."""
    rng = np.random.default_rng(10)
    n, c = 16, 5
    y = _f32(_probabilities_inside(rng, (n, c)))
    z = _f32(3 * rng.normal(size=(n, c)))
    labels = rng.integers(0, c, n)
    sw = _f32(rng.uniform(0.1, 3.0, n))
    expected = _keras(keras.losses.SparseCategoricalCrossentropy()(labels, y, sample_weight=sw))
    total = lk.cross_entropy_error(y, labels, sample_weight=sw, delta=0.0, reduction="sum")
    np.testing.assert_allclose(expected, total / n, **KERAS_TOL)
    expected = _keras(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, z, sample_weight=sw)
    )
    total = lk.softmax_cross_entropy(z, labels, sample_weight=sw, reduction="sum")
    np.testing.assert_allclose(expected, total / n, **KERAS_TOL)
    # Keras's optional "mean_with_sample_weight" is losskit's label mean.
    try:
        loss = keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight")
    except ValueError:
        return  # an older Keras without that reduction
    np.testing.assert_allclose(
        _keras(loss(labels, y, sample_weight=sw)),
        lk.cross_entropy_error(y, labels, sample_weight=sw, delta=0.0),
        **KERAS_TOL,
    )


def test_binary_crossentropy_matches_keras(keras: Any) -> None:
    """Keras averages over the last axis per sample, weights, then divides by N: the mean
    over all N·D elements with sample_weight (N, 1) broadcast over D. Keras aligns a (N,)
    weight with the (N,) per-sample losses; losskit broadcasts to p's shape, so (N, 1)."""
    rng = np.random.default_rng(11)
    n, d = 12, 4
    p = _f32(rng.uniform(1e-3, 1 - 1e-3, (n, d)))
    x = _f32(4 * rng.normal(size=(n, d)))
    t = _f32(binary_soft(rng, (n, d)))
    sw = _f32(rng.uniform(0.1, 3.0, n))
    np.testing.assert_allclose(
        _keras(keras.losses.BinaryCrossentropy()(t, p, sample_weight=sw)),
        lk.binary_cross_entropy(p, t, sample_weight=sw[:, None], delta=0.0),
        **KERAS_TOL,
    )
    np.testing.assert_allclose(
        _keras(keras.losses.BinaryCrossentropy(from_logits=True)(t, x, sample_weight=sw)),
        lk.sigmoid_binary_cross_entropy(x, t, sample_weight=sw[:, None]),
        **KERAS_TOL,
    )
    # reduction=None: Keras's per-sample value is the mean over D of losskit's elements.
    np.testing.assert_allclose(
        _keras(keras.losses.BinaryCrossentropy(reduction=None)(t, p, sample_weight=sw)),
        np.mean(
            lk.binary_cross_entropy(p, t, sample_weight=sw[:, None], delta=0.0, reduction="none"),
            axis=-1,
        ),
        **KERAS_TOL,
    )


# ============================================================== 4. PyTorch's weight=


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("with_sample_weight", [False, True], ids=["weight", "weight+sw"])
@pytest.mark.parametrize("weight_shape", [(4,), (6, 1), (6, 4)], ids=str)
@pytest.mark.parametrize("kind", ["probabilities", "logits"])
def test_binary_weight_matches_torch(
    kind: str, weight_shape: tuple[int, ...], with_sample_weight: bool, dtype: str
) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch parity needs torch installed")
    configure("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(_seed(kind, weight_shape, with_sample_weight))
    pred = binary_p(rng, (6, 4)) if kind == "probabilities" else 4 * rng.normal(size=(6, 4))
    pred = pred.astype(dtype)
    t = binary_soft(rng, (6, 4)).astype(dtype)
    w = rng.uniform(0.2, 2.0, weight_shape).astype(dtype)
    sw = rng.uniform(0.2, 3.0, (6, 1)).astype(dtype) if with_sample_weight else None
    pos_weight = rng.uniform(0.5, 3.0, 4).astype(dtype)
    torch_weight = torch.tensor(w if sw is None else w * sw)
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (2e-5, 2e-6)

    for reduction in REDUCTIONS:
        z = torch.tensor(pred, requires_grad=True)
        if kind == "probabilities":
            expected = functional.binary_cross_entropy(
                z, torch.tensor(t), weight=torch_weight, reduction=reduction
            )
            value, grad = lk.binary_cross_entropy.value_and_grad(
                pred, t, weight=w, sample_weight=sw, delta=0.0, reduction=reduction
            )
        else:
            expected = functional.binary_cross_entropy_with_logits(
                z,
                torch.tensor(t),
                weight=torch_weight,
                pos_weight=torch.tensor(pos_weight),
                reduction=reduction,
            )
            value, grad = lk.sigmoid_binary_cross_entropy.value_and_grad(
                pred, t, weight=w, pos_weight=pos_weight, sample_weight=sw, reduction=reduction
            )
        expected.sum().backward()
        assert z.grad is not None
        np.testing.assert_allclose(value, expected.detach().numpy(), rtol=rtol, atol=atol)
        np.testing.assert_allclose(grad, z.grad.numpy(), rtol=rtol, atol=atol)
        assert value.dtype == grad.dtype == pred.dtype


# ============================================================== 5. bad shapes

_R = np.random.default_rng(12)
BAD_SHAPES = [
    # loss, prediction, target, sample_weight shape, sample shape
    (lk.mean_squared_error, _R.normal(size=(4, 3)), np.array([0, 2, 1, 1]), (5,), (4,)),
    # one weight per element is not one per sample
    (lk.cross_entropy_error, probs(_R, (4, 3)), np.array([0, 2, 1, 1]), (4, 3), (4,)),
    (
        lk.softmax_cross_entropy,
        _R.normal(size=(4, 3, 5)),
        _R.integers(0, 5, (4, 3)),
        (4, 5),
        (4, 3),
    ),
    # broadcasts with (4, 3) but not to it: the result would not have the sample shape
    (
        lk.softmax_cross_entropy,
        _R.normal(size=(4, 3, 5)),
        probs(_R, (4, 3, 5)),
        (4, 3, 1),
        (4, 3),
    ),
    # lined up with the leading axes (Keras's meaning): (D,) does not fit p of shape (N, D)
    (lk.binary_cross_entropy, binary_p(_R, (4, 3)), np.ones((4, 3), np.int64), (3,), (4, 3)),
    (
        lk.sigmoid_binary_cross_entropy,
        _R.normal(size=(4, 3)),
        binary_soft(_R, (4, 3)),
        (2, 3),
        (4, 3),
    ),
]


@pytest.mark.parametrize(
    ("loss", "pred", "t", "sw_shape", "sample_shape"),
    BAD_SHAPES,
    ids=[f"{case[0].__name__}-sw{case[3]}" for case in BAD_SHAPES],
)
def test_sample_weight_shape_mismatch_names_both_shapes(
    backend: str,
    loss: lk.Loss[Any],
    pred: Arr,
    t: Arr,
    sw_shape: tuple[int, ...],
    sample_shape: tuple[int, ...],
) -> None:
    y, target = to_backend(backend, pred), to_backend(backend, t)
    sw = to_backend(backend, np.ones(sw_shape))
    with pytest.raises(ValueError, match=re.escape(str(sw_shape))) as error:
        to_numpy(loss(y, target, sample_weight=sw))  # lazy backends may raise at compute
    message = str(error.value)
    # The other shape: the samples' shape, or the prediction's it is derived from.
    rest = message.replace(str(sw_shape), "")
    assert str(sample_shape) in rest or str(pred.shape) in rest, message


@pytest.mark.parametrize("loss_name", ["softmax_cross_entropy", "binary_cross_entropy"])
def test_a_weight_per_sequence_weighs_all_its_steps(backend: str, loss_name: str) -> None:
    """sample_weight of shape (N,) against samples of shape (N, T): Keras's and
    scikit-learn's meaning, one weight per leading sample, broadcast over the rest
    (NumPy's trailing rule would have weighed time steps instead, silently when N == T)."""
    rng = np.random.default_rng(7)
    sw = np.array([1.0, 0.0, 2.5])
    if loss_name == "softmax_cross_entropy":
        loss: lk.Loss[Any] = lk.softmax_cross_entropy
        pred, t = rng.normal(size=(3, 3, 4)), rng.integers(0, 4, (3, 3))
    else:
        loss = lk.binary_cross_entropy
        pred, t = rng.uniform(0.05, 0.95, (3, 3)), rng.integers(0, 2, (3, 3))
    for reduction in ("sum", "mean", "none"):
        got = to_numpy(
            loss(
                to_backend(backend, pred),
                to_backend(backend, t),
                sample_weight=to_backend(backend, sw),
                reduction=reduction,
            )
        )
        expected = to_numpy(
            loss(
                to_backend(backend, pred),
                to_backend(backend, t),
                sample_weight=to_backend(backend, sw[:, None]),
                reduction=reduction,
            )
        )
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    per_step = loss(pred, t, reduction="none")
    np.testing.assert_allclose(
        loss(pred, t, sample_weight=sw, reduction="sum"), (per_step * sw[:, None]).sum()
    )
