"""How every losskit loss reads its targets and reduces its values: one rule, documented once.

Samples
-------
A 1-D prediction is one sample. For losses with a class axis, every other axis is
a sample axis and N is the product of their lengths. Binary losses have no class
axis: every element is one sample (as PyTorch's BCE).

Targets
-------
The kind of target is read from its shape, which is unambiguous (the two shapes never
coincide), never guessed from values:

- ``t`` of the prediction's shape is a distribution (one-hot or soft), whatever its
  dtype: int, bool or float. The chapter's ``t = [0, 0, 1, 0, ...]`` works as typed
  (a Python list or number target is converted in the prediction's namespace).
- ``t`` of the prediction's shape without the class axis, with an integer dtype, holds
  class labels (any integer dtype, int8 to uint64, checked against [0, C) before any
  cast). ``ignore_index`` must fit the labels' dtype.
- Anything else is a ``ValueError`` naming both readings; a float or bool ``t`` of label
  shape is told to cast its labels to an integer dtype.

For ``cross_entropy_error`` and ``binary_cross_entropy``, target entries must lie in
[0, 1] (as predictions must); ``mean_squared_error`` and ``softmax_cross_entropy`` take
any real targets (PyTorch's freedom). A term whose target is 0 contributes 0, even where
the prediction is 0 or a logit is -inf (0 · log 0 = 0); a NaN prediction still makes its
sample NaN (NaN and inf propagate as IEEE says). Samples dropped by ``ignore_index``
count for nothing at all, whatever their logits.

Reductions
----------
``"none"``  one value per sample (the sample axes are every axis but the class axis;
            binary losses treat every element as a sample). Its gradient is that of the sum.
``"sum"``   the sum over samples (the book's batch behaviour for MSE).
``"mean"``  the sum divided by N, the number of samples. With integer label targets
            and ``weight`` or ``ignore_index``, divided instead by the summed weight of
            the counted samples, as PyTorch does. If every target is ignored (or the
            counted weight is 0) the loss and its gradient are 0 (PyTorch gives NaN).
            An empty batch is a ``ValueError``.

Sample weights
--------------
Every loss takes ``sample_weight=``: one weight per sample, lined up with the leading
sample axes and broadcast over the rest (Keras's and scikit-learn's meaning: a weight
of shape (N,) weighs whole sequences of an (N, T) batch; (N, T) weighs each step). The
sample shape is the prediction's shape without the class axis; for binary losses, the
prediction's shape. A Python number weighs every sample alike. Weights must be >= 0.
Each sample's loss and gradient are multiplied by its weight. ``"mean"`` then divides

- for label targets, by the summed weights of the counted samples: Σ sample_weight ·
  weight[label] over samples not ignored (``sklearn.metrics.log_loss(...,
  sample_weight=...)``'s mean, and PyTorch's class-weight rule extended);
- for distribution targets and for the binary losses, by N (Keras's
  ``sum_over_batch_size``; PyTorch's BCE ``weight=`` is also divided by N).

The binary losses also take PyTorch's per-element ``weight=`` (broadcast to the
prediction's shape), which multiplies like ``sample_weight``.

Low precision
-------------
float16 and bfloat16 inputs keep their per-sample terms in their own dtype, but every
reduction (the sum, the summed weights, the division) accumulates in float32: a long
mean stays finite and accurate. ``"mean"`` and ``"none"`` return the input dtype;
``"sum"`` returns float32, because a sum of many terms overflows float16 (its largest
value is 65504). Gradients keep the input dtype.
"""

from losskit._validate import REDUCTIONS, Reduction

__all__ = ["REDUCTIONS", "Reduction"]
