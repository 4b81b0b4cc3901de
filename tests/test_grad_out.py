"""`value_and_grad(..., grad_out=buf)`: the gradient written into a caller's buffer.

On every dispatch path (small kernel, fused kernel, Array API core) the buffer ends up
holding exactly the gradient a call without it returns, whatever it held before, and is
the very object returned; every bad buffer is refused, before anything is written, with
a message naming grad_out, what was expected and what was got.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_one_way_through import LOSSES, numpy_path

import losskit as lk

rng = np.random.default_rng(7)


def logits(*shape: int, dtype: Any = np.float32) -> Any:
    return rng.standard_normal(shape).astype(dtype)


def probabilities(*shape: int, dtype: Any = np.float32) -> Any:
    x = rng.random(shape) + 0.05
    return (x / x.sum(axis=-1, keepdims=True)).astype(dtype)


def labels(n: int, c: int, *extra: int) -> Any:
    return rng.integers(0, c, (n, *extra))


def one_hot(n: int, c: int) -> Any:
    return np.eye(c, dtype=np.float32)[rng.integers(0, c, n)]


# (loss, y, t, options, the path it must take)
CASES = [
    ("softmax_cross_entropy", logits(100, 10), labels(100, 10), {}, "small"),
    ("softmax_cross_entropy", logits(100, 10, dtype=np.float64), labels(100, 10), {}, "small"),
    ("softmax_cross_entropy", logits(64, 300), labels(64, 300), {"reduction": "sum"}, "small"),
    ("softmax_cross_entropy", logits(4, 5, 7), labels(4, 7, 5), {"ignore_index": 3}, "fused"),
    (
        "softmax_cross_entropy",
        logits(600, 500),
        labels(600, 500),
        {"label_smoothing": 0.1, "weight": np.linspace(0.5, 2, 500).astype(np.float32)},
        "fused",
    ),
    (
        "softmax_cross_entropy",
        logits(8, 5, 3),
        labels(8, 5, 3),
        {"axis": 1},
        "generic",
    ),
    (
        "softmax_cross_entropy",
        logits(8, 5),
        labels(8, 5),
        {"sample_weight": np.arange(8.0)},
        "generic",
    ),
    ("softmax_cross_entropy", logits(8, 5, dtype=np.float16), labels(8, 5), {}, "generic"),
    ("mean_squared_error", probabilities(20, 10), labels(20, 10), {}, "fused"),
    ("mean_squared_error", probabilities(20, 10), one_hot(20, 10), {"reduction": "none"}, "fused"),
    (
        "mean_squared_error",
        probabilities(20, 10),
        labels(20, 10),
        {"sample_weight": np.ones(20)},
        "generic",
    ),
    ("cross_entropy_error", probabilities(20, 10), labels(20, 10), {}, "fused"),
    (
        "cross_entropy_error",
        probabilities(20, 10),
        one_hot(20, 10),
        {"weight": np.ones(10, np.float32)},
        "fused",
    ),
    ("cross_entropy_error", probabilities(20, 10, dtype=np.float16), labels(20, 10), {}, "generic"),
    ("binary_cross_entropy", probabilities(6, 4), (rng.random((6, 4)) > 0.5) * 1.0, {}, "fused"),
    (
        "binary_cross_entropy",
        probabilities(6, 4),
        (rng.random((6, 4)) > 0.5) * 1.0,
        {"weight": np.ones(4)},
        "generic",
    ),
    ("sigmoid_binary_cross_entropy", logits(6, 4), rng.random((6, 4)), {}, "generic"),
    ("sigmoid_binary_cross_entropy", np.float64(0.3), np.float64(1.0), {}, "generic"),
]


def case_id(case: Any) -> str:
    name, y, _, options, path = case
    return f"{name}-{path}-{np.asarray(y).dtype}-{'-'.join(options) or 'plain'}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_buffer_holds_the_gradient_and_is_returned(case: Any) -> None:
    name, y, t, options, path = case
    y = np.asarray(y)
    assert numpy_path(name, y, t, **options) == path
    loss = LOSSES[name]
    value, grad = loss.value_and_grad(y, t, **options)
    buffer = np.full(y.shape, np.nan, y.dtype)  # whatever it held must not show through
    value_b, grad_b = loss.value_and_grad(y, t, grad_out=buffer, **options)
    assert grad_b is buffer
    np.testing.assert_array_equal(buffer, grad)
    np.testing.assert_array_equal(value_b, value)
    again = loss.grad(y, t, grad_out=buffer, **options)
    assert again is buffer
    np.testing.assert_array_equal(buffer, grad)


def test_a_buffer_reused_across_steps_gives_each_steps_gradient() -> None:
    buffer = np.empty((100, 10), np.float32)
    for _ in range(3):
        z, t = logits(100, 10), labels(100, 10)
        _, g = lk.softmax_cross_entropy.value_and_grad(z, t, grad_out=buffer)
        np.testing.assert_array_equal(g, lk.softmax_cross_entropy.grad(z, t))


def test_rows_that_take_the_exact_path_are_written_whole() -> None:
    """NaN, ±inf and all -inf rows, ignored samples: every element of the buffer is set."""
    z = logits(6, 40)
    z[1, 3] = np.nan
    z[2, 5] = np.inf
    z[3] = -np.inf
    t = labels(6, 40)
    t[4] = -1
    buffer = np.full_like(z, 12345.0)
    _, g = lk.softmax_cross_entropy.value_and_grad(z, t, ignore_index=-1, grad_out=buffer)
    np.testing.assert_array_equal(g, lk.softmax_cross_entropy.grad(z, t, ignore_index=-1))
    assert not (g == 12345.0).any()


Z, T = logits(100, 10), labels(100, 10)


@pytest.mark.parametrize(
    ("buffer", "error", "message"),
    [
        (
            [0.0] * 1000,
            TypeError,
            "grad_out: expected a NumPy array to write the gradient into, got builtins.list",
        ),
        (
            np.empty((10, 100), np.float32),
            ValueError,
            r"grad_out: expected shape \(100, 10\), as logits, got \(10, 100\)",
        ),
        (
            np.empty((100, 10)),
            ValueError,
            "grad_out: expected dtype float32 in native byte order, as logits, got float64",
        ),
        (
            np.empty((100, 10), ">f4"),
            ValueError,
            r"expected dtype float32 in native byte order, as logits, got float32 \(byte-swapped\)",
        ),
        (np.empty((10, 100), np.float32).T, ValueError, "grad_out: expected a C-contiguous array"),
        (
            np.empty((100, 20), np.float32)[:, ::2],
            ValueError,
            "grad_out: expected a C-contiguous array",
        ),
        (
            Z,
            ValueError,
            "apart from the inputs, got one that shares memory with logits",
        ),
    ],
    ids=["list", "shape", "dtype", "byte-swapped", "fortran", "strided", "the-logits"],
)
def test_a_bad_buffer_is_refused_with_what_was_expected(
    buffer: Any, error: Any, message: str
) -> None:
    with pytest.raises(error, match=message):
        lk.softmax_cross_entropy.value_and_grad(Z, T, grad_out=buffer)


def test_a_read_only_buffer_is_refused_and_not_written() -> None:
    buffer = np.zeros((100, 10), np.float32)
    buffer.flags.writeable = False
    with pytest.raises(
        ValueError, match="grad_out: expected a writeable array, got a read-only one"
    ):
        lk.softmax_cross_entropy.value_and_grad(Z, T, grad_out=buffer)
    assert not buffer.any()


def test_a_buffer_sharing_memory_with_any_input_is_refused() -> None:
    store = np.zeros(2 * 20 * 10, np.float32)
    y, buffer = store[:200].reshape(20, 10), store[200:].reshape(20, 10)
    y[:] = probabilities(20, 10)
    lk.mean_squared_error.value_and_grad(y, one_hot(20, 10), grad_out=buffer)  # apart: fine
    t = one_hot(20, 10)
    with pytest.raises(ValueError, match="shares memory with t "):
        lk.mean_squared_error.value_and_grad(y, t, grad_out=t)
    weight = np.ones((20, 10), np.float32)
    p = probabilities(20, 10)
    with pytest.raises(ValueError, match="shares memory with weight "):
        lk.binary_cross_entropy.value_and_grad(p, (p > 0.1) * 1.0, weight=weight, grad_out=weight)
    interleaved = np.zeros((100, 20), np.float32)  # same bounds, disjoint elements: fine
    z, buffer = interleaved[:, 0::2], np.zeros((100, 10), np.float32)
    z[:] = Z
    lk.softmax_cross_entropy.value_and_grad(z, T, grad_out=buffer)


def test_bad_inputs_are_reported_before_the_buffer() -> None:
    with pytest.raises(ValueError, match="label"):
        lk.softmax_cross_entropy.value_and_grad(Z, T + 100, grad_out=[1])


def test_other_backends_say_the_buffer_is_for_numpy() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(
        TypeError, match=r"grad_out: a gradient buffer is for NumPy inputs; logits is torch\.Tensor"
    ):
        lk.softmax_cross_entropy.value_and_grad(
            torch.from_numpy(Z), torch.from_numpy(T), grad_out=np.empty_like(Z)
        )
