"""Numerically stable building blocks: the functions the losses are made of.

All take any Array API array (`xp` inferred when omitted) and return an array
of the same namespace, device and dtype.
"""

from __future__ import annotations

from losskit._array import Array, Namespace, device_of, get_namespace
from losskit._numerics import (
    _has_no_samples,
    _log_softmax,
    _logsumexp,
    _one_hot_mask,
    _sigmoid,
    _softplus,
    _stable_shift,
)
from losskit._validate import (
    check_labels,
    dtype_name,
    namespace,
    normalize_axis,
    read_target,
    require_floating,
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
    labels, target = read_target(t, y, axis, xp)
    if labels is None:
        labels = xp.argmax(target, axis=axis)
    else:
        labels, _ = check_labels(labels, y.shape[axis], None, xp)
    predicted = xp.argmax(y, axis=axis)
    if 0 in tuple(predicted.shape):
        raise ValueError(
            f"accuracy needs at least one sample, got predictions of shape {tuple(y.shape)}"
        )
    correct = xp.astype(predicted == xp.astype(labels, predicted.dtype), y.dtype)
    return xp.mean(correct)
