"""The chapter's losses on probabilities, exactly as the book defines them (SPEC §2.1).

Each loss returns its per-sample terms and, a few lines below the forward
formula, the gradient of their sum; `losskit._loss.Loss` adds the reduction,
``.grad`` and ``.value_and_grad``.
"""

from __future__ import annotations

from losskit import _kernels
from losskit._array import Array, Namespace, class_last, get_namespace, num_samples_of, scalar
from losskit._checks import (
    Reduction,
    checked_labels,
    checked_probabilities,
    normalize_axis,
    require_class_weight,
    require_delta,
    require_floating,
    require_label_shape,
    require_nonempty_for_mean,
    require_reduction,
    require_same_shape,
    target_kind,
)
from losskit._loss import Loss, LossTerms, kernel_terms
from losskit._targets import binary_targets, class_targets, either

__all__ = ["binary_cross_entropy", "cross_entropy_error", "mean_squared_error"]


@Loss
def mean_squared_error(
    y: Array,
    t: Array,
    /,
    *,
    axis: int = -1,
    reduction: Reduction = "mean",
    xp: Namespace | None = None,
) -> LossTerms:
    r"""Mean squared error, the book's eq. (4.1): :math:`E = \frac12 \sum_k (y_k - t_k)^2`.

    Args:
        y: predictions ``[..., C, ...]`` (class or feature axis `axis`), any real values.
        t: targets of y's shape (floating), or integer class labels (y's shape without
            `axis`, read as one-hot rows).
        axis: the class/feature axis summed over.
        reduction: ``"mean"`` over samples, ``"sum"`` or ``"none"``; see `losskit.reductions`.
        xp: array namespace; inferred from the inputs when omitted.

    Note the ½ and the per-sample sum: PyTorch's ``mse_loss`` has no ½ and averages
    over every element, so ``mse_loss(y, t) == 2 * mean_squared_error(y, t) / C``.
    Gradient: :math:`\partial E / \partial y_k = y_k - t_k` (divided by N for "mean").

    >>> import numpy as np
    >>> t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0.0])
    >>> y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    >>> round(float(mean_squared_error(y, t)), 12)
    0.0975
    """
    xp = get_namespace(y, t, xp=xp)
    require_floating("y", y, xp)
    require_reduction(reduction)
    axis = normalize_axis(axis, y)
    if _kernels.class_loss_applies(y, t, axis, None):
        return _fused_class_loss("mse", y, t, axis, reduction, xp)
    target = class_targets(y, t, axis, xp)
    num_samples = num_samples_of(y, axis)
    require_nonempty_for_mean(reduction, num_samples, y)

    diff = class_last(y, axis, xp) - target.coefficients
    per_sample = 0.5 * xp.sum(diff * diff, axis=-1)

    def gradient() -> Array:
        return diff

    return LossTerms(
        xp, reduction, num_samples, per_sample, gradient, invalid=target.invalid, class_axis=axis
    )


@Loss
def cross_entropy_error(
    y: Array,
    t: Array,
    /,
    *,
    delta: float = 1e-7,
    axis: int = -1,
    reduction: Reduction = "mean",
    weight: Array | None = None,
    xp: Namespace | None = None,
) -> LossTerms:
    r"""Cross-entropy error, the book's eq. (4.2): :math:`E = -\sum_k t_k \log(y_k + \delta)`.

    Args:
        y: probabilities ``[..., C, ...]`` in [0, 1] (class axis `axis`), e.g. a softmax output.
        t: one-hot or soft target distributions of y's shape (floating), or integer
            class labels of y's shape without `axis`.
        delta: the book's δ = 1e-7 added inside the log so that log(0) never happens;
            0 gives the exact (possibly infinite) cross entropy.
        axis: the class axis.
        reduction: ``"mean"`` over samples (the book's mini-batch eq. (4.3)), ``"sum"``
            or ``"none"``; see `losskit.reductions`.
        weight: optional per-class weights ``[C]``: class k's term is multiplied by
            ``weight[k]``; with label targets "mean" divides by the summed weights.
        xp: array namespace; inferred from the inputs when omitted.

    Terms whose target is 0 contribute 0 (0 · log 0 = 0). Probabilities outside
    [0, 1] raise ``ValueError``. For logits use `softmax_cross_entropy`, which is
    stable where softmax followed by this loss is not.
    Gradient: :math:`\partial E / \partial y_k = -t_k / (y_k + \delta)`.

    >>> import numpy as np
    >>> y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    >>> float(cross_entropy_error(y, np.array(2)))
    0.510825457099338
    """
    xp = get_namespace(y, t, weight, xp=xp)
    require_floating("y", y, xp)
    require_reduction(reduction)
    require_delta(delta)
    axis = normalize_axis(axis, y)
    if _kernels.class_loss_applies(y, t, axis, weight):
        return _fused_class_loss("cee", y, t, axis, reduction, xp, weight=weight, delta=delta)
    target = class_targets(y, t, axis, xp, weight=weight)
    num_samples = num_samples_of(y, axis)
    require_nonempty_for_mean(reduction, num_samples, y)
    y, out_of_range = checked_probabilities(y, xp)
    y = class_last(y, axis, xp)

    c = target.coefficients
    # Only terms with a non-zero target are evaluated: the others would be log(0)
    # (when delta == 0) times 0, which IEEE makes NaN, not the 0 the maths says.
    counted = c != 0
    shifted = xp.where(counted, y + delta, scalar(1.0, y, xp))
    per_sample = -xp.sum(c * xp.log(shifted), axis=-1)

    def gradient() -> Array:
        return -(c / shifted)

    invalid = either(
        target.invalid, None if out_of_range is None else xp.any(out_of_range, axis=axis)
    )
    return LossTerms(
        xp,
        reduction,
        num_samples,
        per_sample,
        gradient,
        sample_weight=target.sample_weight,
        invalid=invalid,
        class_axis=axis,
    )


@Loss
def binary_cross_entropy(
    p: Array,
    t: Array,
    /,
    *,
    delta: float = 1e-7,
    reduction: Reduction = "mean",
    pos_weight: Array | None = None,
    xp: Namespace | None = None,
) -> LossTerms:
    r"""Binary cross entropy on probabilities, with the book's δ:
    :math:`E = -[w_+ t \log(p + \delta) + (1 - t) \log(1 - p + \delta)]` per element.

    Args:
        p: probabilities in [0, 1], any shape; every element is one sample.
        t: targets of p's shape: floating probabilities, or integer labels 0/1.
        delta: added inside both logs (the book's 1e-7); 0 gives the exact value.
        reduction: ``"mean"`` over all elements, ``"sum"`` or ``"none"``; see
            `losskit.reductions`.
        pos_weight: optional weight of the positive term, broadcast against p
            (as PyTorch's ``pos_weight``).
        xp: array namespace; inferred from the inputs when omitted.

    Gradient: :math:`\partial E/\partial p = -w_+ t/(p + \delta) + (1 - t)/(1 - p + \delta)`.

    >>> import numpy as np
    >>> round(float(binary_cross_entropy(np.array([0.9, 0.2]), np.array([1, 0]))), 6)
    0.164252
    """
    xp = get_namespace(p, t, pos_weight, xp=xp)
    require_floating("p", p, xp)
    require_reduction(reduction)
    require_delta(delta)
    target = binary_targets(p, t, xp, pos_weight=pos_weight)
    num_samples = num_samples_of(p, None)
    require_nonempty_for_mean(reduction, num_samples, p)
    if _kernels.binary_loss_applies(p, t, pos_weight):
        if _kernels.first_bad_probability(p) >= 0:
            checked_probabilities(p, xp)  # raises, worded as on every backend

        def compute(grad_scale: float, with_grad: bool) -> tuple[Array, Array | None]:
            return _kernels.binary_loss(
                p, t, pos_weight=pos_weight, delta=delta, grad_scale=grad_scale, with_grad=with_grad
            )

        return kernel_terms(xp, reduction, num_samples, float(num_samples), compute)
    p, out_of_range = checked_probabilities(p, xp)

    t = target.t
    one = scalar(1.0, p, xp)
    # As in cross_entropy_error: a log is taken only where its coefficient is non-zero.
    shifted_pos = xp.where(t != 0, p + delta, one)
    shifted_neg = xp.where(t != 1, (1.0 - p) + delta, one)
    positive = t * xp.log(shifted_pos)
    if target.pos_weight is not None:
        positive = target.pos_weight * positive
    per_element = -(positive + (1.0 - t) * xp.log(shifted_neg))

    def gradient() -> Array:
        d_positive = t / shifted_pos
        if target.pos_weight is not None:
            d_positive = target.pos_weight * d_positive
        return (1.0 - t) / shifted_neg - d_positive

    return LossTerms(
        xp,
        reduction,
        num_samples,
        per_element,
        gradient,
        invalid=either(target.invalid, out_of_range),
    )


def _fused_class_loss(
    kind: str,
    y: Array,
    t: Array,
    axis: int,
    reduction: str,
    xp: Namespace,
    *,
    weight: Array | None = None,
    delta: float = 0.0,
) -> LossTerms:
    """NumPy fast path of MSE ("mse") and cross_entropy_error ("cee"): one pass, no N×C
    temporaries, the same validation and numbers as the generic code above."""
    num_classes = y.shape[axis]
    labels = target_kind(t, xp) == "labels"
    if labels:
        require_label_shape(t, y, axis)
        if _kernels.first_bad_label(t, num_classes, None) >= 0:
            checked_labels(t, num_classes, None, xp)  # raises, worded as on every backend
    else:
        require_same_shape(t, y)
    if weight is not None:
        require_class_weight(weight, num_classes, y, xp)
    num_samples = num_samples_of(y, axis)
    require_nonempty_for_mean(reduction, num_samples, y)
    if kind == "cee" and _kernels.first_bad_probability(y) >= 0:
        checked_probabilities(y, xp)
    denominator = _kernels.label_mean_denominator(t, weight, None) if labels else float(num_samples)

    def compute(grad_scale: float, with_grad: bool) -> tuple[Array, Array | None]:
        return _kernels.class_loss(
            kind, y, t, weight=weight, delta=delta, grad_scale=grad_scale, with_grad=with_grad
        )

    return kernel_terms(xp, reduction, num_samples, denominator, compute)
