"""Every loss, every reduction, every installed backend, float32 and float64:
values and gradients against the slow float64 reference of `reference.py`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import reference as ref
from backends import assert_close, to_backend, to_numpy

import losskit as lk

Arr = np.ndarray[Any, Any]


def softmax_rows(z: Arr) -> Arr:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Case:
    id: str
    loss: lk.Loss[Any]
    make: Callable[[np.random.Generator], tuple[Arr, Arr, dict[str, Any]]]
    # reference(prediction in float64 with class axis last, target, options)
    reference: Callable[[Arr, Arr, dict[str, Any]], tuple[Arr, Arr | None]]
    axis: int | None = None  # class axis when not last, moved last for the reference
    opts_static: dict[str, Any] = field(default_factory=dict)


def one_hot(labels: Arr, c: int) -> Arr:
    return np.eye(c)[labels]


def probs(rng: np.random.Generator, shape: tuple[int, ...]) -> Arr:
    # Softmax of moderate logits: every probability comfortably inside (0, 1), so the
    # reference's central differences are accurate.
    return softmax_rows(rng.normal(size=shape))


def _labels_as_dist(t: Arr, c: int) -> Arr:
    return one_hot(t, c) if np.issubdtype(t.dtype, np.integer) else t


CASES = [
    Case(
        "mse-onehot",
        lk.mean_squared_error,
        lambda r: (probs(r, (6, 10)), one_hot(r.integers(0, 10, 6), 10), {}),
        lambda y, t, o: (ref.mean_squared_error(y, t), None),
    ),
    Case(
        "mse-labels",
        lk.mean_squared_error,
        lambda r: (r.normal(size=(5, 4)), r.integers(0, 4, 5), {}),
        lambda y, t, o: (ref.mean_squared_error(y, one_hot(t, 4)), None),
    ),
    Case(
        "mse-one-sample",
        lk.mean_squared_error,
        lambda r: (probs(r, (7,)), one_hot(np.array(3), 7), {}),
        lambda y, t, o: (ref.mean_squared_error(y, t), None),
    ),
    Case(
        "cee-onehot",
        lk.cross_entropy_error,
        lambda r: (probs(r, (6, 10)), one_hot(r.integers(0, 10, 6), 10), {}),
        lambda y, t, o: (ref.cross_entropy_error(y, t, 1e-7), None),
    ),
    Case(
        "cee-labels-weight-delta0",
        lk.cross_entropy_error,
        lambda r: (
            probs(r, (6, 5)),
            r.integers(0, 5, 6),
            {"weight": r.uniform(0.2, 2.0, 5), "delta": 0.0},
        ),
        lambda y, t, o: (
            ref.cross_entropy_error(y, one_hot(t, 5), 0.0, o["weight"]),
            o["weight"][t],
        ),
    ),
    Case(
        "cee-soft-axis0",
        lk.cross_entropy_error,
        lambda r: (probs(r, (4, 3)).T.copy(), probs(r, (4, 3)).T.copy(), {"axis": 0}),
        lambda y, t, o: (ref.cross_entropy_error(y, t, 1e-7), None),
        axis=0,
    ),
    Case(
        "bce-soft",
        lk.binary_cross_entropy,
        lambda r: (
            r.uniform(0.05, 0.95, (4, 5)),
            np.where(r.random((4, 5)) < 0.3, 1.0, r.uniform(0, 1, (4, 5))),
            {},
        ),
        lambda p, t, o: (ref.binary_cross_entropy(p, t, 1e-7), None),
    ),
    Case(
        "bce-labels-pos-weight",
        lk.binary_cross_entropy,
        lambda r: (
            r.uniform(0.05, 0.95, (4, 5)),
            r.integers(0, 2, (4, 5)),
            {"pos_weight": r.uniform(0.5, 3.0, 5)},
        ),
        lambda p, t, o: (ref.binary_cross_entropy(p, t, 1e-7, o["pos_weight"]), None),
    ),
    Case(
        "sce-labels",
        lk.softmax_cross_entropy,
        lambda r: (3 * r.normal(size=(8, 6)), r.integers(0, 6, 8), {}),
        lambda z, t, o: ref.softmax_cross_entropy_labels(
            z, t, weight=None, ignore_index=None, eps=0.0
        ),
    ),
    Case(
        "sce-labels-all-options",
        lk.softmax_cross_entropy,
        lambda r: (
            3 * r.normal(size=(8, 6)),
            np.array([0, 5, 2, -1, 2, 3, -1, 1]),
            {"weight": r.uniform(0.2, 2.0, 6), "ignore_index": -1, "label_smoothing": 0.2},
        ),
        lambda z, t, o: ref.softmax_cross_entropy_labels(
            z, t, weight=o["weight"], ignore_index=-1, eps=0.2
        ),
    ),
    Case(
        "sce-soft-weight-smoothing",
        lk.softmax_cross_entropy,
        lambda r: (
            3 * r.normal(size=(5, 4)),
            probs(r, (5, 4)),
            {"weight": r.uniform(0.2, 2.0, 4), "label_smoothing": 0.1},
        ),
        lambda z, t, o: (
            ref.softmax_cross_entropy_distribution(z, t, weight=o["weight"], eps=0.1),
            None,
        ),
    ),
    Case(
        "sce-labels-axis1",
        lk.softmax_cross_entropy,
        lambda r: (
            r.normal(size=(3, 5, 4)),
            r.integers(0, 5, (3, 4)),
            {"axis": 1, "ignore_index": 0},
        ),
        lambda z, t, o: ref.softmax_cross_entropy_labels(
            z, t, weight=None, ignore_index=0, eps=0.0
        ),
        axis=1,
    ),
    Case(
        "sigmoid-bce-soft",
        lk.sigmoid_binary_cross_entropy,
        lambda r: (4 * r.normal(size=(6, 3)), r.uniform(0, 1, (6, 3)), {}),
        lambda x, t, o: (ref.sigmoid_binary_cross_entropy(x, t), None),
    ),
    Case(
        "sigmoid-bce-labels-pos-weight",
        lk.sigmoid_binary_cross_entropy,
        lambda r: (
            4 * r.normal(size=(6, 3)),
            r.integers(0, 2, (6, 3)),
            {"pos_weight": r.uniform(0.5, 3.0, 3)},
        ),
        lambda x, t, o: (ref.sigmoid_binary_cross_entropy(x, t, o["pos_weight"]), None),
    ),
]


def _class_last(a: Arr, axis: int | None) -> Arr:
    return a if axis is None else np.moveaxis(a, axis, -1)


def _reference_value(case: Case, pred: Arr, t: Arr, opts: dict[str, Any], reduction: str) -> Arr:
    per_sample, sample_weight = case.reference(
        _class_last(pred, case.axis), _class_last(t, case.axis) if t.ndim == pred.ndim else t, opts
    )
    return ref.reduce(per_sample, reduction, sample_weight)


def _prepare(case: Case, dtype: str, seed: int) -> tuple[Arr, Arr, dict[str, Any]]:
    pred, t, opts = case.make(np.random.default_rng(seed))
    pred = pred.astype(dtype)
    if np.issubdtype(t.dtype, np.floating):
        t = t.astype(dtype)
    opts = {k: v.astype(dtype) if isinstance(v, np.ndarray) else v for k, v in opts.items()}
    return pred, t, opts


def _on_backend(backend: str, opts: dict[str, Any]) -> dict[str, Any]:
    return {
        k: to_backend(backend, v, chunks=v.shape[0]) if isinstance(v, np.ndarray) else v
        for k, v in opts.items()
    }


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_value_and_grad_match_float64_reference(
    case: Case, reduction: str, backend: str, dtype: str
) -> None:
    pred, t, opts = _prepare(case, dtype, seed=len(case.id))
    pred64 = pred.astype(np.float64)
    expected = _reference_value(case, pred64, t, opts, reduction)
    # "none" differentiates the sum of the per-sample values (SPEC §2.4).
    grad_reduction = "sum" if reduction == "none" else reduction
    expected_grad = ref.central_difference(
        lambda p: float(_reference_value(case, p, t, opts, grad_reduction)), pred64
    )

    y, target, options = (
        to_backend(backend, pred),
        to_backend(backend, t),
        _on_backend(backend, opts),
    )
    value, grad = case.loss.value_and_grad(y, target, reduction=reduction, **options)

    assert_close(backend, value, expected, dtype=dtype)
    grad_tol = {"rtol": 1e-4, "atol": 2e-6} if dtype == "float32" else {"rtol": 1e-7, "atol": 1e-8}
    assert_close(backend, grad, expected_grad, dtype=dtype, **grad_tol)
    # The separate entry points agree with the fused one.
    assert_close(
        backend, case.loss(y, target, reduction=reduction, **options), expected, dtype=dtype
    )
    assert_close(
        backend,
        case.loss.grad(y, target, reduction=reduction, **options),
        expected_grad,
        dtype=dtype,
        **grad_tol,
    )
    if reduction == "none":  # what eval --output uses: the same values, and mean's count
        per_sample, count = case.loss.per_sample_and_count(y, target, **options)
        assert_close(backend, per_sample, expected, dtype=dtype)
        total, sum_count = case.loss.sum_and_count(y, target, **options)
        assert float(to_numpy(count)) == pytest.approx(float(to_numpy(sum_count)), rel=1e-6)
        mean = _reference_value(case, pred64, t, opts, "mean")
        assert float(to_numpy(total)) / float(to_numpy(count)) == pytest.approx(
            float(mean), rel=1e-5
        )
    # Inputs are never modified.
    np.testing.assert_array_equal(
        pred, case.make(np.random.default_rng(len(case.id)))[0].astype(dtype)
    )


def _has_plain_labels(case: Case) -> bool:
    _, t, opts = case.make(np.random.default_rng(0))
    return np.issubdtype(t.dtype, np.integer) and "ignore_index" not in opts


LABEL_CASES = [c for c in CASES if _has_plain_labels(c)]


@pytest.mark.parametrize("case", LABEL_CASES, ids=[c.id for c in LABEL_CASES])
def test_label_targets_equal_one_hot_targets(case: Case) -> None:
    """The sibling check: labels and their one-hot rows give the same loss (no
    ignoring involved, where PyTorch's label and distribution rules coincide)."""
    pred, t, opts = _prepare(case, "float64", seed=7)
    if case.loss in (lk.binary_cross_entropy, lk.sigmoid_binary_cross_entropy):
        as_float = t.astype(np.float64)
    else:
        axis = case.axis if case.axis is not None else -1
        as_float = np.moveaxis(one_hot(t, pred.shape[axis]), -1, axis)
    opts.pop("weight", None)  # with weights, "mean" divides differently (PyTorch's rule)
    for reduction in ("sum", "none", "mean"):
        a = case.loss(pred, t, reduction=reduction, **opts)
        b = case.loss(pred, as_float, reduction=reduction, **opts)
        np.testing.assert_allclose(a, b, rtol=1e-13)
