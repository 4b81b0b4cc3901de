"""The primitives on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from backends import assert_close, to_backend

import losskit as lk


def test_softmax_family(backend: str, dtype: str) -> None:
    z = np.array([[0.3, 2.9, 4.0], [1000.0, 1000.0, -np.inf]]).astype(dtype)
    e = np.exp(np.array([0.3, 2.9, 4.0]) - 4.0)
    expected = np.array([e / e.sum(), [0.5, 0.5, 0.0]])
    x = to_backend(backend, z)
    assert_close(backend, lk.softmax(x), expected, dtype=dtype)
    lse = np.array([4.0 + np.log(e.sum()), 1000.0 + np.log(2.0)])
    assert_close(backend, lk.logsumexp(x), lse, dtype=dtype)
    assert_close(backend, lk.logsumexp(x, keepdims=True), lse[:, None], dtype=dtype)
    assert_close(backend, lk.log_softmax(x)[:, :2], np.log(expected[:, :2]), dtype=dtype)
    assert_close(
        backend, lk.softmax(to_backend(backend, z.T.copy()), axis=0), expected.T, dtype=dtype
    )


def test_sigmoid_step_and_softplus(backend: str, dtype: str) -> None:
    v = np.array([-800.0, -1.0, 0.0, 1.0, 800.0]).astype(dtype)
    x = to_backend(backend, v)
    assert_close(
        backend, lk.sigmoid(x), [0.0, 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1.0)), 1.0], dtype=dtype
    )
    assert_close(backend, lk.step_function(x), [0, 0, 0, 1, 1], dtype=dtype)
    assert_close(
        backend,
        lk.softplus(x),
        [0.0, np.log1p(np.exp(-1.0)), np.log(2.0), 1 + np.log1p(np.exp(-1.0)), 800.0],
        dtype=dtype,
    )


def test_one_hot_and_accuracy(backend: str) -> None:
    labels = to_backend(backend, np.array([2, 0, 1]))
    out = lk.one_hot(labels, 3)
    assert_close(
        backend, out, np.eye(3)[[2, 0, 1]], dtype="float64" if backend != "torch" else "float32"
    )
    assert_close(
        backend,
        lk.one_hot(labels, 3, axis=0),
        np.eye(3)[[2, 0, 1]].T,
        dtype="float64" if backend != "torch" else "float32",
    )
    y = to_backend(backend, np.array([[0.1, 0.2, 0.7], [0.9, 0.05, 0.05], [0.3, 0.3, 0.4]]))
    assert_close(backend, lk.accuracy(y, labels), 2 / 3, dtype="float64")
    assert_close(
        backend, lk.accuracy(y, to_backend(backend, np.eye(3)[[2, 0, 1]])), 2 / 3, dtype="float64"
    )


def test_accuracy_of_empty_batch_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        lk.accuracy(np.zeros((0, 3)), np.zeros(0, dtype=np.int64))


def test_inputs_are_not_modified() -> None:
    z = np.array([[1.0, 2.0, 3.0]])
    before = z.copy()
    lk.softmax(z), lk.log_softmax(z), lk.logsumexp(z), lk.sigmoid(z)
    lk.softmax_cross_entropy.value_and_grad(z, np.array([1]))
    np.testing.assert_array_equal(z, before)
