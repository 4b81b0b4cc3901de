"""`losskit bench`: softmax cross entropy and the probability losses, losskit against the
book's NumPy code and the peers a user would pick instead, on this machine.

Peers, whenever installed: PyTorch eager (1 and 2 threads), `torch.compile` (inductor;
its compile time is the "first call" column, not in the medians), JAX `jit` of the
logsumexp expression and of optax's integer-label cross entropy. Two floors frame the
numbers: the memory-read floor (the logits read once by a vectorised float32 sum on all
cores; its GB/s is printed) and the compute floor (Σ exp over every element with the
kernels' own exp, nothing else). Every measurement runs in a fresh process (thread pools
of numba, torch and XLA fight when they share one), in a shuffled order, on the same
inputs, after one untimed call; reported are medians and min–max over the repeats,
ratios, and the peak extra memory of a warm call (who allocates N×C temporaries).
"""

from __future__ import annotations

from losskit.benchmark._contenders import CONTENDERS, FLOORS, PROBABILITY, SOFTMAX
from losskit.benchmark._driver import (
    LOSSES,
    SHAPES,
    VARIANTS,
    Result,
    Row,
    bandwidth_lines,
    first_call,
    first_call_line,
    fmt,
    run,
    skipped_lines,
    table,
    to_json,
)
from losskit.benchmark._machine import describe_line

__all__ = [
    "CONTENDERS",
    "FLOORS",
    "LOSSES",
    "PROBABILITY",
    "SHAPES",
    "SOFTMAX",
    "VARIANTS",
    "Result",
    "Row",
    "first_call",
    "fmt",
    "render",
    "run",
    "to_json",
]


def render(result: Result, costs: dict[str, float] | None) -> str:
    """The whole report: machine and date, one table per loss, floors, skips, start-up."""
    parts = [f"measured {result.date} on {describe_line(result.machine)}"]
    for loss in LOSSES:
        if any(r.loss == loss for r in result.rows):
            parts += [
                f"\n{loss}, float32 (medians; ratios > 1: slower than losskit)\n",
                table(result, loss),
            ]
    parts.append("")
    parts += bandwidth_lines(result) + skipped_lines(result)
    if costs is not None:
        parts.append(first_call_line(costs))
    return "\n".join(parts)
