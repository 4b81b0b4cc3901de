"""Losses on logits: log-sum-exp stable, with PyTorch's options (SPEC §2.2).

Every public loss runs the same four steps, each in one place: validate and
normalise its inputs (`losskit._validate`), choose an implementation from types and
shapes (a fused NumPy kernel, `losskit.kernels`, or the Array API core,
`losskit._core`, where each loss's gradient sits below its formula), compute, and
reduce (`losskit._loss`, which also gives ``.grad`` and ``.value_and_grad``).
"""

from __future__ import annotations

from losskit import _core
from losskit._array import Array, Namespace
from losskit._loss import Loss
from losskit._terms import LossTerms
from losskit._validate import Reduction, binary_inputs, class_inputs
from losskit.kernels import dispatch as kernels

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
    sample_weight: Array | None = None,
    xp: Namespace | None = None,
) -> LossTerms:
    r"""Cross entropy of softmax(logits), computed stably (log-sum-exp).

    :math:`E = -\sum_k c_k \log\mathrm{softmax}(z)_k` per sample.

    Args:
        logits: unnormalised scores ``[..., C, ...]`` (class axis `axis`).
        t: integer class labels (logits' shape without `axis`) or target
            distributions of logits' shape (one-hot or soft; any real dtype).
        axis: the class axis (PyTorch's is 1; pass ``axis=1`` for NCHW-style inputs).
        weight: optional per-class weights ``[C]``, as PyTorch's ``weight``.
        ignore_index: a label value whose samples count for nothing (PyTorch's
            default -100 corresponds to None here: nothing ignored). Labels only.
        label_smoothing: ε in [0, 1]: the target becomes (1 − ε)·target + ε/C.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``; see `losskit.reductions`.
        sample_weight: optional weight of each sample (logits' shape without `axis`,
            or broadcastable to it); see `losskit.reductions` for what "mean" divides by.
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
    inputs = class_inputs(
        "logits",
        logits,
        t,
        axis=axis,
        reduction=reduction,
        xp=xp,
        weight=weight,
        sample_weight=sample_weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )
    if kernels.takes_small_softmax_cross_entropy(inputs):
        return kernels.small_softmax_cross_entropy(inputs)
    if kernels.takes_softmax_cross_entropy(inputs):
        return kernels.softmax_cross_entropy(inputs)
    return _core.softmax_cross_entropy(inputs)


@Loss
def sigmoid_binary_cross_entropy(
    logits: Array,
    t: Array,
    /,
    *,
    pos_weight: Array | None = None,
    weight: Array | None = None,
    reduction: Reduction = "mean",
    sample_weight: Array | None = None,
    xp: Namespace | None = None,
) -> LossTerms:
    r"""Binary cross entropy of sigmoid(logits), computed stably (PyTorch's
    ``binary_cross_entropy_with_logits``):
    :math:`E = w_+ t\,\mathrm{softplus}(-x) + (1-t)\,\mathrm{softplus}(x)`.

    Args:
        logits: any shape; every element is one sample.
        t: targets of logits' shape: probabilities (any real values, as PyTorch),
            or integer/bool labels 0/1.
        pos_weight: optional weight of the positive term, broadcast against logits.
        weight: optional rescaling weight of each element, broadcast against logits
            (PyTorch's ``weight``); "mean" still divides by the number of elements.
        reduction: ``"mean"`` over all elements, ``"sum"`` or ``"none"``; see
            `losskit.reductions`.
        sample_weight: optional weight of each element (every element is a sample),
            broadcast against logits; "mean" divides by the number of elements.
        xp: array namespace; inferred from the inputs when omitted.

    Uses :math:`-\log\sigma(x) = \mathrm{softplus}(-x)`, so no probability is ever
    rounded to 0 or 1 before the log. Gradient:
    :math:`\partial E / \partial x = (1-t)\,\sigma(x) - w_+ t\,\sigma(-x)`.

    >>> import numpy as np
    >>> round(float(sigmoid_binary_cross_entropy(np.array([2.0, -1.0]), np.array([1, 0]))), 6)
    0.220095
    """
    inputs = binary_inputs(
        "logits",
        logits,
        t,
        reduction=reduction,
        xp=xp,
        pos_weight=pos_weight,
        weight=weight,
        sample_weight=sample_weight,
    )
    return _core.sigmoid_binary_cross_entropy(inputs)
