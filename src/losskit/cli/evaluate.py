"""`losskit eval PRED TARGET --loss NAME`: score a prediction file of any size."""

from __future__ import annotations

import argparse
import math
from typing import Any

from losskit.cli._common import Subparsers, print_plain

LOSSES = [
    "softmax-cross-entropy",
    "cross-entropy-error",
    "mean-squared-error",
    "binary-cross-entropy",
    "sigmoid-binary-cross-entropy",
]


def register(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "eval",
        help="score a prediction file against targets (.npy, .npz, .csv; any size)",
        description="Computes a loss of predictions in PRED against targets in TARGET: integer "
        "labels, or floating distributions/probabilities of the same shape. Every file is read "
        "chunk by chunk (bigger than memory is fine: .npy, .npz members, .csv alike) and scored "
        "in float64; each chunk gives a (sum, count) pair, so weighted and ignored means stay "
        "exact and the value does not depend on --chunk-rows. For the class losses a row is a "
        "sample of C classes (a 1-D file is refused: save shape (N, C)); for the binary losses "
        "every element is a sample. --scheduler runs the chunks on a Dask cluster, whose "
        "workers must see the files at the same absolute paths. file.npz:KEY picks an array "
        "from an archive. A CSV's first row is a header only when none of its cells is a "
        "number; a UTF-8 byte-order mark and CRLF line ends are fine.",
    )
    parser.add_argument("pred", help="predictions: logits or probabilities, one row per sample")
    parser.add_argument("target", help="targets: labels or distributions, one row per sample")
    parser.add_argument("--loss", required=True, choices=LOSSES, help="the loss to compute")
    parser.add_argument(
        "--reduction", choices=["mean", "sum"], default="mean", help="how the samples combine"
    )
    parser.add_argument("--ignore-index", type=int, help="label value to ignore")
    parser.add_argument("--label-smoothing", type=float, help="ε in [0, 1]")
    parser.add_argument("--weight", help="class weights: 1,2,0.5 or a .npy/.npz/.csv file")
    parser.add_argument(
        "--pos-weight", help="positive-class weights (binary losses): numbers or a file"
    )
    parser.add_argument("--delta", type=float, help="δ of the probability losses (1e-7)")
    parser.add_argument("--chunk-rows", type=int, help="rows per chunk (default: ~16 MB)")
    parser.add_argument(
        "--scheduler", help="address of a dask.distributed scheduler, e.g. tcp://127.0.0.1:8786"
    )
    parser.add_argument(
        "--output",
        metavar="FILE.npy",
        help="also write each sample's loss (reduction none), row by row, to this .npy file; "
        "it appears only when complete",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from losskit.scoring import score

    result = score(
        args.pred,
        args.target,
        loss=args.loss,
        reduction=args.reduction,
        chunk_rows=args.chunk_rows,
        scheduler=args.scheduler,
        weight=_numbers_or_file("--weight", args.weight),
        pos_weight=_numbers_or_file("--pos-weight", args.pos_weight),
        ignore_index=args.ignore_index,
        label_smoothing=args.label_smoothing,
        delta=args.delta,
        output=args.output,
    )
    if args.json:
        # NaN and inf are not JSON (strict parsers and jq refuse them): spelled as strings.
        print(json.dumps({k: _json_number(v) for k, v in result.as_dict().items()}))
        return 0
    chunks = f"{result.chunks} chunk{'s' if result.chunks != 1 else ''}"
    print_plain(
        f"{result.loss} ({result.reduction}) of {args.pred} against {args.target}: "
        f"{result.value:.10g}  [{result.rows} rows, {chunks}]"
    )
    if result.output is not None:
        print_plain(f"each sample's loss: {result.output}")
    return 0


def _numbers_or_file(option: str, text: str | None) -> Any:
    """Comma-separated numbers, or a file's path: the scorer reads the file itself (as an
    untrusted array file) and keeps --output from overwriting it."""
    if text is not None and (text.lower().endswith((".npy", ".npz", ".csv")) or ".npz:" in text):
        return text
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(
            f"{option}: expected comma-separated numbers or a .npy/.npz/.csv file, got {text!r}"
        ) from None


def _json_number(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    return value
