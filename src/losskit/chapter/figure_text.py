"""Every word the figures print, in English and Chinese (`losskit tour --lang zh`).

Keys name the figure and the place; values are format strings with the same fields in
both languages. `tools/subset_font.py` reads the Chinese ones to choose the glyphs of the
bundled CJK font, and tests/test_figure_text.py checks that the font has every one.
"""

from __future__ import annotations

from typing import Any

FIGURE_TEXT: dict[str, tuple[str, str]] = {
    # accuracy-vs-loss.png
    "acc.accuracy": ("accuracy", "识别精度"),
    "acc.accuracy_title": (
        "accuracy: a staircase ({levels} levels)",
        "识别精度：阶梯状（{levels} 个取值）",
    ),
    "acc.loss": ("cross-entropy loss", "交叉熵损失"),
    "acc.loss_title": ("loss: smooth", "损失函数：光滑"),
    "acc.change": ("change of weight {name}", "权重 {name} 的变化量"),
    "acc.d_accuracy": ("d accuracy / d w", "d 识别精度 / d w"),
    "acc.flat": ("derivative 0 at {share:.0%} of points", "{share:.0%} 的点上导数为 0"),
    "acc.d_loss": ("d loss / d w", "d 损失 / d w"),
    "acc.nonzero": ("derivative non-zero at {share:.0%} of points", "{share:.0%} 的点上导数不为 0"),
    "acc.suptitle": (
        "Moving one weight of a trained network ({samples} MNIST images, central differences "
        "with h = {h:g})",
        "移动已训练网络的一个权重（{samples} 张 MNIST 图像，中心差分，h = {h:g}）",
    ),
    # step-vs-sigmoid.png
    "step.step": ("step function", "阶跃函数"),
    "step.sigmoid": ("sigmoid", "sigmoid 函数"),
    "step.activations": ("activations", "激活函数"),
    "step.d_step": ("step: 0 everywhere but the jump", "阶跃函数：除跳变处外处处为 0"),
    "step.d_sigmoid": ("sigmoid: σ(1 − σ) > 0 everywhere", "sigmoid：σ(1 − σ) 处处大于 0"),
    "step.d_label": ("dh/dx (numerical)", "dh/dx（数值微分）"),
    "step.derivatives": ("derivatives", "导数"),
    # delta.png
    "delta.no_delta": ("−log y  (no δ: → ∞ as y → 0)", "−log y（无 δ：y → 0 时 → ∞）"),
    "delta.with_delta": ("−log(y + δ), δ = {delta:g}", "−log(y + δ)，δ = {delta:g}"),
    "delta.ceiling": ("ceiling −log δ = {ceiling:.3f}", "上限 −log δ = {ceiling:.3f}"),
    "delta.x": ("probability y of the right class", "正确类别的概率 y"),
    "delta.y": ("cross-entropy error", "交叉熵误差"),
    "delta.title": ("What δ does: log(0) never happens", "δ 的作用：不会出现 log(0)"),
    # mse-vs-cross-entropy.png
    "mse.ce_bars": (
        "cross entropy: softmax − t (norm {norm:.3f})",
        "交叉熵：softmax − t（范数 {norm:.3f}）",
    ),
    "mse.mse_bars": ("MSE on softmax (norm {norm:.5f})", "softmax 后的均方误差（范数 {norm:.5f}）"),
    "mse.class": ("class", "类别"),
    "mse.d_logit": ("d loss / d logit (symmetric log scale)", "d 损失 / d logit（对称对数坐标）"),
    "mse.title": (
        "confidently wrong (says 2, answer {answer}): gradients",
        "自信的错误输出（认为是 2，答案是 {answer}）：梯度",
    ),
    "mse.iteration": ("iteration", "迭代次数"),
    "mse.accuracy": ("test accuracy", "测试精度"),
    "mse.faster": (
        "same network, same seed: which loss learns faster",
        "相同网络、相同种子：哪个损失学得更快",
    ),
    "mse.ce": ("cross entropy", "交叉熵"),
    "mse.mse": ("MSE", "均方误差"),
    # minibatch.png
    "batch.full": (
        "loss over all {size} training images = {loss:.4f}",
        "全部 {size} 张训练图像上的损失 = {loss:.4f}",
    ),
    "batch.x": ("mini-batch size", "mini-batch 大小"),
    "batch.y": ("mean cross-entropy loss of the batch", "该批的平均交叉熵损失"),
    "batch.title": (
        "A random mini-batch estimates the loss over all data "
        "({draws} random batches of each size)",
        "随机 mini-batch 对全部数据损失的估计（每种大小随机抽取 {draws} 批）",
    ),
}

LANGS = ("en", "zh")


def text(key: str, lang: str, **values: Any) -> str:
    return FIGURE_TEXT[key][LANGS.index(lang)].format(**values)
