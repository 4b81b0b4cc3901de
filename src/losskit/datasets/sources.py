"""Where the data sets live: checksums, public mirrors, the cache folder, downloads.

Nothing here runs unless asked: losskit never downloads on its own. A download
streams each file into a temporary file beside its destination while hashing
it, and renames it into place only when its SHA-256 matches, so a corrupted or
partial download never ends up in the cache.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from losskit._files import atomic_open

__all__ = ["DATASETS", "FILE_NAMES", "DataSource", "cache_dir", "download", "verify"]

FILE_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _sha256_sums(text: str) -> dict[str, str]:
    """Parse `sha256sum` output ("<digest>  <file name>" lines)."""
    return {name: digest for digest, name in (line.split() for line in text.strip().splitlines())}


@dataclass(frozen=True)
class DataSource:
    name: str
    title: str
    sha256: dict[str, str]
    mirrors: tuple[str, ...]
    licence: str


DATASETS: dict[str, DataSource] = {
    "mnist": DataSource(
        "mnist",
        "MNIST handwritten digits (LeCun, Cortes, Burges)",
        _sha256_sums(
            """
            440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte.gz
            3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte.gz
            8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte.gz
            f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6  t10k-labels-idx1-ubyte.gz
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
        _sha256_sums(
            """
            3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84  train-images-idx3-ubyte.gz
            a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845  train-labels-idx1-ubyte.gz
            346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073  t10k-images-idx3-ubyte.gz
            67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5  t10k-labels-idx1-ubyte.gz
            """
        ),
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "MIT",
    ),
}


def source(name: str) -> DataSource:
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}")
    return DATASETS[name]


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


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str, folder: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Check each file of data set `name` in `folder` (default: its cache folder).

    Returns {file name: "ok" | "missing" | "checksum mismatch"}.
    """
    src = source(name)
    folder = Path(folder) if folder is not None else cache_dir() / name
    status = {}
    for file_name, expected in src.sha256.items():
        path = folder / file_name
        if not path.is_file():
            status[file_name] = "missing"
        else:
            status[file_name] = "ok" if sha256_of(path) == expected else "checksum mismatch"
    return status


Progress = Callable[[str, int, int | None], None]  # (file name, bytes so far, total or None)


def _fetch(
    url: str, destination: Path, expected_sha256: str, timeout: float, progress: Progress | None
) -> None:
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = response.headers.get("Content-Length")
        total_bytes = int(total) if total and total.isdigit() else None
        done = 0
        with atomic_open(destination) as out:
            while block := response.read(1 << 16):
                digest.update(block)
                out.write(block)
                done += len(block)
                if progress is not None:
                    progress(destination.name, done, total_bytes)
            if total_bytes is not None and done != total_bytes:
                raise ValueError(f"connection closed after {done} of {total_bytes} bytes")
            if digest.hexdigest() != expected_sha256:
                # Raising inside atomic_open deletes the temporary file: nothing is cached.
                raise ValueError(
                    f"SHA-256 mismatch: expected {expected_sha256}, got {digest.hexdigest()}"
                )


def download(
    name: str,
    *,
    folder: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = 60.0,
    progress: Progress | None = None,
) -> Path:
    """Download data set `name` into `folder` (default: the cache), verified by SHA-256.

    Files already present with the right checksum are kept. Each file is tried
    on every mirror in turn; if none delivers it intact, ``ConnectionError``
    lists what each mirror answered. Returns the folder.
    """
    src = source(name)
    if not (mirrors or src.mirrors):
        raise ValueError("no mirrors to download from")
    target = Path(folder) if folder is not None else cache_dir() / name
    target.mkdir(parents=True, exist_ok=True)
    for file_name, expected in src.sha256.items():
        path = target / file_name
        if path.is_file() and sha256_of(path) == expected:
            continue
        failures = []
        for mirror in mirrors or src.mirrors:
            url = mirror.rstrip("/") + "/" + file_name
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"mirror must be an http(s) URL, got {mirror!r}")
            try:
                _fetch(url, path, expected, timeout, progress)
                break
            except (OSError, ValueError, http.client.HTTPException) as exc:
                failures.append(f"{url}: {exc}")
        else:
            raise ConnectionError(
                f"could not download {file_name} of {name}:\n  " + "\n  ".join(failures)
            )
    return target
