"""The `Loss` wrapper every public loss is: the call, ``.grad``, ``.value_and_grad``.

A loss is written once as a function that validates its inputs and returns
`losskit._terms.LossTerms`; this wrapper turns that into the value, the gradient or
both, and checks a caller's gradient buffer (``grad_out``) before anything is written.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Generic, ParamSpec

from losskit._array import Array
from losskit._terms import LossTerms
from losskit._validate import grad_buffer

P = ParamSpec("P")


class Loss(Generic[P]):
    """A loss function together with its analytic gradient.

    Call it for the loss value; ``.grad(...)`` returns the gradient with respect
    to the first input and ``.value_and_grad(...)`` both, computed in one pass.
    Both take exactly the loss's own arguments, and optionally ``grad_out``.
    """

    def __init__(self, terms: Callable[P, LossTerms]) -> None:
        self._terms = terms
        functools.update_wrapper(self, terms)
        # help() and IDEs should show what a call returns (an array), not the internal terms.
        self.__signature__ = inspect.signature(terms).replace(return_annotation="Array")
        self._names = tuple(self.__signature__.parameters)  # ("logits", "t", ...)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Array:
        return self._terms(*args, **kwargs).value()

    # grad_out is keyword-only after *args: typing's ParamSpec has no way to say "the loss's
    # own arguments and one more keyword" (hence the ignore), but callers type-check.
    def grad(  # type: ignore[valid-type]
        self, *args: P.args, grad_out: Any = None, **kwargs: P.kwargs
    ) -> Array:
        """Gradient of the loss with respect to its first input (of the sum for "none").
        See `value_and_grad` for `grad_out`."""
        return self.value_and_grad(*args, grad_out=grad_out, **kwargs)[1]

    def value_and_grad(  # type: ignore[valid-type]
        self, *args: P.args, grad_out: Any = None, **kwargs: P.kwargs
    ) -> tuple[Array, Array]:
        """``(loss, grad)`` from one evaluation of the shared intermediates.

        ``grad_out``: optional NumPy array, of the first input's shape and (native) dtype,
        C-contiguous, writeable and sharing no memory with any input, into which the
        gradient is written and which is returned as ``grad``. A training loop that reuses
        one buffer saves allocating (and the kernel first touching) a fresh gradient on
        every step; for NumPy inputs only. (Not ``out``: that would suggest the value.)
        """
        terms = self._terms(*args, **kwargs)
        if grad_out is None:
            return terms.value_and_grad()
        return terms.value_and_grad(grad_buffer(grad_out, self._names, args, kwargs))

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
