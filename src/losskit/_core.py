"""The generic implementation of every loss, in the Array API standard only.

This is the reference: it serves every backend (PyTorch, JAX, CuPy, Dask, ...) and
every NumPy case the fused kernels do not take. Inputs arrive validated
(`losskit._validate`); each loss returns its per-sample terms and, a few lines
below, the gradient of their sum in closed form. `losskit._loss` reduces.

Every class loss is ``Σ_k f(c_k, y_k)`` per sample for one coefficient array
``c``: the one-hot row of a label or a given distribution, scaled by class
weights, mixed with the uniform distribution by label smoothing. Building ``c``
in one place gives every option the same meaning in every loss (PyTorch's).
"""

from __future__ import annotations

from collections.abc import Callable

from losskit._array import Array, Namespace, class_last, scalar
from losskit._inputs import BinaryInputs, ClassInputs
from losskit._numerics import _log_softmax, _one_hot_mask, _sigmoid, _softplus
from losskit._terms import LossTerms


def _nan_rows(invalid: Array | None, rows: Array, xp: Namespace) -> Array:
    """Under JAX tracing a bad label cannot raise: its row becomes NaN, so its loss is NaN."""
    if invalid is None:
        return rows
    return xp.where(invalid[..., None], scalar(float("nan"), rows, xp), rows)


def _coefficients(inp: ClassInputs, *, options: bool = True) -> tuple[Array, Array | None]:
    """(c with the class axis last, per-sample weights of the "mean" denominator or None
    for N). `options`: apply class weights and label smoothing (MSE has neither)."""
    xp, y = inp.xp, inp.y
    num_classes = y.shape[inp.axis]
    w = xp.astype(inp.weight, y.dtype) if options and inp.weight is not None else None
    eps = inp.label_smoothing if options else 0.0
    if inp.target is not None:
        q = _nan_rows(inp.invalid, xp.astype(class_last(inp.target, inp.axis, xp), y.dtype), xp)
        if eps:
            q = (1.0 - eps) * q + eps / num_classes
        return (q if w is None else q * w), None  # distributions: "mean" divides by N

    one_hot = xp.astype(_one_hot_mask(inp.labels, num_classes, xp), y.dtype)
    counted = None
    if inp.ignore_index is not None:
        counted = xp.astype(inp.labels != inp.ignore_index, y.dtype)
        one_hot = one_hot * counted[..., None]
    one_hot = _nan_rows(inp.invalid, one_hot, xp)
    c = one_hot if w is None else one_hot * w
    # PyTorch's rule: "mean" divides by the summed class weight of the counted labels.
    count_weight = xp.sum(c, axis=-1) if w is not None else counted
    if eps:
        uniform = (eps / num_classes) * (w if w is not None else xp.ones_like(c))
        if counted is not None:
            uniform = uniform * counted[..., None]
        c = (1.0 - eps) * c + uniform
    return c, count_weight


def _sample_weighted(
    inp: ClassInputs | BinaryInputs,
    sample_shape: tuple[int, ...],
    per_sample: Array,
    count_weight: Array | None,
    labels: bool,
) -> tuple[Array, Array | None, Array | None]:
    """Apply sample_weight: (per-sample values, the weight each gradient row gets,
    the "mean" denominator weights: Σ over label samples, N for distributions)."""
    xp = inp.xp
    if inp.sample_weight is None:
        return per_sample, None, count_weight
    sw = xp.broadcast_to(xp.astype(inp.sample_weight, per_sample.dtype), sample_shape)
    if labels:
        count_weight = sw if count_weight is None else count_weight * sw
    return per_sample * sw, sw, count_weight


def _terms(
    inp: ClassInputs,
    per_sample: Array,
    gradient: Callable[[], Array],
    count_weight: Array | None,
) -> LossTerms:
    xp = inp.xp
    sample_shape = tuple(per_sample.shape)
    per_sample, row_weight, count_weight = _sample_weighted(
        inp, sample_shape, per_sample, count_weight, inp.labels is not None
    )

    def grad() -> Array:
        g = gradient()
        return g if row_weight is None else g * row_weight[..., None]

    return LossTerms(
        xp,
        inp.reduction,
        inp.num_samples,
        per_sample,
        grad,
        count_weight=count_weight,
        invalid=inp.invalid,
        class_axis=inp.axis,
    )


def softmax_cross_entropy(inp: ClassInputs) -> LossTerms:
    xp = inp.xp
    c, count_weight = _coefficients(inp)
    z = class_last(inp.y, inp.axis, xp)
    log_p = _log_softmax(z, -1, xp)
    zero = scalar(0.0, log_p, xp)
    # 0 · (-inf) would be NaN; a class the target gives no weight contributes 0 ...
    per_sample = -xp.sum(c * xp.where(c != 0, log_p, zero), axis=-1)
    # ... but a NaN logit anywhere makes its sample NaN, whatever the target says.
    if inp.num_samples:  # (Dask's max refuses empty chunks)
        nan_row = xp.isnan(xp.max(z, axis=-1))
        if inp.ignore_index is not None and inp.labels is not None:
            nan_row = nan_row & (inp.labels != inp.ignore_index)  # ignored: counts for nothing
        per_sample = xp.where(nan_row, scalar(float("nan"), per_sample, xp), per_sample)
    else:
        nan_row = per_sample != per_sample

    def gradient() -> Array:
        total = xp.sum(c, axis=-1, keepdims=True)
        # A row of all -inf with no weight has a NaN softmax; its gradient is 0, not NaN.
        keep = (total != 0) | nan_row[..., None]
        return xp.where(keep, total * xp.exp(log_p), zero) - c

    return _terms(inp, per_sample, gradient, count_weight)


def mean_squared_error(inp: ClassInputs) -> LossTerms:
    xp = inp.xp
    c, count_weight = _coefficients(inp, options=False)
    diff = class_last(inp.y, inp.axis, xp) - c
    per_sample = 0.5 * xp.sum(diff * diff, axis=-1)
    return _terms(inp, per_sample, lambda: diff, count_weight)


def cross_entropy_error(inp: ClassInputs) -> LossTerms:
    xp = inp.xp
    c, count_weight = _coefficients(inp)
    y = class_last(inp.y, inp.axis, xp)
    # Only terms with a non-zero target are evaluated: the others would be log(0) (when
    # delta == 0) times 0, which IEEE makes NaN, not the 0 the maths says. A NaN
    # prediction is evaluated anyway, so that it propagates.
    evaluated = (c != 0) | xp.isnan(y)
    shifted = xp.where(evaluated, y + inp.delta, scalar(1.0, y, xp))
    per_sample = -xp.sum(c * xp.log(shifted), axis=-1)
    return _terms(inp, per_sample, lambda: -(c / shifted), count_weight)


# ------------------------------------------------------------------ binary losses


def _binary_terms(
    inp: BinaryInputs, per_element: Array, gradient: Callable[[], Array]
) -> LossTerms:
    xp = inp.xp
    scale = None
    if inp.weight is not None:
        scale = xp.astype(inp.weight, per_element.dtype)
    if inp.sample_weight is not None:
        sw = xp.astype(inp.sample_weight, per_element.dtype)
        scale = sw if scale is None else scale * sw
    if scale is not None:
        scale = xp.broadcast_to(scale, tuple(per_element.shape))
        per_element = per_element * scale

    def grad() -> Array:
        g = gradient()
        return g if scale is None else g * scale

    return LossTerms(xp, inp.reduction, inp.num_samples, per_element, grad, invalid=inp.invalid)


def binary_cross_entropy(inp: BinaryInputs) -> LossTerms:
    xp, p = inp.xp, inp.p
    t = xp.astype(inp.t, p.dtype)
    pos_weight = None if inp.pos_weight is None else xp.astype(inp.pos_weight, p.dtype)
    one = scalar(1.0, p, xp)
    # As in cross_entropy_error: a log is taken only where its coefficient is non-zero.
    shifted_pos = xp.where(t != 0, p + inp.delta, one)
    shifted_neg = xp.where(t != 1, (1.0 - p) + inp.delta, one)
    positive = t * xp.log(shifted_pos)
    if pos_weight is not None:
        positive = pos_weight * positive
    per_element = -(positive + (1.0 - t) * xp.log(shifted_neg))

    def gradient() -> Array:
        d_positive = t / shifted_pos
        if pos_weight is not None:
            d_positive = pos_weight * d_positive
        return (1.0 - t) / shifted_neg - d_positive

    return _binary_terms(inp, per_element, gradient)


def sigmoid_binary_cross_entropy(inp: BinaryInputs) -> LossTerms:
    xp, x = inp.xp, inp.p
    t = xp.astype(inp.t, x.dtype)
    pos_weight = None if inp.pos_weight is None else xp.astype(inp.pos_weight, x.dtype)
    zero = scalar(0.0, x, xp)
    # where() keeps an infinite logit on the side its target ignores from giving 0 · inf.
    positive = t * xp.where(t != 0, _softplus(-x, xp), zero)
    if pos_weight is not None:
        positive = pos_weight * positive
    per_element = positive + (1.0 - t) * xp.where(t != 1, _softplus(x, xp), zero)

    def gradient() -> Array:
        d_positive = t * _sigmoid(-x, xp)
        if pos_weight is not None:
            d_positive = pos_weight * d_positive
        return (1.0 - t) * _sigmoid(x, xp) - d_positive

    return _binary_terms(inp, per_element, gradient)
