"""Opening an array file: which reader a suffix takes (`.npy`, `.npz` member, `.csv`).

Above the readers (`_arrays`, `_npz`, `_csv`), so that none of them imports another back.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

from losskit.scoring import _csv, _npz
from losskit.scoring._arrays import ArrayFile, Fingerprint, RawRows, Rows, npy_layout


def _npy(f: BinaryIO, path: Path, size: int) -> tuple[str, tuple[int, ...], Any, Rows]:
    name = str(path)
    f.seek(0)
    header, shape, dtype = npy_layout(f, name, size)
    return name, shape, dtype, RawRows(header, shape[1:], dtype, scalar=not shape)


def open_array(spec: str | os.PathLike[str]) -> ArrayFile:
    """Open `.npy`, `.npz` (`file.npz:KEY` picks an array) or `.csv` for reading by rows."""
    text = os.fspath(spec)
    key = None
    cut = text.lower().find(".npz:")  # the key is what follows: it may hold ':' itself
    if cut >= 0:
        text, key = text[: cut + 4], text[cut + 5 :]
    path = Path(os.path.abspath(text))  # not resolve(): workers see the path as the user gave it
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".csv"):
        raise ValueError(f"{path}: unsupported file type {suffix!r}; expected .npy, .npz or .csv")
    # Looked at before opening: opening a FIFO blocks until someone writes to it.
    with contextlib.suppress(OSError):
        if not stat.S_ISREG(os.stat(path).st_mode) and not path.is_dir():
            raise ValueError(f"{path}: not a regular file")
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {text}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path}: is a directory, not an array file") from None
    with f:
        mode = os.fstat(f.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"{path}: is a directory, not an array file")
        if not stat.S_ISREG(mode):  # a FIFO or a device would never end, or never start
            raise ValueError(f"{path}: not a regular file")
        seen = Fingerprint.of(f)
        if seen.size == 0:
            raise ValueError(f"{path}: the file is empty")
        if suffix == ".npy":
            name, shape, dtype, layout = _npy(f, path, seen.size)
        elif suffix == ".npz":
            name, shape, dtype, layout = _npz.member(f, path, key, seen.size)
        else:
            name, shape, dtype, layout = _csv.scan(f, path)
    return ArrayFile(path, name, shape, dtype, layout, seen)
