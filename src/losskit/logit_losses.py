"""Losses on logits: log-sum-exp stable, with PyTorch's options (SPEC §2.2).

Each loss computes its per-sample terms and, right below, the gradient of
their sum in closed form; `losskit._loss.Loss` adds reduction, ``.grad`` and
``.value_and_grad``.
"""

from __future__ import annotations

import numpy as np

from losskit import _kernels
from losskit._array import Array, Namespace, class_last, get_namespace, num_samples_of, scalar
from losskit._checks import (
    Reduction,
    checked_labels,
    normalize_axis,
    require_class_weight,
    require_floating,
    require_fraction,
    require_label_shape,
    require_nonempty_for_mean,
    require_reduction,
)
from losskit._loss import Loss, LossTerms, kernel_terms
from losskit._targets import binary_targets, class_targets
from losskit.primitives import _log_softmax, _sigmoid, _softplus

__all__ = ["sigmoid_binary_cross_entropy", "softmax_cross_entropy"]


@Loss
def softmax_cross_entropy(
    logits: Array,
    t: Array,
    /,
    *,
    axis: int = -1,
    weight: Array | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    xp: Namespace | None = None,
) -> LossTerms:
    r"""Cross entropy of softmax(logits), computed stably (log-sum-exp).

    :math:`E = -\sum_k c_k \log\mathrm{softmax}(z)_k` per sample.

    Args:
        logits: unnormalised scores ``[..., C, ...]`` (class axis `axis`).
        t: integer class labels (logits' shape without `axis`) or floating target
            distributions (logits' shape).
        axis: the class axis (PyTorch's is 1; pass ``axis=1`` for NCHW-style inputs).
        weight: optional per-class weights ``[C]``, as PyTorch's ``weight``.
        ignore_index: a label value whose samples count for nothing (PyTorch's
            default -100 corresponds to None here: nothing ignored). Labels only.
        label_smoothing: ε in [0, 1]: the target becomes (1 − ε)·target + ε/C.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``; see `losskit.reductions`.
        xp: array namespace; inferred from the inputs when omitted.

    With label targets :math:`c_k = (1-ε)\,w_{t}[k = t] + \frac{ε}{C} w_k`; with
    distributions :math:`c_k = w_k((1-ε)\,t_k + ε/C)`. The value equals
    ``torch.nn.functional.cross_entropy`` with the same options. Finite for
    logits of ±1e4 in float32; a -inf logit where the target is 0 contributes 0.
    Gradient: :math:`\partial E / \partial z_j = (\sum_k c_k)\,\mathrm{softmax}(z)_j - c_j`,
    from the same softmax as the value (``value_and_grad`` computes it once).

    >>> import numpy as np
    >>> logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> round(float(softmax_cross_entropy(logits, np.array([0, 1]))), 6)
    0.31854
    """
    if xp is None and _kernels.small_applies(
        logits, t, axis, weight, ignore_index, label_smoothing, reduction
    ):
        return _small_softmax_cross_entropy(logits, t, reduction)
    xp = get_namespace(logits, t, weight, xp=xp)
    require_floating("logits", logits, xp)
    require_reduction(reduction)
    require_fraction("label_smoothing", label_smoothing)
    axis = normalize_axis(axis, logits)
    if _kernels.softmax_cross_entropy_applies(logits, t, axis, weight):
        return _fused_softmax_cross_entropy(
            logits, t, weight, ignore_index, label_smoothing, reduction, xp
        )
    target = class_targets(
        logits,
        t,
        axis,
        xp,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )
    num_samples = num_samples_of(logits, axis)
    require_nonempty_for_mean(reduction, num_samples, logits)

    z = class_last(logits, axis, xp)
    c = target.coefficients
    log_p = _log_softmax(z, -1, xp)
    # 0 · (-inf) would be NaN; a class the target gives no weight contributes 0.
    per_sample = -xp.sum(c * xp.where(c != 0, log_p, scalar(0.0, log_p, xp)), axis=-1)

    def gradient() -> Array:
        return xp.sum(c, axis=-1, keepdims=True) * xp.exp(log_p) - c

    return LossTerms(
        xp,
        reduction,
        num_samples,
        per_sample,
        gradient,
        sample_weight=target.sample_weight,
        invalid=target.invalid,
        class_axis=axis,
    )


def _fused_softmax_cross_entropy(
    logits: Array,
    t: Array,
    weight: Array | None,
    ignore_index: int | None,
    label_smoothing: float,
    reduction: str,
    xp: Namespace,
) -> LossTerms:
    """NumPy fast path: the same numbers as the generic code above, from one kernel pass."""
    axis = logits.ndim - 1
    num_classes = logits.shape[-1]
    require_label_shape(t, logits, axis)
    if weight is not None:
        require_class_weight(weight, num_classes, logits, xp)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int | None):
        raise TypeError(f"ignore_index must be an int or None, got {ignore_index!r}")
    num_samples = num_samples_of(logits, axis)
    require_nonempty_for_mean(reduction, num_samples, logits)
    if _kernels.first_bad_label(t, num_classes, ignore_index) >= 0:
        checked_labels(t, num_classes, ignore_index, xp)  # words the error like every backend

    denominator = _kernels.label_mean_denominator(t, weight, ignore_index)

    def compute(grad_scale: float, with_grad: bool) -> tuple[Array, Array | None]:
        return _kernels.softmax_cross_entropy(
            logits,
            t,
            weight=weight,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            grad_scale=grad_scale,
            with_grad=with_grad,
        )

    return kernel_terms(xp, reduction, num_samples, denominator, compute)


def _small_softmax_cross_entropy(logits: Array, t: Array, reduction: str) -> LossTerms:
    """The chapter's 100 × 10 case: checks folded into one small kernel call."""

    def final(with_grad: bool) -> tuple[Array, Array | None]:
        value, grad, bad = _kernels.small_softmax_cross_entropy(logits, t, reduction, with_grad)
        if bad >= 0:
            checked_labels(t, logits.shape[1], None, np)  # words the error like everywhere
        return value, grad

    return LossTerms(
        np, reduction, logits.shape[0], final=final, kernel_count=float(logits.shape[0])
    )


@Loss
def sigmoid_binary_cross_entropy(
    logits: Array,
    t: Array,
    /,
    *,
    pos_weight: Array | None = None,
    reduction: Reduction = "mean",
    xp: Namespace | None = None,
) -> LossTerms:
    r"""Binary cross entropy of sigmoid(logits), computed stably (PyTorch's
    ``binary_cross_entropy_with_logits``):
    :math:`E = w_+ t\,\mathrm{softplus}(-x) + (1-t)\,\mathrm{softplus}(x)`.

    Args:
        logits: any shape; every element is one sample.
        t: targets of logits' shape: floating probabilities or integer labels 0/1.
        pos_weight: optional weight of the positive term, broadcast against logits.
        reduction: ``"mean"`` over all elements, ``"sum"`` or ``"none"``; see
            `losskit.reductions`.
        xp: array namespace; inferred from the inputs when omitted.

    Uses :math:`-\log\sigma(x) = \mathrm{softplus}(-x)`, so no probability is ever
    rounded to 0 or 1 before the log. Gradient:
    :math:`\partial E / \partial x = (1-t)\,\sigma(x) - w_+ t\,\sigma(-x)`.

    >>> import numpy as np
    >>> round(float(sigmoid_binary_cross_entropy(np.array([2.0, -1.0]), np.array([1, 0]))), 6)
    0.220095
    """
    xp = get_namespace(logits, t, pos_weight, xp=xp)
    require_floating("logits", logits, xp)
    require_reduction(reduction)
    target = binary_targets(logits, t, xp, pos_weight=pos_weight)
    num_samples = num_samples_of(logits, None)
    require_nonempty_for_mean(reduction, num_samples, logits)

    x, t = logits, target.t
    zero = scalar(0.0, x, xp)
    # where() keeps an infinite logit on the side its target ignores from giving 0 · inf.
    positive = t * xp.where(t != 0, _softplus(-x, xp), zero)
    if target.pos_weight is not None:
        positive = target.pos_weight * positive
    per_element = positive + (1.0 - t) * xp.where(t != 1, _softplus(x, xp), zero)

    def gradient() -> Array:
        d_positive = t * _sigmoid(-x, xp)
        if target.pos_weight is not None:
            d_positive = target.pos_weight * d_positive
        return (1.0 - t) * _sigmoid(x, xp) - d_positive

    return LossTerms(xp, reduction, num_samples, per_element, gradient, invalid=target.invalid)
