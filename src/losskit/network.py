"""Moved to `losskit.chapter.network`. This path keeps working for one release, with a
DeprecationWarning on first use."""

from __future__ import annotations

import warnings
from typing import Any

from losskit.chapter import network as _moved


def __getattr__(name: str) -> Any:
    if name.startswith("__") or not hasattr(_moved, name):
        # Module machinery (doctest, pytest, pickling) probing for names finds nothing here.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        "losskit.network moved to losskit.chapter.network; the old path goes away in 0.3",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_moved, name)
