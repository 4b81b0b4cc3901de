"""The `losskit` command line. Each command is a thin layer over the public API.

Heavy imports (NumPy, matplotlib, rich) happen inside the commands, so
``losskit --version`` and ``--help`` answer at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]

VERSION = "0.1.0"  # kept equal to losskit.__version__ by a test; importing it would load NumPy


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


# ------------------------------------------------------------------ train


def _cmd_train(args: argparse.Namespace) -> int:
    import signal

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from losskit.plots import training_curves
    from losskit.training import NonFiniteLossError, TrainConfig, train

    console = _console()
    config = TrainConfig(
        dataset=args.dataset,
        data_dir=str(args.data_dir) if args.data_dir else None,
        loss=args.loss,
        activation=args.activation,
        hidden=args.hidden,
        iters=args.iters,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
    )
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        if stop_requested:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        stop_requested = True

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    console.print(
        f"[bold]losskit train[/]: {config.dataset}, {config.activation} 784-{config.hidden}-10, "
        f"{config.loss} loss, {config.iters} iterations of batch {config.batch_size}, "
        f"lr {config.lr}, seed {config.seed} → {args.out}"
    )
    try:
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            console=console,
            disable=args.quiet or not console.is_terminal,
        ) as progress:
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

            result = train(
                config,
                args.out,
                resume=args.resume,
                on_iteration=on_iteration,
                on_epoch=on_epoch,
                should_stop=lambda: stop_requested,
            )
    except NonFiniteLossError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 3
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if result.status == "interrupted":
        console.print(
            f"interrupted at iteration {result.iteration}; checkpoint saved. "
            f"Continue with: losskit train --resume --out {args.out} (same options)"
        )
        return 130
    curves = training_curves(
        result.history,
        result.losses,
        Path(args.out) / "curves.png",
        title=f"{config.dataset}: {config.activation}, {config.loss}",
        reference_accuracy=0.9465 if config.dataset == "mnist" else None,
    )
    last = result.history[-1]
    console.print(
        f"[bold]done[/]: iteration {last['iteration']}, train accuracy "
        f"{last['train_accuracy']:.4f}, test accuracy {last['test_accuracy']:.4f}\n"
        f"wrote {Path(args.out) / 'history.json'}, {Path(args.out) / 'history.csv'}, "
        f"{curves}, {Path(args.out) / 'checkpoint.npz'}"
    )
    return 0


# ------------------------------------------------------------------ tour and explain


def _cmd_tour(args: argparse.Namespace) -> int:
    from losskit.tour import run_explain, run_tour

    console = _console()

    def emit(text: str) -> None:
        # The paragraphs carry their own line breaks and brackets: no markup, no re-wrapping.
        console.print(text, markup=False, soft_wrap=True)

    if args.command == "tour":
        run_tour(args.out, lang=args.lang, emit=emit)
    else:
        run_explain(args.topic, args.out, lang=args.lang, emit=emit)
    return 0


# ------------------------------------------------------------------ eval


def _weights(text: str | None) -> Any:
    """--weight 1,2,0.5 or --weight FILE.npy."""
    if text is None:
        return None
    if text.endswith(".npy"):
        import numpy as np

        return np.load(text, allow_pickle=False)
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"expected comma-separated numbers or a .npy file, got {text!r}") from None


def _cmd_eval(args: argparse.Namespace) -> int:
    import json

    from losskit.scoring import score

    result = score(
        args.pred,
        args.target,
        loss=args.loss,
        reduction=args.reduction,
        chunk_rows=args.chunk_rows,
        scheduler=args.scheduler,
        weight=_weights(args.weight),
        pos_weight=_weights(args.pos_weight),
        ignore_index=args.ignore_index,
        label_smoothing=args.label_smoothing,
        delta=args.delta,
        output=args.output,
    )
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        _console().print(
            f"{result.loss} ({result.reduction}) of {args.pred} against {args.target}: "
            f"{result.value:.10g}  [{result.rows} rows, {result.chunks} chunk"
            f"{'s' if result.chunks != 1 else ''}]",
            markup=False,
            soft_wrap=True,
        )
        if result.output is not None:
            _console().print(f"each sample's loss: {result.output}", markup=False, soft_wrap=True)
    return 0


# ------------------------------------------------------------------ bench


def _cmd_bench(args: argparse.Namespace) -> int:
    from losskit.bench import SHAPES, first_call, first_call_line, run, table

    console = _console()
    shapes = SHAPES[:2] if args.quick else SHAPES
    rows, bandwidth = run(
        shapes,
        seconds=0.5 if args.quick else args.seconds,
        report=lambda line: console.print(line, markup=False),
    )
    console.print()
    console.print(table(rows, bandwidth), markup=False, soft_wrap=True)
    console.print()
    console.print(first_call_line(first_call()), markup=False, soft_wrap=True)
    return 0


# ------------------------------------------------------------------ data


def _cmd_data(args: argparse.Namespace) -> int:
    from losskit.datasets import DATASETS, cache_dir, download, sample_dir, verify

    console = _console()
    if args.data_command == "path":
        console.print(str(cache_dir()))
        return 0
    if args.data_command == "verify":
        names = [args.name] if args.name else list(DATASETS)
        bad = 0
        for name in names:
            folder = Path(args.data_dir) if args.data_dir else cache_dir() / name
            for file_name, status in verify(name, folder).items():
                colour = "green" if status == "ok" else "red"
                console.print(f"{name:<14} {folder / file_name}: [{colour}]{status}[/]")
                bad += status != "ok"
        console.print(f"bundled sample: {sample_dir()}")
        return 1 if bad else 0
    # download
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    destination = Path(args.data_dir) if args.data_dir else None
    with Progress(
        *Progress.get_default_columns(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as progress:
        tasks: dict[str, Any] = {}

        def report(file_name: str, done: int, total: int | None) -> None:
            if file_name not in tasks:
                tasks[file_name] = progress.add_task(file_name, total=total)
            progress.update(tasks[file_name], completed=done)

        try:
            target = download(
                args.name,
                folder=destination,
                mirrors=args.mirror or None,
                timeout=args.timeout,
                progress=report,
            )
        except ConnectionError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            return 2
    console.print(f"{args.name}: all files verified (SHA-256) in {target}")
    return 0


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="losskit",
        description="The loss functions of Deep Learning from Scratch, ch. 4.2: run the "
        "chapter, train on MNIST, see why networks minimise a loss and not accuracy.",
    )
    parser.add_argument("--version", action="version", version=f"losskit {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    tour = commands.add_parser(
        "tour",
        help="the chapter end to end: numbers, a mini-batch, training, the why",
        description="Runs chapter 4.2 on the bundled MNIST sample, offline, in seconds: the "
        "chapter's numbers, one mini-batch draw, a short training run, and every "
        "explanation of why networks minimise a loss and not accuracy, with figures.",
    )
    tour.add_argument(
        "--out",
        type=Path,
        default=Path("losskit-tour"),
        help="folder for the figures (default ./losskit-tour)",
    )
    tour.add_argument(
        "--lang",
        choices=["en", "zh"],
        default="en",
        help="language of the text: English or Chinese (中文)",
    )
    tour.set_defaults(run=_cmd_tour)

    explain = commands.add_parser(
        "explain",
        help="one experiment of the tour, with its numbers and figure",
        description="accuracy-vs-loss: accuracy is a staircase, the loss is smooth. "
        "step-vs-sigmoid: the activations and their derivatives. delta: what δ = 1e-7 does. "
        "mse-vs-cross-entropy: which loss learns faster, and why. minibatch: how well a "
        "random batch estimates the loss over all data.",
    )
    explain.add_argument(
        "topic",
        choices=[
            "accuracy-vs-loss",
            "step-vs-sigmoid",
            "delta",
            "mse-vs-cross-entropy",
            "minibatch",
        ],
    )
    explain.add_argument(
        "--out",
        type=Path,
        default=Path("losskit-explain"),
        help="folder for the figure (default ./losskit-explain)",
    )
    explain.add_argument("--lang", choices=["en", "zh"], default="en")
    explain.set_defaults(run=_cmd_tour)

    train = commands.add_parser(
        "train",
        help="mini-batch SGD on a two-layer network (the chapter's experiment)",
        description="Train a two-layer network by mini-batch SGD and record loss and accuracy. "
        "Defaults are the book's hyper-parameters (10,000 iterations, batch 100, lr 0.1). "
        "Ctrl-C stops cleanly with a checkpoint; --resume continues exactly.",
    )
    train.add_argument(
        "--dataset",
        choices=["sample", "mnist", "fashion-mnist"],
        default="sample",
        help="'sample' is the MNIST subset bundled offline",
    )
    train.add_argument(
        "--data-dir",
        type=Path,
        help="folder with the four IDX files "
        "(default: the cache filled by `losskit data download`)",
    )
    train.add_argument("--loss", choices=["cross-entropy", "mse"], default="cross-entropy")
    train.add_argument(
        "--activation",
        choices=["sigmoid", "relu"],
        default="relu",
        help="hidden activation (the book uses sigmoid; default relu)",
    )
    train.add_argument("--hidden", type=int, default=50, help="hidden units (default 50)")
    train.add_argument("--iters", type=int, default=10_000)
    train.add_argument("--batch-size", type=int, default=100)
    train.add_argument("--lr", type=float, default=0.1, help="learning rate")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--out",
        type=Path,
        default=Path("losskit-train"),
        help="output folder (default ./losskit-train)",
    )
    train.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint in --out"
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=_cmd_train)

    evaluate = commands.add_parser(
        "eval",
        help="score a prediction file against targets (.npy, .npz, .csv; any size)",
        description="Computes a loss of predictions in PRED against targets in TARGET: integer "
        "labels, or floating distributions/probabilities of the same shape. .npy files are read "
        "chunk by chunk (bigger than memory is fine); each chunk gives a (sum, count) pair, so "
        "weighted and ignored means stay exact. --scheduler runs the chunks on a Dask cluster. "
        "file.npz:KEY picks an array from an archive.",
    )
    evaluate.add_argument("pred", help="predictions: logits or probabilities, one row per sample")
    evaluate.add_argument("target", help="targets: labels or distributions, one row per sample")
    evaluate.add_argument(
        "--loss",
        required=True,
        choices=[
            "softmax-cross-entropy",
            "cross-entropy-error",
            "mean-squared-error",
            "binary-cross-entropy",
            "sigmoid-binary-cross-entropy",
        ],
    )
    evaluate.add_argument("--reduction", choices=["mean", "sum"], default="mean")
    evaluate.add_argument("--ignore-index", type=int, help="label value to ignore")
    evaluate.add_argument("--label-smoothing", type=float, help="ε in [0, 1]")
    evaluate.add_argument("--weight", help="class weights: 1,2,0.5 or a .npy file")
    evaluate.add_argument("--pos-weight", help="positive-class weights (binary losses)")
    evaluate.add_argument("--delta", type=float, help="δ of the probability losses (1e-7)")
    evaluate.add_argument("--chunk-rows", type=int, help="rows per chunk (default: ~16 MB)")
    evaluate.add_argument(
        "--scheduler", help="address of a dask.distributed scheduler, e.g. tcp://127.0.0.1:8786"
    )
    evaluate.add_argument(
        "--output",
        metavar="FILE.npy",
        help="also write each sample's loss (reduction none), row by row, to this .npy file; "
        "it appears only when complete",
    )
    evaluate.add_argument("--json", action="store_true", help="print the result as JSON")
    evaluate.set_defaults(run=_cmd_eval)

    bench = commands.add_parser(
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
    bench.add_argument("--quick", action="store_true", help="the two small shapes only")
    bench.add_argument(
        "--seconds", type=float, default=2.0, help="timing budget per measurement (default 2)"
    )
    bench.set_defaults(run=_cmd_bench)

    data = commands.add_parser(
        "data",
        help="download, verify and locate data sets",
        description="MNIST and Fashion-MNIST are only downloaded "
        "when you ask; the cache folder is $LOSSKIT_DATA or the user "
        "cache folder.",
    )
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    download = data_commands.add_parser("download", help="download and verify a data set")
    download.add_argument("name", choices=["mnist", "fashion-mnist"])
    download.add_argument("--data-dir", type=Path, help="download here instead of the cache")
    download.add_argument(
        "--mirror",
        action="append",
        help="base URL to fetch from (repeatable; default: public mirrors)",
    )
    download.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    verify = data_commands.add_parser("verify", help="check SHA-256 of downloaded files")
    verify.add_argument("name", nargs="?", choices=["mnist", "fashion-mnist"])
    verify.add_argument("--data-dir", type=Path, help="check this folder instead of the cache")
    data_commands.add_parser("path", help="print the cache folder")
    data.set_defaults(run=_cmd_data)
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
