"""The figures in Chinese: every label has both languages with the same fields, every
character of every Chinese label is in the font matplotlib is given (the bundled subset of
Noto Sans CJK SC, DejaVu Sans for the rest), and zh figures differ from en ones."""

from __future__ import annotations

import string
import unicodedata
from pathlib import Path

import matplotlib
import pytest
from fontTools.ttLib import TTFont
from matplotlib import font_manager

from losskit.chapter import explain
from losskit.chapter.figure_text import FIGURE_TEXT, text
from losskit.chapter.plots import CJK_FAMILY, CJK_FONT, _pyplot


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _cmap(path: str | Path) -> set[int]:
    return set(TTFont(path).getBestCmap())


def test_every_label_has_both_languages_with_the_same_fields() -> None:
    for key, (en, zh) in FIGURE_TEXT.items():
        assert _fields(en) == _fields(zh), key
        assert en != zh or not any("\u4e00" <= c <= "\u9fff" for c in zh), key


def test_every_character_of_every_chinese_label_is_in_the_font_given() -> None:
    bundled = _cmap(CJK_FONT)
    dejavu = _cmap(font_manager.findfont("DejaVu Sans"))
    for key, (_, zh) in FIGURE_TEXT.items():
        for char in zh:
            if unicodedata.category(char).startswith("L") and ord(char) > 0x2E80:
                assert ord(char) in bundled, (key, char)  # CJK: the bundled font itself
            assert ord(char) in bundled | dejavu, (key, char, hex(ord(char)))


def test_the_font_matplotlib_picks_for_zh_is_the_bundled_one() -> None:
    _pyplot("zh")
    picked = font_manager.findfont(font_manager.FontProperties(family=CJK_FAMILY))
    assert Path(picked).resolve() == CJK_FONT.resolve()
    assert matplotlib.rcParams["font.family"][0] == CJK_FAMILY
    _pyplot("en")
    assert matplotlib.rcParams["font.family"] == matplotlib.rcParamsDefault["font.family"]


def test_the_licence_ships_beside_the_font() -> None:
    licence = (CJK_FONT.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence and "Noto Sans CJK SC" in licence


@pytest.mark.parametrize(
    ("make", "draw"),
    [
        (explain.delta, explain.figure_delta),
        (explain.step_vs_sigmoid, explain.figure_step_vs_sigmoid),
    ],
)
def test_zh_figures_are_drawn_in_chinese_without_a_missing_glyph(
    make: object, draw: object, tmp_path: Path
) -> None:
    result = make()  # type: ignore[operator]
    # filterwarnings = error: a glyph missing from every font given would fail here.
    zh = draw(result, tmp_path / "zh.png", lang="zh")  # type: ignore[operator]
    en = draw(result, tmp_path / "en.png", lang="en")  # type: ignore[operator]
    assert zh.read_bytes() != en.read_bytes()
    assert text("delta.title", "zh") != text("delta.title", "en")
