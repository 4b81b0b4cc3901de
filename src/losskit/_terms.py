"""A loss before reduction (`LossTerms`), and the reduction rule applied to it.

Every implementation of a loss (the Array API core, the fused kernels) returns
`LossTerms`: its per-sample values and a thunk for the elementwise gradient of their
sum, or for a fast path one function that returns the reduced value and final
gradient from one pass. This module turns either into the value, the gradient or both.
The reduction rule is applied here: by `LossTerms` for the Array API core, and by
`kernel_terms` for the fused kernels, which fold the 1/denominator into their gradient
write (what the denominator is, PyTorch's rule for labels, is computed by the core
from its coefficients and by `kernels.dispatch.label_mean_denominator` for the kernels).

The reduction rule itself is documented in `losskit.reductions`. Nothing here checks
user input: `losskit._loss.Loss` (the public wrapper) does that before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from losskit._array import Array, Namespace, scalar


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which costs
# 2 µs per call, when a whole 100 × 10 value and gradient takes about 5. Nothing mutates it
# after construction.
@dataclass(slots=True)
class LossTerms:
    """A loss before reduction.

    per_sample:     loss of each sample, shape = the sample axes.
    gradient:       computes d(sum of per_sample)/d(prediction), in class-last layout.
    final:          alternative to all of the above for fast paths: final(with_grad,
                    grad_out) returns the reduced value and the final gradient (or None)
                    from one pass over the data, the gradient written into grad_out when
                    that is given; the reduction is then the fast path's business.
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
    final: Callable[[bool, Array | None], tuple[Array, Array | None]] | None = None
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
            return self.final(False, None)[0]
        return self._reduce(self._parts(False)[0])

    def value_and_grad(self, grad_out: Array | None = None) -> tuple[Array, Array]:
        """With `grad_out` (a checked NumPy buffer of the gradient's shape and dtype) the
        gradient is written there: by the kernels directly, else copied from the core's."""
        if self.final is not None:
            value, g = self.final(True, grad_out)
            return value, g if grad_out is None else grad_out  # the buffer itself, not a view
        per_sample, g = self._parts(True)
        value, g = self._reduce(per_sample), self._scale(g)
        if grad_out is None:
            return value, g
        grad_out[...] = g
        return value, grad_out


def kernel_terms(
    xp: Namespace,
    reduction: str,
    num_samples: int,
    denominator: float,
    compute: Callable[[float, bool, Array | None], tuple[Array, Array | None]],
) -> LossTerms:
    """LossTerms for a fused kernel: compute(grad_scale, with_grad, grad_out) returns the
    per-sample values and grad_scale × the gradient of their sum (in grad_out if given);
    the reduction happens here, so the kernel never needs a second pass over the gradient."""
    count = denominator
    if denominator == 0:
        denominator = 1.0  # every target ignored: loss and gradient 0, as on the generic path
    scale = 1.0 / denominator if reduction == "mean" else 1.0

    def final(with_grad: bool, grad_out: Array | None) -> tuple[Array, Array | None]:
        per_sample, grad = compute(scale, with_grad, grad_out)
        if reduction == "none":
            return per_sample, grad
        total = per_sample.sum()
        return (total / denominator if reduction == "mean" else total), grad

    return LossTerms(xp, reduction, num_samples, final=final, kernel_count=count)
