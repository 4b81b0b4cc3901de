"""Writes examples/chapter_4_2.ipynb (outputs stripped) from the cells below.

The notebook is the chapter for readers who work in Jupyter: 中文 first, English under it,
each code cell runnable on a fresh install (the bundled MNIST sample, offline). CI executes
it (tests/test_notebook.py); edit the cells here and run `python tools/build_notebook.py`.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

CELLS = [
    (
        "markdown",
        "# 深度学习入门 4.2：损失函数\n# Deep Learning from Scratch, ch. 4.2: loss functions\n\n"
        "本笔记用 losskit 复现本章的公式与数字。\n\n"
        "This notebook reproduces the chapter's formulas and numbers with losskit.",
    ),
    ("code", "import numpy as np\n\nimport losskit as lk"),
    (
        "markdown",
        "## 4.2.1 均方误差 / Mean squared error\n\n"
        "$E = \\frac{1}{2}\\sum_k (y_k - t_k)^2$\n\n"
        "正确解是“2”（one-hot 表示）；网络以 0.6 的概率认为是“2”。\n\n"
        'The answer is "2" (one-hot); the network gives it probability 0.6.',
    ),
    (
        "code",
        "t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])  # one-hot: the answer is 2\n"
        "y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])\n"
        "y_wrong = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])\n"
        'print("MSE, right:", float(lk.mean_squared_error(y, t)))  # book: 0.0975\n'
        'print("MSE, wrong:", float(lk.mean_squared_error(y_wrong, t)))  # book: 0.5975',
    ),
    (
        "markdown",
        "## 4.2.2 交叉熵误差 / Cross-entropy error\n\n"
        "$E = -\\sum_k t_k \\log (y_k + \\delta)$，$\\delta = 10^{-7}$ 防止 $\\log 0$。\n\n"
        "$\\delta = 10^{-7}$ keeps $\\log 0$ finite.",
    ),
    (
        "code",
        "# book: 0.510825457099338 and 2.302584092994546\n"
        'print("cross entropy, right:", float(lk.cross_entropy_error(y, t)))\n'
        'print("cross entropy, wrong:", float(lk.cross_entropy_error(y_wrong, t)))\n'
        'print("labels work too:", float(lk.cross_entropy_error(y, np.array(2))))',
    ),
    (
        "markdown",
        "## 4.2.3 mini-batch 学习 / Mini-batch learning\n\n"
        "从训练数据中随机选出 100 个样本，求其损失的平均值（除以 N，与批大小无关）。\n\n"
        "Pick 100 training samples at random and average their loss (divided by N, so the "
        "batch size does not matter).",
    ),
    (
        "code",
        "from losskit.batching import sample_batch\n"
        "from losskit.datasets import load_dataset\n\n"
        '(x_train, t_train), _ = load_dataset("sample", one_hot_label=True)\n'
        "rng = np.random.default_rng(0)\n"
        "batch = sample_batch(len(x_train), 100, rng=rng)\n"
        "x_batch, t_batch = x_train[batch], t_train[batch]\n"
        "print(x_batch.shape, t_batch.shape)\n"
        "uniform = np.full((100, 10), 0.1)  # an untrained network's guess\n"
        'print("mean loss of a uniform guess:", float(lk.cross_entropy_error(uniform, t_batch)))',
    ),
    (
        "markdown",
        "## 4.2.5 为何要设定损失函数 / Why a loss and not accuracy\n\n"
        "移动已训练网络的一个权重：识别精度是阶梯状的（导数几乎处处为 0），损失函数是光滑的。\n\n"
        "Move one weight of a trained network: accuracy is a staircase (its derivative is 0 "
        "almost everywhere), the loss is smooth.",
    ),
    (
        "code",
        "import tempfile\n"
        "from pathlib import Path\n\n"
        "from IPython.display import Image\n\n"
        "from losskit.chapter.explain import accuracy_vs_loss, figure_accuracy_vs_loss\n\n"
        "r = accuracy_vs_loss()\n"
        'print("accuracy: derivative 0 at", float(np.mean(r.d_accuracy == 0)), "of the points")\n'
        'print("the loss\'s derivative is 0 at", float(np.mean(r.d_loss == 0)), "of the points")\n'
        'figure = figure_accuracy_vs_loss(r, Path(tempfile.mkdtemp()) / "accuracy-vs-loss.png")\n'
        "Image(filename=str(figure))",
    ),
]


def build() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell(text)
        if kind == "markdown"
        else nbformat.v4.new_code_cell(text)
        for kind, text in CELLS
    ]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # stable ids: rebuilding changes nothing
    return nb


if __name__ == "__main__":
    path = Path(__file__).resolve().parents[1] / "examples" / "chapter_4_2.ipynb"
    nbformat.write(build(), path)
    print(f"wrote {path}")
