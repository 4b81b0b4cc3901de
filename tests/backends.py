"""The array libraries the suite runs on, and helpers to move test data between them.

Every backend that is importable is tested; one that is not is skipped with
its reason shown in pytest's summary (-ra).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import array_api_compat
import numpy as np

ALL_BACKENDS = ("numpy", "array_api_strict", "torch", "jax", "dask")

_MODULE = {
    "numpy": "numpy",
    "array_api_strict": "array_api_strict",
    "torch": "torch",
    "jax": "jax",
    "dask": "dask.array",
}


def installed(backend: str) -> bool:
    root = _MODULE[backend].split(".")[0]
    if importlib.util.find_spec(root) is None:
        return False
    if backend == "dask":
        try:
            import dask.array  # noqa: F401
        except ImportError:
            return False
    return True


def configure(backend: str) -> None:
    """Per-backend settings the tests need (never set by the library itself)."""
    if backend == "torch":
        import torch

        # 2 threads on 2 busy cores is ~10x slower than 1.
        torch.set_num_threads(1)
    elif backend == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 tests need it
        jax.config.update("jax_platforms", "cpu")


def to_backend(backend: str, a: Any, *, chunks: int | None = None) -> Any:
    """A NumPy array (or scalar) → the same values in `backend`, keeping the dtype."""
    a = np.asarray(a)
    if backend == "numpy":
        return a.copy()
    if backend == "array_api_strict":
        import array_api_strict as xps

        return xps.asarray(a.copy())
    if backend == "torch":
        import torch

        return torch.from_numpy(a.copy())
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.asarray(a)
    if backend == "dask":
        import dask.array as da

        # Chunked along samples (the first axis), as SPEC §7 expects.
        rows = chunks or max(1, (a.shape[0] + 2) // 3) if a.ndim else None
        return da.from_array(a, chunks=(rows, *a.shape[1:]) if a.ndim else ())
    raise ValueError(backend)


def to_numpy(x: Any) -> np.ndarray[Any, Any]:
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if array_api_compat.is_dask_array(x):
        return np.asarray(x.compute())
    if type(x).__module__.startswith("array_api_strict"):
        return np.from_dlpack(x)
    return np.asarray(x)


def is_backend_array(backend: str, x: Any) -> bool:
    checks = {
        "numpy": array_api_compat.is_numpy_array,
        "torch": array_api_compat.is_torch_array,
        "jax": array_api_compat.is_jax_array,
        "dask": array_api_compat.is_dask_array,
        "array_api_strict": lambda x: type(x).__module__.startswith("array_api_strict"),
    }
    return bool(checks[backend](x))


def dtype_name(x: Any) -> str:
    return str(x.dtype).rsplit(".", 1)[-1].replace("dtype(", "").strip("')\"")


def assert_close(
    backend: str,
    actual: Any,
    expected: Any,
    *,
    dtype: str,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Values close to `expected` AND still a `backend` array of `dtype` and the right shape.

    Checking the namespace catches the classic bug where both sides silently
    became NumPy arrays.
    """
    assert is_backend_array(backend, actual), f"expected a {backend} array, got {type(actual)}"
    assert dtype_name(actual) == dtype, f"expected dtype {dtype}, got {actual.dtype}"
    expected = np.asarray(expected, dtype=np.float64)
    got = to_numpy(actual)
    assert got.shape == expected.shape, f"shape {got.shape} != expected {expected.shape}"
    if rtol is None:
        rtol = 1e-5 if dtype in ("float32",) else 1e-11
    if atol is None:
        atol = 1e-6 if dtype in ("float32",) else 1e-12
    np.testing.assert_allclose(got.astype(np.float64), expected, rtol=rtol, atol=atol)
