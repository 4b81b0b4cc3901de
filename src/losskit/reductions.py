"""How every losskit loss reduces per-sample values: one rule, documented once.

Samples
-------
A 1-D prediction is one sample. For losses with a class axis, every other axis is
a sample axis and N is the product of their lengths. Binary losses have no class
axis: every element is one sample (as PyTorch's BCE).

Targets
-------
Integer ``t`` holds class labels (shape of the prediction without its class
axis); floating ``t`` holds target distributions, one-hot or soft (same shape as
the prediction). The kind is read from the dtype, never guessed from shapes.
A term whose target is 0 contributes 0, even where the prediction is 0 or a
logit is -inf (0 · log 0 = 0).

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
"""

from losskit._validate import REDUCTIONS, Reduction

__all__ = ["REDUCTIONS", "Reduction"]
