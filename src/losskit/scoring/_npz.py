"""`.npz` members read by rows: stored members by byte range, compressed ones inflated
chunk by chunk, so that an archive costs a chunk of memory whatever it expands to.

A deflate stream can only be read from its start. Each process keeps a few
checkpoints per stream (a copy of the decompressor where a read ended), so that
chunks read in row order cost one pass over the stream, not one pass per chunk.
"""

from __future__ import annotations

import functools
import io
import math
import os
import struct
import threading
import zipfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from losskit.scoring._arrays import RawRows, Rows, npy_layout

_STORED, _DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
_HEADER_BYTES = 1 << 16  # enough for any .npy header NumPy accepts (it refuses over 10,000)
_PIECE = 1 << 16  # compressed bytes read at a time
_OUT_PIECE = 1 << 20  # most bytes inflated at a time (what skipping to a row costs in memory)
_CHECKPOINTS = 8  # per stream
_BYTE = np.dtype(np.uint8)
_STREAMS = 4  # streams with checkpoints, per process


def member(
    f: BinaryIO, path: Path, key: str | None, size: int
) -> tuple[str, tuple[int, ...], Any, Rows]:
    """(name, shape, dtype, layout) of the array `key` of the archive open in `f`."""
    info = _find(f, path, key)
    name = f"{path}:{info.filename[:-4]}"
    if info.flag_bits & 0x1:
        raise ValueError(f"{name}: the member is encrypted")
    if info.compress_type not in (_STORED, _DEFLATED):
        raise ValueError(
            f"{name}: compression method {info.compress_type} is not supported (stored and "
            "deflated members are: what numpy.savez and numpy.savez_compressed write)"
        )
    start = _data_start(f, name, info, size)
    if info.compress_type == _STORED:
        if info.compress_size != info.file_size:
            raise ValueError(f"{name}: not a valid .npz file (a stored member of two sizes)")
        f.seek(start)
        prefix = f.read(min(info.file_size, _HEADER_BYTES))
        header, shape, dtype = npy_layout(io.BytesIO(prefix), name, info.file_size)
        crc = (zlib.crc32(prefix[:header]), info.CRC)
        return name, shape, dtype, RawRows(start + header, shape[1:], dtype, not shape, crc)
    deflated = DeflatedRows(start, info.compress_size, info.file_size, info.CRC, 0, (), _BYTE)
    prefix = bytes(_inflate(f, name, deflated, 0, _HEADER_BYTES, None))
    header, shape, dtype = npy_layout(io.BytesIO(prefix), name, info.file_size)
    layout = replace(deflated, header=header, row_shape=shape[1:], dtype=dtype, scalar=not shape)
    return name, shape, dtype, layout


def _find(f: BinaryIO, path: Path, key: str | None) -> zipfile.ZipInfo:
    try:
        with zipfile.ZipFile(f) as archive:
            infos = archive.infolist()
    # zipfile raises many things on a malformed archive; every one is a bad file here.
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        struct.error,
        ValueError,
        OverflowError,
        NotImplementedError,
        UnicodeDecodeError,
        OSError,
    ) as exc:
        raise ValueError(f"{path}: not a valid .npz file ({exc})") from None
    arrays = [i for i in infos if i.filename.endswith(".npy")]
    names = list(dict.fromkeys(i.filename[:-4] for i in arrays))
    if key is None and len(names) != 1:
        raise ValueError(f"{path}: holds arrays {names}; name one with path.npz:KEY")
    wanted = f"{key if key is not None else names[0]}.npy"
    found = [i for i in arrays if i.filename == wanted]
    if not found:
        raise ValueError(f"{path}: has no array {key!r}; it holds {names}")
    if len(found) > 1:  # which one would a worker, or another reader, take?
        raise ValueError(f"{path}: holds {len(found)} members named {wanted!r}")
    return found[0]


def _data_start(f: BinaryIO, name: str, info: zipfile.ZipInfo, size: int) -> int:
    """Where the member's data begins: after its local header, which has its own length."""
    f.seek(info.header_offset)
    local = f.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise ValueError(f"{name}: not a valid .npz file (no local header where it should be)")
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    start = info.header_offset + 30 + name_length + extra_length
    if start + info.compress_size > size:
        raise ValueError(f"{name}: not a valid .npz file (the member runs past the end)")
    return int(start)


@dataclass(frozen=True)
class DeflatedRows:
    """Rows of a deflated member: its compressed bytes are [start, start + size) of the
    file; inflated, `total` bytes with CRC-32 `crc`, the .npy header's `header` first."""

    start: int
    size: int
    total: int
    crc: int
    header: int
    row_shape: tuple[int, ...]
    dtype: np.dtype[Any]
    scalar: bool = False

    def read(self, f: BinaryIO, name: str, start: int, stop: int) -> np.ndarray[Any, Any]:
        row_bytes = math.prod(self.row_shape) * self.dtype.itemsize
        st = os.fstat(f.fileno())
        stream = _stream((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, self.start))
        length = (stop - start) * row_bytes
        data = _inflate(f, name, self, self.header + start * row_bytes, length, stream)
        if len(data) < length:
            raise ValueError(f"{name}: the compressed data ends before row {stop} (truncated)")
        out = np.frombuffer(data, dtype=self.dtype)
        return out.reshape(()) if self.scalar else out.reshape((stop - start, *self.row_shape))


# A decompressor's state: (bytes inflated so far, compressed bytes read, CRC-32 of the
# bytes inflated, the decompressor, input it has not consumed yet).
_Point = tuple[int, int, int, Any, bytes]


def _fresh() -> _Point:
    return 0, 0, 0, zlib.decompressobj(-zlib.MAX_WBITS), b""


class _Checkpoints:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.points: dict[int, _Point] = {0: _fresh()}

    def nearest(self, position: int) -> _Point:
        """The latest state at or before `position`, copied (other threads use it too)."""
        with self.lock:
            best = max(p for p in self.points if p <= position)
            out, read, crc, d, pending = self.points[best]
            return out, read, crc, d.copy(), pending

    def remember(self, point: _Point) -> None:
        out, read, crc, d, pending = point
        with self.lock:
            self.points[out] = (out, read, crc, d.copy(), pending)
            while len(self.points) > _CHECKPOINTS:  # reads go forward: drop the earliest
                del self.points[min(p for p in self.points if p)]


_streams: OrderedDict[tuple[int, ...], _Checkpoints] = OrderedDict()
_streams_lock = threading.Lock()


def _stream(key: tuple[int, ...]) -> _Checkpoints:
    with _streams_lock:
        if key not in _streams:
            _streams[key] = _Checkpoints()
            while len(_streams) > _STREAMS:
                _streams.popitem(last=False)
        _streams.move_to_end(key)
        return _streams[key]


def _inflate(
    f: BinaryIO,
    name: str,
    member: DeflatedRows,
    first: int,
    length: int,
    stream: _Checkpoints | None,
) -> bytearray:
    """Bytes [first, first + length) of the inflated member; fewer if it ends sooner.
    Memory: the result and one piece, however far into the stream `first` lies. A read
    that reaches the member's end checks that the stream ends there, and its CRC-32."""
    out = bytearray(length)
    position, read, crc, d, pending = stream.nearest(first) if stream else _fresh()
    end = first + length
    f.seek(member.start + read)
    while position < end and not d.eof:
        if not pending:
            pending = f.read(min(_PIECE, member.size - read))
            read += len(pending)
            if not pending:
                break  # the compressed bytes end before the stream does
        try:
            piece = d.decompress(pending, min(end - position, _OUT_PIECE))
        except zlib.error as exc:
            raise ValueError(f"{name}: corrupt compressed data ({exc})") from None
        pending = d.unconsumed_tail
        crc = zlib.crc32(piece, crc)
        low = max(position, first)
        if position + len(piece) > low:
            out[low - first : position + len(piece) - first] = piece[low - position :]
        position += len(piece)
    if stream is not None and position == member.total:
        _check_end(f, name, member, (position, read, crc, d, pending))
    elif stream is not None and position == end:
        stream.remember((position, read, crc, d, pending))
    return out if position >= end else out[: max(0, position - first)]


def _check_end(f: BinaryIO, name: str, member: DeflatedRows, point: _Point) -> None:
    """The stream ends where the header says the member does, with the right CRC-32."""
    _, read, crc, d, pending = point
    while not d.eof:
        if not pending:
            pending = f.read(min(_PIECE, member.size - read))
            read += len(pending)
            if not pending:
                raise ValueError(f"{name}: the compressed data is truncated")
        try:
            extra = d.decompress(pending, 1)
        except zlib.error as exc:
            raise ValueError(f"{name}: corrupt compressed data ({exc})") from None
        if extra:
            raise ValueError(
                f"{name}: corrupt compressed data (it goes on past the {member.total} bytes "
                "the archive declares)"
            )
        pending = d.unconsumed_tail
    if crc != member.crc:
        raise ValueError(f"{name}: corrupt compressed data (CRC-32 mismatch)")


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of a + b from crc32(a), crc32(b) and len(b), as zlib's crc32_combine
    (which Python's zlib does not offer): crc1 shifted over len(b) zero bytes, xor crc2."""
    return _times(_shift(length2), crc1) ^ crc2


def _times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


@functools.lru_cache(maxsize=8)  # chunks have one length (the last one another)
def _shift(length: int) -> list[int]:
    """The GF(2) operator that appends `length` zero bytes to a CRC-32's message."""
    step = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit (reflected polynomial)
    result = [1 << n for n in range(32)]
    bits = 8 * length
    while bits:
        if bits & 1:
            result = [_times(step, column) for column in result]
        step = [_times(step, column) for column in step]
        bits >>= 1
    return result
