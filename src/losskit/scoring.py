"""Scoring prediction files: `losskit eval PRED TARGET --loss NAME` (SPEC §6, §7).

`.npy` files are read chunk by chunk with plain file reads (never memory-mapped into
the process, so a file bigger than memory costs only a chunk of it); `.npz` and
`.csv` are read whole. Each chunk of rows is scored by the library's own loss
(NumPy fast path) as a (sum, count) pair, so weighted and ignored means stay
exact; the pairs are combined through Dask — the threaded scheduler locally, or a
`dask.distributed` cluster with `scheduler=ADDRESS`. With `output=FILE.npy` each
sample's loss is written too, chunk after chunk in row order (a few chunks in
flight at a time, so memory stays bounded), into a file that appears only once
it is complete.
"""

from __future__ import annotations

import csv
import io
import math
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from losskit import (
    binary_cross_entropy,
    cross_entropy_error,
    mean_squared_error,
    sigmoid_binary_cross_entropy,
    softmax_cross_entropy,
)
from losskit._array import optional_module
from losskit._files import atomic_open

__all__ = ["LOSSES", "ArrayFile", "Score", "open_array", "score"]

LOSSES: dict[str, Any] = {
    "softmax-cross-entropy": softmax_cross_entropy,
    "cross-entropy-error": cross_entropy_error,
    "mean-squared-error": mean_squared_error,
    "binary-cross-entropy": binary_cross_entropy,
    "sigmoid-binary-cross-entropy": sigmoid_binary_cross_entropy,
}
# Which loss takes which options (the others would be a TypeError deep inside).
_OPTIONS = {
    "softmax-cross-entropy": {"weight", "ignore_index", "label_smoothing"},
    "cross-entropy-error": {"weight", "delta"},
    "mean-squared-error": set(),
    "binary-cross-entropy": {"delta", "pos_weight"},
    "sigmoid-binary-cross-entropy": {"pos_weight"},
}

# Rows per chunk when not given: about 16 MB of predictions per chunk.
_CHUNK_BYTES = 16 << 20


@dataclass(frozen=True)
class ArrayFile:
    """An array in a file, readable by rows without loading the rest."""

    path: Path
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    read_rows: Callable[[int, int], np.ndarray[Any, Any]]

    @property
    def rows(self) -> int:
        return self.shape[0] if self.shape else 1


def _npy(path: Path) -> ArrayFile:
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(f)
        except ValueError as exc:
            raise ValueError(f"{path}: not a valid .npy file ({exc})") from None
        offset = f.tell()
    if dtype.hasobject:
        raise ValueError(f"{path}: object arrays are not supported (they would need pickle)")
    if fortran and len(shape) > 1:
        raise ValueError(
            f"{path}: Fortran-ordered arrays cannot be read by rows; save it "
            "C-ordered (numpy.ascontiguousarray)"
        )
    row_items = math.prod(shape[1:])
    expected = offset + math.prod(shape) * dtype.itemsize
    if path.stat().st_size < expected:
        raise ValueError(
            f"{path}: truncated: the header promises {expected} bytes, the file "
            f"has {path.stat().st_size}"
        )

    def read_rows(start: int, stop: int) -> np.ndarray[Any, Any]:
        with open(path, "rb") as f:
            f.seek(offset + start * row_items * dtype.itemsize)
            data = np.fromfile(f, dtype=dtype, count=(stop - start) * row_items)
        return data.reshape((stop - start, *shape[1:])) if shape else data.reshape(())

    return ArrayFile(path, tuple(shape), dtype, read_rows)


def _in_memory(path: Path, array: np.ndarray[Any, Any]) -> ArrayFile:
    return ArrayFile(path, array.shape, array.dtype, lambda a, b: array[a:b])


def _npz(path: Path, key: str | None) -> ArrayFile:
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if key is None and len(names) != 1:
                raise ValueError(f"{path}: holds arrays {names}; name one with path.npz:KEY")
            name = key if key is not None else names[0]
            if name not in names:
                raise ValueError(f"{path}: has no array {name!r}; it holds {names}")
            return _in_memory(path, archive[name])
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path}: not a valid .npz file ({exc})") from None


def _csv(path: Path) -> ArrayFile:
    """Numbers separated by commas, one sample per line. All-integer columns are labels."""
    text = path.read_text()
    rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].startswith("#")]
    if rows and any(not _is_number(v) for v in rows[0]):
        rows = rows[1:]  # a header line
    if not rows:
        raise ValueError(f"{path}: no data rows")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        bad = next(i for i, r in enumerate(rows) if len(r) != len(rows[0]))
        raise ValueError(
            f"{path}: row {bad} has {len(rows[bad])} values, expected "
            f"{len(rows[0])} like the first row"
        )
    integer = all(_is_int(v) for r in rows for v in r)
    try:
        array = np.array(rows, dtype=np.int64 if integer else np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: not numeric ({exc})") from None
    if array.shape[1] == 1:
        array = array[:, 0]
    return _in_memory(path, array)


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def _is_int(v: str) -> bool:
    try:
        int(v)
        return True
    except ValueError:
        return False


def open_array(spec: str | os.PathLike[str]) -> ArrayFile:
    """Open `.npy`, `.npz` (`file.npz:key` picks an array) or `.csv` for reading by rows."""
    text = str(spec)
    key = None
    if ".npz:" in text:
        text, key = text.rsplit(":", 1)
    path = Path(text)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _npy(path)
    if suffix == ".npz":
        return _npz(path, key)
    if suffix == ".csv":
        return _csv(path)
    raise ValueError(f"{path}: unsupported file type {suffix!r}; expected .npy, .npz or .csv")


@dataclass(frozen=True)
class Score:
    loss: str
    reduction: str
    value: float
    total: float
    count: float
    rows: int
    chunks: int
    output: str | None = None  # where each sample's loss was written, if asked

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _chunk_sum(
    loss: Any,
    pred: ArrayFile,
    target: ArrayFile,
    start: int,
    stop: int,
    options: dict[str, Any],
    per_sample: bool = False,
) -> tuple[float, float, np.ndarray[Any, Any] | None] | _BadChunk:
    """(sum, count) of rows [start, stop), and each sample's loss when asked for; bad input
    is returned, not raised, so that the caller can report the first bad row of the file
    whichever thread or worker finished first."""
    y = pred.read_rows(start, stop)
    t = target.read_rows(start, stop)
    try:
        if not per_sample:
            total, count = loss.sum_and_count(y, t, **options)
            return float(total), float(count), None
        values, count = loss.per_sample_and_count(y, t, **options)
    except ValueError as exc:
        return _BadChunk(_locate(str(exc), start, pred, target))
    values = np.asarray(values)
    return float(np.sum(values, dtype=np.float64)), float(count), values


@dataclass(frozen=True)
class _BadChunk:
    message: str


def _in_row_order(
    results: Sequence[tuple[float, float, Any] | _BadChunk],
) -> Iterator[tuple[float, float, Any]]:
    """The chunks' results, with the earliest chunk's error raised before any result of the
    wave is used."""
    good = []
    for result in results:
        if isinstance(result, _BadChunk):
            raise ValueError(result.message)
        good.append(result)
    yield from good


def _locate(message: str, start: int, pred: ArrayFile, target: ArrayFile) -> str:
    """Turn a chunk-relative "at index i" into the row of the file, and name the files."""
    import re

    def shift(match: re.Match[str]) -> str:
        inner = match.group(1)
        first, _, rest = inner.strip("()").partition(",")
        row = start + int(first)
        return f"in row {row}" + (f" (index ({row},{rest}))" if rest else "")

    message = re.sub(r"at index (\(?-?\d+(?:, -?\d+)*\)?)", shift, message)
    return f"{message} [predictions {pred.path}, targets {target.path}]"


def score(
    pred: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    loss: str,
    reduction: str = "mean",
    chunk_rows: int | None = None,
    scheduler: str | None = None,
    output: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Score:
    """The loss of a prediction file against a target file, chunk by chunk; with `output`
    (a .npy path) each sample's loss is also written there (``reduction="none"``)."""
    options = _checked_options(loss, reduction, output, options)
    p, t = open_array(pred), open_array(target)
    if p.dtype.kind != "f":
        raise ValueError(f"{p.path}: predictions must be floating point, got dtype {p.dtype}")
    if t.dtype.kind not in "iuf":
        raise ValueError(
            f"{t.path}: targets must be integer labels or floating "
            f"distributions, got dtype {t.dtype}"
        )
    if p.rows != t.rows:
        raise ValueError(
            f"{p.path} has {p.rows} rows but {t.path} has {t.rows}: one target "
            "row per prediction row is expected"
        )
    if p.rows == 0:
        raise ValueError(f"{p.path}: no rows to score")
    if output is not None and any(_same_file(output, f.path) for f in (p, t)):
        raise ValueError(f"output {str(output)!r} is one of the input files; choose another path")
    if "weight" in options:
        options["weight"] = options["weight"].astype(p.dtype)
    if "pos_weight" in options:
        options["pos_weight"] = options["pos_weight"].astype(p.dtype)
    if chunk_rows is None:
        row_bytes = max(math.prod(p.shape[1:]), 1) * p.dtype.itemsize
        chunk_rows = max(1, _CHUNK_BYTES // row_bytes)
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive int, got {chunk_rows}")
    bounds = [(a, min(a + chunk_rows, p.rows)) for a in range(0, p.rows, chunk_rows)]
    fn = LOSSES[loss]
    parts = _compute(fn, p, t, bounds, options, scheduler, per_sample=output is not None)
    if output is None:
        sums = [(total, count) for total, count, _ in parts]
    else:
        sums = _write_per_sample(Path(output), p.rows, parts)
    total = math.fsum(s for s, _ in sums)
    count = math.fsum(c for _, c in sums)
    # Every target ignored: 0, as the losses themselves say.
    value = total if reduction == "sum" else (total / count if count else 0.0)
    written = None if output is None else str(output)
    return Score(loss, reduction, value, total, count, p.rows, len(bounds), written)


def _checked_options(
    loss: str, reduction: str, output: str | os.PathLike[str] | None, options: dict[str, Any]
) -> dict[str, Any]:
    """The options a file score passes to the loss, checked before any file is opened."""
    if output is not None and Path(output).suffix.lower() != ".npy":
        raise ValueError(f"output must be a .npy file, got {str(output)!r}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum' for a file score, got {reduction!r}")
    unknown = {k for k, v in options.items() if v is not None} - _OPTIONS[loss]
    if unknown:
        allowed = ", ".join(sorted(_OPTIONS[loss])) or "none"
        raise ValueError(f"{loss} does not take {', '.join(sorted(unknown))} (it takes: {allowed})")
    options = {k: v for k, v in options.items() if v is not None}
    for name in ("weight", "pos_weight"):
        if name in options:
            options[name] = np.asarray(options[name], dtype=np.float64)
    return options


def _same_file(a: str | os.PathLike[str], b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # the output does not exist yet
        return False


def _write_per_sample(
    path: Path, rows: int, parts: Iterator[tuple[float, float, Any]]
) -> list[tuple[float, float]]:
    """Stream the chunks' per-sample losses, in row order, into one .npy file."""
    sums: list[tuple[float, float]] = []
    with atomic_open(path) as f:
        for total, count, values in parts:
            if not sums:
                header = np.lib.format.header_data_from_array_1_0(values)
                header["shape"] = (rows, *values.shape[1:])
                np.lib.format.write_array_header_2_0(f, header)
            f.write(np.ascontiguousarray(values).data)
            sums.append((total, count))
    return sums


def _compute(
    fn: Any,
    p: ArrayFile,
    t: ArrayFile,
    bounds: Sequence[tuple[int, int]],
    options: dict[str, Any],
    scheduler: str | None,
    *,
    per_sample: bool,
) -> Iterator[tuple[float, float, Any]]:
    """Each chunk's (sum, count, per-sample losses or None), in row order. Per-sample
    results go in waves of a few chunks per thread, so that only those are in memory."""
    if len(bounds) == 1 and scheduler is None:
        yield from _in_row_order([_chunk_sum(fn, p, t, *bounds[0], options, per_sample)])
        return
    compute = optional_module("dask.base").compute
    delayed = optional_module("dask.delayed").delayed

    def tasks(wave: Sequence[tuple[int, int]]) -> list[Any]:
        return [delayed(_chunk_sum)(fn, p, t, a, b, options, per_sample) for a, b in wave]

    def waves(threads: int) -> Iterator[Sequence[tuple[int, int]]]:
        size = 2 * threads if per_sample else len(bounds)
        for start in range(0, len(bounds), size):
            yield bounds[start : start + size]

    if scheduler is None:
        for wave in waves(os.cpu_count() or 1):
            results = compute(*tasks(wave), scheduler="threads")
            yield from _in_row_order(results)
        return
    client_type = optional_module("dask.distributed").Client
    with client_type(scheduler, timeout="30s") as client:
        threads = sum(client.nthreads().values()) or 1
        for wave in waves(threads):
            yield from _in_row_order(client.compute(tasks(wave), sync=True))
