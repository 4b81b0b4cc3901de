"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Also the output folder's writability probe, the clean-up of the temporary files a
killed writer leaves behind, and a test-only fault hook (`fault_point`).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "FAULT_ENV",
    "FAULT_POINTS",
    "atomic_open",
    "atomic_write",
    "fault_point",
    "named_os_error",
    "probe_writable",
    "remove_stale_temporaries",
]

PART = ".part"  # temporary files are ".<name>.<random>.part", hidden beside their target
PROBE_PREFIX = ".losskit-probe-"


def named_os_error(exc: OSError, path: str | os.PathLike[str], what: str = "") -> OSError:
    """`exc` again, naming `path`: a write error on an open file names no file at all
    ("[Errno 28] No space left on device"). The same subclass (PermissionError, ...) and
    errno; `what` says what was being done. Prints as one line without "[Errno N]"."""
    reason = exc.strerror or str(exc)
    message = f"{what} {path}: {reason}" if what else f"{path}: {reason}"
    # OSError(errno, text) picks the subclass for errno but prints "[Errno N] text".
    kind = type(OSError(exc.errno, reason)) if exc.errno is not None else OSError
    named = kind(message)
    named.errno = exc.errno
    return named


class _NamingWriter(io.BufferedWriter):
    """A buffered file whose write errors name the file being replaced, not the temporary."""

    def __init__(self, raw: io.RawIOBase, path: Path) -> None:
        super().__init__(raw)
        self.target = path

    def write(self, data: Any) -> int:
        try:
            return super().write(data)
        except OSError as exc:
            raise named_os_error(exc, self.target, "cannot write") from exc

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as exc:
            raise named_os_error(exc, self.target, "cannot write") from exc


def _sync_folder(folder: Path) -> None:
    """Make a rename durable across a power cut (not needed against kill -9, which the
    kernel survives). Best effort: some platforms and file systems cannot fsync a folder."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _naming(path: Path, what: str = "cannot write") -> Iterator[None]:
    """An OSError of the operations inside (not of the caller's code) names `path`."""
    try:
        yield
    except OSError as exc:
        raise named_os_error(exc, path, what) from exc


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Write to a temporary file beside `path`; on success fsync and rename it over `path`.

    On any exception the temporary file is removed and `path` is untouched. An error
    of the file system (full disk, read-only folder, ...) is an OSError naming `path`.
    A process killed mid-write leaves its hidden temporary file: the next writer that
    owns the folder removes it with `remove_stale_temporaries`.
    """
    path = Path(path)
    with _naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PART)
    try:
        with _NamingWriter(io.FileIO(fd, "wb"), path) as f:  # owns fd: closed on any exit
            # mkstemp creates 0600 files; give the result the permissions open() would.
            umask = os.umask(0)
            os.umask(umask)
            with _naming(path):
                os.chmod(tmp, 0o666 & ~umask)
            fault_point("write-begin")
            yield f
            f.flush()
            with _naming(path):
                os.fsync(f.fileno())
        fault_point("write-complete")
        with _naming(path, "cannot replace"):
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fault_point("write-renamed")
    _sync_folder(path.parent)


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_open(path) as f:
        # Two halves, so that the fault hook can stop a write in its middle.
        half = len(data) // 2
        f.write(memoryview(data)[:half])
        f.flush()
        fault_point("write-partial")
        f.write(memoryview(data)[half:])


def remove_stale_temporaries(folder: str | os.PathLike[str], names: Iterable[str]) -> None:
    """Delete the temporary files that killed writers of `names` (and of the probe) left
    in `folder`. Only for a folder the caller owns: a writer at work would lose its file."""
    folder = Path(folder)
    patterns = [f".{name}.*{PART}" for name in names] + [f"{PROBE_PREFIX}*"]
    for pattern in patterns:
        for stale in folder.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()


def probe_writable(folder: str | os.PathLike[str]) -> None:
    """Create `folder` if needed and prove that a file can be written in it, before any
    long work: an OSError naming the folder for a file in its place, a read-only folder
    or a full disk (the probe writes and fsyncs 4 KiB, then deletes it)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"the output folder {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=PROBE_PREFIX, suffix=PART)
        try:
            block = memoryview(bytes(4096))
            while block:  # a short write is how a nearly full disk answers first
                block = block[os.write(fd, block) :]
            os.fsync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(probe)
    except OSError as exc:
        raise named_os_error(exc, folder, "cannot write to the output folder") from exc


# ------------------------------------------------------------------ test-only fault hook

FAULT_ENV = "LOSSKIT_FAULT_AT"
FAULT_POINTS = {
    "write-begin": "an atomic write's temporary file exists, still empty",
    "write-partial": "half of an atomic_write's data is in its temporary file",
    "write-complete": "all of it is written and fsynced, not yet renamed into place",
    "write-renamed": "the new file is in place",
    "checkpoint-committed": "training: an epoch's checkpoint is in place, its history not yet",
    "history-json-written": "training: history.json is written, history.csv not yet",
}
_reached: dict[str, int] = {}


def fault_point(name: str) -> None:
    """A named instant of a write, where tests can kill the process (tests/test_faults.py).

    With ``LOSSKIT_FAULT_AT=<name>:<n>`` in the environment, the n-th time this process
    reaches the point `name` it sends itself SIGKILL: it dies as under ``kill -9``, with no
    clean-up and no flush, at exactly that instant. Unset (always, outside tests), this
    does nothing. A malformed setting is a ValueError, so that a test cannot pass vacuously.
    """
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    target, _, count = spec.rpartition(":")
    if target not in FAULT_POINTS or not count.isdigit() or int(count) < 1:
        raise ValueError(
            f"{FAULT_ENV}={spec!r}: expected <point>:<n> with n >= 1 and the point one of "
            + ", ".join(FAULT_POINTS)
        )
    if target != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] == int(count):
        kill = getattr(signal, "SIGKILL", None)
        if kill is None:  # Windows: no signals; an immediate exit is the nearest thing
            os._exit(137)
        os.kill(os.getpid(), kill)
