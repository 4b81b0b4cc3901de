"""The numerically careful building blocks the losses and the public primitives share.

No checks here: callers pass valid arrays (`losskit._validate` checks the public inputs).
"""

from __future__ import annotations

from losskit._array import Array, Namespace, device_of, scalar


def _stable_shift(x: Array, axis: int, xp: Namespace) -> tuple[Array, Array]:
    """x minus its max along `axis` (keepdims), so that exp never overflows."""
    m = xp.max(x, axis=axis, keepdims=True)
    # A row of all -inf (or holding +inf) has a non-finite max; shifting by it would
    # turn -inf - -inf or inf - inf into NaN, so shift by 0 there and let IEEE decide.
    m = xp.where(xp.isfinite(m), m, scalar(0.0, m, xp))
    return x - m, m


def _has_no_samples(x: Array) -> bool:
    return 0 in tuple(x.shape)


def _logsumexp(x: Array, axis: int, xp: Namespace) -> Array:
    """log Σ exp(x) along `axis`, keepdims."""
    if _has_no_samples(x):
        # Nothing to reduce (and Dask's max refuses empty chunks).
        return xp.sum(x, axis=axis, keepdims=True)
    shifted, m = _stable_shift(x, axis, xp)
    return m + xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def _log_softmax(x: Array, axis: int, xp: Namespace) -> Array:
    # (x - m) - log Σ exp(x - m), not x - logsumexp(x): for large |x| in float32 the
    # latter subtracts two big, nearly equal numbers and loses the small difference.
    if _has_no_samples(x):
        return x
    shifted, _ = _stable_shift(x, axis, xp)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def _softplus(x: Array, xp: Namespace) -> Array:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return xp.maximum(x, scalar(0.0, x, xp)) + xp.log1p(xp.exp(-xp.abs(x)))


def _sigmoid(x: Array, xp: Namespace) -> Array:
    # exp(-|x|) never overflows; the two branches are 1/(1+e^-x) and e^x/(1+e^x).
    e = xp.exp(-xp.abs(x))
    one = scalar(1.0, x, xp)
    return xp.where(x >= 0, one / (one + e), e / (one + e))


def _label_dtype(t: Array, num_classes: int, xp: Namespace) -> object:
    # arange(C) in the labels' own dtype, unless C does not fit in it (uint8 labels, 300 classes).
    return t.dtype if xp.iinfo(t.dtype).max >= num_classes else xp.int64


def _one_hot_mask(t: Array, num_classes: int, xp: Namespace) -> Array:
    """Boolean (..., C): True where t == k. A label outside [0, C) gives a row of False."""
    classes = xp.arange(num_classes, dtype=_label_dtype(t, num_classes, xp), device=device_of(t))
    return t[..., None] == classes
