"""The book's names (ch. 3-4 and `common/functions.py`), as thin aliases over losskit.

For readers porting the book's code: its ch. 4 training script runs with only its imports
changed to ``from losskit.book import load_mnist, TwoLayerNet``. Where the book's own
function differs from losskit's, the alias keeps the book's behaviour and says so:

- `sum_squared_error` (and the book's `mean_squared_error`, the same function): ½·Σ over
  the whole batch, not averaged over samples (losskit's `mean_squared_error` with
  ``reduction="sum"``).
- `cross_entropy_error`: losskit's (mean over samples, δ = 1e-7), which equals the book's for
  one-hot and label targets; for soft targets the book hardens them by argmax, losskit
  follows the formula.
- `numerical_gradient(f, x)` perturbs `x` in place and restores it, as the book does: its
  `TwoLayerNet.numerical_gradient` passes ``lambda W: self.loss(x, t)``, which reads the
  parameters, not its argument (`losskit.numerical_gradient` probes copies instead).
- `TwoLayerNet` draws its weights from NumPy's global generator (``np.random.randn``), so
  the book's ``np.random.seed`` works; pass ``rng=`` to use a Generator instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from losskit import datasets
from losskit import primitives as _primitives
from losskit.probability_losses import cross_entropy_error as _cross_entropy_error
from losskit.probability_losses import mean_squared_error as _mean_squared_error

__all__ = [
    "TwoLayerNet",
    "cross_entropy_error",
    "identity_function",
    "load_mnist",
    "mean_squared_error",
    "numerical_gradient",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_loss",
    "step_function",
    "sum_squared_error",
]

Arr = np.ndarray[Any, Any]


def identity_function(x: Arr) -> Arr:
    return x


def step_function(x: Arr) -> Arr:
    return np.asarray(_primitives.step_function(np.asarray(x)))


def sigmoid(x: Arr) -> Arr:
    return np.asarray(_primitives.sigmoid(np.asarray(x)))


def sigmoid_grad(x: Arr) -> Arr:
    s = sigmoid(x)
    return (1.0 - s) * s


def relu(x: Arr) -> Arr:
    return np.maximum(0, x)


def relu_grad(x: Arr) -> Arr:
    return (np.asarray(x) > 0).astype(np.asarray(x).dtype)


def softmax(x: Arr) -> Arr:
    """Over the last axis, shifted by the maximum (the book's overflow countermeasure)."""
    return np.asarray(_primitives.softmax(np.asarray(x)))


def sum_squared_error(y: Arr, t: Arr) -> float:
    """½·Σ (y − t)² over everything given: one sample, or a whole batch summed (the book's)."""
    return float(_mean_squared_error(np.asarray(y), np.asarray(t), reduction="sum"))


mean_squared_error = sum_squared_error  # the book's functions.py name for the same function


def cross_entropy_error(y: Arr, t: Arr) -> float:
    """−Σ t log(y + 1e-7), averaged over the samples of a batch; one-hot or label targets."""
    return float(_cross_entropy_error(np.asarray(y), np.asarray(t)))


def softmax_loss(x: Arr, t: Arr) -> float:
    """The book's: softmax, then cross_entropy_error (with its δ)."""
    return cross_entropy_error(softmax(x), t)


def numerical_gradient(f: Callable[[Arr], float], x: Arr) -> Arr:
    """Central differences with h = 1e-4, perturbing x in place and restoring it (see above)."""
    h = 1e-4
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        upper = float(f(x))
        x[index] = original - h
        lower = float(f(x))
        x[index] = original
        grad[index] = (upper - lower) / (2 * h)
    return grad


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[tuple[Arr, Arr], tuple[Arr, Arr]]:
    """The book's signature: ``(x_train, t_train), (x_test, t_test)``; images as float32 in
    [0, 1] (normalize), rows of 784 (flatten, else (N, 1, 28, 28)), labels one-hot or int.
    Reads full MNIST from `data_dir` or from the cache that ``losskit data download mnist``
    fills (the book's script downloads at import time; losskit never downloads unasked)."""
    return datasets.load_mnist(
        data_dir=data_dir, normalize=normalize, flatten=flatten, one_hot_label=one_hot_label
    )


class TwoLayerNet:
    """The book's ch. 4.5 network: affine → sigmoid → affine → softmax, cross-entropy loss,
    parameters in ``params`` ("W1", "b1", "W2", "b2") as float64 arrays, updated in place by
    the caller's SGD loop; `gradient` by backpropagation, `numerical_gradient` by central
    differences (slow: for checking)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        def randn(*shape: int) -> Arr:
            if rng is None:
                return np.random.randn(*shape)  # noqa: NPY002 - the book's global generator
            return rng.standard_normal(shape)

        self.params: dict[str, Arr] = {
            "W1": weight_init_std * randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }

    def predict(self, x: Arr) -> Arr:
        z1 = sigmoid(x @ self.params["W1"] + self.params["b1"])
        return softmax(z1 @ self.params["W2"] + self.params["b2"])

    def loss(self, x: Arr, t: Arr) -> float:
        return cross_entropy_error(self.predict(x), t)

    def accuracy(self, x: Arr, t: Arr) -> float:
        y = np.argmax(self.predict(x), axis=1)
        labels = t if np.ndim(t) == 1 else np.argmax(t, axis=1)
        return float(np.sum(y == labels)) / float(x.shape[0])

    def numerical_gradient(self, x: Arr, t: Arr) -> dict[str, Arr]:
        def loss_w(w: Arr) -> float:
            return self.loss(x, t)

        return {key: numerical_gradient(loss_w, self.params[key]) for key in self.params}

    def gradient(self, x: Arr, t: Arr) -> dict[str, Arr]:
        w1, b1, w2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        a1 = x @ w1 + b1
        z1 = sigmoid(a1)
        y = softmax(z1 @ w2 + b2)
        target = t if np.ndim(t) == 2 else np.eye(y.shape[1])[t]
        dy = (y - target) / x.shape[0]
        dz1 = (dy @ w2.T) * sigmoid_grad(a1)
        return {"W1": x.T @ dz1, "b1": dz1.sum(axis=0), "W2": z1.T @ dy, "b2": dy.sum(axis=0)}
