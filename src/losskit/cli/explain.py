"""`losskit explain TOPIC`: one experiment of the tour, with its numbers and figure."""

from __future__ import annotations

import argparse

from losskit.cli._common import Subparsers, add_lang, add_out, output_folder, print_plain

TOPICS = ["accuracy-vs-loss", "step-vs-sigmoid", "delta", "mse-vs-cross-entropy", "minibatch"]


def register(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "explain",
        help="one experiment of the tour, with its numbers and figure",
        description="accuracy-vs-loss: accuracy is a staircase, the loss is smooth. "
        "step-vs-sigmoid: the activations and their derivatives. delta: what δ = 1e-7 does. "
        "mse-vs-cross-entropy: which loss learns faster, and why. minibatch: how well a "
        "random batch estimates the loss over all data.",
    )
    parser.add_argument("topic", choices=TOPICS)
    add_out(parser, "losskit-explain", "folder for the figure")
    add_lang(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from losskit.chapter.tour import run_explain

    run_explain(args.topic, output_folder(args.out), lang=args.lang, emit=print_plain)
    return 0
