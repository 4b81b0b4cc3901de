"""`losskit.book`: the book's names behave as the book's code does, and its ch. 4 training
script, written here in the book's style (not copied), runs on them unchanged but for imports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import losskit as lk
from losskit import book
from losskit.datasets import load_dataset

# The chapter's example: the answer is "2"; the network says 0.6 for it.
T = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
Y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def test_the_chapters_numbers_through_the_books_names() -> None:
    assert book.sum_squared_error(Y, T) == pytest.approx(0.0975, rel=1e-15)
    assert book.mean_squared_error is book.sum_squared_error
    assert book.cross_entropy_error(Y, T) == pytest.approx(0.510825457099338, rel=1e-15)
    assert book.cross_entropy_error(Y, np.array(2)) == book.cross_entropy_error(Y, T)
    assert book.softmax_loss(np.log(Y + 1e-300), T) == pytest.approx(0.510825457099338, 1e-6)


def test_sum_squared_error_sums_a_batch_as_the_book_does() -> None:
    y, t = np.stack([Y, Y[::-1]]), np.stack([T, T[::-1]])
    assert book.sum_squared_error(y, t) == pytest.approx(2 * 0.0975)
    assert book.sum_squared_error(y, t) == pytest.approx(0.5 * np.sum((y - t) ** 2))
    assert book.cross_entropy_error(y, t) == pytest.approx(float(lk.cross_entropy_error(y, t)))


def test_the_activations_are_the_books() -> None:
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(book.step_function(x), [0, 0, 1])
    np.testing.assert_allclose(book.sigmoid(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(book.sigmoid_grad(x), book.sigmoid(x) * (1 - book.sigmoid(x)))
    np.testing.assert_array_equal(book.relu(x), [0, 0, 2])
    np.testing.assert_array_equal(book.relu_grad(x), [0, 0, 1])
    np.testing.assert_allclose(book.softmax(x).sum(), 1.0)
    assert book.identity_function(x) is x


def test_numerical_gradient_perturbs_in_place_as_the_book_relies_on() -> None:
    w = np.array([[1.0, 2.0], [3.0, 4.0]])

    def loss(_: object) -> float:  # reads w, not its argument: the book's lambda W: ...
        return float((w**2).sum())

    before = w.copy()
    np.testing.assert_allclose(book.numerical_gradient(loss, w), 2 * before, rtol=1e-8)
    np.testing.assert_array_equal(w, before)  # restored


@pytest.mark.parametrize("targets", ["one-hot", "labels"])
def test_two_layer_net_has_the_books_parameters_and_a_right_gradient(targets: str) -> None:
    np.random.seed(0)
    net = book.TwoLayerNet(input_size=5, hidden_size=4, output_size=3)
    assert {k: v.shape for k, v in net.params.items()} == {
        "W1": (5, 4),
        "b1": (4,),
        "W2": (4, 3),
        "b2": (3,),
    }
    assert all(v.dtype == np.float64 for v in net.params.values())
    assert np.std(net.params["W1"]) < 0.05 and not net.params["b1"].any()  # 0.01 · randn
    rng = np.random.default_rng(1)
    x = rng.random((6, 5))
    labels = rng.integers(0, 3, 6)
    t = np.eye(3)[labels] if targets == "one-hot" else labels
    analytic, numerical = net.gradient(x, t), net.numerical_gradient(x, t)
    for key in net.params:
        np.testing.assert_allclose(analytic[key], numerical[key], rtol=1e-4, atol=1e-9)


def test_the_books_seed_and_a_generator_both_make_it_reproducible() -> None:
    np.random.seed(3)
    a = book.TwoLayerNet(4, 3, 2).params["W1"]
    np.random.seed(3)
    b = book.TwoLayerNet(4, 3, 2).params["W1"]
    np.testing.assert_array_equal(a, b)
    c = book.TwoLayerNet(4, 3, 2, rng=np.random.default_rng(3)).params["W1"]
    d = book.TwoLayerNet(4, 3, 2, rng=np.random.default_rng(3)).params["W1"]
    np.testing.assert_array_equal(c, d)


def test_the_books_training_script_runs_on_these_names() -> None:
    """Chapter 4.5's loop in the book's style, on the bundled MNIST sample (the book's script
    calls load_mnist(normalize=True, one_hot_label=True) on full MNIST; see the next test)."""
    (x_train, t_train), (x_test, t_test) = load_dataset("sample", one_hot_label=True)
    np.random.seed(0)
    network = book.TwoLayerNet(input_size=784, hidden_size=50, output_size=10)
    iters_num, batch_size, learning_rate = 1200, 100, 0.1
    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size / batch_size, 1)
    train_loss_list, test_acc_list = [], []
    for i in range(iters_num):
        batch_mask = np.random.choice(train_size, batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        grad = network.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            network.params[key] -= learning_rate * grad[key]
        train_loss_list.append(network.loss(x_batch, t_batch))
        if i % iter_per_epoch == 0:
            test_acc_list.append(network.accuracy(x_test, t_test))
    assert np.mean(train_loss_list[-100:]) < 0.5 * np.mean(train_loss_list[:100])
    assert test_acc_list[0] < 0.3 < 0.7 < network.accuracy(x_test, t_test)
    assert len(test_acc_list) == 12


@pytest.mark.skipif(not MNIST.is_dir(), reason="../shared/data/mnist not present")
def test_load_mnist_has_the_books_signature_and_shapes() -> None:
    (x_train, t_train), (x_test, t_test) = book.load_mnist(
        normalize=True, flatten=True, one_hot_label=True, data_dir=MNIST
    )
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert t_train.shape == (60000, 10) and t_test.shape == (10000, 10)
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    (x, t), _ = book.load_mnist(False, False, False, data_dir=MNIST)
    assert x.shape == (60000, 1, 28, 28) and x.dtype == np.uint8 and t.shape == (60000,)
