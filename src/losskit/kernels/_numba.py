"""The numba kernels themselves. Imported on first use by `losskit.kernels.dispatch`.

Why these shapes of code (measured on 2-core x86-64 machines, float32):
- numba's `math.exp` is a scalar libm call (no SVML here) and costs more than the
  memory read; `_exp` below is a polynomial exp that LLVM vectorises, accurate to
  float32 (resp. float64) rounding.
- Rows are handled one at a time, each row read from memory once and then
  re-read from cache (a row of 50,257 float32 is 200 kB): max, then Σ exp. The max
  waits on memory and the exps on arithmetic, so while a row's exps run, the next
  row is prefetched: the two overlap and a row costs about what its exps cost.
- Every hot loop runs at the machine's full vector width (see "vector building
  blocks" below for what that takes; tests/test_kernel_asm.py reads the assembly).
- Rows holding NaN or +inf, or only -inf, take a careful scalar path with exactly
  the generic path's semantics; the others take the vectorised one (-inf among
  finite logits needs no care: exp gives 0 there too). The big-row kernel finds
  such rows from the max (+inf, positive NaN) and the exp sum (any NaN) rather than
  with a check in the max loop, which made that loop 3x slower.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic, overload

Arr = Any

# reassoc lets LLVM split reductions into vector lanes; no nnan/ninf: NaN must survive.
_FAST = {"reassoc", "contract", "arcp", "nsz", "afn"}
_OPTS: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": _FAST}


@intrinsic
def _bits_to_float32(typingctx: Any, bits: Any) -> Any:
    sig = types.float32(types.int32)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return sig, codegen


@intrinsic
def _bits_to_float64(typingctx: Any, bits: Any) -> Any:
    sig = types.float64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


def _exp(x: float) -> float:  # pragma: no cover - replaced by the overload inside kernels
    return math.exp(x)


F32 = np.float32
_LOG2E_32, _LN2_HI_32, _LN2_LO_32 = F32(1.4426950408889634), F32(0.693359375), F32(-2.12194440e-4)
_LOW_32 = F32(-87.0)  # below this, exp underflows float32's normal range: return 0
_C32 = tuple(F32(1.0 / math.factorial(k)) for k in range(8))
_LN2_HI_64, _LN2_LO_64 = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_LOW_64 = -708.0
_C64 = tuple(1.0 / math.factorial(k) for k in range(14))


@overload(_exp, fastmath=_FAST)
def _exp_overload(x: Any) -> Any:
    """exp(x) = 2^n · e^r with |r| ≤ ln2/2, e^r by its Taylor polynomial (degree 7 for
    float32, 13 for float64: truncation below half an ulp), 2^n built from its bits.
    For x ≤ 0 (shifted logits): exp(-inf) = 0 and exp(NaN) = NaN as IEEE says; positive x
    beyond the float's range is not handled."""
    if x == types.float32:

        def exp32(x: Any) -> Any:
            xc = x if x > _LOW_32 else _LOW_32
            n = np.floor(xc * _LOG2E_32 + F32(0.5))
            r = (xc - n * _LN2_HI_32) - n * _LN2_LO_32
            p = _C32[7] * r + _C32[6]
            p = p * r + _C32[5]
            p = p * r + _C32[4]
            p = p * r + _C32[3]
            p = p * r + _C32[2]
            p = p * r + _C32[1]
            p = p * r + _C32[0]
            scale = _bits_to_float32((np.int32(n) + np.int32(127)) << np.int32(23))
            # exp(NaN) stays NaN: callers detect non-finite rows by it.
            return p * scale if x > _LOW_32 else (F32(0.0) if x <= _LOW_32 else x)

        return exp32
    if x == types.float64:

        def exp64(x: Any) -> Any:
            xc = x if x > _LOW_64 else _LOW_64
            n = np.floor(xc * 1.4426950408889634 + 0.5)
            r = (xc - n * _LN2_HI_64) - n * _LN2_LO_64
            p = _C64[13] * r + _C64[12]
            p = p * r + _C64[11]
            p = p * r + _C64[10]
            p = p * r + _C64[9]
            p = p * r + _C64[8]
            p = p * r + _C64[7]
            p = p * r + _C64[6]
            p = p * r + _C64[5]
            p = p * r + _C64[4]
            p = p * r + _C64[3]
            p = p * r + _C64[2]
            p = p * r + _C64[1]
            p = p * r + _C64[0]
            scale = _bits_to_float64((np.int64(n) + np.int64(1023)) << np.int64(52))
            return p * scale if x > _LOW_64 else (0.0 if x <= _LOW_64 else x)

        return exp64
    return None


@numba.njit(**_OPTS)
def exp_array(x: Arr, out: Arr) -> None:
    """The polynomial exp over an array (for tests of its accuracy)."""
    for i in range(x.shape[0]):
        out[i] = _exp(x[i])


@intrinsic
def _float_to_bits(typingctx: Any, x: Any) -> Any:
    bits = {types.float32: types.int32, types.float64: types.int64}.get(x)
    if bits is None:
        return None
    sig = bits(x)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(bits))

    return sig, codegen


def _log(x: float) -> float:  # pragma: no cover - replaced by the overload inside kernels
    return math.log(x)


_SQRT2_32 = F32(1.4142135)
_TINY_32, _TINY_64 = F32(np.finfo(np.float32).tiny), float(np.finfo(np.float64).tiny)


@overload(_log)  # no fast math: see _BCE below
def _log_overload(x: Any) -> Any:
    """log(x) = e·ln 2 + log m with x = m·2^e, m in [√½, √2), and log m = 2 atanh(s) for
    s = (m − 1)/(m + 1), |s| ≤ 0.172, by its odd series (to s^9 for float32, s^21 for
    float64: truncation below half an ulp); ln 2 in two parts so that e·ln 2 is exact.
    Subnormal x is scaled into the normal range first. Within 2.5 ulp (float32) and 3.5
    ulp (float64) of the exact log (tests/test_fast_paths.py measures it);
    log 0 = -inf, log(+inf) = +inf, NaN for NaN and x < 0. libm's log is a scalar call
    that LLVM cannot vectorise: this one vectorises, as `_exp` does."""
    if x == types.float32:

        def log32(x: Any) -> Any:
            small = x < _TINY_32
            bits = _float_to_bits(x * F32(16777216.0) if small else x)
            e = F32(((bits >> np.int32(23)) & np.int32(0xFF)) - np.int32(127))
            e -= F32(24.0) if small else F32(0.0)
            m = _bits_to_float32((bits & np.int32(0x7FFFFF)) | np.int32(0x3F800000))
            big = m > _SQRT2_32
            m = m * F32(0.5) if big else m
            e = e + F32(1.0) if big else e
            s = (m - F32(1.0)) / (m + F32(1.0))
            s2 = s * s
            p = F32(2.0 / 9) * s2 + F32(2.0 / 7)
            p = p * s2 + F32(2.0 / 5)
            p = p * s2 + F32(2.0 / 3)
            r = e * _LN2_HI_32 + ((F32(2.0) * s + s * s2 * p) + e * _LN2_LO_32)
            special = F32(-np.inf) if x == F32(0.0) else x  # +inf and NaN stay themselves
            special = special if x >= F32(0.0) else F32(np.nan)
            return r if (x > F32(0.0)) & (x < F32(np.inf)) else special

        return log32
    if x == types.float64:

        def log64(x: Any) -> Any:
            small = x < _TINY_64
            bits = _float_to_bits(x * 18014398509481984.0 if small else x)
            e = float(((bits >> np.int64(52)) & np.int64(0x7FF)) - np.int64(1023))
            e -= 54.0 if small else 0.0
            m = _bits_to_float64((bits & np.int64(0xFFFFFFFFFFFFF)) | np.int64(0x3FF0000000000000))
            big = m > 1.4142135623730951
            m = m * 0.5 if big else m
            e = e + 1.0 if big else e
            s = (m - 1.0) / (m + 1.0)
            s2 = s * s
            p = 2.0 / 21 * s2 + 2.0 / 19
            p = p * s2 + 2.0 / 17
            p = p * s2 + 2.0 / 15
            p = p * s2 + 2.0 / 13
            p = p * s2 + 2.0 / 11
            p = p * s2 + 2.0 / 9
            p = p * s2 + 2.0 / 7
            p = p * s2 + 2.0 / 5
            p = p * s2 + 2.0 / 3
            r = e * _LN2_HI_64 + ((2.0 * s + s * s2 * p) + e * _LN2_LO_64)
            special = -np.inf if x == 0.0 else x
            special = special if x >= 0.0 else np.nan
            return r if (x > 0.0) & (x < np.inf) else special

        return log64
    return None


@numba.njit(**_OPTS)
def log_array(x: Arr, out: Arr) -> None:
    """The polynomial log over an array (for tests of its accuracy)."""
    for i in range(x.shape[0]):
        out[i] = _log(x[i])


# ------------------------------------------------------------------ one row


# ------------------------------------------------------------------ vector building blocks
# What makes LLVM emit packed (full-width) code for a row, checked by
# tests/test_kernel_asm.py on the machine that runs it:
# - A float max is a serial chain that LLVM will not split into lanes without assuming no
#   NaN. An integer max it splits freely, so the max is taken over an order-preserving
#   integer key of each float's bits (NaN is dealt with after, see _row_max).
# - numba widens int32 arithmetic to int64 (half the lanes): the key is built by an
#   intrinsic in the float's own integer width.
# - An exp summed into a float64 accumulator converts each float32 to float64 first: half
#   the lanes again (on AVX2 a quarter). The exps of a block of _BLOCK elements are summed
#   in the row's dtype (relative error ~ _BLOCK/lanes ulp at worst, 1e-7 in practice) and
#   the blocks in float64.
# - Loops run from 0 over a 1-D view: then numba's negative-index wraparound checks fold
#   away and the loads are contiguous.

_BLOCK = 512  # 2-4 kB: the block's exps are summed from L1


@intrinsic
def _order_key(typingctx: Any, bits: Any) -> Any:
    """The float whose bits these are, as an integer of the same width that orders like
    the float: non-negative floats keep their bits, negative ones get the magnitude bits
    flipped (v ^ ((v >> (w-1)) & (2^(w-1) - 1))). Its own inverse. Positive NaN orders
    above +inf; negative NaN below -inf."""
    sig = bits(bits)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        v = args[0]
        width = v.type.width
        sign = builder.ashr(v, ir.Constant(v.type, width - 1))
        return builder.xor(v, builder.and_(sign, ir.Constant(v.type, (1 << (width - 1)) - 1)))

    return sig, codegen


@intrinsic
def _int_max(typingctx: Any, a: Any, b: Any) -> Any:
    sig = a(a, a)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.select(builder.icmp_signed(">", args[0], args[1]), args[0], args[1])

    return sig, codegen


@intrinsic
def _prefetch(typingctx: Any, arr: Any, index: Any) -> Any:
    """Ask for arr[index]'s cache line ahead of use (read, keep in all levels)."""
    sig = types.void(arr, index)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        ptr = builder.gep(data, [args[1]])
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [ptr.type], fnty)
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


# In Python (as _exp above) each of these does what its overload compiles to; inside
# kernels numba uses the overload, typed by the row's dtype.
def _as_bits(row: Arr) -> Arr:  # pragma: no cover - replaced by the overload inside kernels
    return row.view(np.int32 if row.dtype.itemsize == 4 else np.int64)


@overload(_as_bits)
def _as_bits_overload(row: Any) -> Any:
    bits_type = {types.float32: np.int32, types.float64: np.int64}.get(row.dtype)
    if bits_type is None:
        return None

    def as_bits(row: Any) -> Any:
        return row.view(bits_type)

    return as_bits


def _from_bits(bits: Any) -> float:  # pragma: no cover - replaced by the overload
    return np.asarray(bits).view(np.float32 if np.asarray(bits).itemsize == 4 else np.float64)[()]


@overload(_from_bits)
def _from_bits_overload(bits: Any) -> Any:
    if bits == types.int32:

        def from_bits32(bits: Any) -> Any:
            return _bits_to_float32(bits)

        return from_bits32
    if bits == types.int64:

        def from_bits64(bits: Any) -> Any:
            return _bits_to_float64(bits)

        return from_bits64
    return None


def _zero(row: Arr) -> float:  # pragma: no cover - replaced by the overload
    return row.dtype.type(0.0)


@overload(_zero)
def _zero_overload(row: Any) -> Any:
    zero = np.float32(0.0) if row.dtype == types.float32 else 0.0

    def typed_zero(row: Any) -> Any:
        return zero

    return typed_zero


@numba.njit(**_OPTS)
def _max(row: Arr) -> float:
    """Max of a 1-D row, or NaN if it holds a positive NaN (negative NaN sorts below
    -inf and is not seen here: the exp sum of the row finds it, see _sce_row)."""
    bits = _as_bits(row)
    m = _order_key(bits[0])
    for k in range(bits.shape[0]):
        m = _int_max(m, _order_key(bits[k]))
    return _from_bits(_order_key(m))


@numba.njit(**_OPTS)
def _exp_sum(row: Arr, m: float, store: Arr, ahead: Arr) -> float:
    """Σ exp(row − m) in float64 from block sums in the row's dtype. With `store` (a row of
    the same length, else empty) each exp is written there too. `ahead` (the next row, or
    empty) is fetched into cache meanwhile: the max of a row waits on memory and its exps
    on arithmetic, and this lets the two overlap."""
    c = row.shape[0]
    mf = row.dtype.type(m)
    with_store = store.shape[0] == c
    step = 64 // row.itemsize
    s = 0.0
    for b in range(0, c, _BLOCK):
        e = min(b + _BLOCK, c)
        for k in range(b, min(e, ahead.shape[0]), step):
            _prefetch(ahead, k)
        block = row[b:e]
        acc = _zero(row)
        if with_store:
            out = store[b:e]
            for k in range(block.shape[0]):
                x = _exp(block[k] - mf)
                out[k] = x
                acc += x
        else:
            for k in range(block.shape[0]):
                acc += _exp(block[k] - mf)
        s += acc
    return s


@numba.njit(**_OPTS)
def _scale(row: Arr, a: float) -> None:
    af = row.dtype.type(a)
    for k in range(row.shape[0]):
        row[k] *= af


@numba.njit(**_OPTS)
def exp_sum_rows(x: Arr, out: Arr) -> None:
    """out[i] = Σ exp(x[i]) with the kernels' own exp, nothing else: the compute floor."""
    empty = x[0, :0]
    for i in range(x.shape[0]):
        out[i] = _exp_sum(x[i], 0.0, empty, x[i + 1] if i + 1 < x.shape[0] else empty)


@numba.njit(parallel=True, **_OPTS)
def exp_sum_rows_parallel(x: Arr, out: Arr) -> None:
    empty = x[0, :0]
    for i in prange(x.shape[0]):
        out[i] = _exp_sum(x[i], 0.0, empty, x[i + 1] if i + 1 < x.shape[0] else empty)


@numba.njit(**_OPTS)
def _read_row(row: Arr) -> float:
    acc = _zero(row)
    for k in range(row.shape[0]):
        acc += row[k]
    return acc


@numba.njit(parallel=True, **_OPTS)
def read_rows(x: Arr) -> float:
    """Reads every element once, on all cores, summing in the array's dtype so that the
    loop runs at full vector width: the memory-read floor."""
    total = 0.0
    for i in prange(x.shape[0]):
        total += _read_row(x[i])
    return total


@numba.njit(**_OPTS)
def read_rows_serial(x: Arr) -> float:
    """read_rows on one core, for arrays too small to be worth waking the others."""
    total = 0.0
    for i in range(x.shape[0]):
        total += _read_row(x[i])
    return total


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _row_slow(
    z: Arr,
    i: int,
    t: int,
    coef_t: float,
    smooth: float,
    w: Arr,
    out_grad: Arr,
    with_grad: bool,
    gs: float,
) -> float:
    """Exactly the generic path's arithmetic (IEEE, libm exp) for a row with NaN or ±inf
    (any row gives the generic path's numbers here; only speed says which rows come)."""
    c = z.shape[1]
    m = -math.inf
    has_nan = False
    for k in range(c):
        if z[i, k] != z[i, k]:
            has_nan = True
        elif z[i, k] > m:
            m = z[i, k]
    if has_nan:  # a NaN logit makes its sample NaN, whatever the target says
        if with_grad:
            for k in range(c):
                out_grad[i, k] = math.nan
        return math.nan
    total = coef_t
    for k in range(c):
        total += smooth * (w[k] if w.shape[0] else 1.0)
    if total == 0:  # no weight on any class: 0, also for a row of -inf (0 · log 0 = 0)
        if with_grad:
            for k in range(c):
                out_grad[i, k] = 0.0
        return 0.0
    if not math.isfinite(m):
        m = 0.0
    s = 0.0
    for k in range(c):
        s += math.exp(z[i, k] - m)
    log_s = math.log(s)
    loss = 0.0
    total = 0.0
    for k in range(c):
        ck = smooth * (w[k] if w.shape[0] else 1.0)
        if k == t:
            ck += coef_t
        total += ck
        if ck != 0:
            loss -= ck * ((z[i, k] - m) - log_s)
    if with_grad:
        for k in range(c):
            ck = smooth * (w[k] if w.shape[0] else 1.0)
            if k == t:
                ck += coef_t
            out_grad[i, k] = gs * (total * math.exp((z[i, k] - m) - log_s) - ck)
    return loss


@numba.njit(**_OPTS)
def _sce_row(
    z: Arr,
    i: int,
    t: int,
    coef_t: float,
    smooth: float,
    w: Arr,
    sum_w: float,
    out_grad: Arr,
    with_grad: bool,
    gs: float,
) -> float:
    """Loss of row i for coefficients c_k = coef_t·[k = t] + smooth·w_k (w_k = 1 if no w):
    -Σ c_k log softmax(z)_k = (Σ c)·log s − Σ c_k (z_k − m); gradient (Σ c)·softmax − c."""
    row = z[i]
    m = _max(row)
    if m != m or m == math.inf:
        return _row_slow(z, i, t, coef_t, smooth, w, out_grad, with_grad, gs)
    c = z.shape[1]
    ahead = z[i + 1] if i + 1 < z.shape[0] else row[:0]
    # (no store: an empty view of out_grad, not of z, which may be read-only)
    store = out_grad[i] if with_grad else out_grad.reshape(-1)[:0]
    s = _exp_sum(row, m, store, ahead)
    # _exp passes NaN through, so s is NaN exactly when the row holds a NaN (a negative
    # NaN escapes _max) or is all -inf (then z - m = -inf - -inf); +inf and positive NaN
    # gave m = inf or NaN above. -inf among finite logits is the
    # fast path's business: exp gives 0, as on the generic path. The arithmetic below would
    # turn a NaN s into NaN results anyway; the exact path makes that a guarantee.
    if s != s:
        return _row_slow(z, i, t, coef_t, smooth, w, out_grad, with_grad, gs)
    log_s = math.log(s)
    total = coef_t + smooth * sum_w
    # Σ c_k (z_k − m), on shifted values as the generic path computes them: z_k − m is
    # exact where it matters, while m + log s − z_t would lose digits for large logits.
    dot = coef_t * (z[i, t] - m) if coef_t != 0 else 0.0
    if smooth != 0:
        acc = 0.0
        if w.shape[0]:
            for k in range(c):
                if w[k] != 0:  # 0 · (-inf) is NaN; a class of weight 0 contributes 0
                    acc += w[k] * (z[i, k] - m)
        else:
            for k in range(c):
                acc += z[i, k] - m
        dot += smooth * acc
    if with_grad:  # gs: the reduction's 1/denominator, applied here instead of in a new pass
        _scale(out_grad[i], total / s * gs)
        if smooth != 0:
            for k in range(c):
                out_grad[i, k] -= gs * smooth * (w[k] if w.shape[0] else 1.0)
        out_grad[i, t] -= gs * coef_t
    if total == 0:
        return 0.0
    return total * log_s - dot


@numba.njit(**_OPTS)
def _sce_coefficients(t: int, eps: float, num_classes: int, w: Arr) -> tuple[float, float]:
    """(coef_t, smooth) of a counted sample (ignored ones never get here); labels valid."""
    wt = w[t] if w.shape[0] else 1.0
    return (1.0 - eps) * wt, eps / num_classes


@numba.njit(**_OPTS)
def first_bad_label(labels: Arr, num_classes: int, ignore_index: int, has_ignore: bool) -> int:
    for i in range(labels.shape[0]):
        t = labels[i]
        if (t < 0 or t >= num_classes) and not (has_ignore and t == ignore_index):
            return i
    return -1


@numba.njit(**_OPTS)
def _sce_sample(
    z: Arr,
    labels: Arr,
    w: Arr,
    sum_w: float,
    ignore_index: int,
    has_ignore: bool,
    eps: float,
    out: Arr,
    grad: Arr,
    with_grad: bool,
    gs: float,
    i: int,
) -> None:
    t = labels[i]
    if has_ignore and t == ignore_index:  # an ignored sample counts for nothing at all
        out[i] = 0.0
        if with_grad:
            for k in range(z.shape[1]):
                grad[i, k] = 0.0
    else:
        coef_t, smooth = _sce_coefficients(t, eps, z.shape[1], w)
        out[i] = _sce_row(z, i, t, coef_t, smooth, w, sum_w, grad, with_grad, gs)


@numba.njit(**_OPTS)
def _sum_or_count(w: Arr, c: int) -> float:
    if not w.shape[0]:
        return float(c)
    total = 0.0
    for k in range(c):
        total += w[k]
    return total


# Two entry points with one body each: small inputs run serially (a parallel region costs
# milliseconds of wake-up tail on busy cores), large ones over all cores.
@numba.njit(**_OPTS)
def sce_serial(
    z: Arr,
    labels: Arr,
    w: Arr,
    ignore_index: int,
    has_ignore: bool,
    eps: float,
    grad_scale: float,
    out: Arr,
    grad: Arr,
    with_grad: bool,
) -> None:
    sum_w = _sum_or_count(w, z.shape[1])
    for i in range(z.shape[0]):
        _sce_sample(
            z, labels, w, sum_w, ignore_index, has_ignore, eps, out, grad, with_grad, grad_scale, i
        )


@numba.njit(parallel=True, **_OPTS)
def sce_parallel(
    z: Arr,
    labels: Arr,
    w: Arr,
    ignore_index: int,
    has_ignore: bool,
    eps: float,
    grad_scale: float,
    out: Arr,
    grad: Arr,
    with_grad: bool,
) -> None:
    sum_w = _sum_or_count(w, z.shape[1])
    for i in prange(z.shape[0]):
        _sce_sample(
            z, labels, w, sum_w, ignore_index, has_ignore, eps, out, grad, with_grad, grad_scale, i
        )


@numba.njit(inline="always", **_OPTS)
def _short_row_max(z: Arr, i: int) -> tuple[float, bool]:
    """Max of a short row and whether it is all finite (v·0 is NaN exactly for NaN, ±inf).
    For the small-batch kernel, where rows are few elements and the check costs little.
    inline="always": as an ordinary call (returning a tuple) it cost 0.4 µs of 2.4 at 100 × 10."""
    m = z[i, 0]
    check = z[i, 0] * 0
    for k in range(z.shape[1]):
        v = z[i, k]
        m = v if v > m else m
        check += v * 0
    return m, check == 0


@numba.njit(**_OPTS)
def _sce_small_flat(
    z: Arr, labels: Arr, grad_scale: float, grad: Arr, with_grad: bool
) -> tuple[float, bool]:
    """sce_small in three sweeps, so that the exp runs over all N·C elements in one long
    vectorised loop: with C = 10, a loop per row spends more on vector prologues and a
    scalar remainder than on the exps (5.9 → 3.7 µs at 100 × 10). `grad` is the output
    gradient, or only scratch space when not with_grad. Returns (Σ loss, False) without
    a result as soon as a row holds NaN or ±inf."""
    n, c = z.shape
    # Σ (log s_i − (z_it − m_i)) summed as Σ log s_i + Σ (m_i − z_it): both are ≥ 0,
    # so splitting the sum cancels nothing.
    total = 0.0
    for i in range(n):
        m, finite = _short_row_max(z, i)
        if not finite:
            return 0.0, False
        for k in range(c):
            grad[i, k] = z[i, k] - m
        total -= grad[i, labels[i]]
    flat = grad.reshape(-1)
    for j in range(flat.shape[0]):
        flat[j] = _exp(flat[j])
    for i in range(n):
        s = 0.0
        for k in range(c):
            s += grad[i, k]
        total += math.log(s)
        if with_grad:
            scale = grad_scale / s
            for k in range(c):
                grad[i, k] *= scale
            grad[i, labels[i]] -= grad_scale
    return total, True


@numba.njit(**_OPTS)
def sce_small(z: Arr, labels: Arr, grad_scale: float, grad: Arr, with_grad: bool) -> float:
    """Plain (validated) labels, reduced: Σ per-sample loss.

    The general row routine specialised by hand to coefficient 1 at the label: at 100 × 10
    its generality costs more than the arithmetic (4 µs instead of 7 here). Few arguments
    on purpose: numba's dispatcher checks every argument's type on each call. Without
    with_grad, `grad` is scratch space of z's shape, or empty: then rows go one by one."""
    n, c = z.shape
    if grad.shape[0] == n:
        total, done = _sce_small_flat(z, labels, grad_scale, grad, with_grad)
        if done:
            return total
    total = 0.0
    for i in range(n):
        m, finite = _short_row_max(z, i)
        t = labels[i]
        if not finite:  # NaN or ±inf in the row: the generic path's exact arithmetic
            total += _row_slow(z, i, t, 1.0, 0.0, z[0, :0], grad, with_grad, grad_scale)
            continue
        s = 0.0
        if with_grad:
            for k in range(c):
                e = _exp(z[i, k] - m)
                grad[i, k] = e
                s += e
            scale = grad_scale / s
            for k in range(c):
                grad[i, k] *= scale
            grad[i, t] -= grad_scale
        else:
            for k in range(c):
                s += _exp(z[i, k] - m)
        total += math.log(s) - (z[i, t] - m)
    return total


# ------------------------------------------------------------------ probability losses
# One pass over y (and t), no N×C temporaries; the gradient, when asked for, is written
# already multiplied by the reduction's scale gs. These are memory-bound: serial.


@numba.njit(**_OPTS)
def _outside_span(flat: Arr, lo: int, hi: int) -> tuple[int, bool]:
    """(first index in [lo, hi) outside [0, 1] or -1, whether a NaN came before it). Block
    by block: a flag per block vectorises, an early exit per element does not."""
    nan = False
    for b in range(lo, hi, _BLOCK):
        block = flat[b : min(b + _BLOCK, hi)]
        bad = False
        for k in range(block.shape[0]):
            v = block[k]
            bad |= (v < 0) | (v > 1)
            nan |= v != v
        if bad:
            for k in range(block.shape[0]):
                if block[k] < 0 or block[k] > 1:
                    return b + k, nan
    return -1, nan


@numba.njit(**_OPTS)
def first_outside_unit_interval(flat: Arr) -> int:
    """Index of the first element outside [0, 1]; else -2 if some element is NaN (NaN
    passes the check, and the loss kernels then know to look for it), else -1."""
    first, nan = _outside_span(flat, 0, flat.shape[0])
    return first if first >= 0 else (-2 if nan else -1)


# Parallel kernels split their work into a fixed number of chunks, so that results never
# depend on how many threads ran them (sums add the chunks' partial sums in order).
_CHUNKS = 64


@numba.njit(parallel=True, **_OPTS)
def first_outside_unit_interval_parallel(flat: Arr) -> int:
    n = flat.shape[0]
    firsts = np.empty(_CHUNKS, np.int64)
    nans = np.zeros(_CHUNKS, np.bool_)
    for c in prange(_CHUNKS):
        firsts[c], nans[c] = _outside_span(flat, n * c // _CHUNKS, n * (c + 1) // _CHUNKS)
    for c in range(_CHUNKS):
        if firsts[c] >= 0:
            return firsts[c]
    return -2 if nans.any() else -1


# Without reassoc: the sums below keep NumPy's own summation order (pairwise, 8-way
# unrolled), so MSE is bit-for-bit what the book's `0.5 * np.sum((y - t)**2)` prints
# (0.6975, not 0.6974999999999999).
_EXACT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}


@numba.njit(**_EXACT)
def _pairwise_block(d2: Arr, lo: int, n: int) -> float:
    """NumPy's pairwise_sum for n ≤ 128: 8 accumulators, then the tail."""
    if n < 8:
        res = 0.0
        for k in range(lo, lo + n):
            res += d2[k]
        return res
    r0, r1, r2, r3 = d2[lo], d2[lo + 1], d2[lo + 2], d2[lo + 3]
    r4, r5, r6, r7 = d2[lo + 4], d2[lo + 5], d2[lo + 6], d2[lo + 7]
    k = 8
    while k < n - n % 8:
        r0 += d2[lo + k]
        r1 += d2[lo + k + 1]
        r2 += d2[lo + k + 2]
        r3 += d2[lo + k + 3]
        r4 += d2[lo + k + 4]
        r5 += d2[lo + k + 5]
        r6 += d2[lo + k + 6]
        r7 += d2[lo + k + 7]
        k += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while k < n:
        res += d2[lo + k]
        k += 1
    return res


@numba.njit(**_EXACT)
def _pairwise_rec(d2: Arr, lo: int, n: int) -> float:
    """NumPy's pairwise summation of d2[lo:lo+n], in its exact order: halves (the first a
    multiple of 8) until blocks of ≤ 128. NumPy recurses; numba's recursion can crash
    its compiler when cached, so the recursion runs on an explicit stack."""
    if n <= 128:
        return _pairwise_block(d2, lo, n)
    los = np.empty(64, np.int64)
    ns = np.empty(64, np.int64)
    states = np.empty(64, np.int64)
    values = np.empty(64)
    sp, vp = 1, 0
    los[0], ns[0], states[0] = lo, n, 0
    while sp > 0:
        top = sp - 1
        start, length = los[top], ns[top]
        if length <= 128:
            values[vp] = _pairwise_block(d2, start, length)
            vp += 1
            sp -= 1
            continue
        half = length // 2
        half -= half % 8
        if states[top] == 0:  # left half first
            states[top] = 1
            los[sp], ns[sp], states[sp] = start, half, 0
            sp += 1
        elif states[top] == 1:  # then the right half
            states[top] = 2
            los[sp], ns[sp], states[sp] = start + half, length - half, 0
            sp += 1
        else:  # both done: left + right, as NumPy adds them
            values[vp - 2] = values[vp - 2] + values[vp - 1]
            vp -= 1
            sp -= 1
    return values[0]


@numba.njit(**_EXACT)
def _mse_rows(
    y: Arr, t: Arr, labels: Arr, gs: float, out: Arr, grad: Arr, with_grad: bool, lo: int, hi: int
) -> None:
    """Rows [lo, hi): target rows t, or (t empty) one-hot rows of `labels`."""
    d2 = np.empty(y.shape[1], y.dtype)  # one row of squares: O(C) scratch, reused
    one_hot = t.shape[0] == 0
    for i in range(lo, hi):
        yi = y[i]
        ti = yi if one_hot else t[i]
        j = labels[i] if one_hot else -1
        gi = grad[i] if with_grad else d2[:0]
        for k in range(yi.shape[0]):
            d = (yi[k] - 1.0 if k == j else yi[k]) if one_hot else yi[k] - ti[k]
            d2[k] = d * d
            if with_grad:
                gi[k] = d * gs
        out[i] = 0.5 * _pairwise_rec(d2, 0, d2.shape[0])


@numba.njit(**_EXACT)
def mse(y: Arr, t: Arr, labels: Arr, gs: float, out: Arr, grad: Arr, with_grad: bool) -> None:
    _mse_rows(y, t, labels, gs, out, grad, with_grad, 0, y.shape[0])


@numba.njit(parallel=True, **_EXACT)
def mse_parallel(
    y: Arr, t: Arr, labels: Arr, gs: float, out: Arr, grad: Arr, with_grad: bool
) -> None:
    n = y.shape[0]
    for c in prange(_CHUNKS):
        _mse_rows(y, t, labels, gs, out, grad, with_grad, n * c // _CHUNKS, n * (c + 1) // _CHUNKS)


@numba.njit(**_OPTS)
def cee_labels(
    y: Arr,
    labels: Arr,
    w: Arr,
    delta: float,
    gs: float,
    out: Arr,
    grad: Arr,
    with_grad: bool,
    may_hold_nan: bool,
) -> None:
    """Reads one element per row, unless y may hold NaN (validation's scan says whether)."""
    for i in range(y.shape[0]):
        j = labels[i]
        wj = w[j] if w.shape[0] else 1.0
        # y · 0 is 0, or NaN for a NaN prediction: NaN propagates from every class, also
        # where the target is 0 (y is in [0, 1] or NaN: validated).
        nan = 0.0
        if may_hold_nan:
            for k in range(y.shape[1]):
                nan += y[i, k] * 0.0
        out[i] = (-wj * math.log(y[i, j] + delta) if wj != 0 else 0.0) + nan
        if with_grad:
            for k in range(y.shape[1]):
                grad[i, k] = y[i, k] * 0.0
            if wj != 0:
                grad[i, j] = -gs * wj / (y[i, j] + delta)


@numba.njit(**_OPTS)
def cee_distribution(
    y: Arr, t: Arr, w: Arr, delta: float, gs: float, out: Arr, grad: Arr, with_grad: bool
) -> None:
    for i in range(y.shape[0]):
        acc = 0.0
        for k in range(y.shape[1]):
            c = t[i, k] * (w[k] if w.shape[0] else 1.0)
            g = 0.0
            # 0 · log 0 = 0: only targeted terms are evaluated, and NaN, so that it propagates
            if c != 0 or y[i, k] != y[i, k]:
                acc -= c * math.log(y[i, k] + delta)
                g = -gs * c / (y[i, k] + delta)
            if with_grad:
                grad[i, k] = g
        out[i] = acc


# No fast math: reassociating (1 − p) + δ into (1 + δ) − p changes which side of 1.0 a
# float32 lands on (log's 0 becomes 1.2e-7), and any flag that lets the vectorised body
# round differently from the scalar remainder makes an element's loss depend on where it
# sits in the array, so that `losskit eval` in chunks would differ in the last bit from
# one call. (The sums, which need reassoc to vectorise, run in _read_row.)
_BCE: dict[str, Any] = {**_OPTS, "fastmath": False}


@numba.njit(inline="always", **_BCE)
def _bce_loss(pk: float, tk: float, wk: float, delta: float, one: float) -> float:
    """The core's arithmetic, in the same order and dtype (delta and one are p's dtype): a
    log is taken only where its coefficient is non-zero (0 · log 0 would be NaN)."""
    zero = one - one
    pos = wk * (tk * _log(pk + delta)) if tk != zero else zero
    neg = (one - tk) * _log((one - pk) + delta) if tk != one else zero
    return -(pos + neg)


@numba.njit(inline="always", **_BCE)
def _bce_grad(pk: float, tk: float, wk: float, delta: float, one: float) -> float:
    zero = one - one
    d_pos = wk * (tk / (pk + delta)) if tk != zero else zero
    d_neg = (one - tk) / ((one - pk) + delta) if tk != one else zero
    return d_neg - d_pos


@numba.njit(**_BCE)
def _bce_rows(
    p: Arr,
    t: Arr,
    pw: Arr,
    delta: float,
    gs: float,
    out: Arr,
    grad: Arr,
    with_grad: bool,
    reduce: bool,
    rows: tuple[int, int],
) -> float:
    """Rows [rows) of pw.shape[0] elements of the flat arrays (the last may be short), pw
    their pos_weight (ones if none): each element's loss into out, or (reduce) into a
    row of scratch whose sum is returned. One loop per case with no branch but selects:
    LLVM does not vectorise a loop whose stores are conditional."""
    total = 0.0
    length = pw.shape[0]
    scratch = np.empty(length if reduce else 0, p.dtype)
    # In p's dtype throughout, as the core computes (p + delta is float32 for float32 p):
    # a Python float would widen every operation to float64 (half the lanes).
    d, g, one = p.dtype.type(delta), p.dtype.type(gs), p.dtype.type(1.0)
    for r in range(rows[0], rows[1]):
        lo, hi = r * length, min((r + 1) * length, p.shape[0])
        pr, tr, wr = p[lo:hi], t[lo:hi], pw[: hi - lo]
        orow = scratch[: hi - lo] if reduce else out[lo:hi]
        for k in range(pr.shape[0]):
            orow[k] = _bce_loss(pr[k], tr[k], wr[k], d, one)
        if with_grad:
            gr = grad[lo:hi]
            for k in range(pr.shape[0]):
                gr[k] = _bce_grad(pr[k], tr[k], wr[k], d, one) * g
        if reduce:
            total += _read_row(orow)
    return total


_BCE_ROW = 4096  # the rows of the flat arrays when there is no pos_weight to align with


@numba.njit(**_OPTS)
def _bce_weights(pw: Arr, p: Arr) -> Arr:
    return pw if pw.shape[0] else np.ones(_BCE_ROW, p.dtype)


@numba.njit(**_OPTS)
def bce(
    p: Arr,
    t: Arr,
    pw: Arr,
    delta: float,
    gs: float,
    out: Arr,
    grad: Arr,
    with_grad: bool,
    reduce: bool,
) -> float:
    """Flat arrays; pw is a pos_weight over the last axis, repeating every pw.shape[0]
    elements (or empty). Returns Σ loss when `reduce` (then out is not written)."""
    w = _bce_weights(pw, p)
    rows = (p.shape[0] + w.shape[0] - 1) // w.shape[0]
    return _bce_rows(p, t, w, delta, gs, out, grad, with_grad, reduce, (0, rows))


@numba.njit(parallel=True, **_OPTS)
def bce_parallel(
    p: Arr,
    t: Arr,
    pw: Arr,
    delta: float,
    gs: float,
    out: Arr,
    grad: Arr,
    with_grad: bool,
    reduce: bool,
) -> float:
    w = _bce_weights(pw, p)
    rows = (p.shape[0] + w.shape[0] - 1) // w.shape[0]
    sums = np.zeros(_CHUNKS)
    for c in prange(_CHUNKS):
        span = (rows * c // _CHUNKS, rows * (c + 1) // _CHUNKS)
        sums[c] = _bce_rows(p, t, w, delta, gs, out, grad, with_grad, reduce, span)
    total = 0.0
    for c in range(_CHUNKS):
        total += sums[c]
    return total
