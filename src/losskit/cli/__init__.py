"""The `losskit` command line: one module per command, each a thin call into the public API.

Heavy imports (NumPy, matplotlib, rich) happen inside the commands, so
``losskit --version`` and ``--help`` answer at once.

One error boundary, here: every expected failure ends in one line on stderr that names
the file or option, what was expected and what was found. Exit 2: bad input (a bad
file, option or value; an input file that does not exist). Exit 1: the environment (a
full or read-only disk, a network or cluster that does not answer, memory). A traceback
only with ``--debug``.
"""

from __future__ import annotations

import argparse
import errno
import sys
from typing import Any, NoReturn

from losskit.cli import bench, data, evaluate, explain, tour, train

__all__ = ["main"]

VERSION = "0.1.0"  # kept equal to losskit.__version__ by a test; importing it would load NumPy

COMMANDS = (tour, explain, train, evaluate, bench, data)  # in the order --help lists them


class _DefaultsShown(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or not action.option_strings
            or default is None
            or default is False
            or default is argparse.SUPPRESS
        ):
            return action.help
        return f"{text} (default: %(default)s)".lstrip()


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option ends in one line like every other error (not a usage block),
    and every --help shows the defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _DefaultsShown)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"losskit: error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="losskit",
        description="The loss functions of Deep Learning from Scratch, ch. 4.2: run the "
        "chapter, train on MNIST, see why networks minimise a loss and not accuracy.",
    )
    parser.add_argument("--version", action="version", version=f"losskit {VERSION}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.register(commands)
    return parser


# Input files that are not there are the user's to fix, like a bad value: exit 2.
_BAD_INPUT_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR}


def exit_code_and_message(exc: BaseException) -> tuple[int, str]:
    """The exit status and the one line an exception ends a command with."""
    if isinstance(exc, KeyboardInterrupt):
        return 130, "interrupted"
    if isinstance(exc, ValueError | TypeError):
        return 2, str(exc)
    if isinstance(exc, FloatingPointError):  # a diverged training run: its options were bad
        return 2, str(exc)
    if isinstance(exc, OSError) and not isinstance(exc, ConnectionError | TimeoutError):
        where = f": {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror}{where}" if exc.strerror else str(exc)
        missing = isinstance(exc, FileNotFoundError | NotADirectoryError | IsADirectoryError)
        return (2 if missing or exc.errno in _BAD_INPUT_ERRNOS else 1), text
    if isinstance(exc, ConnectionError | TimeoutError):
        return 1, str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return 1, f"out of memory ({exc})" if str(exc) else "out of memory"
    return 1, (
        f"internal error: {type(exc).__name__}: {exc} "
        "(run again with --debug for the traceback, and please report it)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return int(args.run(args))
    except (Exception, KeyboardInterrupt) as exc:
        if args.debug:
            raise
        code, text = exit_code_and_message(exc)
        print(f"losskit: error: {' '.join(text.split())}", file=sys.stderr)
        return code


if __name__ == "__main__":
    raise SystemExit(main())
