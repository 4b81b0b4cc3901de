"""`losskit train`: the chapter's experiment, mini-batch SGD on a two-layer network."""

from __future__ import annotations

import argparse
import contextlib
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from losskit._files import probe_writable
from losskit.cli._common import Subparsers, add_out, console


def register(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "train",
        help="mini-batch SGD on a two-layer network (the chapter's experiment)",
        description="Train a two-layer network by mini-batch SGD and record loss and accuracy. "
        "Defaults are the book's hyper-parameters (10,000 iterations, batch 100, lr 0.1). "
        "Ctrl-C stops cleanly with a checkpoint; --resume continues exactly.",
    )
    parser.add_argument(
        "--dataset",
        choices=["sample", "mnist", "fashion-mnist"],
        default="sample",
        help="'sample' is the MNIST subset bundled offline",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder with the four IDX files "
        "(default: the cache filled by `losskit data download`)",
    )
    parser.add_argument(
        "--loss",
        choices=["cross-entropy", "mse"],
        default="cross-entropy",
        help="the loss to minimise",
    )
    parser.add_argument(
        "--activation",
        choices=["sigmoid", "relu"],
        default=None,
        help="hidden activation (default: relu; sigmoid with --book, as the book)",
    )
    parser.add_argument(
        "--book",
        action="store_true",
        help="the book's ch. 4.5 run exactly: sigmoid, weights N(0, 0.01²) in float64, "
        "batches drawn with replacement (with the default 10,000 iterations, batch 100, lr 0.1)",
    )
    parser.add_argument("--hidden", type=int, default=50, help="hidden units")
    parser.add_argument("--iters", type=int, default=10_000, help="SGD steps")
    parser.add_argument("--batch-size", type=int, default=100, help="samples per mini-batch")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the weights and of the batches"
    )
    add_out(parser, "losskit-train", "output folder")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint in --out"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


@contextlib.contextmanager
def _stop_on_signal() -> Iterator[Callable[[], bool]]:
    """SIGINT/SIGTERM ask the loop to stop at the next step (a checkpoint is written);
    a second Ctrl-C stops at once."""
    requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal requested
        if requested:
            raise KeyboardInterrupt
        requested = True

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: requested
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _progress(out: Any, quiet: bool) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        console=out,
        disable=quiet or not out.is_terminal,
    )


def _train_with_progress(args: argparse.Namespace, config: Any, out: Any) -> Any:
    from losskit.chapter.training import train

    with _stop_on_signal() as should_stop, _progress(out, args.quiet) as progress:
        task = progress.add_task("training", total=config.iters, info="")

        def on_iteration(i: int, loss: float) -> None:
            if i % 20 == 0 or i == config.iters:
                progress.update(task, completed=i, info=f"loss {loss:.4f}")

        def on_epoch(record: dict[str, Any]) -> None:
            progress.update(task, completed=record["iteration"])
            progress.console.print(
                f"epoch {record['epoch']:>3}  iteration {record['iteration']:>6}  "
                f"loss {record['loss']:.4f}  train acc {record['train_accuracy']:.4f}  "
                f"test acc {record['test_accuracy']:.4f}"
            )

        return train(
            config,
            args.out,
            resume=args.resume,
            on_iteration=on_iteration,
            on_epoch=on_epoch,
            should_stop=should_stop,
        )


def run(args: argparse.Namespace) -> int:
    from losskit.chapter.plots import training_curves
    from losskit.chapter.training import CURVES, TrainConfig

    # A file in the folder's place, a read-only folder or a full disk fails now, naming
    # the folder, before anything is printed or loaded (train() checks it too).
    probe_writable(args.out)
    out = console()
    config = TrainConfig(
        dataset=args.dataset,
        data_dir=str(args.data_dir) if args.data_dir else None,
        loss=args.loss,
        activation=args.activation or ("sigmoid" if args.book else "relu"),
        hidden=args.hidden,
        iters=args.iters,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        book=args.book,
    )
    config.check()  # before anything is printed: --book with --activation relu, a bad --lr
    out.print(
        f"[bold]losskit train[/]: {config.dataset}, {config.activation} 784-{config.hidden}-10, "
        f"{config.loss} loss, {config.iters} iterations of batch {config.batch_size}, "
        f"lr {config.lr}, seed {config.seed} → {args.out}"
    )
    # A diverged run (NonFiniteLossError) ends at the command line's error boundary, like
    # every other expected failure: one line on stderr, exit 2 (its options were bad).
    result = _train_with_progress(args, config, out)
    if result.status == "interrupted":
        out.print(
            f"interrupted at iteration {result.iteration}; checkpoint saved. "
            f"Continue with: losskit train --resume --out {args.out} (same options)"
        )
        return 130
    curves = training_curves(
        result.history,
        result.losses,
        Path(args.out) / CURVES,
        title=f"{config.dataset}: {config.activation}, {config.loss}"
        + (", the book's run (--book)" if config.book else ""),
        # The book's number belongs to the book's run on full MNIST only.
        reference_accuracy=0.9465 if config.book and config.dataset == "mnist" else None,
    )
    last = result.history[-1]
    out.print(
        f"[bold]done[/]: iteration {last['iteration']}, train accuracy "
        f"{last['train_accuracy']:.4f}, test accuracy {last['test_accuracy']:.4f}\n"
        f"wrote {Path(args.out) / 'history.json'}, {Path(args.out) / 'history.csv'}, "
        f"{curves}, {Path(args.out) / 'checkpoint.npz'}"
    )
    return 0
