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

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def numba_kernels() -> ModuleType:
    from losskit import _numba_kernels

    return _numba_kernels


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
    with_grad: bool,
) -> tuple[Arr, Arr | None]:
    """Per-sample losses (sample shape) and, optionally, the gradient of their sum.

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
        out,
        grad,
        with_grad,
    )
    return out.reshape(logits.shape[:-1]), grad.reshape(logits.shape) if with_grad else None
