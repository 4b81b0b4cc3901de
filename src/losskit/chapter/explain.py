"""The chapter's argument, run: why networks minimise a loss and not accuracy (SPEC §5).

Each experiment returns its numbers (a frozen dataclass) so they can be printed,
tested and plotted; `figure_*` turns one into a PNG. Everything is seeded and
runs offline on the bundled MNIST sample in a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from losskit.chapter.figure_text import text
from losskit.chapter.network import TwoLayerNet
from losskit.chapter.plots import _pyplot, save_figure
from losskit.chapter.training import minibatch_gradient
from losskit.datasets import load_dataset
from losskit.logit_losses import softmax_cross_entropy
from losskit.primitives import sigmoid, softmax, step_function
from losskit.probability_losses import cross_entropy_error, mean_squared_error

__all__ = [
    "accuracy_vs_loss",
    "delta",
    "minibatch",
    "mse_vs_cross_entropy",
    "step_vs_sigmoid",
]

Arr = np.ndarray[Any, Any]


def _sample() -> tuple[Arr, Arr, Arr, Arr]:
    (x, t), (xt, tt) = load_dataset("sample")
    return x, t, xt, tt


def trained_network(
    iters: int = 1000,
    *,
    seed: int = 0,
    activation: str = "relu",
    loss: str = "cross-entropy",
    lr: float = 0.1,
    record_every: int = 0,
) -> tuple[TwoLayerNet, list[tuple[int, float, float]]]:
    """A 784-50-10 network trained in memory on the sample by mini-batch SGD (batch 100).

    With `record_every`, also returns (iteration, test accuracy after it, mini-batch loss
    before its update) every `record_every` iterations and at iteration 1.
    """
    x, t, xt, tt = _sample()
    rng = np.random.default_rng(seed)
    net = TwoLayerNet(rng=rng, activation=activation, loss=loss)  # type: ignore[arg-type]
    # Iteration 0 is the untrained network (its loss is not measured: NaN).
    trace = [(0, net.accuracy(xt, tt), float("nan"))] if record_every else []
    for i in range(1, iters + 1):
        value, grads = minibatch_gradient(net, x, t, 100, rng)
        net.sgd_step(grads, lr)
        if record_every and (i % record_every == 0 or i == 1):
            trace.append((i, net.accuracy(xt, tt), value))
    return net, trace


# ------------------------------------------------------------------ accuracy vs loss


@dataclass(frozen=True)
class AccuracyVsLoss:
    weight: tuple[str, int, int]  # which weight was swept
    offsets: Arr  # sweep points, relative to the trained value
    accuracy: Arr
    loss: Arr
    d_accuracy: Arr  # central differences at each sweep point
    d_loss: Arr
    h: float
    samples: int

    @property
    def accuracy_flat_fraction(self) -> float:
        """Share of sweep points where accuracy's numerical derivative is exactly 0."""
        return float(np.mean(self.d_accuracy == 0))

    @property
    def loss_nonzero_fraction(self) -> float:
        return float(np.mean(self.d_loss != 0))

    @property
    def accuracy_levels(self) -> int:
        return len(np.unique(self.accuracy))


def accuracy_vs_loss(
    *, seed: int = 0, points: int = 201, span: float = 3.0, h: float = 1e-4, samples: int = 2000
) -> AccuracyVsLoss:
    """Sweep one output-layer weight of a trained network; measure accuracy and loss.

    Accuracy counts whole samples, so it moves in steps of 1/samples and its
    numerical derivative is 0 almost everywhere; the loss moves smoothly.
    The swept weight is the one whose loss gradient is largest, on the training
    samples evaluated.
    """
    net, _ = trained_network(seed=seed)
    x, t, _, _ = _sample()
    x, t = x[:samples].astype(np.float64), t[:samples]
    params = {k: v.astype(np.float64) for k, v in net.params.items()}
    hidden = np.maximum(x @ params["W1"] + params["b1"], 0)  # fixed while W2 moves
    _, grads = net.loss_and_gradient(x.astype(np.float32), t)
    i, j = np.unravel_index(int(np.argmax(np.abs(grads["W2"]))), grads["W2"].shape)
    w0 = params["W2"][i, j]

    def evaluate(w: float) -> tuple[float, float]:
        W2 = params["W2"].copy()
        W2[i, j] = w
        logits = hidden @ W2 + params["b2"]
        acc = float(np.mean(np.argmax(logits, axis=1) == t))
        return acc, float(softmax_cross_entropy(logits, t))

    offsets = np.linspace(-span, span, points)
    acc, loss, d_acc, d_loss = (np.empty(points) for _ in range(4))
    for k, off in enumerate(offsets):
        acc[k], loss[k] = evaluate(w0 + off)
        up, down = evaluate(w0 + off + h), evaluate(w0 + off - h)
        d_acc[k] = (up[0] - down[0]) / (2 * h)
        d_loss[k] = (up[1] - down[1]) / (2 * h)
    return AccuracyVsLoss(("W2", int(i), int(j)), offsets, acc, loss, d_acc, d_loss, h, samples)


def figure_accuracy_vs_loss(r: AccuracyVsLoss, path: str | Path, *, lang: str = "en") -> Path:
    plt = _pyplot(lang)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    name = f"{r.weight[0]}[{r.weight[1]}, {r.weight[2]}]"
    (a, b), (c, d) = axes
    a.step(r.offsets, r.accuracy, where="mid", color="tab:orange")
    a.set(
        ylabel=text("acc.accuracy", lang),
        title=text("acc.accuracy_title", lang, levels=r.accuracy_levels),
    )
    b.plot(r.offsets, r.loss, color="tab:blue")
    b.set(ylabel=text("acc.loss", lang), title=text("acc.loss_title", lang))
    c.plot(r.offsets, r.d_accuracy, ".", ms=3, color="tab:orange")
    c.set(
        xlabel=text("acc.change", lang, name=name),
        ylabel=text("acc.d_accuracy", lang),
        title=text("acc.flat", lang, share=r.accuracy_flat_fraction),
    )
    d.plot(r.offsets, r.d_loss, color="tab:blue")
    d.axhline(0, color="grey", lw=0.8)
    d.set(
        xlabel=text("acc.change", lang, name=name),
        ylabel=text("acc.d_loss", lang),
        title=text("acc.nonzero", lang, share=r.loss_nonzero_fraction),
    )
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle(text("acc.suptitle", lang, samples=r.samples, h=r.h))
    return save_figure(fig, path)


# ------------------------------------------------------------------ step vs sigmoid


@dataclass(frozen=True)
class StepVsSigmoid:
    x: Arr
    step: Arr
    sigmoid: Arr
    d_step: Arr
    d_sigmoid: Arr

    @property
    def step_flat_fraction(self) -> float:
        return float(np.mean(self.d_step == 0))

    @property
    def sigmoid_min_slope(self) -> float:
        return float(self.d_sigmoid.min())


def step_vs_sigmoid(*, points: int = 601, h: float = 1e-4) -> StepVsSigmoid:
    """The two activations on [-6, 6] and their numerical derivatives."""
    x = np.linspace(-6.0, 6.0, points) + 1e-3  # off the grid point 0, where the step jumps

    def derivative(f: Any) -> Arr:
        return np.asarray((f(x + h) - f(x - h)) / (2 * h))

    return StepVsSigmoid(
        x, step_function(x), sigmoid(x), derivative(step_function), derivative(sigmoid)
    )


def figure_step_vs_sigmoid(r: StepVsSigmoid, path: str | Path, *, lang: str = "en") -> Path:
    plt = _pyplot(lang)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot(r.x, r.step, label=text("step.step", lang), color="tab:orange")
    a.plot(r.x, r.sigmoid, label=text("step.sigmoid", lang), color="tab:blue")
    a.set(xlabel="x", ylabel="h(x)", title=text("step.activations", lang))
    b.plot(r.x, r.d_step, label=text("step.d_step", lang), color="tab:orange")
    b.plot(r.x, r.d_sigmoid, label=text("step.d_sigmoid", lang), color="tab:blue")
    b.set(xlabel="x", ylabel=text("step.d_label", lang), title=text("step.derivatives", lang))
    for ax in (a, b):
        ax.legend(loc="upper left")
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


# ------------------------------------------------------------------ delta


@dataclass(frozen=True)
class Delta:
    probabilities: Arr  # probability given to the right class
    with_delta: Arr
    without_delta: Arr
    delta: float = 1e-7


def delta(*, delta: float = 1e-7) -> Delta:
    """Cross-entropy error with and without δ as the right class's probability goes to 0."""
    p = np.array([1.0, 0.5, 0.1, 1e-2, 1e-3, 1e-5, 1e-7, 1e-9, 1e-12, 0.0])
    y = np.stack([p, 1.0 - p], axis=1)  # two classes; the answer is class 0
    t = np.zeros(len(p), dtype=np.int64)
    with np.errstate(divide="ignore"):  # log(0) = -inf is the point being made
        without = cross_entropy_error(y, t, delta=0.0, reduction="none")
    return Delta(p, cross_entropy_error(y, t, delta=delta, reduction="none"), without, delta)


def figure_delta(r: Delta, path: str | Path, *, lang: str = "en") -> Path:
    plt = _pyplot(lang)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    p = r.probabilities[r.probabilities > 0]
    grid = np.logspace(-14, 0, 300)
    ax.plot(grid, -np.log(grid), label=text("delta.no_delta", lang), color="tab:red")
    ax.plot(
        grid,
        -np.log(grid + r.delta),
        label=text("delta.with_delta", lang, delta=r.delta),
        color="tab:blue",
    )
    ax.plot(p, r.with_delta[r.probabilities > 0], "o", color="tab:blue")
    ceiling = text("delta.ceiling", lang, ceiling=-np.log(r.delta))
    ax.axhline(-np.log(r.delta), color="grey", ls=":", label=ceiling)
    ax.set_xscale("log")
    ax.set(
        xlabel=text("delta.x", lang), ylabel=text("delta.y", lang), title=text("delta.title", lang)
    )
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


# ------------------------------------------------------------------ MSE vs cross entropy


@dataclass(frozen=True)
class MseVsCrossEntropy:
    probabilities: Arr  # softmax output, confidently wrong
    answer: int
    grad_cross_entropy: Arr  # d loss / d logits
    grad_mse: Arr
    trace_cross_entropy: list[tuple[int, float, float]] = field(default_factory=list)
    trace_mse: list[tuple[int, float, float]] = field(default_factory=list)

    @property
    def gradient_ratio(self) -> float:
        return float(np.linalg.norm(self.grad_cross_entropy) / np.linalg.norm(self.grad_mse))


def mse_vs_cross_entropy(*, iters: int = 300, seed: int = 0) -> MseVsCrossEntropy:
    """Gradient on a confidently wrong output, then two short runs from the same start."""
    logits = np.array([[0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])  # says "2"
    answer = np.array([7])
    y = softmax(logits)
    grad_ce = softmax_cross_entropy.grad(logits, answer)
    d_y = mean_squared_error.grad(y, answer)
    grad_mse = y * (d_y - np.sum(d_y * y, axis=1, keepdims=True))  # back through softmax
    # Sigmoid hidden units and the book's initial scale: where MSE's small gradients show.
    _, ce = trained_network(
        iters, seed=seed, activation="sigmoid", loss="cross-entropy", record_every=25
    )
    _, mse = trained_network(iters, seed=seed, activation="sigmoid", loss="mse", record_every=25)
    return MseVsCrossEntropy(y[0], 7, grad_ce[0], grad_mse[0], ce, mse)


def figure_mse_vs_cross_entropy(
    r: MseVsCrossEntropy, path: str | Path, *, lang: str = "en"
) -> Path:
    plt = _pyplot(lang)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    k = np.arange(len(r.probabilities))
    a.bar(
        k - 0.2,
        r.grad_cross_entropy,
        0.4,
        label=text("mse.ce_bars", lang, norm=np.linalg.norm(r.grad_cross_entropy)),
    )
    a.bar(
        k + 0.2, r.grad_mse, 0.4, label=text("mse.mse_bars", lang, norm=np.linalg.norm(r.grad_mse))
    )
    a.axhline(0, color="grey", lw=0.8)
    # MSE's gradient is ~1000x smaller than cross entropy's: on a linear axis its bars are
    # invisible. A symmetric log axis shows both, linear only below the smallest MSE bar.
    smallest = np.abs(r.grad_mse[r.grad_mse != 0])
    a.set_yscale("symlog", linthresh=float(smallest.min()) / 2 if smallest.size else 1e-6)
    a.set_yticks([-1, -1e-2, -1e-4, 0, 1e-4, 1e-2, 1])
    a.set(
        xlabel=text("mse.class", lang),
        ylabel=text("mse.d_logit", lang),
        xticks=k,
        title=text("mse.title", lang, answer=r.answer),
    )
    a.legend(loc="upper right", fontsize="small")
    traces = ((r.trace_cross_entropy, text("mse.ce", lang)), (r.trace_mse, text("mse.mse", lang)))
    for trace, label in traces:
        b.plot([i for i, _, _ in trace], [acc for _, acc, _ in trace], "o-", ms=3, label=label)
    b.set(
        xlabel=text("mse.iteration", lang),
        ylabel=text("mse.accuracy", lang),
        title=text("mse.faster", lang),
    )
    b.legend(loc="lower right")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


# ------------------------------------------------------------------ mini-batches


@dataclass(frozen=True)
class Minibatch:
    full_loss: float
    train_size: int
    sizes: tuple[int, ...]
    batch_losses: dict[int, Arr]

    def spread(self, size: int) -> float:
        return float(np.std(self.batch_losses[size]))

    def mean_abs_error(self, size: int) -> float:
        return float(np.mean(np.abs(self.batch_losses[size] - self.full_loss)))


def minibatch(
    *, sizes: tuple[int, ...] = (1, 10, 100, 1000), draws: int = 300, seed: int = 0
) -> Minibatch:
    """How well the loss of a random batch estimates the loss over the whole training set."""
    from losskit.batching import sample_batch

    net, _ = trained_network(300, seed=seed)
    x, t, _, _ = _sample()
    per_sample = np.asarray(
        softmax_cross_entropy(net.predict(x), t, reduction="none"), dtype=np.float64
    )
    rng = np.random.default_rng(seed)
    batches = {
        b: np.array([per_sample[sample_batch(len(x), b, rng=rng)].mean() for _ in range(draws)])
        for b in sizes
    }
    return Minibatch(float(per_sample.mean()), len(x), sizes, batches)


def figure_minibatch(r: Minibatch, path: str | Path, *, lang: str = "en") -> Path:
    plt = _pyplot(lang)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.boxplot(
        [r.batch_losses[b] for b in r.sizes],
        tick_labels=[str(b) for b in r.sizes],
        showfliers=False,
    )
    ax.axhline(
        r.full_loss,
        color="tab:red",
        ls="--",
        label=text("batch.full", lang, size=r.train_size, loss=r.full_loss),
    )
    draws = {len(r.batch_losses[b]) for b in r.sizes}
    ax.set(
        xlabel=text("batch.x", lang),
        ylabel=text("batch.y", lang),
        title=text("batch.title", lang, draws=", ".join(map(str, sorted(draws)))),
    )
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
