"""The chapter's two-layer network (784-50-10), with analytic backpropagation.

NumPy, float32 by default (the book's data type for MNIST). The gradient comes
from one forward and one backward pass through `softmax_cross_entropy`'s
analytic gradient (or `mean_squared_error` on the softmax output, to compare);
`numerical_gradient` checks it on small nets.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np

from losskit.gradcheck import numerical_gradient
from losskit.logit_losses import softmax_cross_entropy
from losskit.primitives import softmax
from losskit.probability_losses import mean_squared_error

__all__ = ["Activation", "LossName", "TwoLayerNet"]

Activation = Literal["sigmoid", "relu"]
LossName = Literal["cross-entropy", "mse"]
Params = dict[str, np.ndarray[Any, Any]]
PARAM_NAMES = ("W1", "b1", "W2", "b2")


class TwoLayerNet:
    """input → affine → sigmoid/ReLU → affine → logits; trained through a loss on the logits.

    Weights start as N(0, σ²) with σ = √(1/fan-in) for sigmoid (Xavier) and
    √(2/fan-in) for ReLU (He), biases at 0; pass `weight_init_std` for the
    book's fixed 0.01.
    """

    def __init__(
        self,
        input_size: int = 784,
        hidden_size: int = 50,
        output_size: int = 10,
        *,
        rng: np.random.Generator,
        activation: Activation = "sigmoid",
        loss: LossName = "cross-entropy",
        weight_init_std: float | None = None,
        dtype: Any = np.float32,
    ) -> None:
        if activation not in get_args(Activation):
            raise ValueError(f"activation must be 'sigmoid' or 'relu', got {activation!r}")
        if loss not in get_args(LossName):
            raise ValueError(f"loss must be 'cross-entropy' or 'mse', got {loss!r}")
        for name, size in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("output_size", output_size),
        ):
            if not isinstance(size, int) or size < 1:
                raise ValueError(f"{name} must be a positive int, got {size!r}")
        self.activation: Activation = activation
        self.loss_name: LossName = loss
        self.dtype = np.dtype(dtype)

        def std(fan_in: int) -> float:
            if weight_init_std is not None:
                return weight_init_std
            return float(np.sqrt((2.0 if activation == "relu" else 1.0) / fan_in))

        self.params: Params = {
            "W1": (std(input_size) * rng.standard_normal((input_size, hidden_size))),
            "b1": np.zeros(hidden_size),
            "W2": (std(hidden_size) * rng.standard_normal((hidden_size, output_size))),
            "b2": np.zeros(output_size),
        }
        self.params = {k: v.astype(self.dtype) for k, v in self.params.items()}
        # The loss gradient of a batch is used up within its step, so one buffer per batch
        # shape serves every step (no fresh pages for the kernel to fault in each time).
        self._grad_buffers: dict[tuple[int, ...], np.ndarray[Any, Any]] = {}

    # ------------------------------------------------------------------ forward

    def _hidden(self, x: np.ndarray[Any, Any]) -> tuple[Any, Any]:
        # In-place bias adds and activations: the arrays are ours, and at batch 100 the
        # allocations cost as much as the arithmetic.
        a1 = x @ self.params["W1"]
        a1 += self.params["b1"]
        if self.activation == "relu":
            return a1, np.maximum(a1, 0)
        # σ(a) = ½(1 + tanh(a/2)): exact, never overflows, and one transcendental call
        # (3x faster than the loss-grade `sigmoid`, whose extra care is for tiny
        # probabilities inside logs, not for hidden activations).
        z1 = np.multiply(a1, 0.5, dtype=a1.dtype)
        np.tanh(z1, out=z1)
        z1 *= 0.5
        z1 += 0.5
        return a1, z1

    def predict(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Logits (N, output_size)."""
        return self._hidden(x)[1] @ self.params["W2"] + self.params["b2"]  # type: ignore[no-any-return]

    def loss(self, x: np.ndarray[Any, Any], t: np.ndarray[Any, Any]) -> float:
        return self._loss_terms(self.predict(x), t, with_grad=False)[0]

    def _loss_terms(self, logits: Any, t: Any, *, with_grad: bool) -> tuple[float, Any]:
        if self.loss_name == "cross-entropy":
            if not with_grad:
                return float(softmax_cross_entropy(logits, t)), None
            buffer = self._grad_buffer(logits)
            value, d_logits = softmax_cross_entropy.value_and_grad(logits, t, grad_out=buffer)
            return float(value), d_logits
        y = softmax(logits)
        if not with_grad:
            return float(mean_squared_error(y, t)), None
        value, d_y = mean_squared_error.value_and_grad(y, t, grad_out=self._grad_buffer(y))
        # Backward through softmax: J^T g = y ⊙ (g − Σ_k g_k y_k).
        d_logits = y * (d_y - np.sum(d_y * y, axis=1, keepdims=True))
        return float(value), d_logits

    def _grad_buffer(self, like: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        buffer = self._grad_buffers.get(like.shape)
        if buffer is None or buffer.dtype != like.dtype:
            buffer = self._grad_buffers[like.shape] = np.empty(like.shape, like.dtype)
        return buffer

    def accuracy(
        self, x: np.ndarray[Any, Any], t: np.ndarray[Any, Any], *, chunk: int = 10_000
    ) -> float:
        """Fraction of (x, t) classified right; counted exactly, in chunks to bound memory."""
        labels = t if t.ndim == 1 else np.argmax(t, axis=1)
        correct = 0
        for start in range(0, len(x), chunk):
            part = slice(start, start + chunk)
            correct += int(
                np.count_nonzero(np.argmax(self.predict(x[part]), axis=1) == labels[part])
            )
        return correct / len(x)

    # ------------------------------------------------------------------ backward

    def loss_and_gradient(
        self, x: np.ndarray[Any, Any], t: np.ndarray[Any, Any]
    ) -> tuple[float, Params]:
        """The loss on (x, t) and its gradient for every parameter, by backpropagation."""
        a1, z1 = self._hidden(x)
        logits = z1 @ self.params["W2"]
        logits += self.params["b2"]
        value, d_logits = self._loss_terms(logits, t, with_grad=True)
        d_z1 = d_logits @ self.params["W2"].T
        # sigmoid' = z(1 − z), computed from the stored output; ReLU' = 1 where a > 0.
        if self.activation == "sigmoid":
            d_z1 *= z1
            d_z1 *= 1 - z1
        else:
            d_z1 *= a1 > 0
        d_a1 = d_z1
        grads = {
            "W1": x.T @ d_a1,
            "b1": d_a1.sum(axis=0),
            "W2": z1.T @ d_logits,
            "b2": d_logits.sum(axis=0),
        }
        return value, grads

    def numerical_gradient(
        self, x: np.ndarray[Any, Any], t: np.ndarray[Any, Any], *, h: float = 1e-4
    ) -> Params:
        """The book's check: central differences of the loss for every parameter (slow)."""
        grads = {}
        for name in PARAM_NAMES:
            original = self.params[name]

            def loss_at(p: Any, name: str = name) -> float:
                self.params[name] = p
                return self.loss(x, t)

            try:
                grads[name] = numerical_gradient(loss_at, original, h=h)
            finally:
                self.params[name] = original
        return grads

    def sgd_step(self, grads: Params, lr: float) -> None:
        """params -= lr · grads (the gradients are scaled in place: they are used up)."""
        step = self.dtype.type(lr)
        for name in PARAM_NAMES:
            g = grads[name]
            g *= step
            self.params[name] -= g
