"""Fused CPU kernels (numba) behind the public losses, for NumPy inputs.

The generic Array API code is the reference; these kernels compute the same
numbers in one pass over the data without N×C temporaries, and are chosen
automatically where they apply (`softmax_cross_entropy_applies`). Numba is
imported on first use, so importing losskit stays fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

Arr = np.ndarray[Any, Any]


@functools.cache
def _compiled() -> dict[str, Callable[..., Any]]:
    import math

    import numba

    # error_model="numpy": 1/0 and log(0) give inf as IEEE says (NumPy's behaviour), instead
    # of raising ZeroDivisionError as Python would.
    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def row_shift(z: Arr, i: int) -> float:
        """The stable shift of row i: its max, or 0 when the max is not finite
        (exactly as the generic path does)."""
        m = -math.inf
        for k in range(z.shape[1]):
            if z[i, k] > m:
                m = z[i, k]
        return m if math.isfinite(m) else 0.0

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def first_bad_label(labels: Arr, num_classes: int) -> int:
        for i in range(labels.shape[0]):
            if labels[i] < 0 or labels[i] >= num_classes:
                return i
        return -1

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def sce_value(z: Arr, labels: Arr, out: Arr) -> int:
        bad = first_bad_label(labels, z.shape[1])
        if bad >= 0:
            return bad
        for i in range(z.shape[0]):
            m = row_shift(z, i)
            s = 0.0
            for k in range(z.shape[1]):
                s += math.exp(z[i, k] - m)
            out[i] = math.log(s) - (z[i, labels[i]] - m)
        return -1

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def sce_value_grad(z: Arr, labels: Arr, out: Arr, grad: Arr) -> int:
        bad = first_bad_label(labels, z.shape[1])
        if bad >= 0:
            return bad
        for i in range(z.shape[0]):
            m = row_shift(z, i)
            s = 0.0
            for k in range(z.shape[1]):  # one exp per element: kept in grad, scaled below
                e = math.exp(z[i, k] - m)
                grad[i, k] = e
                s += e
            t = labels[i]
            out[i] = math.log(s) - (z[i, t] - m)
            inv = 1.0 / s
            for k in range(z.shape[1]):
                grad[i, k] *= inv
            grad[i, t] -= 1.0
        return -1

    return {"sce_value": sce_value, "sce_value_grad": sce_value_grad}


def softmax_cross_entropy_applies(
    logits: Any, t: Any, axis: int, weight: Any, ignore_index: Any, label_smoothing: float
) -> bool:
    """The kernel covers the common case; everything else takes the generic path."""
    return (
        type(logits) is np.ndarray
        and type(t) is np.ndarray
        and logits.ndim == 2
        and axis == 1
        and logits.dtype in (np.float32, np.float64)
        and t.dtype.kind in "iu"
        and weight is None
        and ignore_index is None
        and label_smoothing == 0.0
    )


def softmax_cross_entropy(
    logits: Arr, labels: Arr, *, with_grad: bool
) -> tuple[Arr, Arr | None, int]:
    """Per-sample loss (and the gradient of their sum) for 2-D logits and labels.

    Returns (loss, grad or None, index of the first out-of-range label or -1);
    the caller raises on a bad label with the shared message.
    """
    z = np.ascontiguousarray(logits)
    labels = labels.astype(np.int64, copy=False)
    out = np.empty(z.shape[0], dtype=z.dtype)
    if not with_grad:
        return out, None, int(_compiled()["sce_value"](z, labels, out))
    grad = np.empty(z.shape, dtype=z.dtype)
    return out, grad, int(_compiled()["sce_value_grad"](z, labels, out, grad))
