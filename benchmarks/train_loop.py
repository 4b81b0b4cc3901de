"""The training loop: losskit against NumPy written the way the book writes it.

Same network (784-50-10, sigmoid, as in the book), same batch (100), same
learning rate, same number of iterations, on the same data, in one process;
the two loops alternate over repeated rounds and the medians are compared.

    python benchmarks/train_loop.py [--data-dir ../shared/data/mnist] [--iters 500] [--rounds 7]

The book's loop per iteration: gradient() (forward + backward, float64), then a
second forward pass for loss() to record it; one-hot targets; softmax with the
max subtracted; cross_entropy_error with δ = 1e-7. losskit's: one forward and
one backward in float32 through softmax_cross_entropy.value_and_grad.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from losskit.chapter.network import TwoLayerNet
from losskit.chapter.training import minibatch_gradient
from losskit.datasets import load_dataset

Arr = np.ndarray[Any, Any]


# ------------------------------------------------------------- the book's style


def book_sigmoid(x: Arr) -> Arr:
    return 1 / (1 + np.exp(-x))


def book_softmax(x: Arr) -> Arr:
    x = x.T
    x = x - np.max(x, axis=0)
    y = np.exp(x) / np.sum(np.exp(x), axis=0)
    return y.T


def book_cross_entropy_error(y: Arr, t: Arr) -> float:
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return float(-np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size)


class BookTwoLayerNet:
    def __init__(
        self,
        rng: np.random.Generator,
        input_size: int = 784,
        hidden_size: int = 50,
        output_size: int = 10,
        weight_init_std: float = 0.01,
    ) -> None:
        self.params = {
            "W1": weight_init_std * rng.standard_normal((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * rng.standard_normal((hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }

    def predict(self, x: Arr) -> Arr:
        p = self.params
        return book_softmax(book_sigmoid(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"])

    def loss(self, x: Arr, t: Arr) -> float:
        return book_cross_entropy_error(self.predict(x), t)

    def gradient(self, x: Arr, t: Arr) -> dict[str, Arr]:
        p = self.params
        batch_num = x.shape[0]
        a1 = x @ p["W1"] + p["b1"]
        z1 = book_sigmoid(a1)
        y = book_softmax(z1 @ p["W2"] + p["b2"])
        dy = (y - t) / batch_num
        grads = {"W2": z1.T @ dy, "b2": np.sum(dy, axis=0)}
        dz1 = dy @ p["W2"].T
        da1 = (1.0 - book_sigmoid(a1)) * book_sigmoid(a1) * dz1
        grads["W1"] = x.T @ da1
        grads["b1"] = np.sum(da1, axis=0)
        return grads


def book_loop(x: Arr, t_one_hot: Arr, iters: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    net = BookTwoLayerNet(rng)
    loss = 0.0
    for _ in range(iters):
        batch_mask = rng.choice(x.shape[0], 100)
        x_batch, t_batch = x[batch_mask], t_one_hot[batch_mask]
        grad = net.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= 0.1 * grad[key]
        loss = net.loss(x_batch, t_batch)
    return loss


# ------------------------------------------------------------- losskit


def losskit_loop(x: Arr, t: Arr, iters: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    net = TwoLayerNet(rng=rng, activation="sigmoid", weight_init_std=0.01)
    loss = 0.0
    for _ in range(iters):
        loss, grads = minibatch_gradient(net, x, t, 100, rng)
        net.sgd_step(grads, 0.1)
    return loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="MNIST folder (default: the bundled sample)")
    parser.add_argument("--iters", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    name = "mnist" if args.data_dir else "sample"
    (x, t), _ = load_dataset(name, data_dir=args.data_dir)
    x64 = x.astype(np.float64)  # the book's arrays after its float math
    t_one_hot = np.eye(10)[t]
    book_loop(x64, t_one_hot, 20, 0), losskit_loop(x, t, 20, 0)  # warm-up
    times: dict[str, list[float]] = {"book-style NumPy": [], "losskit": []}
    for r in range(args.rounds):
        for label, run in (
            ("book-style NumPy", lambda r=r: book_loop(x64, t_one_hot, args.iters, r)),
            ("losskit", lambda r=r: losskit_loop(x, t, args.iters, r)),
        ):
            start = time.perf_counter()
            run()
            times[label].append((time.perf_counter() - start) / args.iters)
    print(
        f"training loop, {name} ({len(x)} images), 784-50-10 sigmoid, batch 100, "
        f"{args.iters} iterations x {args.rounds} rounds (alternating)"
    )
    for label, values in times.items():
        print(
            f"  {label:<18} median {statistics.median(values) * 1e3:7.3f} ms/iteration "
            f"(min {min(values) * 1e3:.3f}, max {max(values) * 1e3:.3f})"
        )
    ratio = statistics.median(times["book-style NumPy"]) / statistics.median(times["losskit"])
    paired = statistics.median(
        b / k for b, k in zip(times["book-style NumPy"], times["losskit"], strict=True)
    )
    print(
        f"  losskit is {ratio:.2f}x faster than the book's NumPy style (ratio of medians; "
        f"median of the per-round ratios {paired:.2f}x)"
    )


if __name__ == "__main__":
    main()
