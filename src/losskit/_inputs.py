"""What validation hands on: inputs that nothing after `losskit._validate` checks again.

The kernels (`losskit.kernels`) and the Array API core (`losskit._core`) read these;
only `losskit._validate` builds them.
"""

from __future__ import annotations

from dataclasses import dataclass

from losskit._array import Array, Namespace


@dataclass(slots=True)
class ClassInputs:
    """Validated inputs of a loss with a class axis.

    Exactly one of `labels` and `target` is set. Nothing here needs checking again.
    """

    xp: Namespace
    y: Array  # the prediction, as given (class axis at `axis`)
    axis: int  # normalised, >= 0
    reduction: str
    num_samples: int
    labels: Array | None = None  # integer, y's shape without `axis`; range-checked
    target: Array | None = None  # y's shape, any real dtype (range-checked where it must be)
    ignore_index: int | None = None  # fits the labels' dtype
    weight: Array | None = None  # (C,)
    sample_weight: Array | None = None  # broadcasts to the sample shape
    label_smoothing: float = 0.0
    delta: float = 0.0
    invalid: Array | None = None  # samples that must come out NaN (only under JAX tracing)
    y_may_hold_nan: bool = True  # False: a scan of y found no NaN (the kernels may rely on it)


@dataclass(slots=True)
class BinaryInputs:
    """Validated inputs of a binary loss: every element is one sample."""

    xp: Namespace
    p: Array
    t: Array  # p's shape, any real dtype
    reduction: str
    num_samples: int
    pos_weight: Array | None = None
    weight: Array | None = None
    sample_weight: Array | None = None
    delta: float = 0.0
    invalid: Array | None = None
