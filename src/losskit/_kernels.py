"""Dispatch to the fused CPU kernels for NumPy inputs.

The generic Array API code is the reference; the kernels (`_numba_kernels`,
imported on first use so that `import losskit` stays fast) compute the same
numbers in one read of the data, with no N×C temporary for the value (extra
memory O(N)) and none besides the gradient itself for value and gradient.
`*_applies` decides, from types and shapes only, whether a call can take a
kernel; everything else takes the generic path.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

Arr = np.ndarray[Any, Any]

# Below this many elements a parallel region's wake-up tail (milliseconds on busy
# cores) costs more than it saves: run serially.
PARALLEL_MIN_ELEMENTS = 1 << 18

# Up to this many classes the small-batch kernel exps all N·C shifted logits in one flat
# sweep through a scratch array, also for the value alone; longer rows are fast per row.
SMALL_SCRATCH_MAX_CLASSES = 64

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INT64 = np.dtype(np.int64)


_loaded: ModuleType | None = None


def numba_kernels() -> ModuleType:
    global _loaded
    if _loaded is None:
        from losskit import _numba_kernels

        _loaded = _numba_kernels
    return _loaded


def softmax_cross_entropy_applies(logits: Any, t: Any, axis: int, weight: Any) -> bool:
    """Plain NumPy, labels, class axis last and contiguous rows: the kernel's case."""
    return (
        type(logits) is np.ndarray
        and type(t) is np.ndarray
        and logits.dtype in _FLOATS
        and t.dtype.kind in "iu"
        and logits.ndim >= 1
        and axis == logits.ndim - 1
        and logits.flags.c_contiguous
        and (weight is None or (type(weight) is np.ndarray and weight.dtype.kind == "f"))
    )


def label_mean_denominator(labels: Arr, weight: Arr | None, ignore_index: int | None) -> float:
    """What "mean" divides by for validated label targets (PyTorch's rule, as the generic
    path's sample weights): the number of counted samples, or the sum of their class weights."""
    counted = labels != ignore_index if ignore_index is not None else None
    if weight is None:
        return float(labels.size if counted is None else np.count_nonzero(counted))
    if counted is None:
        return float(weight[labels].sum())
    return float(weight[np.where(counted, labels, 0)][counted].sum())


def first_bad_label(labels: Arr, num_classes: int, ignore_index: int | None) -> int:
    flat = labels.reshape(-1)
    if flat.dtype != np.int64:
        flat = flat.astype(np.int64)
    return int(
        numba_kernels().first_bad_label(
            flat, num_classes, 0 if ignore_index is None else ignore_index, ignore_index is not None
        )
    )


def softmax_cross_entropy(
    logits: Arr,
    labels: Arr,
    *,
    weight: Arr | None,
    ignore_index: int | None,
    label_smoothing: float,
    grad_scale: float,
    with_grad: bool,
) -> tuple[Arr, Arr | None]:
    """Per-sample losses (sample shape) and, optionally, `grad_scale` × the gradient of
    their sum (the reduction folded into the kernel: no extra pass over N×C).

    Labels must have been validated (`first_bad_label`).
    """
    k = numba_kernels()
    num_classes = logits.shape[-1]
    z = logits.reshape(-1, num_classes)  # a view: logits are C-contiguous
    flat = labels.reshape(-1).astype(np.int64, copy=False)
    w = np.empty(0, z.dtype) if weight is None else weight.astype(z.dtype, copy=False)
    out = np.empty(z.shape[0], dtype=z.dtype)
    grad = np.empty_like(z) if with_grad else np.empty((0, 0), z.dtype)
    kernel = k.sce_parallel if z.size >= PARALLEL_MIN_ELEMENTS else k.sce_serial
    kernel(
        z,
        flat,
        w,
        0 if ignore_index is None else ignore_index,
        ignore_index is not None,
        float(label_smoothing),
        float(grad_scale),
        out,
        grad,
        with_grad,
    )
    return out.reshape(logits.shape[:-1]), grad.reshape(logits.shape) if with_grad else None


def small_applies(
    logits: Any,
    t: Any,
    axis: int,
    weight: Any,
    ignore_index: Any,
    label_smoothing: float,
    reduction: str,
) -> bool:
    """The tiny-batch case (e.g. the chapter's 100 × 10), where per-call overhead is all."""
    # Ordered cheapest first and written for speed (dtype identity, not equality): this
    # test runs on every call, and at 100 × 10 a microsecond is a tenth of the budget.
    return (
        type(logits) is np.ndarray
        and type(t) is np.ndarray
        and weight is None
        and ignore_index is None
        and label_smoothing == 0.0
        and logits.ndim == 2
        and axis in (-1, 1)
        and reduction in ("mean", "sum")
        and logits.dtype in _FLOATS
        and t.dtype is _INT64
        and t.shape[0] == logits.shape[0]
        and t.ndim == 1
        and 0 < logits.size < PARALLEL_MIN_ELEMENTS
        and logits.flags.c_contiguous
    )


def small_softmax_cross_entropy(
    logits: Arr, labels: Arr, reduction: str, with_grad: bool
) -> tuple[Any, Arr | None, int]:
    """(reduced value in logits' dtype, gradient, first bad label index or -1)."""
    scale = 1.0 / logits.shape[0] if reduction == "mean" else 1.0
    # The gradient; for the value alone of short rows, the kernel's scratch space (at most
    # 2 MB: this path takes < 2^18 elements); long rows need none and get none.
    short_rows = logits.shape[1] <= SMALL_SCRATCH_MAX_CLASSES
    grad = np.empty_like(logits) if with_grad or short_rows else logits[:0]
    total, bad = numba_kernels().sce_small(logits, labels, scale, grad, with_grad)
    return logits.dtype.type(total * scale), grad if with_grad else None, int(bad)


# ------------------------------------------------------------------ probability losses


def _plain(a: Any) -> bool:
    return type(a) is np.ndarray and a.flags.c_contiguous


def class_loss_applies(y: Any, t: Any, axis: int, weight: Any) -> bool:
    """MSE / cross_entropy_error on NumPy with the class axis last and contiguous rows."""
    return (
        _plain(y)
        and _plain(t)
        and y.dtype in _FLOATS
        and (t.dtype.kind in "iu" or t.dtype == y.dtype)
        and y.ndim >= 1
        and axis == y.ndim - 1
        and (weight is None or (type(weight) is np.ndarray and weight.dtype.kind == "f"))
    )


def binary_loss_applies(p: Any, t: Any, pos_weight: Any) -> bool:
    return (
        _plain(p)
        and _plain(t)
        and p.dtype in _FLOATS
        and (t.dtype.kind in "iu" or t.dtype == p.dtype)
        and (
            pos_weight is None
            or (
                type(pos_weight) is np.ndarray
                and pos_weight.dtype.kind == "f"
                and p.ndim >= 1
                and pos_weight.shape == p.shape[-1:]
            )
        )
    )


def first_bad_probability(y: Arr) -> int:
    return int(numba_kernels().first_bad_probability(y))


def class_loss(
    kind: str,
    y: Arr,
    t: Arr,
    *,
    weight: Arr | None,
    delta: float,
    grad_scale: float,
    with_grad: bool,
) -> tuple[Arr, Arr | None]:
    """Per-sample values and grad_scale × gradient for "mse" or "cee" (validated inputs)."""
    k = numba_kernels()
    num_classes = y.shape[-1]
    y2 = y.reshape(-1, num_classes)
    labels = t.dtype.kind in "iu"
    t2 = t.reshape(-1).astype(np.int64, copy=False) if labels else t.reshape(-1, num_classes)
    out = np.empty(y2.shape[0], dtype=y.dtype)
    grad = np.empty_like(y2) if with_grad else y2[:0]
    if kind == "mse":
        (k.mse_labels if labels else k.mse_distribution)(y2, t2, grad_scale, out, grad, with_grad)
    else:
        w = np.empty(0, y.dtype) if weight is None else weight.astype(y.dtype, copy=False)
        (k.cee_labels if labels else k.cee_distribution)(
            y2, t2, w, float(delta), grad_scale, out, grad, with_grad
        )
    return out.reshape(y.shape[:-1]), grad.reshape(y.shape) if with_grad else None


def binary_loss(
    p: Arr, t: Arr, *, pos_weight: Arr | None, delta: float, grad_scale: float, with_grad: bool
) -> tuple[Arr, Arr | None]:
    flat_p = p.reshape(-1)
    flat_t = t.reshape(-1).astype(p.dtype, copy=False)
    pw = np.empty(0, p.dtype) if pos_weight is None else pos_weight.astype(p.dtype, copy=False)
    out = np.empty_like(flat_p)
    grad = np.empty_like(flat_p) if with_grad else flat_p[:0]
    numba_kernels().bce(flat_p, flat_t, pw, float(delta), grad_scale, out, grad, with_grad)
    return out.reshape(p.shape), grad.reshape(p.shape) if with_grad else None
