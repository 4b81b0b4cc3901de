"""The chapter's losses on probabilities, exactly as the book defines them (SPEC §2.1).

Every public loss runs the same steps as those in `losskit.logit_losses`:
validate (`losskit._validate`), choose a fused NumPy kernel (`losskit.kernels`) or
the Array API core (`losskit._core`), compute, reduce (`losskit._loss`).
"""

from __future__ import annotations

from losskit import _core
from losskit._array import Array, Namespace
from losskit._loss import Loss
from losskit._terms import LossTerms
from losskit._validate import Reduction, binary_inputs, class_inputs
from losskit.kernels import dispatch as kernels

__all__ = ["binary_cross_entropy", "cross_entropy_error", "mean_squared_error"]


@Loss
def mean_squared_error(
    y: Array,
    t: Array,
    /,
    *,
    axis: int = -1,
    reduction: Reduction = "mean",
    sample_weight: Array | None = None,
    xp: Namespace | None = None,
) -> LossTerms:
    r"""Mean squared error, the book's eq. (4.1): :math:`E = \frac12 \sum_k (y_k - t_k)^2`.

    Args:
        y: predictions ``[..., C, ...]`` (class or feature axis `axis`), any real values.
        t: targets of y's shape (any real dtype: the chapter's integer one-hot works
            as typed), or integer class labels (y's shape without `axis`, read as
            one-hot rows).
        axis: the class/feature axis summed over.
        reduction: ``"mean"`` over samples, ``"sum"`` or ``"none"``; see `losskit.reductions`.
        sample_weight: optional weight of each sample (y's shape without `axis`, or
            broadcastable to it); see `losskit.reductions`.
        xp: array namespace; inferred from the inputs when omitted.

    Note the ½ and the per-sample sum: PyTorch's ``mse_loss`` has no ½ and averages
    over every element, so ``mse_loss(y, t) == 2 * mean_squared_error(y, t) / C``.
    Gradient: :math:`\partial E / \partial y_k = y_k - t_k` (divided by N for "mean").

    >>> import numpy as np
    >>> t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])  # the book's integer one-hot
    >>> y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    >>> float(mean_squared_error(y, t))
    0.09750000000000003
    """
    inputs = class_inputs(
        "y", y, t, axis=axis, reduction=reduction, xp=xp, sample_weight=sample_weight
    )
    if kernels.takes_class_loss(inputs):
        return kernels.class_loss("mse", inputs)
    return _core.mean_squared_error(inputs)


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
    sample_weight: Array | None = None,
    xp: Namespace | None = None,
) -> LossTerms:
    r"""Cross-entropy error, the book's eq. (4.2): :math:`E = -\sum_k t_k \log(y_k + \delta)`.

    Args:
        y: probabilities ``[..., C, ...]`` in [0, 1] (class axis `axis`), e.g. a softmax output.
        t: one-hot or soft target distributions of y's shape (any real dtype, entries
            in [0, 1]), or integer class labels of y's shape without `axis`.
        delta: the book's δ = 1e-7 added inside the log so that log(0) never happens;
            0 gives the exact (possibly infinite) cross entropy.
        axis: the class axis.
        reduction: ``"mean"`` over samples (the book's mini-batch eq. (4.3)), ``"sum"``
            or ``"none"``; see `losskit.reductions`.
        weight: optional per-class weights ``[C]``: class k's term is multiplied by
            ``weight[k]``; with label targets "mean" divides by the summed weights.
        sample_weight: optional weight of each sample (y's shape without `axis`, or
            broadcastable to it); see `losskit.reductions`.
        xp: array namespace; inferred from the inputs when omitted.

    Terms whose target is 0 contribute 0 (0 · log 0 = 0); a NaN prediction still
    propagates. Predictions or targets outside [0, 1] raise ``ValueError``. For
    logits use `softmax_cross_entropy`, which is stable where softmax followed by this
    loss is not.
    Gradient: :math:`\partial E / \partial y_k = -t_k / (y_k + \delta)`.

    >>> import numpy as np
    >>> y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    >>> float(cross_entropy_error(y, np.array(2)))
    0.510825457099338
    """
    inputs = class_inputs(
        "y",
        y,
        t,
        axis=axis,
        reduction=reduction,
        xp=xp,
        weight=weight,
        sample_weight=sample_weight,
        delta=delta,
        probabilities=True,
    )
    if kernels.takes_class_loss(inputs):
        return kernels.class_loss("cee", inputs)
    return _core.cross_entropy_error(inputs)


@Loss
def binary_cross_entropy(
    p: Array,
    t: Array,
    /,
    *,
    delta: float = 1e-7,
    reduction: Reduction = "mean",
    pos_weight: Array | None = None,
    weight: Array | None = None,
    sample_weight: Array | None = None,
    xp: Namespace | None = None,
) -> LossTerms:
    r"""Binary cross entropy on probabilities, with the book's δ:
    :math:`E = -[w_+ t \log(p + \delta) + (1 - t) \log(1 - p + \delta)]` per element.

    Args:
        p: probabilities in [0, 1], any shape; every element is one sample.
        t: targets of p's shape: probabilities in [0, 1] (any real dtype), or
            integer/bool labels 0/1.
        delta: added inside both logs (the book's 1e-7); 0 gives the exact value.
        reduction: ``"mean"`` over all elements, ``"sum"`` or ``"none"``; see
            `losskit.reductions`.
        pos_weight: optional weight of the positive term, broadcast against p
            (as PyTorch's ``pos_weight``).
        weight: optional rescaling weight of each element, broadcast against p
            (PyTorch's ``weight``); "mean" still divides by the number of elements.
        sample_weight: optional weight of each element (every element is a sample),
            broadcast against p; "mean" divides by the number of elements.
        xp: array namespace; inferred from the inputs when omitted.

    Gradient: :math:`\partial E/\partial p = -w_+ t/(p + \delta) + (1 - t)/(1 - p + \delta)`.

    >>> import numpy as np
    >>> round(float(binary_cross_entropy(np.array([0.9, 0.2]), np.array([1, 0]))), 6)
    0.164252
    """
    inputs = binary_inputs(
        "p",
        p,
        t,
        reduction=reduction,
        xp=xp,
        pos_weight=pos_weight,
        weight=weight,
        sample_weight=sample_weight,
        delta=delta,
        probabilities=True,
    )
    if kernels.takes_binary_loss(inputs):
        return kernels.binary_cross_entropy(inputs)
    return _core.binary_cross_entropy(inputs)
