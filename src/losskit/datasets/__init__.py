"""MNIST and Fashion-MNIST from their original IDX files, with the book's options.

Where the data comes from, in order: a folder you name (`data_dir`), the cache
filled by ``losskit data download`` (``$LOSSKIT_DATA`` or the user cache
folder), or the real MNIST sample bundled in the package (``"sample"``).
Nothing is downloaded unless you call `download`. Never pickle.

Every file is checked against its data set's own size and SHA-256 when it is loaded
(the .gz file, or the raw IDX file against the hash of the decompressed content), so a
changed, truncated or foreign file is a ``ValueError`` naming it, never a silent run on
the wrong data; then its pixels must be bytes and its labels classes 0..9.

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

from losskit.datasets import sources
from losskit.datasets.idx import parse_idx, read_idx, write_idx
from losskit.datasets.sources import DATASETS, cache_dir, download, identify, verify

__all__ = [
    "DATASETS",
    "NAMES",
    "cache_dir",
    "download",
    "identify",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "sample_dir",
    "verify",
    "write_idx",
]

NAMES = ("sample", "mnist", "fashion-mnist")
NUM_CLASSES = 10

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
        images, labels = _load_split(folder, split, name)
        x: np.ndarray[Any, Any] = images
        if normalize:
            x = images.astype(np.float32) / np.float32(255.0)
        x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, *images.shape[1:])
        t: np.ndarray[Any, Any] = labels.astype(np.int64)
        if one_hot_label:
            t = np.eye(NUM_CLASSES, dtype=np.float32)[t]
        splits.append((x, t))
    return splits[0], splits[1]


def _load(folder: Path, stem: str, name: str) -> tuple[np.ndarray[Any, Any], Path]:
    """One IDX file of `name`, read only once its SHA-256 matches; decompression capped at
    the known size of its content."""
    path = _find(folder, stem, name)
    data = sources.read_verified(path, name)
    return parse_idx(data, path, max_bytes=sources.source(name).files[stem].size), path


def _load_split(folder: Path, split: str, name: str) -> Split:
    images, images_path = _load(folder, f"{split}-images-idx3-ubyte", name)
    labels, labels_path = _load(folder, f"{split}-labels-idx1-ubyte", name)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{folder}: {split} images of shape {images.shape} do not match labels of "
            f"shape {labels.shape}: expected (N, rows, cols) images and N labels"
        )
    # IDX can hold floats (and so NaN); MNIST's pixels are bytes, 0..255.
    if images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: expected uint8 pixels (IDX type 0x08), found {images.dtype}"
        )
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{labels_path}: expected integer labels, found {labels.dtype}")
    bad = (labels < 0) | (labels >= NUM_CLASSES)
    if bad.any():
        at = int(np.argmax(bad))
        raise ValueError(
            f"{labels_path}: label {int(labels[at])} at index {at} is not a class: "
            f"expected 0..{NUM_CLASSES - 1}"
        )
    return images, labels


def _find(folder: Path, stem: str, name: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
        if candidate.exists():  # a folder, a FIFO, a device: never opened (a FIFO would block)
            kind = "a folder" if candidate.is_dir() else "a special file (FIFO, device, socket)"
            raise ValueError(f"{candidate}: expected a regular IDX file, found {kind}")
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
