"""Runs the contenders, each measurement in a fresh process, and tabulates the results."""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from losskit.benchmark._contenders import (
    CONTENDERS,
    FLOORS,
    PROBABILITY,
    SOFTMAX,
    Inputs,
    Unavailable,
    make,
)
from losskit.benchmark._machine import describe

SHAPES = ((100, 10), (4096, 1000), (4096, 32000), (8192, 50257))
VARIANTS = ("value", "value+grad")
LOSSES = (SOFTMAX, *PROBABILITY)


@dataclass(frozen=True)
class Row:
    loss: str
    shape: tuple[int, int]
    variant: str
    impl: str
    median: float
    low: float
    high: float
    extra_bytes: int
    first_call: float  # seconds: for torch.compile and jit, mostly compilation


@dataclass(frozen=True)
class Skipped:
    loss: str
    shape: tuple[int, int]
    variant: str
    impl: str
    reason: str


@dataclass
class Result:
    rows: list[Row] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    date: str = ""

    def find(self, loss: str, shape: tuple[int, int], variant: str, impl: str) -> Row | None:
        for r in self.rows:
            if (r.loss, r.shape, r.variant, r.impl) == (loss, shape, variant, impl):
                return r
        return None

    def bandwidth(self, shape: tuple[int, int]) -> float | None:
        """Bytes per second of the read floor on this shape's logits (both cores)."""
        floor = self.find(SOFTMAX, shape, "value", "read floor")
        return shape[0] * shape[1] * 4 / floor.median if floor else None


# ------------------------------------------------------------------ in the worker


def _status_bytes(name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {name} in /proc/self/status")


def _extra_memory(call: Callable[[], Any]) -> int:
    """Peak resident memory a (warm) call adds: the kernel's high-water mark VmHWM is reset
    first (clear_refs 5), then compared with the resident size before the call. Linux only;
    elsewhere 0 (unknown) rather than a wrong number."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _status_bytes("VmRSS")
        call()
        return max(_status_bytes("VmHWM") - before, 0)
    except OSError:
        return 0


def _load(folder: str) -> Inputs:
    return {p.stem: np.load(p) for p in Path(folder).glob("*.npy")}


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: build the call, time its first run (compilation, cache loads,
    allocator warm-up), then timed repeats of ~20 ms each for ~spec["seconds"]."""
    inputs = _load(spec["inputs"])
    start = time.perf_counter()
    try:
        call = make(spec["impl"], spec["loss"], spec["variant"], inputs)
    except Unavailable as why:
        return {"skipped": str(why)}
    call()
    first = time.perf_counter() - start
    extra = _extra_memory(call)
    start = time.perf_counter()
    call()
    second = time.perf_counter() - start
    per_repeat = max(1, int(0.02 / max(second, 1e-7)))
    repeats = int(min(max(spec["seconds"] / max(second * per_repeat, 1e-9), 5), 101))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(per_repeat):
            call()
        times.append((time.perf_counter() - start) / per_repeat)
    return {"times": times, "extra_bytes": extra, "first_call": first}


# ------------------------------------------------------------------ the driver


def _run_worker(spec: dict[str, Any], threads: int) -> dict[str, Any]:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "NUMBA_NUM_THREADS": str(min(threads, os.cpu_count() or 1)),
    }
    code = (
        "import json, sys; from losskit.benchmark._driver import worker; "
        "print(json.dumps(worker(json.loads(sys.argv[1]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _write_inputs(folder: Path, n: int, c: int, losses: tuple[str, ...]) -> None:
    """Logits uniform in [0, 8) (float32) and uniform labels; for the probability losses
    y = softmax(z) rows, and for BCE probabilities p = y·C/2 clipped, with 0/1 targets."""
    rng = np.random.default_rng(0)
    z = rng.random((n, c), dtype=np.float32)
    z *= 8
    np.save(folder / "z.npy", z)
    np.save(folder / "t.npy", rng.integers(0, c, n))
    if any(loss in PROBABILITY for loss in losses):
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        np.save(folder / "y.npy", z)
        np.clip(z * (c / 2), 1e-3, 1 - 1e-3, out=z)
        np.save(folder / "p.npy", z)
        np.save(folder / "b.npy", (rng.random((n, c)) < 0.5).astype(np.float32))


def _plan(
    losses: tuple[str, ...], implementations: tuple[str, ...], order: random.Random
) -> list[tuple[str, str, str]]:
    plan = [
        (loss, impl, variant)
        for loss in losses
        for impl in implementations
        if loss in CONTENDERS[impl][1]
        for variant in VARIANTS
        if not (impl in FLOORS and variant != "value")
        and not (impl == "losskit, new grad" and variant == "value")
    ]
    order.shuffle(plan)  # no contender always runs first (or right after a heavy one)
    return plan


def run(
    shapes: tuple[tuple[int, int], ...] = SHAPES,
    *,
    seconds: float = 2.0,
    implementations: tuple[str, ...] = tuple(CONTENDERS),
    losses: tuple[str, ...] = LOSSES,
    seed: int = 0,
    report: Callable[[str], None] = print,
) -> Result:
    result = Result(machine=describe(), date=time.strftime("%Y-%m-%d"))
    order = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="losskit-bench-") as scratch:
        for n, c in shapes:
            folder = Path(scratch) / f"{n}x{c}"
            folder.mkdir()
            _write_inputs(folder, n, c, losses)
            for loss, impl, variant in _plan(losses, implementations, order):
                spec = {
                    "inputs": str(folder),
                    "impl": impl,
                    "loss": loss,
                    "variant": variant,
                    "seconds": seconds,
                }
                out = _run_worker(spec, CONTENDERS[impl][2])
                _record(result, out, loss, (n, c), variant, impl, report)
            for f in folder.iterdir():
                f.unlink()
    return result


def _record(
    result: Result,
    out: dict[str, Any],
    loss: str,
    shape: tuple[int, int],
    variant: str,
    impl: str,
    report: Callable[[str], None],
) -> None:
    what = f"{loss} {shape[0]}x{shape[1]} {variant} {impl}"
    if "times" not in out:
        reason = out.get("skipped") or f"failed: {out.get('error')}"
        result.skipped.append(Skipped(loss, shape, variant, impl, reason))
        report(f"  {what}: skipped ({reason})")
        return
    times = out["times"]
    row = Row(
        loss,
        shape,
        variant,
        impl,
        statistics.median(times),
        min(times),
        max(times),
        int(out["extra_bytes"]),
        float(out["first_call"]),
    )
    result.rows.append(row)
    report(f"  {what}: median {fmt(row.median)}")


# ------------------------------------------------------------------ reporting


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _ratio(a: Row, b: Row | None) -> str:
    return f"{a.median / b.median:.2f}" if b else "—"


def table(result: Result, loss: str) -> str:
    """Markdown, one line per (shape, variant, implementation), fastest first."""
    lines = [
        "| shape | variant | implementation | median | min – max | × losskit "
        "| × compute floor | × read floor | extra memory | first call |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [r for r in result.rows if r.loss == loss]
    rows.sort(key=lambda r: (r.shape[0] * r.shape[1], VARIANTS.index(r.variant), r.median))
    for r in rows:
        ours = result.find(loss, r.shape, r.variant, "losskit")
        compute = result.find(SOFTMAX, r.shape, "value", "compute floor")
        read = result.find(SOFTMAX, r.shape, "value", "read floor")
        lines.append(
            f"| {r.shape[0]}×{r.shape[1]} | {r.variant} | {r.impl} | {fmt(r.median)} | "
            f"{fmt(r.low)} – {fmt(r.high)} | {_ratio(r, ours)} | "
            f"{_ratio(r, compute) if loss == SOFTMAX else '—'} | {_ratio(r, read)} | "
            f"{r.extra_bytes / 2**20:.1f} MiB | {fmt(r.first_call)} |"
        )
    return "\n".join(lines)


def bandwidth_lines(result: Result) -> list[str]:
    lines = []
    for shape in sorted({r.shape for r in result.rows}, key=lambda s: s[0] * s[1]):
        bw = result.bandwidth(shape)
        if bw is not None:
            lines.append(
                f"read floor {shape[0]}×{shape[1]}: {shape[0] * shape[1] * 4 / 1e6:.1f} MB of "
                f"float32 logits read at {bw / 1e9:.1f} GB/s (a vectorised float32 sum, all cores)"
            )
    return lines


def skipped_lines(result: Result) -> list[str]:
    """One line per reason, with what it skipped (the reasons repeat across shapes)."""
    by_reason: dict[tuple[str, str], set[str]] = {}
    for s in result.skipped:
        by_reason.setdefault((s.impl, s.reason), set()).add(f"{s.shape[0]}×{s.shape[1]}")
    return [
        f"skipped {impl} ({', '.join(sorted(shapes))}): {reason}"
        for (impl, reason), shapes in sorted(by_reason.items())
    ]


def to_json(result: Result, first_call: dict[str, float] | None) -> str:
    doc = {
        "date": result.date,
        "machine": result.machine,
        "rows": [asdict(r) for r in result.rows],
        "skipped": [asdict(s) for s in result.skipped],
        "first_call": first_call,
    }
    return json.dumps(doc, indent=1, allow_nan=False)


_FIRST_CALL_CODE = """
import json, time
start = time.perf_counter()
import numpy as np
import losskit
imported = time.perf_counter()
import numba
from losskit.kernels import dispatch
dispatch.numba_kernels()
numba_loaded = time.perf_counter()
z = np.random.default_rng(0).standard_normal((100, 10)).astype(np.float32)
t = np.arange(100) % 10
losskit.softmax_cross_entropy.value_and_grad(z, t)
first = time.perf_counter()
losskit.softmax_cross_entropy.value_and_grad(z, t)
second = time.perf_counter()
print(json.dumps({"import losskit": imported - start, "import numba": numba_loaded - imported,
                  "first call": first - numba_loaded, "second call": second - first}))
"""


def first_call(runs: int = 5) -> dict[str, float]:
    """Medians over fresh processes of the start-up costs of one 100 × 10 value-and-gradient
    call with numba's cache already warm: importing losskit, importing numba and the kernel
    module (which losskit defers to the first NumPy loss call), then that first call (numba
    sets up its compiler target once per process, then loads the cached kernel), and a
    second call."""
    samples: dict[str, list[float]] = {}
    for _ in range(runs + 1):  # the first run may still fill the cache: not counted
        out = subprocess.run(
            [sys.executable, "-c", _FIRST_CALL_CODE],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        for key, value in json.loads(out.stdout.strip().splitlines()[-1]).items():
            samples.setdefault(key, []).append(value)
    return {key: statistics.median(values[1:]) for key, values in samples.items()}


def first_call_line(costs: dict[str, float]) -> str:
    parts = ", ".join(f"{key} {fmt(value)}" for key, value in costs.items())
    return f"start-up in a new process, warm numba cache (medians of 5): {parts}"
