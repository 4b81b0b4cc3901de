"""`losskit bench`: the kernels against the book's NumPy code and the peers, on this machine."""

from __future__ import annotations

import argparse
import re
import sys

from losskit.cli._common import Subparsers, console

_QUICK_SHAPES = ((100, 10), (4096, 1000))


def _shape(text: str) -> tuple[int, int]:
    found = re.fullmatch(r"\s*([1-9][0-9]*)\s*[x×]\s*([1-9][0-9]*)\s*", text)
    if not found:
        raise argparse.ArgumentTypeError(f"expected N x C such as 4096x32000, got {text!r}")
    return int(found[1]), int(found[2])


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds in (0, 3600], got {text!r}")
    return value


def register(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "bench",
        help="time the losses: losskit vs the book's NumPy, PyTorch (eager, compiled), JAX",
        description="Times softmax cross entropy (value, and value with gradient into a "
        "reused buffer) in float32 for shapes 100×10, 4096×1000, 4096×32000 and 8192×50257, "
        "each measurement in a fresh process in shuffled order: losskit, NumPy as the book "
        "writes it, and whichever of torch eager (1 and 2 threads), torch.compile, JAX jit "
        "and optax are installed, framed by the memory-read floor and the compute floor "
        "(Σ exp alone). Then cross_entropy_error, mean_squared_error and "
        "binary_cross_entropy against the book's code and torch. Prints the CPU, medians, "
        "min-max, ratios, peak extra memory and first-call (compile) times, then the "
        "start-up cost of a first call in a new process. The full run needs about 10 GB "
        "of memory and about 17 minutes on 2 cores.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="the two small shapes only, 0.5 s per measurement"
    )
    parser.add_argument(
        "--shape",
        type=_shape,
        action="append",
        metavar="NxC",
        help="a shape to time instead of the defaults (repeatable), e.g. --shape 4096x32000",
    )
    parser.add_argument(
        "--losses",
        choices=("all", "softmax", "probability"),
        default="all",
        help="softmax cross entropy, the probability losses, or both (default: all)",
    )
    parser.add_argument(
        "--seconds",
        type=_seconds,
        default=None,
        help="timing budget per measurement, in seconds (default: 2; 0.5 with --quick)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the shuffled order (default: 0)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the results as one JSON document on stdout (progress goes to stderr)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from losskit import benchmark

    shapes = tuple(args.shape) if args.shape else _QUICK_SHAPES if args.quick else benchmark.SHAPES
    seconds = args.seconds or (0.5 if args.quick else 2.0)
    losses = {
        "all": benchmark.LOSSES,
        "softmax": (benchmark.SOFTMAX,),
        "probability": benchmark.PROBABILITY,
    }[args.losses]
    out = console(stderr=args.json)
    result = benchmark.run(
        shapes,
        seconds=seconds,
        losses=losses,
        seed=args.seed,
        report=lambda line: out.print(line, markup=False, highlight=False),
    )
    costs = benchmark.first_call()
    if args.json:
        sys.stdout.write(benchmark.to_json(result, costs) + "\n")
        return 0
    out.print()
    out.print(benchmark.render(result, costs), markup=False, soft_wrap=True, highlight=False)
    return 0
