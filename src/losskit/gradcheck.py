"""Numerical gradients, the book's way, and a checker that names the worst element."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from losskit._array import Array, device_of, get_namespace
from losskit._validate import require_floating

__all__ = ["GradientCheck", "check_gradient", "numerical_gradient"]


def numerical_gradient(f: Callable[[Array], object], x: Array, /, *, h: float = 1e-4) -> Array:
    r"""Central differences :math:`(f(x + h e_i) - f(x - h e_i)) / 2h` for every element i.

    `f` maps an array of x's shape to a scalar. x is not modified (the book's
    version writes into x and restores it; here each probe is a new array, which
    also works on JAX). Costs 2·x.size calls of f: for checking small problems.

    >>> import numpy as np
    >>> numerical_gradient(lambda x: float((x ** 2).sum()), np.array([3.0, 4.0]))
    array([6., 8.])
    """
    xp = get_namespace(x)
    require_floating("x", x, xp)
    if not h > 0:
        raise ValueError(f"h must be > 0, got {h!r}")
    size = 1
    for n in x.shape:
        size *= int(n)
    index = xp.reshape(xp.arange(size, device=device_of(x)), tuple(x.shape))
    slopes = []
    for i in range(size):
        step = xp.astype(index == i, x.dtype) * h
        slopes.append((float(f(x + step)) - float(f(x - step))) / (2.0 * h))  # type: ignore[arg-type]
    return xp.reshape(xp.asarray(slopes, dtype=x.dtype, device=device_of(x)), tuple(x.shape))


@dataclass(frozen=True)
class GradientCheck:
    """Outcome of `check_gradient`: passed, and the worst element's numbers."""

    passed: bool
    worst_index: tuple[int, ...]
    analytic: float
    numerical: float
    abs_error: float
    rtol: float
    atol: float

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"gradient check {verdict}: worst element {self.worst_index}: analytic "
            f"{self.analytic:.10g}, numerical {self.numerical:.10g}, |difference| "
            f"{self.abs_error:.3g} (allowed {self.atol:g} + {self.rtol:g}·|numerical|)"
        )


def check_gradient(
    f: Callable[[Array], object],
    grad: Callable[[Array], Array],
    x: Array,
    /,
    *,
    h: float = 1e-4,
    rtol: float = 1e-4,
    atol: float = 1e-6,
) -> GradientCheck:
    """Compare `grad(x)` with `numerical_gradient(f, x)`; report the worst element.

    An element passes when ``|analytic - numerical| <= atol + rtol * |numerical|``.
    Use float64 inputs: central differences in float32 are only good to ~1e-3.

    >>> import numpy as np
    >>> from losskit import softmax_cross_entropy as ce
    >>> z, t = np.array([[1.0, 2.0, 0.5]]), np.array([1])
    >>> bool(check_gradient(lambda z: ce(z, t), lambda z: ce.grad(z, t), z))
    True
    """
    xp = get_namespace(x)
    analytic = grad(x)
    numerical = numerical_gradient(f, x, h=h)
    if tuple(analytic.shape) != tuple(x.shape):
        raise ValueError(
            f"grad(x) has shape {tuple(analytic.shape)}, expected x's shape {tuple(x.shape)}"
        )
    error = xp.abs(xp.astype(analytic, numerical.dtype) - numerical)
    excess = xp.reshape(error / (atol + rtol * xp.abs(numerical)), (-1,))
    # NaN anywhere is the worst possible element.
    excess = xp.where(xp.isnan(excess), xp.asarray(float("inf"), dtype=excess.dtype), excess)
    flat = int(xp.argmax(excess))
    worst = []
    for n in reversed(tuple(x.shape)):
        worst.append(flat % int(n))
        flat //= int(n)
    worst_index = tuple(reversed(worst))
    a = float(xp.reshape(analytic, (-1,))[int(xp.argmax(excess))])
    n = float(xp.reshape(numerical, (-1,))[int(xp.argmax(excess))])
    return GradientCheck(
        passed=bool(xp.max(excess) <= 1.0) if excess.shape[0] else True,
        worst_index=worst_index,
        analytic=a,
        numerical=n,
        abs_error=abs(a - n),
        rtol=rtol,
        atol=atol,
    )
