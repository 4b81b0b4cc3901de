"""The kernels' hot loops compile to packed vector code at the host's full width.

Speed that rests on the compiler's vectoriser can vanish without any test noticing (an
int32 expression that numba widens to int64, a float accumulator of the wrong width, a
guard on a negative index): the numbers stay right and only get 2-8x slower. So this
reads the assembly numba generates for this machine and asks, for each hot loop, for
its packed instruction on the registers the compiler uses for the simplest loop here.

numba cannot show the assembly of cached code, so the functions are compiled afresh
here (same source, same options, no cache). Skipped off x86-64 or without AVX2.
"""

from __future__ import annotations

import platform
import re
from typing import Any

import numpy as np
import pytest

numba = pytest.importorskip("numba")
from llvmlite import binding as llvm  # noqa: E402

from losskit.kernels import _numba as kernels  # noqa: E402

if platform.machine().lower() not in ("x86_64", "amd64"):
    pytest.skip("the packed-instruction check reads x86-64 assembly", allow_module_level=True)

_CPU = numba.config.CPU_NAME or llvm.get_host_cpu_name()
_FEATURES = llvm.get_host_cpu_features()
if numba.config.CPU_NAME is None and not _FEATURES.get("avx2"):
    pytest.skip(f"host CPU {_CPU} has no AVX2", allow_module_level=True)


def _widest_register(asm: str) -> str:
    for name in ("zmm", "ymm", "xmm"):
        if re.search(rf"%{name}\d", asm):
            return name
    return "none"


def fresh_asm(function: Any, *args: Any) -> str:
    """Assembly of `function` compiled now for these arguments' types (no cache)."""
    options = {k: v for k, v in function.targetoptions.items() if k not in ("cache", "nopython")}
    copy = numba.njit(**options)(function.py_func)
    copy(*args)
    return "\n".join(copy.inspect_asm().values())


ROW = 4096


def _plain_sum(x: Any) -> float:
    acc = x[0] * 0
    for k in range(x.shape[0]):
        acc += x[k]
    return acc


# The width this target's compiler gives the simplest reducible loop: 512-bit on AMD's
# AVX-512 cores, 256-bit on AVX2 ones and on Intel's AVX-512 cores (LLVM's
# "prefer-256-bit" tuning: their clocks drop on 512-bit code). It follows NUMBA_CPU_NAME
# (with NUMBA_CPU_FEATURES="" for that CPU's own features), so one machine can check the
# code another would get: NUMBA_CPU_NAME=znver2 NUMBA_CPU_FEATURES="" pytest this file.
REGISTERS = _widest_register(
    fresh_asm(numba.njit(fastmath={"reassoc"})(_plain_sum), np.ones(ROW, np.float32))
)
if REGISTERS not in ("ymm", "zmm"):
    pytest.skip(f"{_CPU}: no loop is vectorised at 256 bits or more", allow_module_level=True)


def packed(asm: str, mnemonic: str) -> int:
    """How many `mnemonic` instructions (a regex) work on REGISTERS."""
    return len(re.findall(rf"^\s*(?:{mnemonic})\s[^\n]*%{REGISTERS}", asm, re.MULTILINE))


DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_the_row_max_compares_packed_integers(dtype: Any) -> None:
    asm = fresh_asm(kernels._max, np.ones(ROW, dtype))
    # int64 keys have a packed max only in AVX-512; AVX2 compares and blends.
    mnemonic = "vpmaxsd" if dtype == np.float32 else "vpmaxsq|vpcmpgtq"
    assert packed(asm, mnemonic) >= 1, f"no packed {mnemonic} on {REGISTERS} ({_CPU})"
    scalar = "vmaxss" if dtype == np.float32 else "vmaxsd"
    assert scalar not in asm, f"a scalar {scalar} in the row max"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("store", [False, True], ids=["value", "with-gradient"])
def test_the_exp_sum_runs_packed(dtype: Any, store: bool) -> None:
    row = np.ones(ROW, dtype)
    asm = fresh_asm(kernels._exp_sum, row, 0.0, np.empty(ROW if store else 0, dtype), row[:0])
    suffix = "ps" if dtype == np.float32 else "pd"
    assert packed(asm, rf"vfmadd\d+{suffix}") >= 7, f"the exp polynomial is not packed ({_CPU})"
    assert packed(asm, rf"vadd{suffix}") >= 1, "the block sum is not packed"
    if dtype == np.float32:  # the point of block sums in float32: no widening per element
        assert packed(asm, "vcvtps2pd") == 0, "exps are widened to float64 one by one"
    if store:
        assert packed(asm, rf"vmovup{suffix[1]}|vmovap{suffix[1]}") >= 1, "the store is not packed"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_the_gradient_scaling_runs_packed(dtype: Any) -> None:
    asm = fresh_asm(kernels._scale, np.ones(ROW, dtype), 0.5)
    assert packed(asm, "vmulp[sd]") >= 1, f"the gradient scaling is not packed ({_CPU})"


def test_the_read_floor_reads_packed() -> None:
    asm = fresh_asm(kernels._read_row, np.ones(ROW, np.float32))
    assert packed(asm, "vaddps") >= 1, "the bench's read floor would measure scalar adds"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_the_whole_kernel_keeps_the_packed_loops(dtype: Any) -> None:
    """What the building blocks compile to must survive being called from the kernel."""
    z = np.ones((4, ROW), dtype)
    labels = np.zeros(4, np.int64)
    out = np.empty(4, dtype)
    asm = fresh_asm(
        kernels.sce_serial, z, labels, z[0, :0], 0, False, 0.0, 1.0, out, np.empty_like(z), True
    )
    suffix = "ps" if dtype == np.float32 else "pd"
    assert packed(asm, "vpmaxsd" if dtype == np.float32 else "vpmaxsq|vpcmpgtq") >= 1
    assert packed(asm, rf"vfmadd\d+{suffix}") >= 7
