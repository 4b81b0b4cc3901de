"""Input validation shared by every public function (SPEC §2.5).

Every message says what was expected and what was got, and is raised by this
module before any backend operation runs, so it reads the same on NumPy,
PyTorch, JAX, CuPy and Dask.  Value checks (labels in range, probabilities in
[0, 1]) are eager where values can be read; on Dask they run per chunk at
compute time; under JAX tracing they cannot raise, so the offending samples
come out as NaN instead (never a silently finite number).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np

from losskit._array import Array, Namespace, is_dask, is_floating, is_integer, values_are_readable

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)

_FLOAT_DTYPES = "a real floating-point dtype (float16, bfloat16, float32, float64)"


def shape_of(x: Array) -> tuple[Any, ...]:
    # torch.Size and friends print noisily; a plain tuple reads the same everywhere.
    return tuple(x.shape)


def require_floating(name: str, x: Array, xp: Namespace) -> None:
    if not is_floating(x, xp):
        raise TypeError(f"{name} must have {_FLOAT_DTYPES}, got dtype {x.dtype}")


def require_reduction(reduction: object) -> None:
    if reduction not in REDUCTIONS:
        allowed = ", ".join(repr(r) for r in REDUCTIONS)
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")


def require_nonempty_for_mean(reduction: str, num_samples: int, y: Array) -> None:
    if reduction == "mean" and num_samples == 0:
        raise ValueError(
            f"reduction='mean' needs at least one sample, got an empty batch "
            f"(prediction of shape {shape_of(y)}); use reduction='sum' or 'none'"
        )


def normalize_axis(axis: int, y: Array) -> int:
    ndim = len(y.shape)
    if ndim == 0:
        raise ValueError(
            f"the prediction needs a class axis, got a 0-d array (shape {shape_of(y)})"
        )
    if not isinstance(axis, int) or not -ndim <= axis < ndim:
        raise ValueError(
            f"axis must be an int in [{-ndim}, {ndim - 1}] for a prediction of shape "
            f"{shape_of(y)}, got {axis!r}"
        )
    if y.shape[axis] == 0:
        raise ValueError(f"the class axis {axis} of the prediction (shape {shape_of(y)}) is empty")
    return axis % ndim


def require_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")


def require_delta(delta: float) -> None:
    if not delta >= 0.0:  # written so that NaN fails too
        raise ValueError(f"delta must be >= 0 (the book uses 1e-7), got {delta!r}")


def target_kind(t: Array, xp: Namespace) -> Literal["labels", "distribution"]:
    """Integer targets are class labels, floating ones distributions; never guessed from shape."""
    if is_integer(t, xp):
        return "labels"
    if is_floating(t, xp):
        return "distribution"
    raise TypeError(
        "t must be integer class labels or a floating-point target distribution, "
        f"got dtype {t.dtype}"
    )


def require_label_shape(t: Array, y: Array, axis: int) -> None:
    expected = shape_of(y)[:axis] + shape_of(y)[axis + 1 :]
    if shape_of(t) != expected:
        raise ValueError(
            f"label targets t of shape {shape_of(t)} do not fit predictions y of shape "
            f"{shape_of(y)}: expected t of shape {expected} (y's shape without axis {axis})"
        )


def require_same_shape(t: Array, y: Array, what: str = "target distributions t") -> None:
    if shape_of(t) != shape_of(y):
        raise ValueError(
            f"{what} of shape {shape_of(t)} do not fit predictions y of shape "
            f"{shape_of(y)}: expected the same shape"
        )


def require_class_weight(weight: Array, num_classes: int, y: Array, xp: Namespace) -> None:
    require_floating("weight", weight, xp)
    if shape_of(weight) != (num_classes,):
        raise ValueError(
            f"weight of shape {shape_of(weight)} does not fit predictions y of shape "
            f"{shape_of(y)}: expected one weight per class, shape ({num_classes},)"
        )


def require_broadcastable(name: str, w: Array, y: Array, xp: Namespace) -> None:
    require_floating(name, w, xp)
    ws, ys = shape_of(w), shape_of(y)
    fits = len(ws) <= len(ys) and all(
        a == 1 or a == b for a, b in zip(reversed(ws), reversed(ys), strict=False)
    )
    if not fits:
        raise ValueError(f"{name} of shape {ws} does not broadcast to predictions of shape {ys}")


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


def _bad_labels(t: Any, num_classes: int, ignore_index: int | None) -> Any:
    bad = (t < 0) | (t >= num_classes)
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
    bad = _bad_labels(block, num_classes, ignore_index)
    if np.any(bad):
        label = int(block.reshape(-1)[np.argmax(bad.reshape(-1))])
        raise _label_error(label, _first_bad(bad, block_info), num_classes, ignore_index)
    return block


def _first_true(mask: Array, xp: Namespace) -> int:
    """Flat index of the first True in an eager boolean array."""
    return int(xp.argmax(xp.astype(xp.reshape(mask, (-1,)), xp.int32)))


def checked_labels(
    t: Array, num_classes: int, ignore_index: int | None, xp: Namespace
) -> tuple[Array, Array | None]:
    """Validate labels in [0, C) (or == ignore_index).

    Returns the labels (on Dask, wrapped so that each chunk is checked when
    computed: the error then names the first bad label of the first failing
    chunk, which need not be the first overall) and, only under JAX tracing, a
    mask of invalid samples that the caller turns into NaN.
    """
    if is_dask(t):
        checked = t.map_blocks(_check_label_block, num_classes, ignore_index, dtype=t.dtype)
        return checked, None
    bad = _bad_labels(t, num_classes, ignore_index)
    if not values_are_readable(t):
        return t, bad
    if bool(xp.any(bad)):
        first = _first_true(bad, xp)
        label = int(xp.reshape(t, (-1,))[first])
        raise _label_error(label, _unravel(first, shape_of(t)), num_classes, ignore_index)
    return t, None


def _probability_error(value: float, index: tuple[int, ...]) -> ValueError:
    return ValueError(
        f"y must hold probabilities in [0, 1], got {value!r}{_where(index)}; for "
        "unnormalised scores use softmax_cross_entropy or sigmoid_binary_cross_entropy"
    )


def _check_probability_block(
    block: np.ndarray[Any, Any], block_info: dict[Any, Any] | None = None
) -> np.ndarray[Any, Any]:
    bad = (block < 0) | (block > 1)
    if np.any(bad):
        value = float(block.reshape(-1)[np.argmax(bad.reshape(-1))])
        raise _probability_error(value, _first_bad(bad, block_info))
    return block


def checked_probabilities(y: Array, xp: Namespace) -> tuple[Array, Array | None]:
    """Validate 0 <= y <= 1 elementwise (NaN passes and propagates); as `checked_labels`."""
    if is_dask(y):
        return y.map_blocks(_check_probability_block, dtype=y.dtype), None
    bad = (y < 0) | (y > 1)
    if not values_are_readable(y):
        return y, bad
    if bool(xp.any(bad)):
        first = _first_true(bad, xp)
        raise _probability_error(float(xp.reshape(y, (-1,))[first]), _unravel(first, shape_of(y)))
    return y, None
