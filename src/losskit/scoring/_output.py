"""Writing `--output`: a file that appears only when complete, and that a killed run never
leaves behind half-written.

On Linux the file is written unnamed (O_TMPFILE: an inode in the output's folder with no
name at all), and given its name only once it is complete and on disk; a run killed
before that leaves nothing visible, and the kernel frees the space. Where the file
system has no unnamed files (or to replace an existing output, which a link cannot do)
a named temporary file beside the output is used, named with this host and process:
`.NAME.losskit-HOST-PID-XXXX.part`. Before writing, those of this host's dead processes
are removed, so a killed run's leftover lasts only until the next run. (A live run's, or
another machine's, is never touched.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

# errno values that mean "this file system (or kernel) has no O_TMPFILE".
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT}


def _prefix(name: str) -> str:
    return f".{name}.losskit-{socket.gethostname()}-"


def _temporary_name(path: Path) -> Path:
    return path.with_name(f"{_prefix(path.name)}{os.getpid()}-{secrets.token_hex(4)}.part")


def _alive(pid: int) -> bool:
    if os.name == "nt":  # there, os.kill(pid, 0) would terminate the process: never ask
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    return True


def remove_stale(path: Path) -> None:
    """Remove the temporary files of `path` that dead processes of this host left."""
    prefix = _prefix(path.name)
    with os.scandir(path.parent) as entries:
        for entry in entries:
            if not (entry.name.startswith(prefix) and entry.name.endswith(".part")):
                continue
            pid = entry.name[len(prefix) :].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def _open_unnamed(folder: Path) -> BinaryIO | None:
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or os.link not in os.supports_dir_fd or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = os.open(folder, flag | os.O_WRONLY, 0o666)  # the umask applies, as to open()
    except OSError as exc:
        if exc.errno in _NO_TMPFILE:
            return None
        raise
    return os.fdopen(fd, "wb")


def _publish(f: BinaryIO, path: Path) -> None:
    """Give the unnamed file `f` the name `path` (through a temporary name when it
    replaces an existing file: a link never does)."""
    source = f"/proc/self/fd/{f.fileno()}"
    # With a folder fd given, os.link calls linkat(AT_SYMLINK_FOLLOW), which links the
    # file behind /proc's symlink; plain os.link would try to link the symlink itself.
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        try:
            os.link(source, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except FileExistsError:
            temporary = _temporary_name(path)
            os.link(source, temporary.name, src_dir_fd=folder, dst_dir_fd=folder)
            try:
                os.replace(temporary.name, path.name, src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                os.unlink(temporary.name, dir_fd=folder)
                raise
    finally:
        os.close(folder)


def naming(exc: OSError, path: Path) -> OSError:
    """The same error (same errno and OSError subclass), naming the output: a write error
    on an open file names no file at all ("[Errno 28] No space left on device")."""
    reason = exc.strerror or str(exc)
    kind = type(OSError(exc.errno, reason)) if exc.errno is not None else OSError
    named = kind(f"cannot write {path}: {reason}")
    named.errno = exc.errno
    return named


@contextlib.contextmanager
def complete_or_nothing(path: Path) -> Iterator[BinaryIO]:
    """A file to write `path` through: `path` appears (or is replaced) only when the block
    ends without an exception, complete and on disk; otherwise it is left as it was.
    OSErrors of its own (not of the block) name `path`."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path)
        f = _open_unnamed(path.parent)
        if f is None:
            temporary = _temporary_name(path)
            f = os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb")
    except OSError as exc:
        raise naming(exc, path) from None
    try:
        with f:
            yield f
            try:
                f.flush()
                os.fsync(f.fileno())
                if temporary is None:
                    _publish(f, path)
                else:
                    os.replace(temporary, path)
                    temporary = None
                _sync_folder(path.parent)
            except OSError as exc:
                raise naming(exc, path) from None
    finally:
        if temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)


def _sync_folder(folder: Path) -> None:
    """The new name on disk too (a crash right after would otherwise lose it)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
