"""A reader for IDX files (the MNIST format) that treats every file as untrusted.

Bad magic, unknown type codes, truncated data, trailing bytes and headers that
claim more data than the file holds are all ``ValueError`` naming the file. Memory
use is bounded by the data actually present (never by what a header claims) and by
`max_bytes`: the data is read straight into the array it is returned in, and
decompression stops one byte after the size the header declares, so a gzip bomb costs
at most its declared size (itself at most `max_bytes`).
"""

from __future__ import annotations

import gzip
import io
import math
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["parse_idx", "read_idx", "write_idx"]

# IDX type code → big-endian NumPy dtype.
_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_CODES = {np.dtype(v).newbyteorder("=").str: k for k, v in _DTYPES.items()}

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB: full MNIST images are 47 MB
_CHUNK = 1 << 20
_MAX_NDIM = 32  # what every NumPy can hold (MNIST uses 1 and 3)
_GZIP_MAGIC = b"\x1f\x8b"


def _read_exactly(stream: io.BufferedIOBase, n: int, path: Path, what: str) -> bytes:
    """Read n bytes in chunks, so a lying header cannot make us allocate more than exists."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        part = stream.read(min(_CHUNK, n - got))
        if not part:
            raise ValueError(
                f"{path}: truncated IDX file: expected {n} bytes of {what}, found only {got}"
            )
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_into(stream: io.BufferedIOBase, n: int, path: Path, what: str) -> np.ndarray[Any, Any]:
    """n bytes read straight into a new array. Its pages are only touched as data arrives,
    so a header that lies about the size costs what the file holds, not what it claims."""
    out = np.empty(n, dtype=np.uint8)
    got = 0
    with memoryview(out.data) as view:
        while got < n:
            k = stream.readinto(view[got : got + min(_CHUNK, n - got)])
            if not k:
                raise ValueError(
                    f"{path}: truncated IDX file: expected {n} bytes of {what}, found only {got}"
                )
            got += k
    return out


def read_idx(
    path: str | os.PathLike[str], /, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> np.ndarray[Any, Any]:
    """Read an IDX file (gzip-compressed or raw) into a NumPy array of native byte order.

    The header is ``0x00 0x00 <type code> <ndim>`` followed by ndim big-endian
    uint32 sizes, then the data, row-major. Anything that does not match that
    exactly is a ``ValueError`` naming the file and the problem; a file that cannot
    be read at all is an ``OSError`` (``FileNotFoundError``, ``PermissionError``, ...).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    with open(path, "rb") as f:
        compressed = f.read(2) == _GZIP_MAGIC
        f.seek(0)
        return _parse_stream(f, path, compressed, max_bytes)


def parse_idx(
    data: bytes, path: str | os.PathLike[str], /, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> np.ndarray[Any, Any]:
    """Parse the contents of an IDX file (gzip-compressed or raw) already in memory, such
    as bytes whose SHA-256 was just checked; `path` names it in errors."""
    return _parse_stream(io.BytesIO(data), Path(path), data[:2] == _GZIP_MAGIC, max_bytes)


def _parse_stream(
    raw: io.BufferedIOBase, path: Path, compressed: bool, max_bytes: int
) -> np.ndarray[Any, Any]:
    if not compressed:
        return _parse(raw, path, max_bytes)
    try:
        with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            return _parse(stream, path, max_bytes)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        # Corrupt gzip data; an I/O error of the file itself stays an OSError.
        raise ValueError(f"{path}: corrupt gzip-compressed IDX file ({exc})") from None


def _parse(stream: io.BufferedIOBase, path: Path, max_bytes: int) -> np.ndarray[Any, Any]:
    magic = _read_exactly(stream, 4, path, "header")
    if magic[0] != 0 or magic[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file: expected magic bytes 00 00, got {magic[:2].hex(' ')}"
        )
    code, ndim = magic[2], magic[3]
    if code not in _DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _DTYPES)
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02X} (known: {known})")
    if not 0 < ndim <= _MAX_NDIM:
        raise ValueError(
            f"{path}: IDX header declares {ndim} dimensions, expected 1 to {_MAX_NDIM}"
        )
    dims = tuple(
        int(d) for d in np.frombuffer(_read_exactly(stream, 4 * ndim, path, "header"), dtype=">u4")
    )
    dtype = np.dtype(_DTYPES[code])
    nbytes = math.prod(dims) * dtype.itemsize
    if nbytes > max_bytes:
        raise ValueError(
            f"{path}: IDX header claims {nbytes} bytes of data (shape {dims}), more than "
            f"max_bytes={max_bytes}"
        )
    data = _read_into(stream, nbytes, path, f"data for shape {dims}")
    if stream.read(1):  # decompresses one byte past the declared size, no more
        raise ValueError(f"{path}: trailing bytes after the {nbytes} bytes the header declares")
    native = dtype.newbyteorder("=")
    if native.str != dtype.str:  # swap in place: no second copy of the data
        data.view(dtype).byteswap(inplace=True)
    return data.view(native).reshape(dims)


def write_idx(path: str | os.PathLike[str], array: np.ndarray[Any, Any], /) -> None:
    """Write an array as an IDX file, gzip-compressed if the name ends in .gz (atomically)."""
    from losskit._files import atomic_write

    a = np.asarray(array)
    code = _CODES.get(a.dtype.newbyteorder("=").str)
    if code is None or a.ndim == 0 or a.ndim > 255:
        raise ValueError(f"cannot write dtype {a.dtype} with {a.ndim} dimensions as IDX")
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    payload = header + a.astype(_DTYPES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    atomic_write(path, payload)
