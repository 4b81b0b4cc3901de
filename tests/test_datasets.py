"""IDX reading (untrusted input), the bundled sample, and loading options."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losskit.datasets import load_dataset, read_idx, sample_dir, write_idx

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_then_read_round_trips(tmp_path: Path, dtype: type, suffix: str) -> None:
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    write_idx(tmp_path / f"a.idx{suffix}", a)
    b = read_idx(tmp_path / f"a.idx{suffix}")
    assert b.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(a, b)


def _raw(code: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated IDX file: expected 4 bytes of header"),
        (b"\x01\x00\x08\x01" + b"\0" * 8, "expected magic bytes 00 00, got 01 00"),
        (_raw(0x07, (2,), b"ab"), "unknown IDX type code 0x07"),
        (bytes([0, 0, 8, 0]), "declares 0 dimensions"),
        (bytes([0, 0, 8, 255]) + bytes(4 * 255), "declares 255 dimensions, expected 1 to 32"),
        (bytes([0, 0, 8, 2, 0, 0]), "expected 8 bytes of header, found only 2"),
        (
            _raw(0x08, (3, 4), b"x" * 11),
            "expected 12 bytes of data for shape (3, 4), found only 11",
        ),
        (_raw(0x08, (3,), b"abcd"), "trailing bytes"),
        (_raw(0x0D, (2,), b"\0" * 7), "expected 8 bytes"),
        # A header that claims 16 EiB: refused before anything is allocated.
        (_raw(0x08, (2**32 - 1, 2**32 - 1), b"tiny"), "more than max_bytes"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_malformed_idx_is_a_value_error(
    tmp_path: Path, data: bytes, message: str, compress: bool
) -> None:
    path = tmp_path / "bad.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_idx(path)


def test_corrupt_gzip_is_a_value_error(tmp_path: Path) -> None:
    good = gzip.compress(_raw(0x08, (100,), bytes(range(100))))
    path = tmp_path / "bad.gz"
    path.write_bytes(good[:20] + b"\xff" * 10 + good[30:])
    with pytest.raises(ValueError, match=r"bad\.gz"):
        read_idx(path)
    path.write_bytes(good[: len(good) // 2])  # cut mid-stream
    with pytest.raises(ValueError, match=r"bad\.gz"):
        read_idx(path)


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.idx"):
        read_idx(tmp_path / "nope.idx")


_VALID = _raw(0x08, (2, 3), bytes(range(6)))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.binary(max_size=64),
        # Mutations of a valid file: flip, cut or extend at random places.
        st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)).map(
            lambda p: _VALID[: p[0]] + bytes([p[1]]) + _VALID[p[0] + 1 :]
        ),
        st.integers(0, len(_VALID)).map(lambda n: _VALID[:n]),
        st.binary(min_size=1, max_size=8).map(lambda b: _VALID + b),
    ),
    st.booleans(),
)
def test_fuzzed_idx_gives_an_array_or_a_value_error(
    tmp_path: Path, data: bytes, compress: bool
) -> None:
    path = tmp_path / "fuzz.idx"
    payload = gzip.compress(data) if compress else data
    path.write_bytes(payload)
    try:
        out = read_idx(path, max_bytes=1 << 16)
    except ValueError:
        return
    assert isinstance(out, np.ndarray)
    assert out.nbytes <= len(data)  # never more than the file actually held


def test_bundled_sample_is_real_mnist() -> None:
    (x, t), (xt, tt) = load_dataset("sample")
    assert x.shape == (10_000, 784) and xt.shape == (2_000, 784)
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() == 1.0
    assert t[:5].tolist() == [5, 0, 4, 1, 9] and tt[:5].tolist() == [7, 2, 1, 0, 4]
    assert set(np.unique(t).tolist()) == set(range(10))
    size = sum(p.stat().st_size for p in sample_dir().iterdir())
    assert size <= 5 * 1024 * 1024
    assert "CC BY-SA 3.0" in (sample_dir() / "README.md").read_text()


def test_load_options_as_in_the_book() -> None:
    (x, t), _ = load_dataset("sample", normalize=False, flatten=False, one_hot_label=True)
    assert x.shape == (10_000, 1, 28, 28) and x.dtype == np.uint8 and x.max() == 255
    assert t.shape == (10_000, 10) and t.dtype == np.float32
    assert t[0].tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]


def test_missing_dataset_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="losskit data download mnist"):
        load_dataset("mnist", data_dir=tmp_path)
    with pytest.raises(ValueError, match="expected one of sample, mnist, fashion-mnist"):
        load_dataset("cifar")


def test_cache_dir_follows_losskit_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from losskit.datasets import cache_dir

    monkeypatch.setenv("LOSSKIT_DATA", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "c" / "mnist")):
        load_dataset("mnist")


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not present")
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_full_data_sets_load_from_a_folder(name: str) -> None:
    (x, _), (xt, tt) = load_dataset(name, data_dir=SHARED / name)
    assert x.shape == (60_000, 784) and xt.shape == (10_000, 784)
    assert np.bincount(tt).tolist()[:2] == ([980, 1135] if name == "mnist" else [1000, 1000])


_VALID_GZ = gzip.compress(_raw(0x08, (50, 4), bytes(200)), mtime=0)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, len(_VALID_GZ) - 1), st.integers(1, 255))
def test_fuzzed_gzip_stream_gives_an_array_or_a_value_error(
    tmp_path: Path, at: int, flip: int
) -> None:
    data = bytearray(_VALID_GZ)
    data[at] ^= flip
    path = tmp_path / "fuzz.gz"
    path.write_bytes(bytes(data))
    try:
        out = read_idx(path, max_bytes=1 << 16)
    except ValueError:
        return
    assert out.nbytes <= 1 << 16


needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not present")


def _copy(name: str, folder: Path, *, raw: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in (SHARED / name).glob("*.gz"):
        if raw:
            (folder / f.name[:-3]).write_bytes(gzip.decompress(f.read_bytes()))
        else:
            (folder / f.name).write_bytes(f.read_bytes())
    return folder


def _flip_a_label(path: Path) -> None:
    """Change one label inside a valid gzip stream: the file still reads, only its hash tells."""
    raw = bytearray(
        gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    )
    raw[8 + 123] = (raw[8 + 123] + 1) % 10
    path.write_bytes(gzip.compress(bytes(raw), mtime=0) if path.suffix == ".gz" else bytes(raw))


@needs_shared
def test_a_tampered_cached_file_is_refused_with_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from losskit.datasets.sources import DATASETS

    monkeypatch.setenv("LOSSKIT_DATA", str(tmp_path))
    labels = _copy("mnist", tmp_path / "mnist") / "t10k-labels-idx1-ubyte.gz"
    _flip_a_label(labels)
    found = hashlib.sha256(labels.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="SHA-256 mismatch") as caught:
        load_dataset("mnist")  # from the cache: never a silent training run on a changed file
    message = str(caught.value)
    assert str(labels) in message and "\n" not in message
    assert DATASETS["mnist"].sha256["t10k-labels-idx1-ubyte.gz"] in message and found in message
    assert "losskit data download mnist --force" in message and "delete" in message


@needs_shared
def test_a_tampered_file_in_a_named_folder_says_which_folder_to_fix(tmp_path: Path) -> None:
    images = _copy("mnist", tmp_path) / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:-1000])  # cut short
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz.*bytes") as caught:
        load_dataset("mnist", data_dir=tmp_path)
    assert f"--data-dir {tmp_path} --force" in str(caught.value)


@needs_shared
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_raw_idx_files_are_verified_by_their_decompressed_hash(name: str, tmp_path: Path) -> None:
    folder = _copy(name, tmp_path, raw=True)
    (x, t), (xt, tt) = load_dataset(name, data_dir=folder, normalize=False)
    (x0, t0), (xt0, tt0) = load_dataset(name, data_dir=SHARED / name, normalize=False)
    assert all(np.array_equal(a, b) for a, b in [(x, x0), (t, t0), (xt, xt0), (tt, tt0)])
    _flip_a_label(folder / "t10k-labels-idx1-ubyte")
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte: SHA-256 mismatch"):
        load_dataset(name, data_dir=folder)


@needs_shared
def test_another_data_set_under_the_same_names_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"that is fashion-mnist's train-images-idx3-ubyte\.gz"):
        load_dataset("mnist", data_dir=SHARED / "fashion-mnist")
