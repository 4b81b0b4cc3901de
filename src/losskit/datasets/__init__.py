"""MNIST and Fashion-MNIST from their original IDX files, with the book's options.

Where the data comes from, in order: a folder you name (`data_dir`), the cache
filled by ``losskit data download`` (``$LOSSKIT_DATA`` or the user cache
folder), or the real MNIST sample bundled in the package (``"sample"``).
Nothing is downloaded unless you call `download`. Never pickle.

>>> (x_train, t_train), (x_test, t_test) = load_dataset("sample")
>>> x_train.shape, x_train.dtype, t_train[:5].tolist()
((10000, 784), dtype('float32'), [5, 0, 4, 1, 9])
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from losskit.datasets.idx import read_idx, write_idx
from losskit.datasets.sources import DATASETS, cache_dir, download, verify

__all__ = [
    "DATASETS",
    "NAMES",
    "cache_dir",
    "download",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "sample_dir",
    "verify",
    "write_idx",
]

NAMES = ("sample", "mnist", "fashion-mnist")

Split = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]


def sample_dir() -> Path:
    """The folder of the bundled MNIST sample (10,000 training and 2,000 test images)."""
    return Path(str(resources.files("losskit.datasets") / "sample"))


def _folder(name: str, data_dir: str | os.PathLike[str] | None) -> Path:
    if name == "sample":
        return sample_dir()
    if data_dir is not None:
        return Path(data_dir)
    return cache_dir() / name


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
) -> tuple[Split, Split]:
    """Load a data set as ``((x_train, t_train), (x_test, t_test))``, like the book's load_mnist.

    Args:
        name: which data set; ``"sample"`` is the bundled MNIST subset.
        data_dir: a folder holding the four IDX files (gzip or raw, original names);
            default: the cache folder of `name`.
        normalize: pixels as float32 in [0, 1] (else the original uint8 0..255).
        flatten: images as rows of 784 (else the book's (N, 1, 28, 28)).
        one_hot_label: labels as float32 one-hot rows (N, 10) (else int64 labels).
    """
    if name not in NAMES:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(NAMES)}")
    folder = _folder(name, data_dir)
    splits = []
    for split in ("train", "t10k"):
        images = read_idx(_find(folder, f"{split}-images-idx3-ubyte", name))
        labels = read_idx(_find(folder, f"{split}-labels-idx1-ubyte", name))
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{folder}: {split} images of shape {images.shape} do not match labels of "
                f"shape {labels.shape}: expected (N, rows, cols) images and N labels"
            )
        x: np.ndarray[Any, Any] = images
        if normalize:
            x = images.astype(np.float32) / np.float32(255.0)
        x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, *images.shape[1:])
        t: np.ndarray[Any, Any] = labels.astype(np.int64)
        if one_hot_label:
            t = np.eye(10, dtype=np.float32)[t]
        splits.append((x, t))
    return splits[0], splits[1]


def _find(folder: Path, stem: str, name: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    hint = (
        f"run `losskit data download {name}`, pass data_dir=, or use the bundled sample"
        if name != "sample"
        else "the package installation is incomplete"
    )
    raise FileNotFoundError(f"{stem}(.gz) not found in {folder}: {hint}")


def load_mnist(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
) -> tuple[Split, Split]:
    """The full MNIST (60,000 + 10,000) from `data_dir` or the cache; see `load_dataset`."""
    return load_dataset(
        "mnist",
        data_dir=data_dir,
        normalize=normalize,
        flatten=flatten,
        one_hot_label=one_hot_label,
    )


def load_fashion_mnist(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
) -> tuple[Split, Split]:
    """Fashion-MNIST from `data_dir` or the cache; see `load_dataset`."""
    return load_dataset(
        "fashion-mnist",
        data_dir=data_dir,
        normalize=normalize,
        flatten=flatten,
        one_hot_label=one_hot_label,
    )
