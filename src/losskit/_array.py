"""Array-namespace plumbing: the one module that knows how backends differ.

The numeric core is written against the Array API standard only; everything
backend-specific (JAX tracers, Dask laziness) is decided here.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

import array_api_compat

# Arrays come from many libraries with no common static type; the Array API
# standard has no typing package mypy can use yet, so arrays are typed as Any.
Array = Any
Namespace = ModuleType


def get_namespace(*arrays: object, xp: Namespace | None = None) -> Namespace:
    """Return `xp` if given, else the Array API namespace shared by `arrays`."""
    if xp is not None:
        return xp
    for a in arrays:
        if isinstance(a, (list, tuple)):
            raise TypeError(
                f"expected arrays (NumPy, PyTorch, JAX, CuPy, Dask, ...), got a Python "
                f"{type(a).__name__}; convert it first, e.g. numpy.asarray(...)"
            )
    try:
        return array_api_compat.array_namespace(*arrays)
    except TypeError as exc:
        kinds = ", ".join(sorted({type_name(a) for a in arrays if a is not None}))
        raise TypeError(f"expected arrays from one array library, got {kinds} ({exc})") from None


def type_name(a: object) -> str:
    """'torch.Tensor', 'numpy.ndarray', 'builtins.list': a type as error messages name it."""
    return type(a).__module__.split(".")[0] + "." + type(a).__name__


def device_of(x: Array) -> Any:
    return array_api_compat.device(x)


def values_are_readable(x: Array) -> bool:
    """Can x's values be inspected now, cheaply and without tracing errors?

    False for Dask arrays (checks run lazily, per chunk, at compute time) and for
    JAX tracers under `jax.jit`/`jax.grad` (no Python control flow on values).
    """
    if array_api_compat.is_dask_array(x):
        return False
    if array_api_compat.is_jax_array(x):
        jax = sys.modules["jax"]  # imported already: x is one of its arrays
        return not isinstance(x, jax.core.Tracer)
    return True


def optional_module(name: str) -> Any:
    """An optional backend (torch, dask, ...), imported by name so that static checks pass
    where it is not installed; ImportError when it is missing, as a plain import."""
    return importlib.import_module(name)


def is_dask(x: Array) -> bool:
    return bool(array_api_compat.is_dask_array(x))


def scalar(value: float, like: Array, xp: Namespace) -> Array:
    """A 0-d array of `like`'s dtype and device (Python scalars in `where` are not portable)."""
    return xp.asarray(value, dtype=like.dtype, device=device_of(like))


def class_last(y: Array, axis: int, xp: Namespace) -> Array:
    """y with its class axis moved last (a view on NumPy), the layout the core computes in."""
    return y if axis == len(y.shape) - 1 else xp.moveaxis(y, axis, -1)
