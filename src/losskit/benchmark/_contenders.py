"""What `losskit bench` times: losskit, the book's NumPy code, and the peers a user would
pick instead (PyTorch eager and compiled, JAX jit, optax), plus the two floors.

Each contender is a factory `(variant, inputs) -> call`: it does its one-off work (moving
data into its library, compiling) and returns a function doing one evaluation, with any
lazy result forced. A factory returns None, after `skip(reason)`, when its library or a
compiler is missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable
from typing import Any

import numpy as np

from losskit._array import optional_module

Call = Callable[[], Any]
Inputs = dict[str, Any]

# Softmax cross entropy on logits z (N, C) float32 and labels t (N,) int64.
SOFTMAX = "softmax_cross_entropy"
# The probability losses: y rows of probabilities (softmax(z)), labels t; p, b for BCE.
PROBABILITY = ("cross_entropy_error", "mean_squared_error", "binary_cross_entropy")


class Unavailable(Exception):
    """This contender cannot run here; the message says why (shown in the table's notes)."""


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _need(module: str) -> Any:
    if not _have(module):
        raise Unavailable(f"{module} is not installed")
    return optional_module(module)


# ------------------------------------------------------------------ losskit


def losskit(loss: str, variant: str, x: Inputs, *, reuse: bool = True) -> Call:
    import losskit as lk

    fn = getattr(lk, loss)
    y, t = _prediction_and_target(loss, x, labels=True)
    if variant == "value":
        return lambda: fn(y, t)
    if not reuse:
        return lambda: fn.value_and_grad(y, t)
    buffer = np.empty_like(y)  # a training loop's gradient buffer, reused every step
    return lambda: fn.value_and_grad(y, t, grad_out=buffer)


def losskit_new_grad(loss: str, variant: str, x: Inputs) -> Call:
    if variant == "value":
        raise Unavailable("value+grad only (the value allocates no gradient)")
    return losskit(loss, variant, x, reuse=False)


def _prediction_and_target(loss: str, x: Inputs, *, labels: bool) -> tuple[Any, Any]:
    if loss == SOFTMAX:
        return x["z"], x["t"]
    if loss == "binary_cross_entropy":
        return x["p"], x["b"]
    if labels:
        return x["y"], x["t"]
    one_hot = np.zeros_like(x["y"])
    one_hot[np.arange(len(x["t"])), x["t"]] = 1
    return x["y"], one_hot


# ------------------------------------------------------------------ the book's NumPy code


def _book_softmax(a: Any) -> Any:
    a = a - np.max(a, axis=-1, keepdims=True)
    return np.exp(a) / np.sum(np.exp(a), axis=-1, keepdims=True)


def numpy_book(loss: str, variant: str, x: Inputs) -> Call:
    """Written as the chapter writes it (SoftmaxWithLoss: softmax, cross_entropy_error with
    labels, backward (y − t)/N; mean_squared_error with one-hot t; BCE by its formula)."""
    if loss == SOFTMAX:
        return _book_softmax_loss(variant, x["z"], x["t"])
    if variant != "value":
        raise Unavailable("the book writes no backward pass for this loss alone")
    y, t = _prediction_and_target(loss, x, labels=loss != "mean_squared_error")
    n = y.shape[0]
    if loss == "cross_entropy_error":
        rows = np.arange(n)
        return lambda: -np.sum(np.log(y[rows, t] + 1e-7)) / n
    if loss == "mean_squared_error":
        return lambda: 0.5 * np.sum((y - t) ** 2) / n
    return lambda: -np.mean(t * np.log(y + 1e-7) + (1 - t) * np.log(1 - y + 1e-7))


def _book_softmax_loss(variant: str, z: Any, t: Any) -> Call:
    n = z.shape[0]
    rows = np.arange(n)

    def value() -> Any:
        y = _book_softmax(z)
        return -np.sum(np.log(y[rows, t] + 1e-7)) / n

    def value_and_grad() -> Any:
        y = _book_softmax(z)
        loss = -np.sum(np.log(y[rows, t] + 1e-7)) / n
        dx = y.copy()
        dx[rows, t] -= 1
        return loss, dx / n

    return value if variant == "value" else value_and_grad


# ------------------------------------------------------------------ PyTorch


def _torch_loss(torch: Any, loss: str) -> Callable[[Any, Any], Any]:
    F = torch.nn.functional
    if loss == SOFTMAX:
        return lambda a, b: F.cross_entropy(a, b)
    if loss == "cross_entropy_error":
        return lambda a, b: F.nll_loss(torch.log(a + 1e-7), b)
    if loss == "mean_squared_error":
        return lambda a, b: 0.5 * F.mse_loss(a, b, reduction="sum") / a.shape[0]
    return lambda a, b: F.binary_cross_entropy(a, b)


def _torch_call(torch: Any, fn: Callable[[Any, Any], Any], variant: str, a: Any, b: Any) -> Call:
    if variant == "value":

        def value() -> Any:
            with torch.no_grad():
                return fn(a, b)

        return value

    def value_and_grad() -> Any:
        leaf = a.detach().requires_grad_()
        out = fn(leaf, b)
        out.backward()
        return out, leaf.grad

    return value_and_grad


def torch_eager(loss: str, variant: str, x: Inputs, *, threads: int) -> Call:
    torch = _need("torch")
    torch.set_num_threads(threads)
    y, t = _prediction_and_target(loss, x, labels=loss != "mean_squared_error")
    return _torch_call(
        torch, _torch_loss(torch, loss), variant, torch.from_numpy(y), torch.from_numpy(t)
    )


def torch_compiled(loss: str, variant: str, x: Inputs) -> Call:
    """torch.compile (inductor, which writes C++ for the CPU): needs a C++ compiler. The
    backward comes from AOTAutograd, compiled alongside the forward."""
    torch = _need("torch")
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++")
    if compiler is None:
        raise Unavailable("torch.compile (inductor) needs a C++ compiler: none on PATH")
    torch.set_num_threads(2)
    compiled = torch.compile(_torch_loss(torch, SOFTMAX), backend="inductor", dynamic=False)
    return _torch_call(torch, compiled, variant, torch.from_numpy(x["z"]), torch.from_numpy(x["t"]))


# ------------------------------------------------------------------ JAX


def _jax_call(jax: Any, fn: Callable[[Any, Any], Any], variant: str, x: Inputs) -> Call:
    jnp = jax.numpy
    z, t = jnp.asarray(x["z"]), jnp.asarray(x["t"])
    jitted = jax.jit(fn if variant == "value" else jax.value_and_grad(fn))
    return lambda: jax.block_until_ready(jitted(z, t))


def jax_jit(loss: str, variant: str, x: Inputs) -> Call:
    """jit of the expression a JAX user writes: logsumexp minus the picked logit."""
    jax = _need("jax")
    jnp = jax.numpy

    def fn(z: Any, t: Any) -> Any:
        picked = jnp.take_along_axis(z, t[:, None], axis=-1)[:, 0]
        return jnp.mean(jax.nn.logsumexp(z, axis=-1) - picked)

    return _jax_call(jax, fn, variant, x)


def optax_jit(loss: str, variant: str, x: Inputs) -> Call:
    jax = _need("jax")
    optax = _need("optax")

    def fn(z: Any, t: Any) -> Any:
        return optax.softmax_cross_entropy_with_integer_labels(z, t).mean()

    return _jax_call(jax, fn, variant, x)


# ------------------------------------------------------------------ the floors


def read_floor(loss: str, variant: str, x: Inputs) -> Call:
    """Every element of the logits read once, on all cores, by a vectorised float32 sum."""
    if variant != "value":
        raise Unavailable("a floor of the value")
    from losskit.kernels import _numba, dispatch

    z = x["z"]
    # As the losses do: small arrays on one core (waking the other costs more than it saves)
    # and as one long row (short rows would measure loop overhead, not reading).
    if z.size < dispatch.PARALLEL_MIN_ELEMENTS:
        flat = z.reshape(1, -1)
        return lambda: _numba.read_rows_serial(flat)
    return lambda: _numba.read_rows(z)


def compute_floor(loss: str, variant: str, x: Inputs) -> Call:
    """Σ exp over every element, row by row on all cores, with the kernels' own exp and
    nothing else: what the exps alone cost (softmax cross entropy also needs each row's
    max, the picked logit and a log per row)."""
    if variant != "value":
        raise Unavailable("a floor of the value")
    from losskit.kernels import _numba, dispatch

    z = x["z"]
    out = np.empty(z.shape[0], z.dtype)
    if z.size < dispatch.PARALLEL_MIN_ELEMENTS:  # as for the read floor
        flat = z.reshape(1, -1)
        return lambda: _numba.exp_sum_rows(flat, out)
    return lambda: _numba.exp_sum_rows_parallel(z, out)


# name -> (factory, the losses it runs, threads it may use)
CONTENDERS: dict[str, tuple[Callable[..., Call], tuple[str, ...], int]] = {
    "losskit": (losskit, (SOFTMAX, *PROBABILITY), 2),
    "losskit, new grad": (losskit_new_grad, (SOFTMAX,), 2),
    "numpy-book": (numpy_book, (SOFTMAX, *PROBABILITY), 2),
    "torch eager, 1 thread": (lambda *a: torch_eager(*a, threads=1), (SOFTMAX, *PROBABILITY), 1),
    "torch eager, 2 threads": (lambda *a: torch_eager(*a, threads=2), (SOFTMAX, *PROBABILITY), 2),
    "torch.compile": (torch_compiled, (SOFTMAX,), 2),
    "jax jit": (jax_jit, (SOFTMAX,), 2),
    "optax jit": (optax_jit, (SOFTMAX,), 2),
    "read floor": (read_floor, (SOFTMAX,), 2),
    "compute floor": (compute_floor, (SOFTMAX,), 2),
}
FLOORS = ("read floor", "compute floor")


def make(name: str, loss: str, variant: str, x: Inputs) -> Call:
    factory = CONTENDERS[name][0]
    return factory(loss, variant, x)
