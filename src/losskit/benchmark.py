"""`losskit bench`: softmax cross entropy, losskit against NumPy the book's way and PyTorch.

Every measurement runs in a fresh worker process (thread pools of numba and torch
fight when they share a process), on the same inputs (saved once to a scratch
folder), with one warm-up call. Reported: the median and min/max over repeats,
ratios to losskit, the memory-read floor (bytes of the logits over the read
bandwidth measured on this machine, both cores) and each variant's multiple of
it, and the peak extra memory of a warm call (the rise of the resident high-water
mark over the resident size before it: it shows who allocates N×C temporaries).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from losskit._array import optional_module

SHAPES = ((100, 10), (4096, 1000), (4096, 32000), (8192, 50257))
VARIANTS = ("value", "value+grad")
IMPLEMENTATIONS = ("losskit", "numpy-book", "torch-1", "torch-2")


# ------------------------------------------------------------------ the contenders


def _book_softmax(x: Any) -> Any:
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def _book(variant: str, z: Any, t: Any) -> Callable[[], Any]:
    """SoftmaxWithLoss as the book writes it (softmax, then cross_entropy_error; backward
    (y − t)/N), with labels."""
    n = z.shape[0]
    rows = np.arange(n)

    def value() -> Any:
        y = _book_softmax(z)
        return -np.sum(np.log(y[rows, t] + 1e-7)) / n

    def value_and_grad() -> Any:
        y = _book_softmax(z)
        loss = -np.sum(np.log(y[rows, t] + 1e-7)) / n
        dx = y.copy()
        dx[rows, t] -= 1
        return loss, dx / n

    return value if variant == "value" else value_and_grad


def _losskit(variant: str, z: Any, t: Any) -> Callable[[], Any]:
    from losskit import softmax_cross_entropy

    if variant == "value":
        return lambda: softmax_cross_entropy(z, t)
    return lambda: softmax_cross_entropy.value_and_grad(z, t)


def _torch(variant: str, z: Any, t: Any, threads: int) -> Callable[[], Any]:
    torch = optional_module("torch")

    torch.set_num_threads(threads)
    F = torch.nn.functional
    zt, tt = torch.from_numpy(z), torch.from_numpy(t)
    if variant == "value":
        return lambda: F.cross_entropy(zt, tt)

    def value_and_grad() -> Any:
        leaf = zt.detach().requires_grad_()
        loss = F.cross_entropy(leaf, tt)
        loss.backward()
        return loss, leaf.grad

    return value_and_grad


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


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


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: load inputs, one warm-up call, then timed repeats."""
    data = np.load(spec["inputs"])
    z, t = np.ascontiguousarray(data["z"]), np.ascontiguousarray(data["t"])
    impl, variant = spec["impl"], spec["variant"]
    if impl == "losskit":
        call = _losskit(variant, z, t)
    elif impl == "numpy-book":
        call = _book(variant, z, t)
    else:
        call = _torch(variant, z, t, int(impl.split("-")[1]))
    start = time.perf_counter()
    call()  # first call: compilation or cache load, allocator warm-up
    first = time.perf_counter() - start
    extra = _extra_memory(call)
    start = time.perf_counter()
    call()
    second = time.perf_counter() - start
    # Enough calls per repeat to last ~20 ms, enough repeats to last ~spec["seconds"].
    per_repeat = max(1, int(0.02 / max(second, 1e-7)))
    repeats = int(min(max(spec["seconds"] / max(second * per_repeat, 1e-9), 7), 101))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(per_repeat):
            call()
        times.append((time.perf_counter() - start) / per_repeat)
    return {"times": times, "extra_bytes": extra, "first_call": first}


def measure_bandwidth(seconds: float = 1.0) -> float:
    """Bytes per second read by both cores from a 512 MB array (not in any cache)."""
    from losskit.kernels import _numba

    x = np.ones((1 << 14, 1 << 13), dtype=np.float32)  # 512 MiB
    _numba.read_rows(x[:2])
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 5:
        start = time.perf_counter()
        _numba.read_rows(x)
        times.append(time.perf_counter() - start)
    return x.nbytes / statistics.median(times)


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


# ------------------------------------------------------------------ the driver


@dataclass(frozen=True)
class Row:
    shape: tuple[int, int]
    variant: str
    impl: str
    median: float
    low: float
    high: float
    extra_bytes: int


def _run_worker(spec: dict[str, Any]) -> dict[str, Any] | None:
    env = {**os.environ, "OMP_NUM_THREADS": "1" if spec["impl"] == "torch-1" else "2"}
    code = (
        "import json, sys; from losskit.benchmark import worker; "
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


def torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def run(
    shapes: tuple[tuple[int, int], ...] = SHAPES,
    *,
    seconds: float = 2.0,
    implementations: tuple[str, ...] = IMPLEMENTATIONS,
    report: Callable[[str], None] = print,
) -> tuple[list[Row], float]:
    impls = [i for i in implementations if not i.startswith("torch") or torch_available()]
    if len(impls) < len(implementations):
        report("torch is not installed: comparing with NumPy only")
    bandwidth = measure_bandwidth()
    report(f"memory read bandwidth (both cores): {bandwidth / 1e9:.1f} GB/s")
    rows = []
    with tempfile.TemporaryDirectory(prefix="losskit-bench-") as scratch:
        for n, c in shapes:
            rng = np.random.default_rng(0)
            z = rng.random((n, c), dtype=np.float32)
            z *= 8
            inputs = Path(scratch) / f"{n}x{c}.npz"
            np.savez(inputs, z=z, t=rng.integers(0, c, n))
            del z
            for variant in VARIANTS:
                for impl in impls:
                    result = _run_worker(
                        {
                            "inputs": str(inputs),
                            "impl": impl,
                            "variant": variant,
                            "seconds": seconds,
                        }
                    )
                    if result is None or "error" in result:
                        report(f"  {impl} {variant} {n}x{c}: failed ({result})")
                        continue
                    times = result["times"]
                    rows.append(
                        Row(
                            (n, c),
                            variant,
                            impl,
                            statistics.median(times),
                            min(times),
                            max(times),
                            int(result["extra_bytes"]),
                        )
                    )
                    report(f"  {n}x{c} {variant:<10} {impl:<11} median {_fmt(rows[-1].median)}")
            inputs.unlink()
    return rows, bandwidth


def _fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def table(rows: list[Row], bandwidth: float) -> str:
    """Markdown: one line per (shape, variant, implementation)."""
    lines = [
        "| shape | variant | implementation | median | min – max | × losskit | × read floor "
        "| extra memory |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    by_key = {(r.shape, r.variant, r.impl): r for r in rows}
    for r in rows:
        ours = by_key.get((r.shape, r.variant, "losskit"))
        floor = r.shape[0] * r.shape[1] * 4 / bandwidth
        ratio = f"{r.median / ours.median:.2f}" if ours else "—"
        lines.append(
            f"| {r.shape[0]}×{r.shape[1]} | {r.variant} | {r.impl} | {_fmt(r.median)} | "
            f"{_fmt(r.low)} – {_fmt(r.high)} | {ratio} | {r.median / floor:.1f} | "
            f"{r.extra_bytes / 2**20:.1f} MiB |"
        )
    return "\n".join(lines)


def first_call_line(costs: dict[str, float]) -> str:
    parts = ", ".join(f"{key} {_fmt(value)}" for key, value in costs.items())
    return f"start-up in a new process, warm numba cache (medians of 5): {parts}"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="losskit bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="the two smaller shapes only, shorter timing"
    )
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="approximate timing budget per measurement"
    )
    args = parser.parse_args(argv)
    shapes = SHAPES[:2] if args.quick else SHAPES
    rows, bandwidth = run(shapes, seconds=0.5 if args.quick else args.seconds)
    print()
    print(table(rows, bandwidth))
    print()
    print(first_call_line(first_call()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
