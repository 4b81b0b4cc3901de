"""Scoring prediction files: `losskit eval PRED TARGET --loss NAME` (SPEC §6, §7).

Files are read chunk by chunk, in memory bounded by a chunk whatever the format:
`.npy` rows by plain file reads (never memory-mapped), `.npz` members by byte range
(stored) or inflated chunk by chunk (compressed), `.csv` from noted line offsets. Each
chunk is scored by the library's own loss in float64, whatever the file's dtype, as a
(sum, count) pair, so that weighted and ignored means stay exact and the value is the
same for every chunk size; the pairs are combined through Dask — the threaded
scheduler locally, or a `dask.distributed` cluster with `scheduler=ADDRESS`, whose
workers read the files at the absolute paths the client resolved and check that they
are the files the client saw.

Samples are as the library defines them: for the class losses a row is a sample (or
several, for files of 3 or more axes), so a 1-D prediction file, which the library
would read as one sample, is refused; for the binary losses every element is a sample.

With `output=FILE.npy` each sample's loss is written too, chunk after chunk in row
order, into a file that appears only once it is complete (see `_output`), and never
over one of the inputs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from numbers import Integral
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
from losskit.scoring._arrays import ArrayFile
from losskit.scoring._csv import CsvRows
from losskit.scoring._open import open_array
from losskit.scoring._output import complete_or_nothing, naming
from losskit.scoring._run import Part, parts

__all__ = ["LOSSES", "ArrayFile", "Score", "open_array", "score"]

LOSSES: dict[str, Any] = {
    "softmax-cross-entropy": softmax_cross_entropy,
    "cross-entropy-error": cross_entropy_error,
    "mean-squared-error": mean_squared_error,
    "binary-cross-entropy": binary_cross_entropy,
    "sigmoid-binary-cross-entropy": sigmoid_binary_cross_entropy,
}
_BINARY = {"binary-cross-entropy", "sigmoid-binary-cross-entropy"}
# Which loss takes which options (the others would be a TypeError deep inside).
_OPTIONS = {
    "softmax-cross-entropy": {"weight", "ignore_index", "label_smoothing"},
    "cross-entropy-error": {"weight", "delta"},
    "mean-squared-error": set(),
    "binary-cross-entropy": {"delta", "pos_weight"},
    "sigmoid-binary-cross-entropy": {"pos_weight"},
}

# Rows per chunk when not given: about 16 MB of float64 predictions per chunk.
_CHUNK_BYTES = 16 << 20
_MAX_WEIGHTS = 1 << 24  # items in a weight file


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
    (a .npy path) each sample's loss is also written there (``reduction="none"``).

    `weight` and `pos_weight` are arrays (or lists) or the path of a file holding one.
    Everything is checked before the first chunk is scored: the options, the files'
    headers and shapes, the output."""
    options, weight_files = _checked_options(loss, reduction, output, options)
    if output is not None:
        _check_output_folder(Path(output))
    p, t = _predictions(open_array(pred)), open_array(target)
    _check_pair(loss, p, t, options)
    if output is not None:
        for f in (p.path, t.path, *weight_files):
            if _same_file(output, f):
                raise ValueError(
                    f"output {str(output)!r} is one of the input files ({f}); choose another path"
                )
    if chunk_rows is None:
        chunk_rows = max(1, _CHUNK_BYTES // (max(math.prod(p.shape[1:]), 1) * 8))
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, Integral) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive int, got {chunk_rows!r}")
    step = int(chunk_rows)
    bounds = [(a, min(a + step, p.rows)) for a in range(0, p.rows, step)]
    results = parts(LOSSES[loss], p, t, bounds, options, scheduler, per_sample=output is not None)
    if output is None:
        sums = [(total, count) for total, count, _ in results]
    else:
        shape = p.shape if loss in _BINARY else p.shape[:-1]
        sums = _write_per_sample(Path(output), shape, np.result_type(p.dtype, np.float32), results)
    total = math.fsum(s for s, _ in sums)
    count = math.fsum(c for _, c in sums)
    # Every target ignored: 0, as the losses themselves say.
    value = total if reduction == "sum" else (total / count if count else 0.0)
    written = None if output is None else str(output)
    return Score(loss, reduction, value, total, count, p.rows, len(bounds), written)


def _predictions(p: ArrayFile) -> ArrayFile:
    """Predictions must be floating point; a CSV's all-integer values (probabilities of 0
    and 1, say) are read as float64, since a CSV has no dtype to choose."""
    if isinstance(p.layout, CsvRows) and p.dtype.kind == "i":
        f64 = np.dtype(np.float64)
        return replace(p, dtype=f64, layout=replace(p.layout, dtype=f64))
    if p.dtype.kind != "f":
        raise ValueError(f"{p.name}: predictions must be floating point, got dtype {p.dtype}")
    return p


def _check_pair(loss: str, p: ArrayFile, t: ArrayFile, options: dict[str, Any]) -> None:
    """The files fit each other, the loss and its options, before any chunk is scored
    (a chunk's error would name the chunk's shape, not the file's)."""
    if t.dtype.kind not in "iuf":
        raise ValueError(
            f"{t.name}: targets must be integer labels or floating "
            f"distributions, got dtype {t.dtype}"
        )
    if not p.shape:
        raise ValueError(f"{p.name}: a 0-d array has no rows to score")
    if p.rows != t.rows:
        raise ValueError(
            f"{p.name} has {p.rows} rows but {t.name} has {t.rows}: one target "
            "row per prediction row is expected"
        )
    if p.rows == 0:
        raise ValueError(f"{p.name}: no rows to score")
    if loss in _BINARY:
        if t.shape != p.shape:
            raise ValueError(
                f"{t.name}: binary targets of shape {t.shape} do not fit predictions {p.name} "
                f"of shape {p.shape}: expected the same shape (every element is one sample)"
            )
    else:
        _check_classes(loss, p, t, options)
    if "pos_weight" in options:
        _check_pos_weight(p, options["pos_weight"])
    if math.prod(p.shape) == 0:
        raise ValueError(f"{p.name}: no samples to score (shape {p.shape})")


def _check_classes(loss: str, p: ArrayFile, t: ArrayFile, options: dict[str, Any]) -> None:
    if len(p.shape) < 2:
        raise ValueError(
            f"{p.name}: a prediction of shape {p.shape} is one sample of {p.shape[0]} classes "
            f"to {loss} (a 1-D prediction is one sample); for N samples of C classes save "
            "shape (N, C)"
        )
    labels = t.shape == p.shape[:-1]
    if labels and t.dtype.kind not in "iu":
        raise ValueError(
            f"{t.name}: targets of shape {t.shape} are labels for predictions of shape "
            f"{p.shape} but have dtype {t.dtype}: labels must be integers"
        )
    if not labels and t.shape != p.shape:
        raise ValueError(
            f"{t.name}: targets of shape {t.shape} do not fit predictions {p.name} of shape "
            f"{p.shape}: expected labels of shape {p.shape[:-1]} or distributions of shape "
            f"{p.shape}"
        )
    if "weight" in options and options["weight"].shape != p.shape[-1:]:
        raise ValueError(
            f"weight of shape {options['weight'].shape} does not fit predictions {p.name} of "
            f"shape {p.shape}: expected one weight per class, shape ({p.shape[-1]},)"
        )
    ignore = options.get("ignore_index")
    if ignore is not None and not labels:
        raise ValueError(f"ignore_index applies to integer labels; {t.name} holds distributions")
    if ignore is not None:
        info = np.iinfo(t.dtype)
        if not info.min <= ignore <= info.max:
            raise ValueError(
                f"ignore_index={ignore} does not fit labels of dtype {t.dtype} (values "
                f"{info.min} to {info.max}) in {t.name}: no label can equal it"
            )


def _check_pos_weight(p: ArrayFile, w: np.ndarray[Any, Any]) -> None:
    """pos_weight must be the same for every row: it broadcasts to one row of predictions."""
    ws, ps = w.shape, p.shape
    fits = len(ws) <= len(ps) and all(
        a in (1, b) for a, b in zip(reversed(ws), reversed(ps), strict=False)
    )
    if not fits or (len(ws) == len(ps) and ws[0] != 1):
        raise ValueError(
            f"pos_weight of shape {ws} does not broadcast to one row of predictions {p.name} "
            f"(shape {ps[1:]} of {ps}): a file is scored by rows, so pos_weight cannot vary "
            "by row"
        )


def _checked_options(
    loss: str, reduction: str, output: str | os.PathLike[str] | None, options: dict[str, Any]
) -> tuple[dict[str, Any], list[Path]]:
    """The options a file score passes to the loss, checked before any file is opened, and
    the files that weights were read from."""
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
    files = []
    for name in ("weight", "pos_weight"):
        if isinstance(options.get(name), str | os.PathLike):
            weights = open_array(options[name])
            files.append(weights.path)
            if math.prod(weights.shape) > _MAX_WEIGHTS:
                raise ValueError(f"{weights.name}: {weights.shape} is too many {name}s")
            options[name] = weights.read_rows(0, weights.rows)
            if isinstance(weights.layout, CsvRows) and weights.shape[0] == 1:
                options[name] = options[name][0]  # one line of a CSV: 1,2,0.5
        if name in options:
            given = np.asarray(options[name])
            if given.dtype.kind not in "iuf":  # complex would lose its imaginary part
                raise ValueError(
                    f"--{name.replace('_', '-')}: expected real numbers, got dtype {given.dtype}"
                )
            try:
                options[name] = np.asarray(options[name], dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name}: expected numbers ({exc})") from None
    return options, files


def _check_output_folder(output: Path) -> None:
    """Fail now, not after the work, where the output cannot be written: a file where its
    folder should be, a folder of that name, a folder this user cannot write to."""
    output = Path(os.path.abspath(output))
    if output.is_dir():
        raise IsADirectoryError(f"cannot write {output}: it is a folder")
    folder = output.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the first folder that exists: the rest will be made
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot write {output}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {output}: the folder {folder} is not writable")


def _same_file(a: str | os.PathLike[str], b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # the output does not exist yet
        return False


def _write_per_sample(
    path: Path, shape: tuple[int, ...], dtype: np.dtype[Any], results: Iterator[Part]
) -> list[tuple[float, float]]:
    """Stream the chunks' per-sample losses, in row order, into one .npy file of `shape`."""
    sums: list[tuple[float, float]] = []
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False}
    written = 0
    with complete_or_nothing(path) as f:
        _write(path, np.lib.format.write_array_header_1_0, f, {**header, "shape": shape})
        for total, count, values in results:
            values = np.ascontiguousarray(values, dtype=dtype)
            if values.shape[1:] != shape[1:]:
                raise AssertionError(f"a chunk of shape {values.shape} for {shape}")
            _write(path, f.write, values.data)
            written += len(values)
            sums.append((total, count))
        if written != shape[0]:
            raise AssertionError(f"{written} rows written for {shape}")
    return sums


def _write(path: Path, write: Any, *args: Any) -> None:
    """A write whose OSError (a full disk) names the output; reading errors stay theirs."""
    try:
        write(*args)
    except OSError as exc:
        raise naming(exc, path) from None
