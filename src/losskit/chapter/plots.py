"""Figures, saved as PNG (matplotlib's Agg backend: no screen needed)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from losskit._files import atomic_write

CJK_FONT = Path(__file__).with_name("fonts") / "LosskitSansSC-Regular.otf"
CJK_FAMILY = "Losskit Sans SC"  # a subset of Noto Sans CJK SC (fonts/OFL.txt)


def _pyplot(lang: str = "en") -> Any:
    """pyplot with the Agg backend and, for lang "zh", the bundled CJK font first (glyphs it
    lacks, such as some math signs, fall back to DejaVu Sans per glyph)."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never opens a window
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    if lang == "zh":
        if CJK_FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
            font_manager.fontManager.addfont(str(CJK_FONT))
        matplotlib.rcParams["font.family"] = [CJK_FAMILY, "DejaVu Sans"]
    else:
        matplotlib.rcParams["font.family"] = matplotlib.rcParamsDefault["font.family"]
    return plt


def save_figure(fig: Any, path: str | Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    atomic_write(Path(path), buffer.getvalue())
    return Path(path)


def training_curves(
    history: list[dict[str, Any]],
    losses: list[float],
    path: str | Path,
    *,
    title: str = "",
    reference_accuracy: float | None = None,
) -> Path:
    """Loss per iteration (and per-epoch mean) beside train/test accuracy per epoch."""
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    iterations = [r["iteration"] for r in history]
    ax_loss.plot(
        range(1, len(losses) + 1),
        losses,
        color="tab:blue",
        alpha=0.25,
        lw=0.6,
        label="mini-batch loss",
    )
    ax_loss.plot(
        iterations,
        [r["loss"] for r in history],
        "o-",
        color="tab:blue",
        label="mean over the epoch",
    )
    ax_loss.set(xlabel="iteration", ylabel="loss", title="training loss")
    ax_loss.set_yscale("log")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    ax_acc.plot(iterations, [r["train_accuracy"] for r in history], "o-", label="train")
    ax_acc.plot(iterations, [r["test_accuracy"] for r in history], "s--", label="test")
    if reference_accuracy is not None:
        ax_acc.axhline(
            reference_accuracy,
            color="grey",
            ls=":",
            lw=1,
            label=f"the book's reported test accuracy for this run ({reference_accuracy})",
        )
    ax_acc.set(xlabel="iteration", ylabel="accuracy", title="accuracy after each epoch")
    ax_acc.legend(loc="center right")  # the curves rise to the top right from the left
    ax_acc.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
