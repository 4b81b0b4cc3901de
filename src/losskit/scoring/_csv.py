"""CSV files read by rows: numbers separated by commas, one sample per line.

Opening a CSV reads it once, in blocks: every cell is checked, the first row is a
header only when none of its cells is a number, and every 1024th data row's byte
offset is noted, so that a chunk of rows is later read from near its start without
holding the file. A UTF-8 byte-order mark (Excel's "CSV UTF-8") and CRLF line ends
are fine; blank lines and lines starting with '#' are skipped. A file whose every
cell is an integer holds labels (int64); any other holds float64. Errors name the line
(as an editor counts them, from 1) and the column.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_STRIDE = 1024  # data rows between two noted offsets
_BLOCK = 8192  # lines parsed at a time
_MAX_LINE = 16 << 20  # a longer line is refused rather than held
_BOM = b"\xef\xbb\xbf"
_INT64, _FLOAT64 = np.dtype(np.int64), np.dtype(np.float64)
_INTEGERS = re.compile(r'[0-9+\-,"\s]*')  # text that can only hold integers (or junk)

# (line number, byte offset, text) of one data line.
_Line = tuple[int, int, str]


def _lines(f: BinaryIO, name: str, offset: int, number: int) -> Iterator[_Line]:
    """The data lines of `f` from byte `offset` on, which is the start of line `number`."""
    f.seek(offset)
    while True:
        raw = f.readline(_MAX_LINE + 1)
        if not raw:
            return
        if len(raw) > _MAX_LINE:
            raise ValueError(f"{name}: line {number} is longer than {_MAX_LINE >> 20} MiB")
        start, offset = offset, offset + len(raw)
        if start == 0 and raw.startswith(_BOM):
            raw, start = raw[len(_BOM) :], len(_BOM)
        body = raw.rstrip(b"\r\n")
        if body.strip() and not body.lstrip().startswith(b"#"):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{name}: line {number} is not UTF-8 text ({exc})") from None
            yield number, start, text
        number += 1


def _cells(name: str, line: _Line) -> list[str]:
    try:
        return next(csv.reader([line[2]]))
    except csv.Error as exc:
        if "\r" in line[2]:  # classic Mac line ends: the whole file is one line
            raise ValueError(
                f"{name}: line {line[0]}: a carriage return inside the line (lines must end "
                "with LF or CR LF)"
            ) from None
        raise ValueError(f"{name}: line {line[0]}: {exc}") from None


def _is_number(cell: str) -> bool:
    """As NumPy's parser reads numbers: float() less its '_' separators and non-ASCII digits."""
    if "_" in cell or not cell.isascii():
        return False
    try:
        float(cell)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class CsvRows:
    """Where rows 0, 1024, 2048, ... start: (byte offset, line number) each."""

    index: tuple[tuple[int, int], ...]
    width: int  # values per row; a one-column file reads as a 1-D array
    dtype: np.dtype[Any]

    def read(self, f: BinaryIO, name: str, start: int, stop: int) -> np.ndarray[Any, Any]:
        offset, number = self.index[start // _STRIDE]
        lines = _lines(f, name, offset, number)
        for _ in itertools.islice(lines, start % _STRIDE):
            pass
        out = np.empty((stop - start, self.width), dtype=self.dtype)
        done = 0
        while done < stop - start:
            block = list(itertools.islice(lines, min(_BLOCK, stop - start - done)))
            if not block:
                raise ValueError(f"{name}: ends before row {stop} (changed since it was opened?)")
            values = _parse(block, name, self.dtype, self.width, self.index[0][1])
            out[done : done + len(block)] = values
            done += len(block)
        return out[:, 0] if self.width == 1 else out


def scan(f: BinaryIO, path: Path) -> tuple[str, tuple[int, ...], Any, CsvRows]:
    """Read the CSV once, checking every cell: (name, shape, dtype, layout)."""
    name = str(path)
    lines = _lines(f, name, 0, 1)
    first = next(lines, None)
    if first is not None and _is_header(name, first):
        first = next(lines, None)
    if first is None:
        raise ValueError(f"{name}: no data rows")
    width = len(_cells(name, first))
    index: list[tuple[int, int]] = []
    rows, integers, too_big = 0, True, None
    block: list[_Line] = []
    for line in itertools.chain([first], lines):
        if rows % _STRIDE == 0:
            index.append((line[1], line[0]))
        rows += 1
        block.append(line)
        if len(block) == _BLOCK:
            integers, too_big = _check(block, name, (width, first[0]), integers, too_big)
            block = []
    if block:
        integers, too_big = _check(block, name, (width, first[0]), integers, too_big)
    if integers and too_big is not None:
        raise too_big
    dtype = _INT64 if integers else _FLOAT64
    shape = (rows,) if width == 1 else (rows, width)
    return name, shape, dtype, CsvRows(tuple(index), width, dtype)


def _is_header(name: str, line: _Line) -> bool:
    """The first row is a header only when none of its cells is a number."""
    cells = _cells(name, line)
    numbers = [_is_number(c) for c in cells]
    if not any(numbers):
        return True
    if not all(numbers):
        column = numbers.index(False)
        raise ValueError(
            f"{name}: line {line[0]}, column {column + 1}: {cells[column]!r} is not a number "
            "(a header row holds no number at all)"
        )
    return False


def _check(
    block: list[_Line],
    name: str,
    width: tuple[int, int],
    integers: bool,
    too_big: ValueError | None,
) -> tuple[bool, ValueError | None]:
    """Parse a block as labels if it can only hold integers, else as float64. An
    integer beyond int64 is an error only if the whole file turns out to be labels."""
    if integers and _INTEGERS.fullmatch("\n".join(t for _, _, t in block)):
        try:
            _parse(block, name, _INT64, *width)
            return True, too_big
        except ValueError as exc:
            _parse(block, name, _FLOAT64, *width)  # junk, or an integer beyond int64
            return True, too_big or exc
    _parse(block, name, _FLOAT64, *width)
    return False, too_big


def _parse(block: list[_Line], name: str, dtype: np.dtype[Any], width: int, first: int) -> Any:
    """The block's values; `first` is the line of the file's first row, the model of width."""
    try:
        values = np.loadtxt(
            [t for _, _, t in block],
            delimiter=",",
            dtype=dtype,
            ndmin=2,
            comments=None,
            quotechar='"',
        )
    except ValueError:
        raise _explain(block, name, dtype, width, first) from None
    if values.shape[1] != width:
        raise _explain(block, name, dtype, width, first)
    if dtype == _FLOAT64 and np.isinf(values).any():
        _check_overflow(block, name, values)
    return values


def _explain(
    block: list[_Line], name: str, dtype: np.dtype[Any], width: int, first: int
) -> ValueError:
    """The first bad cell of a block NumPy could not parse, by line and column."""
    for line in block:
        number, cells = line[0], _cells(name, line)
        if len(cells) != width:
            s = "" if len(cells) == 1 else "s"
            return ValueError(
                f"{name}: line {number} has {len(cells)} value{s}, expected {width} like "
                f"line {first}"
            )
        for column, cell in enumerate(cells, 1):
            if not _is_number(cell):
                return ValueError(
                    f"{name}: line {number}, column {column}: {cell!r} is not a number"
                )
            if dtype == _INT64 and not _fits_int64(cell):
                return ValueError(
                    f"{name}: line {number}, column {column}: {cell!r} is out of range for "
                    "int64 labels"
                )
    return ValueError(f"{name}: lines {block[0][0]} to {block[-1][0]}: not numbers")


def _fits_int64(cell: str) -> bool:
    try:
        return -(2**63) <= int(cell) < 2**63
    except ValueError:
        return False


def _check_overflow(block: list[_Line], name: str, values: np.ndarray[Any, Any]) -> None:
    """±inf is fine written as a word ('inf', '-Infinity'); a number too big for float64
    (1e400) is an error, never a silent inf."""
    for row, column in zip(*np.nonzero(np.isinf(values)), strict=True):
        number, cell = block[row][0], _cells(name, block[row])[column]
        if cell.strip().lstrip("+-").lower() not in ("inf", "infinity"):
            raise ValueError(
                f"{name}: line {number}, column {column + 1}: {cell!r} is out of the float64 range"
            )
