"""Arrays in files, read by rows without loading the rest: `.npy`, `.npz` members, `.csv`.

Every file is untrusted: a header that lies, a size that does not match, a dtype that
is not a number, an empty file or a directory is a one-line error naming the file,
never a giant allocation or a NumPy internal error.

An `ArrayFile` is what the client saw when it opened the file: its absolute path, its
layout, and a fingerprint (size, first and last bytes). It is shipped to Dask workers
as it is; every read checks the fingerprint first, so a worker whose file at that path
differs from the client's (another machine, or the file replaced meanwhile) stops with
an error instead of scoring other data.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from losskit._array import optional_module

# Bytes at each end of a file that its fingerprint covers: the whole .npy header, an
# .npz archive's central directory (at its end), a CSV's header line.
_PROBE_BYTES = 64 << 10


class Rows(Protocol):
    """How a file's rows are laid out; `read` gets the file opened and already checked."""

    def read(self, f: BinaryIO, name: str, start: int, stop: int) -> np.ndarray[Any, Any]: ...


@dataclass(frozen=True)
class Fingerprint:
    size: int
    head: bytes  # digests of the first and last _PROBE_BYTES
    tail: bytes

    @classmethod
    def of(cls, f: BinaryIO) -> Fingerprint:
        size = os.fstat(f.fileno()).st_size
        f.seek(0)
        head = hashlib.blake2b(f.read(_PROBE_BYTES), digest_size=16).digest()
        f.seek(max(0, size - _PROBE_BYTES))
        tail = hashlib.blake2b(f.read(_PROBE_BYTES), digest_size=16).digest()
        return cls(size, head, tail)


@dataclass(frozen=True)
class ArrayFile:
    """An array in a file, readable by rows; picklable (Dask ships it to workers)."""

    path: Path  # absolute
    name: str  # what messages call it: the path, with :KEY for an archive member
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    layout: Rows
    seen: Fingerprint  # the file as the client saw it

    @property
    def rows(self) -> int:
        return self.shape[0] if self.shape else 1

    def read_rows(self, start: int, stop: int) -> np.ndarray[Any, Any]:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 (closed below; the error needs the path)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no such file: {self.path}{_on_this_worker()} (the client opened it; every "
                "Dask worker must see the same file at this absolute path)"
            ) from None
        with f:
            now = Fingerprint.of(f)
            if now != self.seen:
                raise ValueError(_not_the_same_file(self.path, self.seen, now))
            return self.layout.read(f, self.name, start, stop)


def _on_this_worker() -> str:
    try:
        return f" on Dask worker {optional_module('distributed').get_worker().address}"
    except (ImportError, ValueError):  # no distributed, or not in a worker
        return ""


def _not_the_same_file(path: Path, seen: Fingerprint, now: Fingerprint) -> str:
    what = (
        f"it has {now.size} bytes here, the client saw {seen.size}"
        if now.size != seen.size
        else "its content differs from what the client saw"
    )
    return (
        f"{path}: not the file the client opened{_on_this_worker()}: {what} (changed since, "
        "or another file at this path): every worker must see the same file"
    )


@dataclass(frozen=True)
class RawRows:
    """Rows stored as they are in memory, from byte `offset` on (.npy, stored members)."""

    offset: int
    row_shape: tuple[int, ...]
    dtype: np.dtype[Any]
    scalar: bool = False  # a 0-d array: one "row" of shape ()
    # A stored .npz member: (CRC-32 of the member's bytes before the rows, of all of them),
    # for the chunks' checksums to be combined and checked (see _run).
    crc: tuple[int, int] | None = None

    def read(self, f: BinaryIO, name: str, start: int, stop: int) -> np.ndarray[Any, Any]:
        row_items = math.prod(self.row_shape)
        out = np.empty((stop - start) * row_items, dtype=self.dtype)
        f.seek(self.offset + start * row_items * self.dtype.itemsize)
        got = f.readinto(out.view(np.uint8))  # type: ignore[attr-defined]
        if got != out.nbytes:
            raise ValueError(f"{name}: ends before row {stop} (changed since it was opened?)")
        return out.reshape(()) if self.scalar else out.reshape((stop - start, *self.row_shape))


def npy_layout(stream: BinaryIO, name: str, available: int) -> tuple[int, tuple[int, ...], Any]:
    """(header bytes, shape, dtype) of the .npy data in `stream`, which holds `available`
    bytes in all; everything the header claims is checked against them."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise ValueError(f"unknown format version {version[0]}.{version[1]}")
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(stream)
    # read_array_header tokenizes and evaluates a Python literal from the file: whatever
    # goes wrong in there (ValueError, SyntaxError, tokenize.TokenError, MemoryError, ...)
    # means the file is not a valid .npy file.
    except Exception as exc:
        raise ValueError(f"{name}: not a valid .npy file ({exc})") from None
    header = stream.tell()
    if any(isinstance(n, bool) or not isinstance(n, int) for n in shape):
        raise ValueError(f"{name}: not a valid .npy file (shape {shape} must hold integers)")
    if any(n < 0 for n in shape):
        raise ValueError(
            f"{name}: not a valid .npy file: the header declares a negative size, shape {shape}"
        )
    _check_dtype(name, dtype)
    if fortran and len(shape) > 1:
        raise ValueError(
            f"{name}: Fortran-ordered arrays cannot be read by rows; save it "
            "C-ordered (numpy.ascontiguousarray)"
        )
    nbytes = math.prod(shape) * dtype.itemsize
    if header + nbytes != available:
        what = "truncated" if header + nbytes > available else "longer than its header says"
        raise ValueError(
            f"{name}: {what}: the header declares shape {shape} of {dtype}, {nbytes} bytes "
            f"of data after a {header}-byte header, but there are {available - header}"
        )
    return header, tuple(shape), dtype


def _check_dtype(name: str, dtype: np.dtype[Any]) -> None:
    if dtype.hasobject:
        raise ValueError(f"{name}: object arrays are not supported (they would need pickle)")
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in "biufc":
        raise ValueError(f"{name}: unsupported dtype {dtype} (an array of numbers is expected)")
