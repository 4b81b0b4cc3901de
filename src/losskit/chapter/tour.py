"""`losskit tour`: chapter 4.2 end to end, with the numbers and the pictures.

Every number the tour prints comes from `run_tour`'s `facts`, which the tests
assert one by one. Text in English or Chinese (`lang="zh"`); figure labels
stay in English (CJK fonts are not guaranteed on a fresh machine).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from losskit.batching import sample_batch
from losskit.chapter import explain as ex
from losskit.datasets import load_dataset
from losskit.logit_losses import softmax_cross_entropy
from losskit.probability_losses import cross_entropy_error, mean_squared_error

__all__ = ["TEXT", "TOPICS", "TourResult", "run_explain", "run_tour"]

# One entry per printed paragraph: (English, Chinese). Numbers are filled in from facts.
TEXT: dict[str, tuple[str, str]] = {
    "title": (
        "losskit tour — Deep Learning from Scratch, chapter 4.2: loss functions",
        "losskit 导览 —— 《深度学习入门》第 4.2 节：损失函数",
    ),
    "numbers": (
        '1. The chapter\'s numbers. The answer is "2" (one-hot t). A network that gives it '
        "0.6:\n   mean squared error ½Σ(y−t)² = {mse_right:.4f}, cross-entropy error "
        '−Σ t·log(y+δ) = {cee_right:.15f}\n   A network that gives 0.6 to "6" instead: '
        "MSE = {mse_wrong:.4f}, cross entropy = {cee_wrong:.14f} (= −log δ: δ = 1e-7 keeps "
        "log 0 finite)",
        "1. 书中的数值。正确答案是“2”（one-hot 标签 t）。网络给“2”的概率为 0.6 时：\n"
        "   均方误差 ½Σ(y−t)² = {mse_right:.4f}，交叉熵误差 −Σ t·log(y+δ) = {cee_right:.15f}\n"
        "   若网络把 0.6 给了“6”：均方误差 = {mse_wrong:.4f}，交叉熵误差 = {cee_wrong:.14f}"
        "（= −log δ：δ = 1e-7 让 log 0 不会出现）",
    ),
    "batch": (
        "2. Mini-batch learning: pick {batch_size} of the {train_size} training images at "
        "random (seed 0): indices {batch_indices}…, labels {batch_labels}…\n   Their mean "
        "cross-entropy loss, divided by N so the batch size does not matter, under an "
        "untrained network: {batch_loss:.4f} (≈ log 10 = 2.3026: a uniform guess)",
        "2. mini-batch 学习：从 {train_size} 张训练图像中随机选出 {batch_size} 张（种子 0）："
        "索引 {batch_indices}…，标签 {batch_labels}…\n   未训练网络在这批数据上的平均交叉熵"
        "（除以 N，与批大小无关）：{batch_loss:.4f}（≈ log 10 = 2.3026：均匀猜测）",
    ),
    "training": (
        "3. Training 784-50-10 by mini-batch SGD ({train_iters} iterations of batch 100, lr 0.1) on "
        "the bundled sample: test accuracy {acc_start:.4f} (untrained) → {acc_end:.4f}, "
        "mini-batch loss "
        "{loss_start:.4f} → {loss_end:.4f}",
        "3. 用 mini-batch SGD 训练 784-50-10 网络（{train_iters} 次迭代，批大小 100，学习率 0.1，内置"
        "样本）：测试准确率 {acc_start:.4f}（未训练）→ {acc_end:.4f}，"
        "mini-batch 损失 {loss_start:.4f} → {loss_end:.4f}",
    ),
    "accuracy_vs_loss": (
        "4. Why a loss and not accuracy: move one weight ({weight}) of the trained network "
        "over {sweep_points} points.\n   Accuracy takes only {levels} distinct values (a staircase): "
        "its numerical derivative is exactly 0 at {acc_flat:.1%} of the points, so gradient "
        "descent\n   would not know where to go. The loss is smooth: its derivative is "
        "non-zero at {loss_nonzero:.1%} of the points.",
        "4. 为什么用损失函数而不用识别精度：在 {sweep_points} 个点上移动已训练网络的一个权重"
        "（{weight}）。\n"
        "   精度只取 {levels} 个不同的值（阶梯状）：其数值导数在 {acc_flat:.1%} 的点上恰好为 0，"
        "梯度下降无从前进。\n   损失函数是平滑的：其导数在 {loss_nonzero:.1%} 的点上不为 0。",
    ),
    "step_vs_sigmoid": (
        "5. The same defect in activations: the step function's derivative is 0 at "
        "{step_flat:.1%} of {step_points} points on [−6, 6] (at the jump, x = 0, it does not "
        "exist);\n   the sigmoid's is never 0 "
        "(smallest {sigmoid_min:.5f}, largest 0.25 at x = 0).",
        "5. 激活函数也有同样的问题：阶跃函数的导数在 [−6, 6] 上 {step_points} 个点中的 "
        "{step_flat:.1%} 为 0（在跳变点 x = 0 处导数不存在）；\n"
        "   sigmoid 的导数从不为 0（最小 {sigmoid_min:.5f}，"
        "x = 0 处最大 0.25）。",
    ),
    "delta": (
        "6. What δ does: with the right class at probability 1e-12 the error is "
        "{delta_small:.4f} with δ, {nodelta_small:.4f} without;\n   at probability 0 it is "
        "{delta_zero:.4f} with δ and infinite without.",
        "6. δ 的作用：正确类别概率为 1e-12 时，加 δ 的误差为 {delta_small:.4f}，不加为 "
        "{nodelta_small:.4f}；\n   概率为 0 时，加 δ 为 {delta_zero:.4f}，不加则为无穷大。",
    ),
    "mse_vs_ce": (
        '7. MSE vs cross entropy on a confidently wrong output (says "2" at {p_wrong:.4f}, '
        "answer 7): the cross-entropy gradient is\n   {ratio:.0f}× larger. Two runs from the "
        "same start, {compare_iters} iterations, sigmoid hidden units: test accuracy {acc_ce:.4f} with "
        "cross entropy,\n   {acc_mse:.4f} with MSE.",
        "7. 均方误差与交叉熵：对一个自信的错误输出（以 {p_wrong:.4f} 的概率认为是“2”，答案是 7），"
        "交叉熵的梯度\n   大 {ratio:.0f} 倍。同一起点训练 {compare_iters} 次（sigmoid 隐藏层）："
        "交叉熵的测试"
        "准确率 {acc_ce:.4f}，\n   均方误差 {acc_mse:.4f}。",
    ),
    "minibatch": (
        "8. How well a mini-batch estimates the loss over all {train_size} training images "
        "({full_loss:.4f}):\n   mean absolute error of a random batch: {mb_rows}",
        "8. mini-batch 对全部 {train_size} 张训练图像上损失（{full_loss:.4f}）的估计有多准：\n"
        "   随机批次的平均绝对误差：{mb_rows}",
    ),
    "explain": ("losskit explain {topic}", "losskit explain {topic}"),
    "figures": ("Figures written to {out}:", "图像已保存到 {out}："),
    "done": ("Finished in {seconds:.1f} s.", "完成，用时 {seconds:.1f} 秒。"),
}


@dataclass
class TourResult:
    facts: dict[str, Any] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)


class _Narrator:
    """Collects facts and figures, and prints each paragraph in the chosen language."""

    def __init__(
        self, out: Path, lang: str, emit: Callable[[str], None], *, numbered: bool = True
    ) -> None:
        if lang not in ("en", "zh"):
            raise ValueError(f"lang must be 'en' or 'zh', got {lang!r}")
        self.out, self.idx, self.emit, self.lang = out, 0 if lang == "en" else 1, emit, lang
        self.numbered = numbered  # the tour's "4." means nothing in one experiment alone
        self.result = TourResult()

    def say(self, key: str, **values: Any) -> None:
        self.result.facts.update(values)
        text = TEXT[key][self.idx].format(**values)
        if not self.numbered:
            text = re.sub(r"^\d+\. ", "", text)
        self.result.paragraphs.append(text)
        self.emit(text)

    def figure(self, path: Path) -> None:
        self.result.figures.append(path)


def _numbers(n: _Narrator) -> None:
    t = np.zeros(10)
    t[2] = 1.0
    y_right = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    y_wrong = np.array([0.1, 0.05, 0.0, 0.0, 0.05, 0.1, 0.6, 0.1, 0.0, 0.0])
    n.say(
        "numbers",
        mse_right=float(mean_squared_error(y_right, t)),
        cee_right=float(cross_entropy_error(y_right, t)),
        mse_wrong=float(mean_squared_error(y_wrong, t)),
        cee_wrong=float(cross_entropy_error(y_wrong, t)),
    )


def _batch(n: _Narrator) -> None:
    (x, labels), _ = load_dataset("sample")
    batch = sample_batch(len(x), 100, rng=np.random.default_rng(0))
    untrained, _ = ex.trained_network(0)
    n.say(
        "batch",
        batch_size=100,
        train_size=len(x),
        batch_indices=batch[:5].tolist(),
        batch_labels=labels[batch[:5]].tolist(),
        batch_loss=float(softmax_cross_entropy(untrained.predict(x[batch]), labels[batch])),
    )


def _training(n: _Narrator) -> None:
    _, trace = ex.trained_network(1000, record_every=100)
    n.say(
        "training",
        train_iters=1000,
        acc_start=trace[0][1],
        acc_end=trace[-1][1],
        loss_start=trace[1][2],
        loss_end=trace[-1][2],
    )


def _accuracy_vs_loss(n: _Narrator) -> None:
    r = ex.accuracy_vs_loss()
    n.figure(ex.figure_accuracy_vs_loss(r, n.out / "accuracy-vs-loss.png", lang=n.lang))
    n.say(
        "accuracy_vs_loss",
        weight=f"{r.weight[0]}[{r.weight[1]}, {r.weight[2]}]",
        sweep_points=len(r.offsets),
        levels=r.accuracy_levels,
        acc_flat=r.accuracy_flat_fraction,
        loss_nonzero=r.loss_nonzero_fraction,
    )


def _step_vs_sigmoid(n: _Narrator) -> None:
    r = ex.step_vs_sigmoid()
    n.figure(ex.figure_step_vs_sigmoid(r, n.out / "step-vs-sigmoid.png", lang=n.lang))
    n.say(
        "step_vs_sigmoid",
        step_points=len(r.x),
        step_flat=r.step_flat_fraction,
        sigmoid_min=r.sigmoid_min_slope,
    )


def _delta(n: _Narrator) -> None:
    r = ex.delta()
    n.figure(ex.figure_delta(r, n.out / "delta.png", lang=n.lang))
    small = int(np.flatnonzero(r.probabilities == 1e-12)[0])
    zero = int(np.flatnonzero(r.probabilities == 0)[0])
    n.say(
        "delta",
        delta_small=float(r.with_delta[small]),
        nodelta_small=float(r.without_delta[small]),
        delta_zero=float(r.with_delta[zero]),
        nodelta_zero=float(r.without_delta[zero]),
    )


def _mse_vs_cross_entropy(n: _Narrator) -> None:
    r = ex.mse_vs_cross_entropy()
    n.figure(ex.figure_mse_vs_cross_entropy(r, n.out / "mse-vs-cross-entropy.png", lang=n.lang))
    n.say(
        "mse_vs_ce",
        p_wrong=float(r.probabilities[2]),
        ratio=r.gradient_ratio,
        compare_iters=r.trace_cross_entropy[-1][0],
        acc_ce=r.trace_cross_entropy[-1][1],
        acc_mse=r.trace_mse[-1][1],
    )


def _minibatch(n: _Narrator) -> None:
    r = ex.minibatch()
    n.figure(ex.figure_minibatch(r, n.out / "minibatch.png", lang=n.lang))
    n.result.facts["minibatch_errors"] = {b: r.mean_abs_error(b) for b in r.sizes}
    n.say(
        "minibatch",
        train_size=r.train_size,
        full_loss=r.full_loss,
        mb_rows=", ".join(f"B={b}: {r.mean_abs_error(b):.4f}" for b in r.sizes),
    )


# The explanations of SPEC §5, by topic name (`losskit explain TOPIC`).
TOPICS: dict[str, Callable[[_Narrator], None]] = {
    "accuracy-vs-loss": _accuracy_vs_loss,
    "step-vs-sigmoid": _step_vs_sigmoid,
    "delta": _delta,
    "mse-vs-cross-entropy": _mse_vs_cross_entropy,
    "minibatch": _minibatch,
}
TOUR = (_numbers, _batch, _training, *TOPICS.values())


def _run(
    steps: tuple[Callable[[_Narrator], None], ...],
    out: str | Path,
    lang: str,
    emit: Callable[[str], None],
    title: str,
) -> TourResult:
    n = _Narrator(Path(out), lang, emit, numbered=len(steps) > 1)
    start = time.perf_counter()
    emit(title)
    for step in steps:
        step(n)
    emit(TEXT["figures"][n.idx].format(out=n.out))
    for path in n.result.figures:
        emit(f"  {path}")
    n.result.facts["seconds"] = time.perf_counter() - start
    emit(TEXT["done"][n.idx].format(seconds=n.result.facts["seconds"]))
    return n.result


def run_tour(
    out: str | Path, *, lang: str = "en", emit: Callable[[str], None] = print
) -> TourResult:
    """Chapter 4.2 end to end on the bundled sample: numbers, a mini-batch, training, and
    every explanation with its figure. Prints as it goes; returns the facts printed."""
    return _run(TOUR, out, lang, emit, TEXT["title"][0 if lang == "en" else 1])


def run_explain(
    topic: str, out: str | Path, *, lang: str = "en", emit: Callable[[str], None] = print
) -> TourResult:
    """One explanation of SPEC §5 (one of `TOPICS`), its numbers and its figure."""
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}; expected one of {', '.join(TOPICS)}")
    return _run((TOPICS[topic],), out, lang, emit, TEXT["explain"][0].format(topic=topic))
