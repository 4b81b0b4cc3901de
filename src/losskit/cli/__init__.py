"""The `losskit` command line: one module per command, each a thin call into the public API.

Heavy imports (NumPy, matplotlib, rich) happen inside the commands, so
``losskit --version`` and ``--help`` answer at once.
"""

from __future__ import annotations

import argparse
import sys

from losskit.cli import bench, data, evaluate, explain, tour, train

__all__ = ["main"]

VERSION = "0.1.0"  # kept equal to losskit.__version__ by a test; importing it would load NumPy

COMMANDS = (tour, explain, train, evaluate, bench, data)  # in the order --help lists them


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="losskit",
        description="The loss functions of Deep Learning from Scratch, ch. 4.2: run the "
        "chapter, train on MNIST, see why networks minimise a loss and not accuracy.",
    )
    parser.add_argument("--version", action="version", version=f"losskit {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return int(args.run(args))
    except (ValueError, FileNotFoundError, TypeError) as exc:
        print(f"losskit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
