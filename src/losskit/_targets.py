"""Targets for losses with a class axis, turned into one per-class coefficient array.

Every class loss is ``-Σ_k c_k · f(y_k)`` per sample for some coefficients ``c``:
the one-hot row of a label, a given target distribution, scaled by class
weights and mixed with the uniform distribution by label smoothing. Building
``c`` in one place gives labels and distributions, weights, ``ignore_index``
and smoothing the same meaning in every loss (PyTorch's meaning).
"""

from __future__ import annotations

from dataclasses import dataclass

from losskit._array import Array, Namespace, scalar
from losskit._checks import (
    checked_labels,
    require_broadcastable,
    require_class_weight,
    require_label_shape,
    require_same_shape,
    target_kind,
)
from losskit.primitives import _one_hot_mask


@dataclass(frozen=True)
class ClassTargets:
    coefficients: Array  # (..., C), class axis last
    sample_weight: Array | None  # (...,); None: the "mean" divides by N
    invalid: Array | None  # (...,); only under JAX tracing


def class_targets(
    y: Array,
    t: Array,
    axis: int,
    xp: Namespace,
    *,
    weight: Array | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
) -> ClassTargets:
    """Coefficients for prediction `y` (class axis `axis`), returned with the class axis last."""
    num_classes = y.shape[axis]
    w = None
    if weight is not None:
        require_class_weight(weight, num_classes, y, xp)
        w = xp.astype(weight, y.dtype)
    eps = label_smoothing

    if target_kind(t, xp) == "distribution":
        if ignore_index is not None:
            raise ValueError(
                "ignore_index applies to integer label targets only, got floating "
                f"target distributions of dtype {t.dtype}"
            )
        require_same_shape(t, y)
        q = xp.astype(xp.moveaxis(t, axis, -1), y.dtype)
        if eps:
            q = (1.0 - eps) * q + eps / num_classes
        return ClassTargets(q if w is None else q * w, None, None)

    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int | None):
        raise TypeError(f"ignore_index must be an int or None, got {ignore_index!r}")
    require_label_shape(t, y, axis)
    t, invalid = checked_labels(t, num_classes, ignore_index, xp)
    one_hot = xp.astype(_one_hot_mask(t, num_classes, xp), y.dtype)
    counted = None
    if ignore_index is not None:
        counted = xp.astype(t != ignore_index, y.dtype)
        one_hot = one_hot * counted[..., None]
    if invalid is not None:
        # Under tracing a bad label cannot raise; a NaN row makes its loss NaN, not 0.
        one_hot = xp.where(invalid[..., None], scalar(float("nan"), one_hot, xp), one_hot)

    weighted = one_hot if w is None else one_hot * w
    sample_weight = None
    if w is not None:
        sample_weight = xp.sum(weighted, axis=-1)
    elif counted is not None:
        sample_weight = counted
    if eps:
        uniform = (eps / num_classes) * (w if w is not None else xp.ones_like(weighted))
        if counted is not None:
            uniform = uniform * counted[..., None]
        weighted = (1.0 - eps) * weighted + uniform
    return ClassTargets(weighted, sample_weight, invalid)


@dataclass(frozen=True)
class BinaryTargets:
    t: Array  # floating, shape of the prediction
    pos_weight: Array | None
    invalid: Array | None


def binary_targets(
    p: Array, t: Array, xp: Namespace, *, pos_weight: Array | None = None
) -> BinaryTargets:
    """Targets for binary losses: 0/1 integer labels or floating probabilities, p's shape."""
    invalid = None
    if target_kind(t, xp) == "labels":
        require_same_shape(t, p, "binary label targets t")
        t, invalid = checked_labels(t, 2, None, xp)
    else:
        require_same_shape(t, p)
    if pos_weight is not None:
        require_broadcastable("pos_weight", pos_weight, p, xp)
        pos_weight = xp.astype(pos_weight, p.dtype)
    return BinaryTargets(xp.astype(t, p.dtype), pos_weight, invalid)


def either(a: Array | None, b: Array | None) -> Array | None:
    """Union of two optional invalid-sample masks."""
    if a is None:
        return b
    if b is None:
        return a
    return a | b
