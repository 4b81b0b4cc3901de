"""`losskit tour`: the chapter end to end, on the bundled sample, offline."""

from __future__ import annotations

import argparse

from losskit.cli._common import Subparsers, add_lang, add_out, output_folder, print_plain


def register(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "tour",
        help="the chapter end to end: numbers, a mini-batch, training, the why",
        description="Runs chapter 4.2 on the bundled MNIST sample, offline, in seconds: the "
        "chapter's numbers, one mini-batch draw, a short training run, and every "
        "explanation of why networks minimise a loss and not accuracy, with figures.",
    )
    add_out(parser, "losskit-tour", "folder for the figures")
    add_lang(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from losskit.chapter.tour import run_tour

    run_tour(output_folder(args.out), lang=args.lang, emit=print_plain)
    return 0
