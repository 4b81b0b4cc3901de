"""Every input check of every public function, in one place (SPEC §2.5).

A loss call is: find the namespace, validate and normalise the inputs here (once),
choose an implementation, compute, reduce. Nothing after this module raises on bad
input, so every path (small kernel, fused kernel, Array API core) accepts exactly
the same inputs and words its errors the same way on every backend.

Value checks (labels in range, probabilities in [0, 1]) are eager where values can
be read: on NumPy through one numba scan each (no temporaries; float16 and labels
other than int64 through NumPy), elsewhere through the namespace. Dask runs them
per chunk at compute time; under JAX tracing they cannot raise, so the offending
samples come out as NaN instead (never a silently finite number).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal, get_args

import array_api_compat
import numpy as np

from losskit._array import (
    Array,
    Namespace,
    device_of,
    get_namespace,
    is_dask,
    type_name,
    values_are_readable,
)
from losskit._inputs import BinaryInputs, ClassInputs
from losskit.kernels import dispatch as kernels

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)

_FLOAT_DTYPES = "a real floating-point dtype (float16, bfloat16, float32, float64)"
_NUMPY = array_api_compat.array_namespace(np.empty(0))
_INT64 = np.dtype(np.int64)
_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)


def shape_of(x: Array) -> tuple[Any, ...]:
    # torch.Size and friends print noisily; a plain tuple reads the same everywhere.
    return tuple(x.shape)


def dtype_name(x: Array) -> str:
    """'float32', 'uint64', ...: the same spelling on every backend (torch says torch.float32)."""
    return str(x.dtype).rsplit(".", 1)[-1].replace("dtype(", "").strip("')\"")


# dtype tests: NumPy's dtype.kind where it applies (isdtype through the compat layer costs
# about a microsecond each, on a path whose whole budget at 100 × 10 is a few).
def is_floating(x: Array, xp: Namespace) -> bool:
    if type(x) is np.ndarray:
        return bool(x.dtype.kind == "f")
    return bool(xp.isdtype(x.dtype, "real floating"))


def is_integer(x: Array, xp: Namespace) -> bool:
    if type(x) is np.ndarray:
        return bool(x.dtype.kind in "iu")
    return bool(xp.isdtype(x.dtype, "integral"))


def _is_bool(x: Array, xp: Namespace) -> bool:
    if type(x) is np.ndarray:
        return bool(x.dtype.kind == "b")
    return bool(xp.isdtype(x.dtype, "bool"))


_PYTHON_TARGETS = (list, tuple, int, float)

# What class_inputs gets for a loss without δ (a user's delta=None must not mean δ = 0).
NO_DELTA: Any = object()


def _array_or_none(a: object) -> object:
    """What the namespace is read from: arrays, not Python targets or numbers."""
    return None if isinstance(a, _PYTHON_TARGETS) else a


def _as_target(t: object, like: Array, xp: Namespace) -> Array:
    """A Python list, tuple or number target (the book's ``t = [0, 0, 1, ...]``, a label
    ``2``) as an array of the prediction's namespace and device; arrays pass unchanged.
    Predictions stay arrays: they tell which library to compute in."""
    if isinstance(t, _PYTHON_TARGETS):
        # Through NumPy: float64 for floats on every backend (torch and JAX would make float32
        # of a Python float), and the same error for a ragged or non-numeric list everywhere.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                values = np.asarray(t)
            except (TypeError, ValueError, OverflowError):
                values = np.asarray(t, dtype=object)
        if values.dtype.kind not in "biuf":
            raise TypeError(
                f"t: a Python list target must be rectangular and hold numbers, got {t!r:.80}"
            )
        return values if xp is _NUMPY else xp.asarray(values, device=device_of(like))
    if t is None:
        raise TypeError("t must be an array of targets (labels or a distribution), got None")
    return t


def _plain(a: Any) -> Any:
    """A memory map as the plain ndarray it is (a view: no copy), so it takes the kernels."""
    return a.view(np.ndarray) if type(a) is np.memmap else a


def namespace(*arrays: object, xp: Namespace | None) -> Namespace:
    # Plain NumPy is the hot case (the chapter's 100 × 10 batches); array_namespace
    # costs more than the rest of the checks there.
    if xp is None:
        for a in arrays:
            if type(a) is not np.ndarray and a is not None:
                return get_namespace(*arrays, xp=xp)
        return _NUMPY
    return get_namespace(*arrays, xp=xp)


# ---------------------------------------------------------------- options


def require_floating(name: str, x: Array, xp: Namespace) -> None:
    if not is_floating(x, xp):
        raise TypeError(f"{name} must have {_FLOAT_DTYPES}, got dtype {dtype_name(x)}")


def require_reduction(reduction: object) -> None:
    if reduction not in REDUCTIONS:
        allowed = ", ".join(repr(r) for r in REDUCTIONS)
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")


def _is_real_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def require_fraction(name: str, value: object) -> None:
    # `not a <= v <= b` is written so that NaN fails too.
    if not _is_real_number(value) or not 0.0 <= value <= 1.0:  # type: ignore[operator]
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")


def require_delta(delta: object) -> None:
    # δ only keeps log(0) finite: at 1 or above, log(y + δ) > 0 and the loss turns negative.
    if not _is_real_number(delta) or not 0.0 <= delta < 1.0:  # type: ignore[operator]
        raise ValueError(f"delta must be >= 0 and < 1 (the book uses 1e-7), got {delta!r}")


def normalize_axis(axis: int, y: Array) -> int:
    ndim = len(y.shape)
    if ndim == 0:
        raise ValueError(
            f"the prediction needs a class axis, got a 0-d array (shape {shape_of(y)})"
        )
    if isinstance(axis, np.integer):
        axis = int(axis)
    if isinstance(axis, bool) or not isinstance(axis, int) or not -ndim <= axis < ndim:
        raise ValueError(
            f"axis must be an int in [{-ndim}, {ndim - 1}] for a prediction of shape "
            f"{shape_of(y)}, got {axis!r}"
        )
    if y.shape[axis] == 0:
        raise ValueError(f"the class axis {axis} of the prediction (shape {shape_of(y)}) is empty")
    return axis % ndim


def require_nonempty_for_mean(reduction: str, num_samples: int, y: Array) -> None:
    if reduction == "mean" and num_samples == 0:
        raise ValueError(
            f"reduction='mean' needs at least one sample, got an empty batch "
            f"(prediction of shape {shape_of(y)}); use reduction='sum' or 'none'"
        )


def _require_real(name: str, x: Array, xp: Namespace) -> None:
    if type(x) is np.ndarray and x.dtype.kind in "biuf":
        return
    if not (is_floating(x, xp) or is_integer(x, xp) or _is_bool(x, xp)):
        raise TypeError(
            f"{name} must hold real numbers (int, bool or float), got dtype {dtype_name(x)}"
        )


def _require_weight_dtype(name: str, w: Array, xp: Namespace) -> None:
    if not (is_floating(w, xp) or is_integer(w, xp)):
        raise TypeError(f"{name} must have a real dtype (float or int), got dtype {dtype_name(w)}")


def _require_nonnegative(name: str, w: Array, xp: Namespace) -> None:
    """Weights are >= 0: with a negative one, a zero sum no longer means "nothing counted",
    and "mean" would silently divide by nothing. Checked where values can be read (weights
    are small next to the predictions); Dask and traced JAX weights are taken as given."""
    if is_dask(w):
        return
    bad = ~((w >= 0) & (w < float("inf")))  # NaN fails both: written so
    # (Asked of the result, not of w: under jax.jit even a constant's comparison is traced.)
    if not values_are_readable(bad):
        return
    if bool(xp.any(bad)):
        first = _first_true(bad, xp)
        value = float(xp.reshape(w, (-1,))[first])
        raise ValueError(
            f"{name} must be finite and >= 0, got {value!r}{_where(_unravel(first, shape_of(w)))}"
        )


def _broadcast_weight(name: str, w: Array, target_shape: tuple[int, ...], xp: Namespace) -> Array:
    """w checked to broadcast to target_shape (as NumPy broadcasts: trailing axes) and >= 0."""
    _require_weight_dtype(name, w, xp)
    ws = shape_of(w)
    fits = len(ws) <= len(target_shape) and all(
        a == 1 or a == b for a, b in zip(reversed(ws), reversed(target_shape), strict=False)
    )
    if not fits:
        raise ValueError(f"{name} of shape {ws} does not broadcast to shape {target_shape}")
    _require_nonnegative(name, w, xp)
    return w


def _sample_weight(w: object, sample_shape: tuple[int, ...], xp: Namespace, like: Array) -> Array:
    """One weight per sample, lined up with the LEADING sample axes (Keras's and
    scikit-learn's meaning: a weight of shape (N,) weighs whole sequences of an (N, T)
    batch) and broadcast over the rest; a Python number weighs every sample alike."""
    if _is_real_number(w):
        w = xp.asarray(float(w), device=device_of(like))  # type: ignore[arg-type]
    ws = shape_of(w)
    if len(ws) > len(sample_shape) or any(
        a != 1 and a != b for a, b in zip(ws, sample_shape, strict=False)
    ):
        raise ValueError(
            f"sample_weight of shape {ws} does not fit the samples, of shape {sample_shape}: "
            "expected one weight per sample, lined up with the leading axes"
        )
    if len(ws) < len(sample_shape):
        w = xp.reshape(w, ws + (1,) * (len(sample_shape) - len(ws)))
    _require_weight_dtype("sample_weight", w, xp)
    _require_nonnegative("sample_weight", w, xp)
    return w


def _ignore_index(
    ignore_index: object, labels: Array | None, t: Array, xp: Namespace
) -> int | None:
    """ignore_index as an int that fits the labels' dtype; only for label targets."""
    if ignore_index is None:
        return None
    if labels is None:
        raise ValueError(
            "ignore_index applies to integer label targets only, got a target "
            f"distribution t of y's shape {shape_of(t)} (dtype {dtype_name(t)})"
        )
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int | np.integer):
        raise TypeError(f"ignore_index must be an int or None, got {ignore_index!r}")
    value = int(ignore_index)
    info = xp.iinfo(labels.dtype)
    if not info.min <= value <= info.max:
        raise ValueError(
            f"ignore_index={value} does not fit labels of dtype {dtype_name(labels)} "
            f"(values {info.min} to {info.max}): no label can equal it"
        )
    return value


# ---------------------------------------------------------------- value checks


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index = []
    for n in reversed(shape):
        index.append(flat % n)
        flat //= n
    return tuple(reversed(index))


def _where(index: tuple[int, ...]) -> str:
    return "" if not index else f" at index {index[0] if len(index) == 1 else index}"


def _label_error(
    label: int, index: tuple[int, ...], num_classes: int, ignore_index: int | None
) -> ValueError:
    also = "" if ignore_index is None else f" (or equal ignore_index={ignore_index})"
    return ValueError(
        f"label {label}{_where(index)} is out of range for {num_classes} classes: "
        f"labels must lie in [0, {num_classes - 1}]{also}"
    )


def _unit_error(what: str, value: float, index: tuple[int, ...], hint: str) -> ValueError:
    return ValueError(f"{what} in [0, 1], got {value!r}{_where(index)}{hint}")


_Y_HINT = "; for unnormalised scores use softmax_cross_entropy or sigmoid_binary_cross_entropy"


def _bad_labels(
    t: Any, num_classes: int, ignore_index: int | None, unsigned: bool, largest: int
) -> Any:
    """Compared in the labels' own dtype: no cast can wrap 2**64 - 1 into -1 first. Where C
    exceeds the dtype's largest value (uint8 labels, 300 classes) no label is too large, and
    C itself must not be compared: it does not fit the dtype (torch and JAX would wrap it)."""
    too_big = t >= num_classes if num_classes <= largest else t != t
    bad = too_big if unsigned else (t < 0) | too_big
    if ignore_index is not None:
        bad = bad & (t != ignore_index)
    return bad


def _block_origin(block_info: dict[Any, Any] | None, ndim: int) -> tuple[int, ...]:
    if not block_info or 0 not in block_info:
        return (0,) * ndim
    return tuple(start for start, _ in block_info[0]["array-location"])


def _first_bad(bad: np.ndarray[Any, Any], block_info: dict[Any, Any] | None) -> tuple[int, ...]:
    """Index (in the whole Dask array) of the first True of this chunk."""
    local = _unravel(int(np.argmax(bad.reshape(-1))), bad.shape)
    origin = _block_origin(block_info, bad.ndim)
    return tuple(o + i for o, i in zip(origin, local, strict=True))


def _check_label_block(
    block: np.ndarray[Any, Any],
    num_classes: int,
    ignore_index: int | None,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:
    largest = int(np.iinfo(block.dtype).max)
    bad = _bad_labels(block, num_classes, ignore_index, block.dtype.kind == "u", largest)
    if np.any(bad):
        label = int(block.reshape(-1)[np.argmax(bad.reshape(-1))])
        raise _label_error(label, _first_bad(bad, block_info), num_classes, ignore_index)
    return block


def _unit_block_checker(what: str, hint: str) -> Any:
    def check(
        block: np.ndarray[Any, Any], block_info: dict[Any, Any] | None = None
    ) -> np.ndarray[Any, Any]:
        bad = (block < 0) | (block > 1)
        if np.any(bad):
            value = float(block.reshape(-1)[np.argmax(bad.reshape(-1))])
            raise _unit_error(what, value, _first_bad(bad, block_info), hint)
        return block

    return check


def _first_true(mask: Array, xp: Namespace) -> int:
    """Flat index of the first True in an eager boolean array."""
    return int(xp.argmax(xp.astype(xp.reshape(mask, (-1,)), xp.int32)))


def _numpy_first_bad_label(t: np.ndarray[Any, Any], num_classes: int, ii: int | None) -> int:
    if t.dtype is _INT64 or t.dtype == _INT64:  # the common case: one scan, no temporaries
        return kernels.first_bad_label(t, num_classes, ii)
    bad = _bad_labels(t, num_classes, ii, t.dtype.kind == "u", int(np.iinfo(t.dtype).max))
    return int(np.argmax(bad.reshape(-1))) if bad.any() else -1


def check_labels(
    t: Array, num_classes: int, ignore_index: int | None, xp: Namespace
) -> tuple[Array, Array | None]:
    """Labels in [0, C) (or == ignore_index), checked in their own dtype.

    Returns the labels (on Dask, wrapped so that each chunk is checked when computed:
    the error names the first bad label of the first failing chunk, which need not be
    the first overall) and, only under JAX tracing, a mask of invalid samples that the
    core turns into NaN.
    """
    if type(t) is np.ndarray:
        first = _numpy_first_bad_label(t, num_classes, ignore_index)
        if first >= 0:
            label = int(t.reshape(-1)[first])
            raise _label_error(label, _unravel(first, shape_of(t)), num_classes, ignore_index)
        return t, None
    if is_dask(t):
        return t.map_blocks(_check_label_block, num_classes, ignore_index, dtype=t.dtype), None
    unsigned = bool(xp.isdtype(t.dtype, "unsigned integer"))
    largest = int(xp.iinfo(t.dtype).max)
    try:
        bad = _bad_labels(t, num_classes, ignore_index, unsigned, largest)
    except NotImplementedError as exc:
        # torch (2.13) cannot compare uint16/32/64 tensors. Up to uint32 a cast to int64 is
        # exact; uint64 has no exact wider type there.
        if largest > 2**32:
            raise TypeError(
                f"labels of dtype {dtype_name(t)} cannot be checked on this array library "
                f"({exc}); cast them to int64"
            ) from None
        t = xp.astype(t, xp.int64)
        bad = _bad_labels(t, num_classes, ignore_index, False, 2**63 - 1)
    if not values_are_readable(bad):  # traced (jax.jit): asked of the result, see above
        return t, bad
    if bool(xp.any(bad)):
        first = _first_true(bad, xp)
        label = int(xp.reshape(t, (-1,))[first])
        raise _label_error(label, _unravel(first, shape_of(t)), num_classes, ignore_index)
    return t, None


def check_unit_interval(
    x: Array, xp: Namespace, *, what: str, hint: str = ""
) -> tuple[Array, Array | None, bool]:
    """0 <= x <= 1 elementwise (NaN passes and propagates); as `check_labels`, and
    whether x may hold NaN (False only where the NumPy scan saw none: the probability
    kernels then skip their own search for it)."""
    if type(x) is np.ndarray:
        # Laid out once for the scan (C order, native endianness): the kernels then read
        # this same array, never a second copy.
        x = kernels.native(x)
        first, has_nan = kernels.first_outside_unit_interval(x)
        if first >= 0:
            raise _unit_error(what, float(x.reshape(-1)[first]), _unravel(first, x.shape), hint)
        return x, None, has_nan
    if is_dask(x):
        return x.map_blocks(_unit_block_checker(what, hint), dtype=x.dtype), None, True
    bad = (x < 0) | (x > 1)
    if not values_are_readable(bad):
        return x, bad, True
    if bool(xp.any(bad)):
        first = _first_true(bad, xp)
        value = float(xp.reshape(x, (-1,))[first])
        raise _unit_error(what, value, _unravel(first, shape_of(x)), hint)
    return x, None, True


def check_probabilities(y: Array, xp: Namespace) -> tuple[Array, Array | None, bool]:
    return check_unit_interval(y, xp, what="y must hold probabilities", hint=_Y_HINT)


def _either(a: Array | None, b: Array | None) -> Array | None:
    if a is None:
        return b
    if b is None:
        return a
    return a | b


# ---------------------------------------------------------------- targets


def target_error(t: Array, y: Array, axis: int, xp: Namespace) -> Exception:
    ts, ys = shape_of(t), shape_of(y)
    label_shape = ys[:axis] + ys[axis + 1 :]
    if is_integer(t, xp):
        return ValueError(
            f"targets t of shape {ts} do not fit predictions y of shape {ys}: labels need "
            f"shape {label_shape}; a one-hot target needs shape {ys}; got {ts}"
        )
    if ts == label_shape:
        return ValueError(
            f"targets t of shape {ts} have label shape (y's shape {ys} without axis {axis}) "
            f"but dtype {dtype_name(t)}: cast labels to an integer dtype, or give a target "
            f"distribution of shape {ys}"
        )
    return ValueError(
        f"target distributions t of shape {ts} do not fit predictions y of shape {ys}: "
        f"expected the same shape (or integer labels of shape {label_shape})"
    )


def read_target(t: Array, y: Array, axis: int, xp: Namespace) -> tuple[Array, Array]:
    """(labels, None) or (None, distribution), decided by t's shape, never guessed: the
    prediction's shape is a distribution (any real dtype); that shape without `axis` and an
    integer dtype is labels; anything else names both readings."""
    ts, ys = shape_of(t), shape_of(y)
    if ts == ys:
        return None, t
    if ts == ys[:axis] + ys[axis + 1 :] and is_integer(t, xp):
        return t, None
    raise target_error(t, y, axis, xp)


def _plain_label_batch(
    y: Any, t: Any, axis: object, reduction: object, label_smoothing: object
) -> ClassInputs | None:
    """The chapter's hot case (a 2-D NumPy batch of logits, int64 labels, no options) with
    the few checks that case needs, or None for anything else. It passes exactly what the
    full checks below would pass and refuses nothing itself: every doubt, and every bad
    label, goes to the full path, which words the error. At 100 × 10 the full path's
    generality costs more than the loss (about 4 µs against 3)."""
    if not (
        type(y) is np.ndarray
        and type(t) is np.ndarray
        and y.ndim == 2
        and (axis == -1 or axis == 1)
        and type(axis) is int
        and (y.dtype is _FLOAT64 or y.dtype is _FLOAT32)
        and (t.dtype is _INT64)
        and t.shape[0] == y.shape[0] > 0
        and t.ndim == 1
        and y.shape[1] > 0
        and (reduction == "mean" or reduction == "sum" or reduction == "none")
        and (label_smoothing == 0.0 and type(label_smoothing) in (float, int))
    ):
        return None
    if kernels.first_bad_label(t, y.shape[1], None) >= 0:
        return None
    return ClassInputs(_NUMPY, y, 1, str(reduction), y.shape[0], labels=t)


def _class_weight(weight: Array, y: Array, axis: int, xp: Namespace) -> Array:
    """One floating weight >= 0 per class (PyTorch's `weight`)."""
    require_floating("weight", weight, xp)
    ys = shape_of(y)
    if shape_of(weight) != (ys[axis],):
        raise ValueError(
            f"weight of shape {shape_of(weight)} does not fit predictions y of shape "
            f"{ys}: expected one weight per class, shape ({ys[axis]},)"
        )
    _require_nonnegative("weight", weight, xp)
    return weight


def class_inputs(
    name: str,
    y: Array,
    t: Array,
    *,
    axis: int,
    reduction: str,
    xp: Namespace | None,
    weight: Array | None = None,
    sample_weight: Array | None = None,
    ignore_index: object = None,
    label_smoothing: float = 0.0,
    delta: object = NO_DELTA,
    probabilities: bool = False,
) -> ClassInputs:
    """Check and normalise the inputs of a class loss (`probabilities`: y and a
    distribution target must lie in [0, 1], as for cross_entropy_error)."""
    if (
        xp is None
        and weight is None
        and sample_weight is None
        and ignore_index is None
        and delta is NO_DELTA
        and not probabilities
    ):
        hot = _plain_label_batch(y, t, axis, reduction, label_smoothing)
        if hot is not None:
            return hot
    y, t, weight, sample_weight = _plain(y), _plain(t), _plain(weight), _plain(sample_weight)
    ns = namespace(y, _array_or_none(t), weight, _array_or_none(sample_weight), xp=xp)
    require_floating(name, y, ns)
    t = _as_target(t, y, ns)
    require_reduction(reduction)
    require_fraction("label_smoothing", label_smoothing)
    if delta is not NO_DELTA:
        require_delta(delta)
    axis = normalize_axis(axis, y)
    _require_real("t", t, ns)
    ys = shape_of(y)
    sample_shape = ys[:axis] + ys[axis + 1 :]
    num_samples = math.prod(sample_shape)
    inputs = ClassInputs(
        ns, y, axis, reduction, num_samples, label_smoothing=float(label_smoothing)
    )
    inputs.delta = 0.0 if delta is NO_DELTA else float(delta)  # type: ignore[arg-type]
    inputs.labels, inputs.target = read_target(t, y, axis, ns)
    inputs.ignore_index = _ignore_index(ignore_index, inputs.labels, t, ns)
    if weight is not None:
        inputs.weight = _class_weight(weight, y, axis, ns)
    if sample_weight is not None:
        inputs.sample_weight = _sample_weight(sample_weight, sample_shape, ns, y)
    require_nonempty_for_mean(reduction, num_samples, y)

    # Value checks last: they read the data, the checks above only shapes and types.
    _check_class_values(inputs, probabilities)
    return inputs


def _check_class_values(inputs: ClassInputs, probabilities: bool) -> None:
    """Labels in range; with `probabilities`, y and a (non-bool) target in [0, 1]."""
    ns, y, t, axis = inputs.xp, inputs.y, inputs.target, inputs.axis
    invalid = None
    if inputs.labels is not None:
        inputs.labels, invalid = check_labels(inputs.labels, y.shape[axis], inputs.ignore_index, ns)
    if probabilities:
        inputs.y, bad_y, inputs.y_may_hold_nan = check_probabilities(y, ns)
        invalid = _either(invalid, None if bad_y is None else ns.any(bad_y, axis=axis))
        if t is not None and not _is_bool(t, ns):
            inputs.target, bad_t, _ = check_unit_interval(
                t, ns, what="t must hold target probabilities"
            )
            invalid = _either(invalid, None if bad_t is None else ns.any(bad_t, axis=axis))
    inputs.invalid = invalid


def binary_inputs(
    name: str,
    p: Array,
    t: Array,
    *,
    reduction: str,
    xp: Namespace | None,
    pos_weight: Array | None = None,
    weight: Array | None = None,
    sample_weight: Array | None = None,
    delta: object = NO_DELTA,
    probabilities: bool = False,
) -> BinaryInputs:
    """Check and normalise the inputs of a binary loss (`probabilities`: p and t in [0, 1])."""
    p, t, pos_weight, weight = _plain(p), _plain(t), _plain(pos_weight), _plain(weight)
    sample_weight = _plain(sample_weight)
    ns = namespace(p, _array_or_none(t), pos_weight, weight, _array_or_none(sample_weight), xp=xp)
    require_floating(name, p, ns)
    t = _as_target(t, p, ns)
    require_reduction(reduction)
    if delta is not NO_DELTA:
        require_delta(delta)
    _require_real("t", t, ns)
    ps = shape_of(p)
    if shape_of(t) != ps:
        raise ValueError(
            f"binary targets t of shape {shape_of(t)} do not fit predictions of shape {ps}: "
            "expected the same shape (every element is one sample)"
        )
    num_samples = math.prod(ps)
    inputs = BinaryInputs(ns, p, t, reduction, num_samples)
    inputs.delta = 0.0 if delta is NO_DELTA else float(delta)  # type: ignore[arg-type]
    if pos_weight is not None:
        require_floating("pos_weight", pos_weight, ns)
        inputs.pos_weight = _broadcast_weight("pos_weight", pos_weight, ps, ns)
    if weight is not None:
        inputs.weight = _broadcast_weight("weight", weight, ps, ns)
    if sample_weight is not None:
        inputs.sample_weight = _sample_weight(sample_weight, ps, ns, p)
    require_nonempty_for_mean(reduction, num_samples, p)

    invalid = None
    if is_integer(t, ns):
        inputs.t, invalid = check_labels(t, 2, None, ns)
    elif probabilities and not _is_bool(t, ns):
        inputs.t, invalid, _ = check_unit_interval(t, ns, what="t must hold target probabilities")
    if probabilities:
        inputs.p, bad_p, _ = check_probabilities(p, ns)
        invalid = _either(invalid, bad_p)
    inputs.invalid = invalid
    return inputs


def _overlaps(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    # Bounds first (cheap, and enough for most arrays); then the exact test, which is quick
    # here because the buffer is contiguous, and which interleaved views need.
    return bool(np.may_share_memory(a, b)) and bool(np.shares_memory(a, b))


def grad_buffer(
    grad_out: object, names: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> np.ndarray[Any, Any]:
    """Check a caller's gradient buffer against the loss's (already valid) inputs: a NumPy
    array of the first input's shape and native dtype, C-contiguous (the kernels write
    rows), writeable, and sharing memory with no input (it is written while they are read)."""
    first, prediction = names[0], args[0]
    if not isinstance(grad_out, np.ndarray):
        raise TypeError(
            "grad_out: expected a NumPy array to write the gradient into, got "
            f"{type_name(grad_out)}"
        )
    if not isinstance(prediction, np.ndarray):
        raise TypeError(
            f"grad_out: a gradient buffer is for NumPy inputs; {first} is {type_name(prediction)} "
            "(leave grad_out out: the gradient comes back in the input's own library)"
        )
    if grad_out.shape != prediction.shape:
        raise ValueError(
            f"grad_out: expected shape {prediction.shape}, as {first}, got {grad_out.shape}"
        )
    # Written for speed (one flags object, a dtype built only when byte-swapped): this runs
    # on every step of a training loop, where at 100 × 10 a microsecond is a fifth of it.
    want = prediction.dtype
    if not want.isnative:
        want = want.newbyteorder("=")
    got = grad_out.dtype
    if got is not want and (got != want or not got.isnative):
        raise ValueError(
            f"grad_out: expected dtype {want.name} in native byte order, as {first}, got "
            f"{got.name}{'' if got.isnative else ' (byte-swapped)'}"
        )
    flags = grad_out.flags
    if not flags.c_contiguous:
        raise ValueError(
            "grad_out: expected a C-contiguous array, got a strided or Fortran-order view"
        )
    if not flags.writeable:
        raise ValueError("grad_out: expected a writeable array, got a read-only one")
    for name, a in zip(names, args, strict=False):
        _require_apart(grad_out, name, a)
    for name, a in kwargs.items():
        _require_apart(grad_out, name, a)
    return grad_out


def _require_apart(grad_out: np.ndarray[Any, Any], name: str, a: object) -> None:
    if isinstance(a, np.ndarray) and _overlaps(grad_out, a):
        raise ValueError(
            f"grad_out: expected a buffer apart from the inputs, got one that shares memory "
            f"with {name} (the gradient would overwrite what it is computed from)"
        )
