"""`losskit bench`: the kernels against the book's NumPy code and PyTorch, on this machine."""

from __future__ import annotations

import argparse

from losskit.cli._common import Subparsers, console


def register(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "bench",
        help="softmax cross entropy: losskit vs NumPy the book's way vs PyTorch",
        description="Times softmax cross entropy (value, and value with gradient) for shapes "
        "(100, 10), (4096, 1000), (4096, 32000) and (8192, 50257) in float32, each variant in "
        "a fresh process: losskit, NumPy written as the book writes it, and "
        "torch.nn.functional.cross_entropy with 1 and 2 threads when torch is installed. "
        "Prints medians, min-max, ratios, the memory-read floor and peak extra memory, then "
        "the start-up cost of a first call in a new process. The full run needs about 8 GB "
        "of memory and a few minutes.",
    )
    parser.add_argument("--quick", action="store_true", help="the two small shapes only")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="timing budget per measurement (default 2)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from losskit.benchmark import SHAPES, first_call, first_call_line, table
    from losskit.benchmark import run as run_bench

    out = console()
    rows, bandwidth = run_bench(
        SHAPES[:2] if args.quick else SHAPES,
        seconds=0.5 if args.quick else args.seconds,
        report=lambda line: out.print(line, markup=False),
    )
    out.print()
    out.print(table(rows, bandwidth), markup=False, soft_wrap=True)
    out.print()
    out.print(first_call_line(first_call()), markup=False, soft_wrap=True)
    return 0
