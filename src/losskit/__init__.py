"""losskit: the loss functions of *Deep Learning from Scratch* ch. 4.2, exact, stable and fast.

Every function takes arrays from any Array API library (NumPy, PyTorch, JAX,
CuPy, Dask, ...) and returns arrays of the same library, device and dtype.
Losses carry their analytic gradient: ``loss.grad(...)`` and
``loss.value_and_grad(...)``. Reductions and target conventions are documented
once, in `losskit.reductions`.
"""

from __future__ import annotations

from losskit._loss import Loss
from losskit.gradcheck import GradientCheck, check_gradient, numerical_gradient
from losskit.logit_losses import sigmoid_binary_cross_entropy, softmax_cross_entropy
from losskit.primitives import (
    accuracy,
    log_softmax,
    logsumexp,
    one_hot,
    sigmoid,
    softmax,
    softplus,
    step_function,
)
from losskit.probability_losses import (
    binary_cross_entropy,
    cross_entropy_error,
    mean_squared_error,
)

__version__ = "0.1.0"

__all__ = [
    "GradientCheck",
    "Loss",
    "accuracy",
    "binary_cross_entropy",
    "check_gradient",
    "cross_entropy_error",
    "log_softmax",
    "logsumexp",
    "mean_squared_error",
    "numerical_gradient",
    "one_hot",
    "sigmoid",
    "sigmoid_binary_cross_entropy",
    "softmax",
    "softmax_cross_entropy",
    "softplus",
    "step_function",
]
