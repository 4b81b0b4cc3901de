"""Builds the CJK font the Chinese figures use: the glyphs of every Chinese figure label
(losskit.chapter.figure_text) and printable ASCII, cut from Noto Sans CJK SC (SIL Open Font
License 1.1) with fontTools, renamed as the licence asks of modified versions.

    python tools/subset_font.py PATH/TO/NotoSansCJK-Regular.ttc

(Debian's fonts-noto-cjk package has that file in /usr/share/fonts/opentype/noto/.) Run it
again whenever a Chinese label gains a character: tests/test_figure_text.py fails until then.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

from losskit.chapter.figure_text import FIGURE_TEXT

OUT = Path(__file__).resolve().parents[1] / "src" / "losskit" / "chapter" / "fonts"
FAMILY = "Losskit Sans SC"
FILE = "LosskitSansSC-Regular.otf"


def characters() -> str:
    chars = {chr(c) for c in range(0x20, 0x7F)}
    for _, zh in FIGURE_TEXT.values():
        chars.update(zh)
    return "".join(sorted(chars))


def simplified_chinese_face(path: Path) -> TTFont:
    if path.suffix.lower() != ".ttc":
        return TTFont(path)
    for font in TTCollection(path).fonts:
        if font["name"].getDebugName(1) == "Noto Sans CJK SC":
            return font
    raise SystemExit(f"{path}: no 'Noto Sans CJK SC' face in this collection")


def main(source: str) -> None:
    font = simplified_chinese_face(Path(source))
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters())
    subsetter.subset(font)
    names = font["name"]
    for record in names.names:
        if record.nameID in (1, 16):
            record.string = FAMILY
        elif record.nameID == 4:
            record.string = f"{FAMILY} Regular"
        elif record.nameID == 6:
            record.string = FAMILY.replace(" ", "") + "-Regular"
    OUT.mkdir(parents=True, exist_ok=True)
    font.save(OUT / FILE)
    print(f"wrote {OUT / FILE}: {len(characters())} characters")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
