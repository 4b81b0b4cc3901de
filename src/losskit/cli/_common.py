"""What every command shares: the console, the common options, reading option values."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

Subparsers = Any  # argparse's _SubParsersAction is private


def console(*, stderr: bool = False) -> Any:
    from rich.console import Console

    # Piped or redirected, rich would wrap at 80 columns, also in the middle of a number:
    # there, lines stay whole (a terminal still wraps at its width).
    stream = sys.stderr if stderr else sys.stdout
    return Console(highlight=False, stderr=stderr, soft_wrap=not stream.isatty())


def print_plain(text: str) -> None:
    """Text that carries its own line breaks and brackets: no markup, no re-wrapping."""
    console().print(text, markup=False, soft_wrap=True)


def add_out(parser: argparse.ArgumentParser, default: str, what: str) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path(default), help=f"{what} (default ./{default})"
    )


def add_lang(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lang",
        choices=["en", "zh"],
        default="en",
        help="language of the text: English or Chinese (中文)",
    )


def output_folder(path: Path, option: str = "--out") -> Path:
    """Create `path` and prove it writable now, before any long work: a file of that name,
    a read-only or full disk must fail in the first second, not after the work is done."""
    from losskit._files import probe_writable

    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path}: expected a folder, found a file")
    probe_writable(path)
    return path
