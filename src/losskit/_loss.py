"""What every loss shares: reduction, the gradient that goes with it, and the `Loss` wrapper.

A loss is written once as a function returning `LossTerms` (its per-sample
values and a thunk for the elementwise gradient of their sum); this module
turns that into the value, `.grad` and `.value_and_grad`. The reduction rule is
applied here: by `LossTerms` for the Array API core, and by `kernel_terms` for the
fused kernels, which fold the 1/denominator into their gradient write (what the
denominator is, PyTorch's rule for labels, is computed by the core from its
coefficients and by `kernels.dispatch.label_mean_denominator` for the kernels).

The reduction rule itself is documented in `losskit.reductions`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, ParamSpec

from losskit._array import Array, Namespace, scalar

P = ParamSpec("P")


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which costs
# 2 µs per call, when a whole 100 × 10 value and gradient takes about 5. Nothing mutates it
# after construction.
@dataclass(slots=True)
class LossTerms:
    """A loss before reduction.

    per_sample:     loss of each sample, shape = the sample axes.
    gradient:       computes d(sum of per_sample)/d(prediction), in class-last layout.
    final:          alternative to all of the above for fast paths: final(with_grad)
                    returns the reduced value and the final gradient (or None) from one
                    pass over the data; the reduction is then the fast path's business.
    count_weight:   per-sample weight whose sum is the "mean" denominator; None means N.
                    (Not the user's sample_weight: that is already in per_sample.)
    invalid:        per-sample mask that must come out NaN (only under JAX tracing).
    class_axis:     where the class axis goes back to in the gradient; None for binary losses.
    """

    xp: Namespace
    reduction: str
    num_samples: int
    per_sample: Array | None = None
    gradient: Callable[[], Array] | None = None
    final: Callable[[bool], tuple[Array, Array | None]] | None = None
    count_weight: Array | None = None
    invalid: Array | None = None
    class_axis: int | None = None
    kernel_count: float | None = None  # count() of a fast path that computed it already

    def _parts(self, with_grad: bool) -> tuple[Array, Array | None]:
        assert self.gradient is not None  # given whenever final is not
        return self.per_sample, self.gradient() if with_grad else None

    def _accumulator(self, x: Array) -> object | None:
        """float32 for half-precision values: a float16 sum of 30,000 losses overflows
        (its largest value is 65504) and one of 10^6 rounds every term away."""
        if self.xp.finfo(x.dtype).bits < 32:
            float32: object = self.xp.float32
            return float32
        return None

    def count(self, acc: object | None = None) -> Array | float:
        """What "mean" divides by, before the all-ignored rule: N, or Σ of sample weights."""
        if self.kernel_count is not None:
            return self.kernel_count
        if self.count_weight is None:
            return float(self.num_samples)
        if acc is None:
            acc = self._accumulator(self.count_weight)
        if acc is None:
            return self.xp.sum(self.count_weight)
        return self.xp.sum(self.count_weight, dtype=acc)

    def _denominator(self, acc: object | None) -> Array | float:
        count = self.count(acc)
        if isinstance(count, float):
            return count or 1.0
        # All targets ignored: the summed loss is 0 too, so 0/1 gives the documented 0.
        return self.xp.where(count == 0, scalar(1.0, count, self.xp), count)

    def _reduce(self, per_sample: Array) -> Array:
        xp = self.xp
        if self.invalid is not None:
            per_sample = xp.where(self.invalid, scalar(float("nan"), per_sample, xp), per_sample)
        if self.reduction == "none":
            return per_sample
        acc = self._accumulator(per_sample)
        # Half precision: "sum" stays float32 (documented: it overflows float16 easily).
        total = xp.sum(per_sample) if acc is None else xp.sum(per_sample, dtype=acc)
        if self.reduction == "sum":
            return total
        mean = total / self._denominator(acc)
        return mean if acc is None else xp.astype(mean, per_sample.dtype)

    def _scale(self, g: Array) -> Array:
        xp = self.xp
        if self.invalid is not None:
            mask = self.invalid if self.class_axis is None else self.invalid[..., None]
            g = xp.where(mask, scalar(float("nan"), g, xp), g)
        if self.reduction == "mean":
            acc = self._accumulator(g)
            if acc is None:
                g = g / self._denominator(None)
            else:  # 1/N of a long batch is below float16's normal range: divide in float32
                g = xp.astype(xp.astype(g, acc) / self._denominator(acc), g.dtype)
        if self.class_axis is not None and self.class_axis != len(g.shape) - 1:
            g = xp.moveaxis(g, -1, self.class_axis)
        return g

    def value(self) -> Array:
        if self.final is not None:
            return self.final(False)[0]
        return self._reduce(self._parts(False)[0])

    def grad(self) -> Array:
        return self.value_and_grad()[1]

    def value_and_grad(self) -> tuple[Array, Array]:
        if self.final is not None:
            return self.final(True)
        per_sample, g = self._parts(True)
        return self._reduce(per_sample), self._scale(g)


class Loss(Generic[P]):
    """A loss function together with its analytic gradient.

    Call it for the loss value; ``.grad(...)`` returns the gradient with respect
    to the first input and ``.value_and_grad(...)`` both, computed in one pass.
    Both take exactly the loss's own arguments.
    """

    def __init__(self, terms: Callable[P, LossTerms]) -> None:
        self._terms = terms
        functools.update_wrapper(self, terms)
        # help() and IDEs should show what a call returns (an array), not the internal terms.
        self.__signature__ = inspect.signature(terms).replace(return_annotation="Array")

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Array:
        return self._terms(*args, **kwargs).value()

    def grad(self, *args: P.args, **kwargs: P.kwargs) -> Array:
        """Gradient of the loss with respect to its first input (of the sum for "none")."""
        return self._terms(*args, **kwargs).grad()

    def value_and_grad(self, *args: P.args, **kwargs: P.kwargs) -> tuple[Array, Array]:
        """``(loss, grad)`` from one evaluation of the shared intermediates."""
        return self._terms(*args, **kwargs).value_and_grad()

    def sum_and_count(self, *args: P.args, **kwargs: P.kwargs) -> tuple[Array, Array | float]:
        """The two numbers a "mean" divides: the summed loss and its denominator (N, or the
        summed weight of the counted samples). Partial results (chunks, workers) combine
        exactly by adding both; ``reduction`` is ignored."""
        kwargs["reduction"] = "sum"
        terms = self._terms(*args, **kwargs)
        return terms.value(), terms.count()

    def per_sample_and_count(
        self, *args: P.args, **kwargs: P.kwargs
    ) -> tuple[Array, Array | float]:
        """Each sample's loss (as ``reduction="none"``) and what "mean" divides their sum
        by, from one evaluation; ``reduction`` is ignored."""
        kwargs["reduction"] = "none"
        terms = self._terms(*args, **kwargs)
        return terms.value(), terms.count()

    def __repr__(self) -> str:
        return f"<losskit loss {self._terms.__name__}>"


def kernel_terms(
    xp: Namespace,
    reduction: str,
    num_samples: int,
    denominator: float,
    compute: Callable[[float, bool], tuple[Array, Array | None]],
) -> LossTerms:
    """LossTerms for a fused kernel: compute(grad_scale, with_grad) returns the per-sample
    values and grad_scale × the gradient of their sum; the reduction happens here, so the
    kernel never needs a second pass over the gradient."""
    count = denominator
    if denominator == 0:
        denominator = 1.0  # every target ignored: loss and gradient 0, as on the generic path
    scale = 1.0 / denominator if reduction == "mean" else 1.0

    def final(with_grad: bool) -> tuple[Array, Array | None]:
        per_sample, grad = compute(scale, with_grad)
        if reduction == "none":
            return per_sample, grad
        total = per_sample.sum()
        return (total / denominator if reduction == "mean" else total), grad

    return LossTerms(xp, reduction, num_samples, final=final, kernel_count=count)
