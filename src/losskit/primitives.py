"""Numerically stable building blocks: the functions the losses are made of.

All take any Array API array (`xp` inferred when omitted) and return an array
of the same namespace, device and dtype.
"""

from __future__ import annotations

from losskit._array import Array, Namespace, device_of, get_namespace, scalar
from losskit._validate import (
    check_labels,
    dtype_name,
    namespace,
    normalize_axis,
    require_floating,
    target_error,
)

__all__ = [
    "accuracy",
    "log_softmax",
    "logsumexp",
    "one_hot",
    "sigmoid",
    "softmax",
    "softplus",
    "step_function",
]


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


def logsumexp(
    x: Array, /, *, axis: int = -1, keepdims: bool = False, xp: Namespace | None = None
) -> Array:
    r"""Stable :math:`\log \sum_k e^{x_k}` along `axis`.

    >>> import numpy as np
    >>> float(logsumexp(np.array([1000.0, 1000.0])))  # naive exp overflows
    1000.6931471805599
    """
    xp = get_namespace(x, xp=xp)
    require_floating("x", x, xp)
    axis = normalize_axis(axis, x)
    out = _logsumexp(x, axis, xp)
    return out if keepdims else xp.squeeze(out, axis=axis)


def log_softmax(x: Array, /, *, axis: int = -1, xp: Namespace | None = None) -> Array:
    r"""Stable :math:`x_k - \log \sum_j e^{x_j}` along `axis`."""
    xp = get_namespace(x, xp=xp)
    require_floating("x", x, xp)
    axis = normalize_axis(axis, x)
    return _log_softmax(x, axis, xp)


def softmax(x: Array, /, *, axis: int = -1, xp: Namespace | None = None) -> Array:
    r"""Stable :math:`e^{x_k} / \sum_j e^{x_j}` along `axis` (the book's `softmax`).

    >>> import numpy as np
    >>> softmax(np.array([0.3, 2.9, 4.0])).round(4)
    array([0.0182, 0.2452, 0.7366])
    """
    xp = get_namespace(x, xp=xp)
    require_floating("x", x, xp)
    axis = normalize_axis(axis, x)
    if _has_no_samples(x):
        return x
    e = xp.exp(_stable_shift(x, axis, xp)[0])
    return e / xp.sum(e, axis=axis, keepdims=True)


def sigmoid(x: Array, /, *, xp: Namespace | None = None) -> Array:
    r""":math:`1 / (1 + e^{-x})`, without overflow for large :math:`|x|`."""
    xp = get_namespace(x, xp=xp)
    require_floating("x", x, xp)
    return _sigmoid(x, xp)


def softplus(x: Array, /, *, xp: Namespace | None = None) -> Array:
    r""":math:`\log(1 + e^{x})`, without overflow; equal to :math:`-\log \sigma(-x)`."""
    xp = get_namespace(x, xp=xp)
    require_floating("x", x, xp)
    return _softplus(x, xp)


def step_function(x: Array, /, *, xp: Namespace | None = None) -> Array:
    """1 where x > 0, else 0, in x's dtype: the activation whose derivative is 0 almost everywhere.

    >>> import numpy as np
    >>> step_function(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 1.])
    """
    xp = get_namespace(x, xp=xp)
    require_floating("x", x, xp)
    return xp.astype(x > 0, x.dtype)


def _label_dtype(t: Array, num_classes: int, xp: Namespace) -> object:
    # arange(C) in the labels' own dtype, unless C does not fit in it (uint8 labels, 300 classes).
    return t.dtype if xp.iinfo(t.dtype).max >= num_classes else xp.int64


def _one_hot_mask(t: Array, num_classes: int, xp: Namespace) -> Array:
    """Boolean (..., C): True where t == k. A label outside [0, C) gives a row of False."""
    classes = xp.arange(num_classes, dtype=_label_dtype(t, num_classes, xp), device=device_of(t))
    return t[..., None] == classes


def one_hot(
    labels: Array,
    num_classes: int,
    /,
    *,
    dtype: object = None,
    axis: int = -1,
    xp: Namespace | None = None,
) -> Array:
    """Integer labels of shape S → one-hot rows of shape S + (C,) (class axis at `axis`).

    `dtype` defaults to the namespace's default floating dtype. A label outside
    [0, num_classes) is a ``ValueError``.

    >>> import numpy as np
    >>> one_hot(np.array([2, 0]), 3)
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    xp = get_namespace(labels, xp=xp)
    if not xp.isdtype(labels.dtype, "integral"):
        raise TypeError(f"labels must have an integer dtype, got dtype {dtype_name(labels)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    labels, invalid = check_labels(labels, num_classes, None, xp)
    if dtype is None:
        dtype = xp.asarray(0.0, device=device_of(labels)).dtype
    out = xp.astype(_one_hot_mask(labels, num_classes, xp), dtype)
    if invalid is not None:
        out = xp.where(invalid[..., None], xp.asarray(float("nan"), dtype=dtype), out)
    ndim = len(out.shape)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis must be in [{-ndim}, {ndim - 1}] for the output, got {axis}")
    return xp.moveaxis(out, -1, axis) if axis % ndim != ndim - 1 else out


def accuracy(y: Array, t: Array, /, *, axis: int = -1, xp: Namespace | None = None) -> Array:
    """Fraction of samples whose highest score (along `axis`) is the target class.

    `t` is integer labels (y's shape without `axis`), or one-hot/soft targets of y's
    shape (any real dtype; their argmax counts).
    Returns a 0-d array in y's dtype.

    >>> import numpy as np
    >>> float(accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1])))
    0.5
    """
    xp = namespace(y, t, xp=xp)
    require_floating("y", y, xp)
    axis = normalize_axis(axis, y)
    if tuple(t.shape) == tuple(y.shape):
        labels = xp.argmax(t, axis=axis)
    elif tuple(t.shape) == tuple(y.shape)[:axis] + tuple(y.shape)[axis + 1 :] and xp.isdtype(
        t.dtype, "integral"
    ):
        labels = t
    else:
        raise target_error(t, y, axis, xp)
    predicted = xp.argmax(y, axis=axis)
    if 0 in tuple(predicted.shape):
        raise ValueError(
            f"accuracy needs at least one sample, got predictions of shape {tuple(y.shape)}"
        )
    correct = xp.astype(predicted == xp.astype(labels, predicted.dtype), y.dtype)
    return xp.mean(correct)
