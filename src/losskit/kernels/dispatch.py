"""Dispatch to the fused CPU kernels for NumPy inputs.

The generic Array API code is the reference; the kernels (`losskit.kernels._numba`,
imported on first use so that `import losskit` stays fast) compute the same
numbers in one read of the data, with no N×C temporary for the value (extra
memory O(N)) and none besides the gradient itself for value and gradient.
Inputs arrive validated (`losskit._validate`): nothing here raises on bad input.
`takes_*` decides, from types and shapes only, whether a call can take a kernel;
everything else takes the Array API core (`losskit._core`). The kernels read
C-contiguous native-endian rows: other NumPy layouts (Fortran order, strided or
broadcast views, big-endian) are copied once into that form, never written.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from losskit._inputs import BinaryInputs, ClassInputs
from losskit._terms import LossTerms, kernel_terms

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
        from losskit.kernels import _numba

        _loaded = _numba
    return _loaded


def native(a: Any, dtype: Any = None) -> Arr:
    """a as a C-contiguous native-endian array of `dtype` (a itself when it already is one;
    a 0-d array stays 0-d, unlike with np.ascontiguousarray)."""
    target = (a.dtype if dtype is None else np.dtype(dtype)).newbyteorder("=")
    return np.asarray(a).astype(target, order="C", copy=False)


def _kernel_float(a: Any) -> bool:
    return type(a) is np.ndarray and a.dtype.kind == "f" and a.dtype.itemsize in (4, 8)


def _plain_labels(labels: Any) -> Arr:
    """int64 labels for a kernel. Validated in their own dtype first, so the cast cannot
    wrap a bad label into range; an ignore_index of uint64 labels wraps the same way."""
    return native(labels, np.int64).reshape(-1)


def _ignore_value(inp: ClassInputs) -> int:
    if inp.ignore_index is None or inp.labels is None:
        return 0
    return int(np.array(inp.ignore_index, dtype=inp.labels.dtype).astype(np.int64))


def first_bad_label(labels: Arr, num_classes: int, ignore_index: int | None) -> int:
    """Flat index of the first label outside [0, C) (and != ignore_index), or -1."""
    flat = labels if labels.ndim == 1 and labels.flags.c_contiguous else native(labels).ravel()
    return int(
        numba_kernels().first_bad_label(
            flat, num_classes, 0 if ignore_index is None else ignore_index, ignore_index is not None
        )
    )


def first_outside_unit_interval(x: Arr) -> tuple[int, bool]:
    """(flat index of the first element outside [0, 1] or -1, whether any is NaN): one pass
    over `x`, which must be C-contiguous and native-endian (validation made it so)."""
    if x.dtype.kind == "f" and x.dtype.itemsize not in (4, 8):  # numba: no float16/float128
        bad = ((x < 0) | (x > 1)).reshape(-1)
        return (int(np.argmax(bad)) if bad.any() else -1), True
    k = numba_kernels()
    scan = (
        k.first_outside_unit_interval_parallel
        if x.size >= PARALLEL_MIN_ELEMENTS
        else k.first_outside_unit_interval
    )
    found = int(scan(x.reshape(-1)))
    return (-1, True) if found == -2 else (found, False)


def _gradient(shape: tuple[int, ...], dtype: Any, with_grad: bool, grad_out: Arr | None) -> Arr:
    """Where a kernel writes the gradient: the caller's buffer (checked: the input's shape,
    C-contiguous, so this reshape is a view), a new array, or an empty one (no gradient)."""
    if grad_out is not None:
        return grad_out.reshape(shape)
    if with_grad:
        return np.empty(shape, dtype)
    return np.empty((0,) * len(shape), dtype)


def label_mean_denominator(inp: ClassInputs, labels: Arr) -> float:
    """What "mean" divides by for label targets (PyTorch's rule, as the core's): the number
    of counted samples, or the sum of their class weights."""
    counted = labels != _ignore_value(inp) if inp.ignore_index is not None else None
    if inp.weight is None:
        return float(labels.size if counted is None else np.count_nonzero(counted))
    w = np.asarray(inp.weight, dtype=np.float64)
    if counted is None:
        return float(w[labels].sum())
    return float(w[np.where(counted, labels, 0)][counted].sum())


# ------------------------------------------------------------------ softmax cross entropy


def takes_small_softmax_cross_entropy(inp: ClassInputs) -> bool:
    """The tiny-batch case (e.g. the chapter's 100 × 10), where per-call overhead is all."""
    y, labels = inp.y, inp.labels
    # Ordered cheapest first and written for speed (dtype identity, not equality): this
    # test runs on every call, and at 100 × 10 a microsecond is a tenth of the budget.
    return (
        labels is not None
        and inp.weight is None
        and inp.sample_weight is None
        and inp.ignore_index is None
        and inp.label_smoothing == 0.0
        and inp.reduction != "none"
        and inp.axis == 1
        and type(y) is np.ndarray
        and type(labels) is np.ndarray
        and y.ndim == 2
        and y.dtype in _FLOATS
        and (labels.dtype is _INT64 or labels.dtype == _INT64)  # (an unpickled dtype is not _INT64)
        and 0 < y.size < PARALLEL_MIN_ELEMENTS
        and y.flags.c_contiguous
        and labels.flags.c_contiguous
    )


# A subclass, not LossTerms(final=closure): at 100 × 10 building a closure and the general
# LossTerms per call cost half a microsecond of a call that takes about five.
@dataclass(slots=True)
class _SmallBatchTerms(LossTerms):
    logits: Arr | None = None
    labels: Arr | None = None
    scale: float = 1.0

    def value(self) -> Arr:
        return self._run(False, None)[0]

    def value_and_grad(self, grad_out: Arr | None = None) -> tuple[Arr, Arr]:
        value, grad = self._run(True, grad_out)
        return value, grad

    def _run(self, with_grad: bool, grad_out: Arr | None) -> tuple[Arr, Arr]:
        logits = self.logits
        assert logits is not None
        # The gradient; for the value alone of short rows, the kernel's scratch space (at
        # most 2 MB: this path takes < 2^18 elements); long rows need none and get none.
        if grad_out is not None:
            grad = grad_out
        elif with_grad or logits.shape[1] <= SMALL_SCRATCH_MAX_CLASSES:
            grad = np.empty(logits.shape, logits.dtype)
        else:
            grad = np.empty((0, logits.shape[1]), logits.dtype)
        total = numba_kernels().sce_small(logits, self.labels, self.scale, grad, with_grad)
        return logits.dtype.type(total * self.scale), grad


def small_softmax_cross_entropy(inp: ClassInputs) -> LossTerms:
    """The chapter's 100 × 10 case: one small kernel call does the value and gradient."""
    n = inp.y.shape[0]
    scale = 1.0 / n if inp.reduction == "mean" else 1.0
    return _SmallBatchTerms(
        np, inp.reduction, n, kernel_count=float(n), logits=inp.y, labels=inp.labels, scale=scale
    )


def takes_softmax_cross_entropy(inp: ClassInputs) -> bool:
    """NumPy logits and labels, class axis last: the fused kernel's case."""
    return (
        inp.labels is not None
        and inp.sample_weight is None
        and _kernel_float(inp.y)
        and type(inp.labels) is np.ndarray
        and inp.axis == inp.y.ndim - 1
        and (inp.weight is None or type(inp.weight) is np.ndarray)
    )


def softmax_cross_entropy(inp: ClassInputs) -> LossTerms:
    """Per-sample losses and the gradient of their reduction, from one kernel pass."""
    logits = native(inp.y)
    num_classes = logits.shape[-1]
    z = logits.reshape(-1, num_classes)
    labels = _plain_labels(inp.labels)
    w = np.empty(0, z.dtype) if inp.weight is None else native(inp.weight, z.dtype)
    ignore = _ignore_value(inp)
    k = numba_kernels()
    kernel = k.sce_parallel if z.size >= PARALLEL_MIN_ELEMENTS else k.sce_serial

    def compute(grad_scale: float, with_grad: bool, grad_out: Arr | None) -> tuple[Arr, Arr | None]:
        out = np.empty(z.shape[0], dtype=z.dtype)
        grad = _gradient(z.shape, z.dtype, with_grad, grad_out)
        kernel(
            z,
            labels,
            w,
            ignore,
            inp.ignore_index is not None,
            float(inp.label_smoothing),
            float(grad_scale),
            out,
            grad,
            with_grad,
        )
        per_sample = out.reshape(logits.shape[:-1])
        return per_sample, grad.reshape(logits.shape) if with_grad else None

    denominator = label_mean_denominator(inp, labels)
    return kernel_terms(np, inp.reduction, inp.num_samples, denominator, compute)


# ------------------------------------------------------------------ probability losses


def takes_class_loss(inp: ClassInputs) -> bool:
    """MSE / cross_entropy_error on NumPy with the class axis last."""
    t = inp.labels if inp.labels is not None else inp.target
    return (
        inp.sample_weight is None
        and _kernel_float(inp.y)
        and type(t) is np.ndarray
        and inp.axis == inp.y.ndim - 1
        and (inp.weight is None or type(inp.weight) is np.ndarray)
    )


def class_loss(kind: str, inp: ClassInputs) -> LossTerms:
    """MSE ("mse") or cross_entropy_error ("cee"): one pass, no N×C temporaries."""
    k = numba_kernels()
    y = native(inp.y)
    num_classes = y.shape[-1]
    y2 = y.reshape(-1, num_classes)
    if inp.labels is not None:
        t2 = _plain_labels(inp.labels)
        denominator = label_mean_denominator(inp, t2)
    else:
        t2 = native(inp.target, y.dtype).reshape(-1, num_classes)
        denominator = float(inp.num_samples)
    w = np.empty(0, y.dtype) if inp.weight is None else native(inp.weight, y.dtype)

    def compute(grad_scale: float, with_grad: bool, grad_out: Arr | None) -> tuple[Arr, Arr | None]:
        out = np.empty(y2.shape[0], dtype=y.dtype)
        grad = _gradient(y2.shape, y.dtype, with_grad, grad_out)
        labels = inp.labels is not None
        if kind == "mse":
            kernel = k.mse_parallel if y2.size >= PARALLEL_MIN_ELEMENTS else k.mse
            no_rows, no_labels = np.empty((0, num_classes), y.dtype), np.empty(0, np.int64)
            targets, label_list = (no_rows, t2) if labels else (t2, no_labels)
            kernel(y2, targets, label_list, grad_scale, out, grad, with_grad)
        else:
            if labels:
                k.cee_labels(
                    y2, t2, w, inp.delta, grad_scale, out, grad, with_grad, inp.y_may_hold_nan
                )
            else:
                k.cee_distribution(y2, t2, w, inp.delta, grad_scale, out, grad, with_grad)
        return out.reshape(y.shape[:-1]), grad.reshape(y.shape) if with_grad else None

    return kernel_terms(np, inp.reduction, inp.num_samples, denominator, compute)


def takes_binary_loss(inp: BinaryInputs) -> bool:
    pw = inp.pos_weight
    return (
        inp.weight is None
        and inp.sample_weight is None
        and _kernel_float(inp.p)
        and type(inp.t) is np.ndarray
        and (
            pw is None
            or (type(pw) is np.ndarray and inp.p.ndim >= 1 and pw.shape == inp.p.shape[-1:])
        )
    )


def binary_cross_entropy(inp: BinaryInputs) -> LossTerms:
    p = native(inp.p)
    flat_p = p.reshape(-1)
    flat_t = native(inp.t, p.dtype).reshape(-1)
    pw = np.empty(0, p.dtype) if inp.pos_weight is None else native(inp.pos_weight, p.dtype)
    k = numba_kernels()
    kernel = k.bce_parallel if flat_p.size >= PARALLEL_MIN_ELEMENTS else k.bce
    # Every element is a sample: for "mean" and "sum" the kernel returns the sum (in
    # float64) and writes no per-element losses, so the value needs no memory of p's size.
    reduce = inp.reduction != "none"

    def compute(grad_scale: float, with_grad: bool, grad_out: Arr | None) -> tuple[Arr, Arr | None]:
        out = np.empty(0 if reduce else flat_p.size, p.dtype)
        grad = _gradient(flat_p.shape, p.dtype, with_grad, grad_out)
        total = kernel(flat_p, flat_t, pw, inp.delta, grad_scale, out, grad, with_grad, reduce)
        per_element = p.dtype.type(total) if reduce else out.reshape(p.shape)
        return per_element, grad.reshape(p.shape) if with_grad else None

    return kernel_terms(np, inp.reduction, inp.num_samples, float(inp.num_samples), compute)
