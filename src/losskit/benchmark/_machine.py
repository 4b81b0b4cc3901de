"""What the bench ran on: the CPU's model and vector ISA, its core count, the libraries."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from typing import Any


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def isa_level() -> str:
    """The widest vector ISA the compiler may use here, as LLVM sees the host, and the CPU
    name LLVM tunes for (which decides, e.g., whether AVX-512 code uses 512-bit registers)."""
    from llvmlite import binding as llvm  # type: ignore[import-untyped]

    features = llvm.get_host_cpu_features()
    name = llvm.get_host_cpu_name()
    if features.get("avx512f"):
        level = "AVX-512"
    elif features.get("avx2"):
        level = "AVX2" + (" + FMA" if features.get("fma") else "")
    elif features.get("neon") or platform.machine() in ("arm64", "aarch64"):
        level = "NEON"
    else:
        level = "SSE2"
    return f"{level} (LLVM cpu {name})"


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def describe() -> dict[str, Any]:
    libraries = {n: _version(n) for n in ("losskit", "numpy", "numba", "torch", "jax", "optax")}
    return {
        "cpu": cpu_model(),
        "isa": isa_level(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "libraries": {k: v for k, v in libraries.items() if v is not None},
    }


def describe_line(machine: dict[str, Any]) -> str:
    libs = ", ".join(f"{k} {v}" for k, v in machine["libraries"].items())
    cpu = f"{machine['cpu']}, {machine['cores']} cores, {machine['isa']}"
    return f"{cpu}; Python {machine['python']}, {libs}"
