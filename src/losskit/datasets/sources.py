"""Where the data sets live: checksums, public mirrors, the cache folder, downloads.

Nothing here runs unless asked: losskit never downloads on its own. Every file with a
known name has a known size and SHA-256, both for the published .gz file and for its
decompressed content (the raw IDX file, as `gunzip -k` gives it); the loader checks them
on every load (`read_verified`) and `verify` checks a folder against them.

A download streams each file into a temporary file beside its destination while hashing
it, under a size cap and an overall deadline (see `_http`), and renames it into place
only when its SHA-256 matches, so nothing unverified ever ends up where the loader reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from losskit._files import atomic_open
from losskit.datasets import _http

__all__ = [
    "DATASETS",
    "FILE_NAMES",
    "KNOWN",
    "DataSource",
    "KnownFile",
    "cache_dir",
    "download",
    "identify",
    "read_verified",
    "verify",
]

FILE_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

# A download may run this far past the known size before it is stopped (and refused).
SIZE_MARGIN = 64 * 1024


@dataclass(frozen=True)
class KnownFile:
    sha256: str
    size: int  # bytes


def _table(text: str) -> dict[str, KnownFile]:
    """Parse "<sha256>  <size>  <file name>" lines (`sha256sum` output with the size added)."""
    rows = (line.split() for line in text.strip().splitlines())
    return {name: KnownFile(digest, int(size)) for digest, size, name in rows}


@dataclass(frozen=True)
class DataSource:
    name: str
    title: str
    files: dict[str, KnownFile]  # the .gz files and their raw (decompressed) contents
    mirrors: tuple[str, ...]
    licence: str

    @property
    def sha256(self) -> dict[str, str]:
        """{.gz file name: SHA-256}: the files a download fetches."""
        return {n: f.sha256 for n, f in self.files.items() if n.endswith(".gz")}


# The .gz rows are the published checksums; the raw rows were computed once from the
# genuine files in ../shared/data (their SHA256SUMS lists the .gz ones).
DATASETS: dict[str, DataSource] = {
    "mnist": DataSource(
        "mnist",
        "MNIST handwritten digits (LeCun, Cortes, Burges)",
        _table(
            """
            440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609   9912422  train-images-idx3-ubyte.gz
            3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c     28881  train-labels-idx1-ubyte.gz
            8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6   1648877  t10k-images-idx3-ubyte.gz
            f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6      4542  t10k-labels-idx1-ubyte.gz
            ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  47040016  train-images-idx3-ubyte
            65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5     60008  train-labels-idx1-ubyte
            0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7   7840016  t10k-images-idx3-ubyte
            ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2     10008  t10k-labels-idx1-ubyte
            """
        ),
        # The mirrors torchvision and TensorFlow's loaders use.
        (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        "CC BY-SA 3.0",
    ),
    "fashion-mnist": DataSource(
        "fashion-mnist",
        "Fashion-MNIST (Zalando Research)",
        _table(
            """
            3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84  26421880  train-images-idx3-ubyte.gz
            a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845     29515  train-labels-idx1-ubyte.gz
            346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073   4422102  t10k-images-idx3-ubyte.gz
            67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5      5148  t10k-labels-idx1-ubyte.gz
            c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888  47040016  train-images-idx3-ubyte
            bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9     60008  train-labels-idx1-ubyte
            5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b   7840016  t10k-images-idx3-ubyte
            0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34     10008  t10k-labels-idx1-ubyte
            """
        ),
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "MIT",
    ),
}

# The sample bundled in the package (tools/build_sample.py): checked like the others.
SAMPLE = DataSource(
    "sample",
    "the MNIST sample bundled with losskit",
    _table(
        """
        11a772a6dc925b05dd399880865d80fdc378f1482a27072a7fe2c10be2367eda   1609526  train-images-idx3-ubyte.gz
        4e8b4ac90e302aa725dd50c14268e8630d3941e30cf889ea15dfa1a6dedf8665      4997  train-labels-idx1-ubyte.gz
        fa2fa0f453d30da7368de1b3d971c4d7d337993bb97663d604822d2b60473905    312378  t10k-images-idx3-ubyte.gz
        9016d84c0ff2a402884fc39ac1dfcb3ec411c5581759174110390192c6e1c7b5      1032  t10k-labels-idx1-ubyte.gz
        2889698e6bc3614913e76901316712919d1998fc2b44512451bfe65bc1e668b1   7840016  train-images-idx3-ubyte
        651e38e2ac0632f5113ec18f1df4977117f953197819034009971a6675a0df78     10008  train-labels-idx1-ubyte
        3f6bd66dee48df299584c67669bceee490faa25f931496bd7473b42106d7daed   1568016  t10k-images-idx3-ubyte
        7b098e5f6a3065807cebeabf36fb1724a8aff19f2673ac08b4923e0e8c715bce      2008  t10k-labels-idx1-ubyte
        """
    ),
    (),
    "CC BY-SA 3.0",
)

# Every data set whose files the loader and `verify` know, by name.
KNOWN: dict[str, DataSource] = {**DATASETS, "sample": SAMPLE}


def source(name: str) -> DataSource:
    if name not in KNOWN:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(KNOWN)}")
    return KNOWN[name]


def cache_dir() -> Path:
    """The cache folder: $LOSSKIT_DATA if set, else the platform's user cache folder."""
    override = os.environ.get("LOSSKIT_DATA")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "losskit" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "losskit"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "losskit"


def _read_at_most(path: Path, limit: int) -> bytes:
    """Up to limit + 1 bytes: enough to tell a file of the right size from a longer one
    without reading (or holding) all of a file that is far too big."""
    with open(path, "rb") as f:
        return f.read(limit + 1)


# The largest known file: a file of the wrong size up to this is still hashed, to say whose it is.
_BIGGEST = max(f.size for src in KNOWN.values() for f in src.files.values())


def _contents(path: Path, known: KnownFile) -> bytes | None:
    """The file's bytes, or None if it is bigger than any known file (so cannot be one)."""
    data = _read_at_most(path, known.size)
    if len(data) > known.size:
        data = _read_at_most(path, _BIGGEST)
    return None if len(data) > _BIGGEST else data


def _whose(digest: str) -> str:
    """ " (that is fashion-mnist's train-images-idx3-ubyte.gz)" if the digest is known."""
    for src in KNOWN.values():
        for file_name, known in src.files.items():
            if known.sha256 == digest:
                return f" (that is {src.name}'s {file_name})"
    return ""


def _how_to_fix(name: str, folder: Path) -> str:
    if name == "sample":
        return "the losskit installation is damaged: reinstall losskit"
    where = "" if folder == cache_dir() / name else f" --data-dir {folder}"
    return f"run `losskit data download {name}{where} --force`, or delete the file"


def read_verified(path: Path, name: str) -> bytes:
    """The contents of `path`, a file of data set `name`, once its size and SHA-256 match
    the table; else a ValueError naming the file, both hashes and how to fix it.

    Read once and checked in memory, so what is parsed is exactly what was hashed.
    """
    src = source(name)
    known = src.files.get(path.name)
    if known is None:
        raise ValueError(f"{path}: not a file of {name}: expected one of {', '.join(src.files)}")
    data = _contents(path, known)
    if data is None:
        raise ValueError(
            f"{path}: expected {known.size} bytes with SHA-256 {known.sha256}, found "
            f"{path.stat().st_size} bytes: {_how_to_fix(name, path.parent)}"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != known.sha256:
        sizes = "" if len(data) == known.size else f" ({len(data)} bytes, expected {known.size})"
        raise ValueError(
            f"{path}: SHA-256 mismatch: expected {known.sha256} ({name}'s {path.name}), found "
            f"{digest}{_whose(digest)}{sizes}: {_how_to_fix(name, path.parent)}"
        )
    return data


def _status(path: Path, known: KnownFile) -> str:
    data = _contents(path, known)
    if data is None:
        return f"size mismatch ({path.stat().st_size} bytes, expected {known.size})"
    digest = hashlib.sha256(data).hexdigest()
    return "ok" if digest == known.sha256 else f"checksum mismatch{_whose(digest)}"


def _present(folder: Path, gz_name: str) -> Path | None:
    """The file the loader would read for `gz_name`: the .gz file, else the raw one."""
    for candidate in (folder / gz_name, folder / gz_name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def verify(name: str, folder: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Check each file of data set `name` in `folder` (default: its cache folder) against
    `name`'s own hashes, the .gz file or else the raw one, as the loader would read it.

    Returns {file name: "ok" | "missing" | "checksum mismatch..." | "size mismatch..."}.
    """
    src = source(name)
    folder = Path(folder) if folder is not None else cache_dir() / name
    status = {}
    for gz_name in src.sha256:
        path = _present(folder, gz_name)
        if path is None:
            status[gz_name] = "missing"
        else:
            status[path.name] = _status(path, src.files[path.name])
    return status


def identify(folder: str | os.PathLike[str]) -> str | None:
    """Which known data set `folder` holds: the one most of its files match by SHA-256
    (None if no file matches any)."""
    folder = Path(folder)
    digests: dict[str, str] = {}
    for file_name in {n for src in KNOWN.values() for n in src.files}:
        path = folder / file_name
        sizes = {src.files[file_name].size for src in KNOWN.values() if file_name in src.files}
        if path.is_file() and path.stat().st_size in sizes:  # hash only what could match
            digests[file_name] = hashlib.sha256(_read_at_most(path, max(sizes))).hexdigest()
    matches = {
        name: sum(src.files[n].sha256 == d for n, d in digests.items() if n in src.files)
        for name, src in KNOWN.items()
    }
    best = max(matches, key=lambda name: matches[name])
    return best if matches[best] else None


def _matches(path: Path, known: KnownFile) -> bool:
    return path.is_file() and _status(path, known) == "ok"


Progress = Callable[[str, int, int | None], None]  # (file name, bytes so far, total or None)


def _fetch(
    url: str, destination: Path, known: KnownFile, timeout: float, progress: Progress | None
) -> None:
    digest = hashlib.sha256()
    cap = known.size + SIZE_MARGIN
    blocks = _http.stream(url, size=known.size, cap=cap, timeout=timeout)
    with atomic_open(destination) as out, contextlib.closing(blocks):
        for block in blocks:
            digest.update(block)
            try:
                out.write(block)
            except OSError as exc:  # a full disk is ours, not the mirror's: no other mirror
                raise type(exc)(exc.errno, exc.strerror, str(destination)) from exc
            if progress is not None:
                progress(destination.name, out.tell(), known.size)
        if digest.hexdigest() != known.sha256:
            # Raising inside atomic_open deletes the temporary file: nothing is cached.
            raise ValueError(
                f"{url}: SHA-256 mismatch: expected {known.sha256}, got {digest.hexdigest()}"
            )


def download(
    name: str,
    *,
    folder: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = 300.0,
    force: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Download data set `name` into `folder` (default: the cache), verified by SHA-256.

    Files already present with the right checksum are kept (unless `force`). Each file is
    tried on every mirror in turn and must arrive within `timeout` seconds (connection
    included) and within its known size; if no mirror delivers it intact, the error lists
    what each mirror answered: ``TimeoutError`` if every mirror ran out of time, else
    ``ConnectionError``. Returns the folder.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}")
    src = DATASETS[name]
    for mirror in mirrors or src.mirrors:
        if not mirror.startswith(("http://", "https://")):
            raise ValueError(f"--mirror {mirror!r}: expected an http(s) URL")
    if not (mirrors or src.mirrors):
        raise ValueError("no mirrors to download from")
    if not timeout > 0:
        raise ValueError(f"--timeout {timeout}: expected a number of seconds above 0")
    target = Path(folder) if folder is not None else cache_dir() / name
    if target.exists() and not target.is_dir():
        raise ValueError(f"--data-dir {target}: expected a folder, found a file")
    target.mkdir(parents=True, exist_ok=True)
    for file_name in src.sha256:
        known = src.files[file_name]
        if not force and _matches(target / file_name, known):
            continue
        failures: list[Exception] = []
        for mirror in mirrors or src.mirrors:
            url = mirror.rstrip("/") + "/" + file_name
            try:
                _fetch(url, target / file_name, known, timeout, progress)
                break
            except (ValueError, ConnectionError, TimeoutError) as exc:  # each names its URL
                failures.append(exc)
        else:
            text = f"could not download {file_name} of {name}: " + "; ".join(map(str, failures))
            if all(isinstance(exc, TimeoutError) for exc in failures):
                raise TimeoutError(text)
            raise ConnectionError(text)
    return target
