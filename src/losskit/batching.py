"""Mini-batches, the chapter's way: a random handful of samples estimates the loss over all.

Randomness always comes from an explicit `numpy.random.Generator`: no hidden
global state, so a seed reproduces a run exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["iterate_epoch", "sample_batch"]


def _require_generator(rng: object) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)), "
            f"got {type(rng).__name__}"
        )


def _require_sizes(n: int, batch_size: int) -> None:
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive number of samples, got {n!r}")
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def sample_batch(
    n: int, batch_size: int, *, rng: np.random.Generator, replace: bool = False
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Indices of one random mini-batch of `batch_size` out of `n` samples.

    The chapter's ``np.random.choice(60000, 100)``; without replacement by
    default (the book's call draws with replacement: pass ``replace=True``).

    >>> import numpy as np
    >>> sample_batch(60000, 5, rng=np.random.default_rng(0))
    array([38215, 30667, 16186, 18469, 51034])
    """
    _require_generator(rng)
    _require_sizes(n, batch_size)
    if not replace and batch_size > n:
        raise ValueError(
            f"cannot draw {batch_size} distinct samples out of {n}; use replace=True or a "
            "smaller batch_size"
        )
    return rng.choice(n, size=batch_size, replace=replace).astype(np.int64)


def iterate_epoch(
    n: int, batch_size: int, *, rng: np.random.Generator, drop_last: bool = False
) -> Iterator[np.ndarray[Any, np.dtype[np.int64]]]:
    """One epoch: a random permutation of the n samples, cut into batches of `batch_size`.

    Every sample appears exactly once; the last batch is smaller unless `drop_last`.

    >>> import numpy as np
    >>> [b.tolist() for b in iterate_epoch(5, 2, rng=np.random.default_rng(0))]
    [[2, 4], [3, 0], [1]]
    """
    _require_generator(rng)
    _require_sizes(n, batch_size)
    order = rng.permutation(n).astype(np.int64)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]
