"""`losskit eval` against unlucky and hostile files (issue 11): never a wrong answer with
exit 0, never a traceback; memory bounded by a chunk whatever the file format.

Every malformed file is made here, in tmp_path. Rows refer to the issue's table.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from backends import installed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import losskit as lk
from losskit.cli import main
from losskit.scoring import open_array, score

pytestmark = pytest.mark.skipif(not installed("dask"), reason="backend dask is not installed")

LIBRARY = {
    "softmax-cross-entropy": lk.softmax_cross_entropy,
    "cross-entropy-error": lk.cross_entropy_error,
    "mean-squared-error": lk.mean_squared_error,
    "binary-cross-entropy": lk.binary_cross_entropy,
    "sigmoid-binary-cross-entropy": lk.sigmoid_binary_cross_entropy,
}
CLASS_LOSSES = ["softmax-cross-entropy", "cross-entropy-error", "mean-squared-error"]
BINARY_LOSSES = ["binary-cross-entropy", "sigmoid-binary-cross-entropy"]


def reference(loss: str, pred: np.ndarray, target: np.ndarray, **options: Any) -> Any:
    """The library on the whole arrays, in float64 (what eval accumulates in)."""
    p = pred.astype(np.float64)
    t = target.astype(np.float64) if target.dtype.kind == "f" else target
    return LIBRARY[loss](p, t, **options)


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("losskit: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


# ---------------------------------------------------------------- row 1: 1-D predictions


@pytest.mark.parametrize("loss", BINARY_LOSSES)
def test_row1_a_1d_binary_file_is_one_sample_per_row_for_every_chunk_size(
    tmp_path: Path, loss: str
) -> None:
    rng = np.random.default_rng(1)
    n = 1000
    p = rng.uniform(0.01, 0.99, n) if loss == "binary-cross-entropy" else rng.normal(size=n)
    t = rng.uniform(0, 1, n)
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "t.npy", t)
    expected = float(reference(loss, p, t))
    for chunk_rows in (None, 1, 7, 100, 999, 1000, 5000):
        result = score(tmp_path / "p.npy", tmp_path / "t.npy", loss=loss, chunk_rows=chunk_rows)
        assert result.value == pytest.approx(expected, rel=1e-12), chunk_rows
        assert result.count == n
    out = tmp_path / "each.npy"
    for chunk_rows in ("100", "7"):
        args = ["eval", str(tmp_path / "p.npy"), str(tmp_path / "t.npy"), "--loss", loss]
        assert main([*args, "--chunk-rows", chunk_rows, "--output", str(out)]) == 0
        written = np.load(out)
        assert written.shape == (n,)
        np.testing.assert_allclose(written, reference(loss, p, t, reduction="none"), rtol=1e-15)


@pytest.mark.parametrize("loss", CLASS_LOSSES)
def test_row1_a_1d_file_with_a_class_loss_is_a_clear_error(
    tmp_path: Path, loss: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(2)
    np.save(tmp_path / "p.npy", rng.uniform(0.01, 0.99, 1000))
    np.save(tmp_path / "labels.npy", rng.integers(0, 2, 1000))
    np.save(tmp_path / "dist.npy", rng.uniform(0, 1, 1000))
    for target in ("labels.npy", "dist.npy"):
        for chunk_rows in (None, 10, 100):
            with pytest.raises(ValueError, match=r"p\.npy: .*shape \(1000,\).*\(N, C\)"):
                score(tmp_path / "p.npy", tmp_path / target, loss=loss, chunk_rows=chunk_rows)
        args = ["eval", str(tmp_path / "p.npy"), str(tmp_path / target), "--loss", loss]
        assert main([*args, "--output", str(tmp_path / "out.npy")]) == 2
        assert "(N, C)" in one_line_error(capsys)
        assert not (tmp_path / "out.npy").exists()


# ---------------------------------------------------------------- row 1: property test

N_ROWS, C, S = 23, 4, 3
_gen = np.random.default_rng(11)
_LABELS = _gen.integers(0, C, N_ROWS)
_LABELS[::5] = -1
_LABELS_3D = _gen.integers(0, C, (N_ROWS, S))
ARRAYS: dict[str, np.ndarray] = {
    "logits": _gen.normal(size=(N_ROWS, C)) * 3,
    "logits3": (_gen.normal(size=(N_ROWS, S, C)) * 3).astype(np.float32),
    "probs": _gen.dirichlet(np.ones(C), size=N_ROWS),
    "probs3": _gen.dirichlet(np.ones(C), size=(N_ROWS, S)).astype(np.float32),
    "labels": _LABELS,
    "plain_labels": np.where(_LABELS < 0, 0, _LABELS),
    "labels3": _LABELS_3D,
    "p1": _gen.uniform(0.01, 0.99, N_ROWS),
    "t1": _gen.uniform(0, 1, N_ROWS),
    "z1": _gen.normal(size=N_ROWS).astype(np.float16),
    "p2": _gen.uniform(0.01, 0.99, (N_ROWS, C)).astype(np.float32),
    "t2": _gen.integers(0, 2, (N_ROWS, C)),
    "z3": _gen.normal(size=(N_ROWS, S, C)),
    "t3": _gen.uniform(0, 1, (N_ROWS, S, C)),
}
WEIGHT = _gen.uniform(0.5, 2.0, C)
# (loss, predictions, targets, options): every valid layout of every loss.
CASES = [
    ("softmax-cross-entropy", "logits", "labels", {"ignore_index": -1, "weight": WEIGHT}),
    ("softmax-cross-entropy", "logits", "probs", {"label_smoothing": 0.1}),
    ("softmax-cross-entropy", "logits3", "labels3", {"label_smoothing": 0.2}),
    ("softmax-cross-entropy", "logits3", "probs3", {}),
    ("cross-entropy-error", "probs", "plain_labels", {"weight": WEIGHT}),
    ("cross-entropy-error", "probs3", "probs3", {"delta": 1e-3}),
    ("mean-squared-error", "probs", "probs", {}),
    ("mean-squared-error", "probs3", "labels3", {}),
    ("binary-cross-entropy", "p1", "t1", {}),
    ("binary-cross-entropy", "p2", "t2", {"pos_weight": WEIGHT}),
    ("sigmoid-binary-cross-entropy", "z1", "t1", {}),
    ("sigmoid-binary-cross-entropy", "z3", "t3", {"pos_weight": WEIGHT}),
]
FORMATS = ["npy", "npz", "npz-compressed", "csv"]
# A CSV holds 1-D and 2-D arrays only.
LAYOUTS = [
    (fmt, *case)
    for case in CASES
    for fmt in FORMATS
    if fmt != "csv" or max(ARRAYS[case[1]].ndim, ARRAYS[case[2]].ndim) <= 2
]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Every array in every format that can hold it: {format: {name: spec}}."""
    root = tmp_path_factory.mktemp("layouts")
    specs: dict[str, dict[str, str]] = {f: {} for f in FORMATS}
    for name, array in ARRAYS.items():
        np.save(root / f"{name}.npy", array)
        specs["npy"][name] = str(root / f"{name}.npy")
        if array.ndim <= 2:
            fmt = "%d" if array.dtype.kind == "i" else "%r"
            rows = array.reshape(N_ROWS, -1)
            lines = [",".join(fmt % v for v in row.tolist()) for row in rows]
            (root / f"{name}.csv").write_text("\n".join(lines) + "\n")
            specs["csv"][name] = str(root / f"{name}.csv")
    np.savez(root / "all.npz", **ARRAYS)
    np.savez_compressed(root / "all_z.npz", **ARRAYS)
    for name in ARRAYS:
        specs["npz"][name] = f"{root / 'all.npz'}:{name}"
        specs["npz-compressed"][name] = f"{root / 'all_z.npz'}:{name}"
    return specs


@pytest.mark.parametrize(("fmt", "loss", "pred", "target", "options"), LAYOUTS)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chunk_rows=st.integers(1, N_ROWS + 2),
    reduction=st.sampled_from(["mean", "sum"]),
    write=st.booleans(),
)
def test_row1_every_loss_every_layout_every_chunk_size_scores_like_the_library(
    stored: dict[str, dict[str, str]],
    fmt: str,
    loss: str,
    pred: str,
    target: str,
    options: dict[str, Any],
    chunk_rows: int,
    reduction: str,
    write: bool,
) -> None:
    y, t = ARRAYS[pred], ARRAYS[target]
    if fmt == "csv":  # a CSV holds float64 or int64
        y = y.astype(np.float64)
    expected = float(reference(loss, y, t, reduction=reduction, **options))
    out = Path(stored["npy"][pred]).with_name(f"out-{fmt}-{loss}.npy") if write else None
    result = score(
        stored[fmt][pred],
        stored[fmt][target],
        loss=loss,
        reduction=reduction,
        chunk_rows=chunk_rows,
        output=out,
        **options,
    )
    assert result.value == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert result.rows == N_ROWS and result.chunks == -(-N_ROWS // chunk_rows)
    if out is not None:
        each = reference(loss, y, t, reduction="none", **options)
        written = np.load(out)
        assert written.dtype == np.result_type(y.dtype, np.float32)
        np.testing.assert_array_equal(written, each.astype(written.dtype))


# ---------------------------------------------------------------- row 2: relative paths


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_row2_workers_in_another_directory_read_the_clients_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process whose working directory holds different files of the same names:
    the client's (absolute) files are scored, never the worker's."""
    from dask.distributed import Client, LocalCluster

    rng = np.random.default_rng(3)
    mine, theirs = tmp_path / "client", tmp_path / "worker"
    for folder, scale in ((mine, 1.0), (theirs, 10.0)):
        folder.mkdir()
        np.save(folder / "pred.npy", rng.normal(size=(300, 5)) * scale)
        np.save(folder / "labels.npy", rng.integers(0, 5, 300))
    monkeypatch.chdir(mine)
    expected = float(reference("softmax-cross-entropy", np.load("pred.npy"), np.load("labels.npy")))
    with (
        LocalCluster(
            host="127.0.0.1",
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        client.run(os.chdir, str(theirs))
        assert next(iter(client.run(os.getcwd).values())) == str(theirs)
        result = score(
            "pred.npy",
            "labels.npy",
            loss="softmax-cross-entropy",
            chunk_rows=64,
            scheduler=cluster.scheduler_address,
        )
        assert result.value == pytest.approx(expected, rel=1e-12)


def test_row2_a_file_that_is_not_the_one_the_client_opened_is_refused(tmp_path: Path) -> None:
    """What a worker sees when its file at that path differs from the client's (another
    machine, or the file replaced meanwhile): a clear error naming the file."""
    import pickle

    np.save(tmp_path / "pred.npy", np.zeros((100, 3)))
    (tmp_path / "labels.csv").write_text("".join(f"{i % 3}\n" for i in range(100)))
    for name, replacement in (
        ("pred.npy", lambda p: np.save(p, np.ones((100, 3)))),  # same size, other data
        ("pred.npy", lambda p: np.save(p, np.zeros((101, 3)))),  # other header and size
        ("labels.csv", lambda p: p.write_text("".join(f"{i % 2}\n" for i in range(100)))),
    ):
        seen = pickle.dumps(open_array(tmp_path / name))  # as shipped to a worker
        replacement(tmp_path / name)
        on_worker = pickle.loads(seen)
        with pytest.raises(ValueError, match=rf"{name}: not the file the client opened"):
            on_worker.read_rows(0, 10)
    moved = pickle.loads(pickle.dumps(open_array(tmp_path / "pred.npy")))
    (tmp_path / "pred.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"pred\.npy"):
        moved.read_rows(0, 10)


# ---------------------------------------------------------------- row 3: float16


def test_row3_float16_files_accumulate_in_float64(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n = 1_000_000
    z = (rng.normal(size=(n, 10)) * 3).astype(np.float16)
    labels = rng.integers(0, 10, n)
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "labels.npy", labels)
    expected = float(reference("softmax-cross-entropy", z, labels))
    result = score(tmp_path / "z.npy", tmp_path / "labels.npy", loss="softmax-cross-entropy")
    assert np.isfinite(result.value)
    assert result.value == pytest.approx(expected, rel=1e-6)
    p = rng.uniform(0.01, 0.99, n).astype(np.float16)
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "t.npy", (p > 0.5).astype(np.float16))
    for reduction in ("sum", "mean"):
        expected = float(
            reference("binary-cross-entropy", p, (p > 0.5).astype(np.float16), reduction=reduction)
        )
        got = score(
            tmp_path / "p.npy", tmp_path / "t.npy", loss="binary-cross-entropy", reduction=reduction
        ).value
        assert np.isfinite(got) and got == pytest.approx(expected, rel=1e-6)


# ---------------------------------------------------------------- row 4: uint64 labels


def test_row4_uint64_labels_with_an_ignore_index_that_cannot_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(5)
    np.save(tmp_path / "z.npy", rng.normal(size=(50, 4)))
    np.save(tmp_path / "u.npy", rng.integers(0, 4, 50).astype(np.uint64))
    with pytest.raises(ValueError, match=r"ignore_index=-1 does not fit labels of dtype uint64"):
        score(tmp_path / "z.npy", tmp_path / "u.npy", loss="softmax-cross-entropy", ignore_index=-1)
    args = ["eval", str(tmp_path / "z.npy"), str(tmp_path / "u.npy")]
    assert main([*args, "--loss", "softmax-cross-entropy", "--ignore-index", "-1"]) == 2
    err = one_line_error(capsys)
    assert "ignore_index=-1 does not fit labels of dtype uint64" in err and "u.npy" in err


@pytest.mark.parametrize("ignore", [3, 2**64 - 1])
def test_row4_uint64_labels_with_a_fitting_ignore_index(tmp_path: Path, ignore: int) -> None:
    rng = np.random.default_rng(6)
    z = rng.normal(size=(500, 4))
    labels = rng.integers(0, 4, 500).astype(np.uint64)
    labels[::7] = ignore
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "u.npy", labels)
    signed = np.where(labels == np.uint64(ignore), -1, labels.astype(np.int64))
    expected = float(lk.softmax_cross_entropy(z, signed, ignore_index=-1))
    for chunk_rows in (None, 13):
        got = score(
            tmp_path / "z.npy",
            tmp_path / "u.npy",
            loss="softmax-cross-entropy",
            ignore_index=ignore,
            chunk_rows=chunk_rows,
        )
        assert got.value == pytest.approx(expected, rel=1e-12)
        assert got.count == np.count_nonzero(signed >= 0)


# ---------------------------------------------------------------- row 5: CSV


def test_row5_a_byte_order_mark_and_crlf_are_not_a_header(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    z = rng.normal(size=(6, 3))
    labels = np.array([0, 1, 2, 2, 1, 0])
    rows = "\r\n".join(",".join(repr(v) for v in row) for row in z.tolist()) + "\r\n"
    (tmp_path / "z.csv").write_bytes(b"\xef\xbb\xbf" + rows.encode())
    (tmp_path / "labels.csv").write_bytes(
        b"\xef\xbb\xbf" + "".join(f"{v}\r\n" for v in labels).encode()
    )
    result = score(tmp_path / "z.csv", tmp_path / "labels.csv", loss="softmax-cross-entropy")
    assert result.rows == 6
    assert result.value == pytest.approx(float(lk.softmax_cross_entropy(z, labels)), rel=1e-12)
    assert open_array(tmp_path / "labels.csv").dtype == np.int64
    # A real header (no cell a number), with a BOM, quoted names and CRLF: skipped.
    header = b'\xef\xbb\xbf"a","b","c"\r\n'
    (tmp_path / "named.csv").write_bytes(header + rows.encode())
    named = score(tmp_path / "named.csv", tmp_path / "labels.csv", loss="softmax-cross-entropy")
    assert named.rows == 6 and named.value == result.value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,x\n2,3\n", r"line 1, column 2: 'x' is not a number"),
        ("a,1\n2,3\n", r"line 1, column 1: 'a' is not a number"),
        ("1,2\n3,4\n# note\n\n5,oops\n", r"line 5, column 2: 'oops' is not a number"),
        ("1,2\n3,4\n5\n", r"line 3 has 1 value, expected 2 like line 1"),
        ("a,b\n1,2\n3,4,5\n", r"line 3 has 3 values, expected 2 like line 2"),
        ("1,2\n3,,4\n", r"line 2 has 3 values, expected 2"),
        ("1,2\n3,\n", r"line 2, column 2: '' is not a number"),
        ("1,2\n1_0,3\n", r"line 2, column 1: '1_0' is not a number"),
        ("1\n99999999999999999999\n", r"line 2, column 1: '99999999999999999999' .*int64"),
        ("0.5\n1e400\n", r"line 2, column 1: '1e400' is out of the float64 range"),
        ("a,b\n", r"no data rows"),
        ("# only a comment\n\n", r"no data rows"),
        ("", r"is empty"),
        ("1,2\n\xff\xfe,3\n", r"line 2 is not UTF-8 text"),
        ("1,2\r3,4\r", r"line 1: a carriage return inside the line"),
        ("1,2\n3\r,4\n", r"line 2: a carriage return inside the line"),
        ("1,2\n3," + "4" * (17 << 20) + "\n", r"line 2 is longer than 16 MiB"),
    ],
)
def test_row5_bad_csv_cells_are_named_by_line_and_column(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=rf"bad\.csv: .*{message}"):
        open_array(path)


def test_row5_csv_labels_out_of_int64_reach_the_cli_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "z.npy", np.zeros((3, 2)))
    for label in ("99999999999999999999", "1e400", "-1e400"):
        (tmp_path / "labels.csv").write_text(f"0\n{label}\n1\n")
        args = ["eval", str(tmp_path / "z.npy"), str(tmp_path / "labels.csv")]
        assert main([*args, "--loss", "softmax-cross-entropy"]) == 2
        assert f"line 2, column 1: '{label}'" in one_line_error(capsys)


def test_row5_inf_and_nan_written_as_words_are_numbers(tmp_path: Path) -> None:
    (tmp_path / "z.csv").write_text("0,inf\n-Infinity,1\nnan,0\n")
    assert open_array(tmp_path / "z.csv").read_rows(0, 3)[1, 0] == -np.inf
    (tmp_path / "labels.csv").write_text("1\n0\n1\n")
    result = score(tmp_path / "z.csv", tmp_path / "labels.csv", loss="softmax-cross-entropy")
    assert np.isnan(result.value)  # NaN propagates, as the library says


# VmHWM of a fresh interpreter: the peak resident memory of scoring one file, in MB.
_PEAK = """
import json, sys
from losskit.scoring import score
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
import numpy, losskit, losskit.scoring, dask.base, dask.delayed
# Imports and compiled kernels first: the baseline is an interpreter ready to score.
losskit.softmax_cross_entropy(numpy.zeros((4, 3)), numpy.zeros(4, numpy.int64))
losskit.binary_cross_entropy(numpy.full(4, 0.5), numpy.zeros(4))
before = hwm()
kw = json.loads(sys.argv[3])
r = score(sys.argv[1], sys.argv[2], **kw)
print(json.dumps({"value": r.value, "rows": r.rows, "base_mb": before / 1024,
                  "peak_mb": hwm() / 1024}))
"""


def peak_memory(pred: str, target: str, **options: Any) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, pred, target, json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _write_csv(path: Path, rows: int, columns: int, seed: int) -> np.ndarray:
    """A CSV of `rows` × `columns` logits, written in blocks; returns the labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, columns, rows)
    with open(path, "w") as f:
        f.write(",".join(f"class{i}" for i in range(columns)) + "\n")
        for a in range(0, rows, 100_000):
            block = rng.normal(size=(min(100_000, rows - a), columns))
            np.savetxt(f, block, delimiter=",", fmt="%.9g")
    return labels


def test_row5_csv_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    """An 8 MB CSV: resident memory grows by far less than the file (the old reader took
    about 14× its size)."""
    labels = _write_csv(tmp_path / "z.csv", 80_000, 10, seed=8)
    np.save(tmp_path / "labels.npy", labels)
    size_mb = (tmp_path / "z.csv").stat().st_size / 2**20
    got = peak_memory(
        str(tmp_path / "z.csv"),
        str(tmp_path / "labels.npy"),
        loss="softmax-cross-entropy",
        chunk_rows=10_000,
    )
    z = np.loadtxt(tmp_path / "z.csv", delimiter=",", skiprows=1)
    assert got["value"] == pytest.approx(float(lk.softmax_cross_entropy(z, labels)), rel=1e-12)
    assert got["rows"] == 80_000
    assert got["peak_mb"] - got["base_mb"] < max(0.5 * size_mb, 32), (size_mb, got)


@pytest.mark.slow
def test_row5_a_50mb_csv_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    labels = _write_csv(tmp_path / "z.csv", 500_000, 10, seed=9)
    np.save(tmp_path / "labels.npy", labels)
    size_mb = (tmp_path / "z.csv").stat().st_size / 2**20
    got = peak_memory(
        str(tmp_path / "z.csv"), str(tmp_path / "labels.npy"), loss="softmax-cross-entropy"
    )
    print(f"\n50 MB CSV ({size_mb:.1f} MB): {got}")
    assert got["rows"] == 500_000
    assert got["peak_mb"] - got["base_mb"] < 200, (size_mb, got)


# ---------------------------------------------------------------- row 6: --output


def test_row6_output_never_overwrites_any_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(10)
    np.save(tmp_path / "z.npy", rng.normal(size=(20, 3)))
    np.save(tmp_path / "labels.npy", rng.integers(0, 3, 20))
    np.save(tmp_path / "w.npy", np.array([1.0, 2.0, 0.5]))
    np.save(tmp_path / "p.npy", rng.uniform(0.1, 0.9, (20, 3)))
    np.save(tmp_path / "t.npy", rng.uniform(0, 1, (20, 3)))
    os.link(tmp_path / "w.npy", tmp_path / "w_link.npy")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    cases = [
        (["z.npy", "labels.npy", "--loss", "softmax-cross-entropy", "--weight", "w.npy"], "w.npy"),
        (
            ["z.npy", "labels.npy", "--loss", "softmax-cross-entropy", "--weight", "w.npy"],
            "w_link.npy",
        ),
        (["p.npy", "t.npy", "--loss", "binary-cross-entropy", "--pos-weight", "w.npy"], "w.npy"),
        (["z.npy", "labels.npy", "--loss", "softmax-cross-entropy"], "labels.npy"),
    ]
    for args, output in cases:
        files = [str(tmp_path / a) if a.endswith(".npy") else a for a in args]
        assert main(["eval", *files, "--output", str(tmp_path / output)]) == 2
        assert "is one of the input files" in one_line_error(capsys)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    with pytest.raises(ValueError, match=r"output .*w\.npy' is one of the input files"):
        score(
            tmp_path / "z.npy",
            tmp_path / "labels.npy",
            loss="softmax-cross-entropy",
            weight=tmp_path / "w.npy",
            output=tmp_path / "w.npy",
        )
    weighted = score(
        tmp_path / "z.npy",
        tmp_path / "labels.npy",
        loss="softmax-cross-entropy",
        weight=tmp_path / "w.npy",
    )
    expected = lk.softmax_cross_entropy(
        np.load(tmp_path / "z.npy"),
        np.load(tmp_path / "labels.npy"),
        weight=np.load(tmp_path / "w.npy"),
    )
    assert weighted.value == pytest.approx(float(expected), rel=1e-12)


# ---------------------------------------------------------------- row 10: one-line errors


def _npy_header(shape: Any, descr: Any = "<f8") -> bytes:
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
    header += " " * (-(len(header) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()


def test_row10_a_crafted_npz_header_is_a_value_error_not_a_memory_error(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        z.writestr("pred.npy", _npy_header((10**10, 10**3)) + bytes(800))
    with zipfile.ZipFile(tmp_path / "huge_z.npz", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("pred.npy", _npy_header((10**10, 10**3)) + bytes(800))
    for name in ("huge.npz", "huge_z.npz"):
        with pytest.raises(ValueError, match=rf"{name}:pred: .*shape \(10000000000, 1000\)"):
            open_array(tmp_path / name)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.npy", b"", r"is empty"),
        ("empty.npz", b"", r"is empty"),
        ("empty.csv", b"", r"is empty"),
        ("junk.npz", b"PK\x03\x04" + bytes(100), r"not a valid \.npz file"),
        ("junk.npy", b"\x93NUMPY\x01\x00\xff\xff{'descr'", r"not a valid \.npy file"),
        ("negative.npy", _npy_header((-5, 3)) + bytes(40), r"negative.*\(-5, 3\)"),
        ("absurd.npy", _npy_header((10**20, 10**20)) + bytes(40), r"shape \(10{20}, 10{20}\)"),
        ("longer.npy", _npy_header((2, 3)) + bytes(49), r"shape \(2, 3\).*48 bytes.*49"),
        ("cut.npy", _npy_header((2, 3)) + bytes(47), r"truncated.*48 bytes.*47"),
        ("bool_shape.npy", _npy_header((True, 3)) + bytes(24), r"not a valid \.npy file"),
        ("struct.npy", _npy_header((2,), [("a", "<f8")]) + bytes(16), r"unsupported dtype"),
        ("obj.npy", _npy_header((2,), "|O") + bytes(16), r"object"),
        ("text.npy", _npy_header((2,), "<U3") + bytes(24), r"unsupported dtype"),
        ("v9.npy", b"\x93NUMPY\x09\x00" + bytes(60), r"not a valid \.npy file"),
        ("pickle.npy", b"\x80\x04\x95" + bytes(60), r"not a valid \.npy file"),
        ("data.bin", b"1234", r"unsupported file type '\.bin'"),
    ],
)
def test_row10_bad_files_are_a_value_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    (tmp_path / name).write_bytes(content)
    import re

    with pytest.raises(ValueError, match=rf"{re.escape(name)}.*{message}"):
        open_array(tmp_path / name)


def test_row10_a_directory_is_an_os_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "pred.npy").mkdir()
    with pytest.raises(IsADirectoryError, match=r"pred\.npy: is a directory"):
        open_array(tmp_path / "pred.npy")


def test_row10_npz_members_are_checked(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros((4, 2)), y=np.arange(4))
    with zipfile.ZipFile(tmp_path / "raw.npz", "w") as z:
        z.writestr("notes.txt", b"hello")
        z.writestr("x.npy", _npy_header((4, 2)) + bytes(64))
        with pytest.warns(UserWarning, match="Duplicate name"):
            z.writestr("x.npy", _npy_header((4, 2)) + bytes(64))
    with zipfile.ZipFile(tmp_path / "bz.npz", "w", zipfile.ZIP_BZIP2) as z:
        z.writestr("x.npy", _npy_header((4, 2)) + bytes(64))
    cases = [
        ("a.npz", r"holds arrays \['x', 'y'\]; name one with"),
        ("a.npz:z", r"has no array 'z'; it holds \['x', 'y'\]"),
        ("raw.npz:notes.txt", r"has no array 'notes\.txt'"),
        ("raw.npz:x", r"holds 2 members named 'x\.npy'"),
        ("bz.npz:x", r"compression method 12 is not supported"),
    ]
    for spec, message in cases:
        with pytest.raises(ValueError, match=message):
            open_array(f"{tmp_path}/{spec}")
    data = (tmp_path / "a.npz").read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.npz: not a valid \.npz file"):
        open_array(f"{cut}:x")


def test_row10_corrupt_compressed_members_are_named(tmp_path: Path) -> None:
    np.savez_compressed(tmp_path / "z.npz", x=np.random.default_rng(0).normal(size=(2000, 10)))
    data = bytearray((tmp_path / "z.npz").read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # inside the deflate stream
    (tmp_path / "bad.npz").write_bytes(bytes(data))
    member = open_array(f"{tmp_path / 'bad.npz'}:x")
    with pytest.raises(ValueError, match=r"bad\.npz:x: corrupt compressed data"):
        member.read_rows(0, 2000)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_row10_an_unreachable_scheduler_is_a_connection_error_at_once(tmp_path: Path) -> None:
    np.save(tmp_path / "z.npy", np.zeros((10, 2)))
    np.save(tmp_path / "labels.npy", np.zeros(10, np.int64))
    address = f"tcp://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=rf"Dask scheduler at {address}"):
        score(
            tmp_path / "z.npy",
            tmp_path / "labels.npy",
            loss="softmax-cross-entropy",
            scheduler=address,
        )
    assert time.monotonic() - start < 15
    with pytest.raises(ValueError, match=r"--scheduler 'nonsense': "):
        score(
            tmp_path / "z.npy",
            tmp_path / "labels.npy",
            loss="softmax-cross-entropy",
            scheduler="nonsense",
        )


def test_row10_a_silent_scheduler_times_out_naming_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Something listens but never answers: a TimeoutError naming the address, within the
    connect timeout (shortened here to keep the test quick)."""
    import losskit.scoring._run as run

    monkeypatch.setattr(run, "CONNECT_TIMEOUT_S", 2.0)
    np.save(tmp_path / "z.npy", np.zeros((10, 2)))
    np.save(tmp_path / "labels.npy", np.zeros(10, np.int64))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(TimeoutError, match=rf"Dask scheduler at {address}"):
            score(
                tmp_path / "z.npy",
                tmp_path / "labels.npy",
                loss="softmax-cross-entropy",
                scheduler=address,
            )
        assert time.monotonic() - start < 15


# ---------------------------------------------------------------- row 11: .npz in bounded memory


def _zeros_npz(path: Path, rows: int, columns: int) -> None:
    """A compressed .npz of float32 zeros and int64 labels, written without holding it."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, dtype, shape in (
            ("pred", "<f4", (rows, columns)),
            ("labels", "<i8", (rows,)),
        ):
            with z.open(f"{name}.npy", "w", force_zip64=True) as f:
                f.write(_npy_header(shape, dtype))
                block = bytes(1 << 22)
                left = rows * int(np.prod(shape[1:], dtype=np.int64)) * int(dtype[-1])
                while left:
                    f.write(block[: min(left, len(block))])
                    left -= min(left, len(block))


def test_row11_a_compressed_npz_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    """192 MB of zeros in a 0.2 MB archive: memory grows by a few chunks, not by 100 MB."""
    _zeros_npz(tmp_path / "z.npz", 4_000_000, 10)
    got = peak_memory(
        f"{tmp_path / 'z.npz'}:pred",
        f"{tmp_path / 'z.npz'}:labels",
        loss="softmax-cross-entropy",
        chunk_rows=100_000,
    )
    assert got["value"] == pytest.approx(np.log(10), rel=1e-12)
    assert got["peak_mb"] - got["base_mb"] < 80, got


@pytest.mark.slow
def test_row11_a_0_86_mb_npz_that_expands_to_1_gb_costs_little_memory(tmp_path: Path) -> None:
    _zeros_npz(tmp_path / "z.npz", 20_000_000, 10)
    size_mb = (tmp_path / "z.npz").stat().st_size / 2**20
    got = peak_memory(
        f"{tmp_path / 'z.npz'}:pred", f"{tmp_path / 'z.npz'}:labels", loss="softmax-cross-entropy"
    )
    print(f"\n{size_mb:.2f} MB .npz expanding to 960 MB: {got}")
    assert got["value"] == pytest.approx(np.log(10), rel=1e-12)
    assert got["peak_mb"] - got["base_mb"] < 300, got


def test_row11_stored_npz_members_are_read_by_range(tmp_path: Path) -> None:
    z = np.random.default_rng(12).normal(size=(1000, 5)).astype(np.float32)
    np.savez(tmp_path / "a.npz", z=z)
    member = open_array(f"{tmp_path / 'a.npz'}:z")
    np.testing.assert_array_equal(member.read_rows(300, 310), z[300:310])
    np.testing.assert_array_equal(member.read_rows(990, 1000), z[990:])


# ---------------------------------------------------------------- row 12: killed writes

_KILLED = """
import os, signal, sys
import losskit.scoring as scoring
real = scoring.LOSSES["softmax-cross-entropy"]
calls = []
class Dies:
    def per_sample_and_count(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 6:  # after the first waves were written
            os.kill(os.getpid(), signal.SIGKILL)
        return real.per_sample_and_count(*args, **kwargs)
scoring.LOSSES["softmax-cross-entropy"] = Dies()
if sys.argv[3] == "no-tmpfile":  # a file system without unnamed temporary files
    import losskit.scoring._output
    losskit.scoring._output._open_unnamed = lambda folder: None
scoring.score(sys.argv[1], sys.argv[2], loss="softmax-cross-entropy", chunk_rows=10,
              output=sys.argv[4])
"""


@pytest.mark.parametrize("mode", ["tmpfile", "no-tmpfile"])
def test_row12_a_killed_output_run_leaves_nothing_behind(tmp_path: Path, mode: str) -> None:
    rng = np.random.default_rng(13)
    inputs = tmp_path / "in"
    inputs.mkdir()
    np.save(inputs / "z.npy", rng.normal(size=(200, 3)))
    np.save(inputs / "labels.npy", rng.integers(0, 3, 200))
    out = tmp_path / "out" / "losses.npy"
    out.parent.mkdir()
    args = [str(inputs / "z.npy"), str(inputs / "labels.npy"), mode, str(out)]
    for _ in range(2):
        killed = subprocess.run([sys.executable, "-c", _KILLED, *args], timeout=120)
        assert killed.returncode == -signal.SIGKILL
    if mode == "tmpfile":
        assert list(out.parent.iterdir()) == []  # nothing ever had a name
    else:
        # The second run removed the first's leftover; its own is left, named.
        assert len(list(out.parent.iterdir())) == 1
    score(inputs / "z.npy", inputs / "labels.npy", loss="softmax-cross-entropy", output=out)
    assert [p.name for p in out.parent.iterdir()] == ["losses.npy"]  # the dead runs' cleaned
    assert np.load(out).shape == (200,)


def test_row12_other_processes_temporary_files_are_left_alone(tmp_path: Path) -> None:
    """Only temporary files of this machine's dead processes are removed: a live writer's
    (this process) and another machine's stay."""
    np.save(tmp_path / "z.npy", np.zeros((5, 2)))
    np.save(tmp_path / "labels.npy", np.zeros(5, np.int64))
    host = socket.gethostname()
    live = tmp_path / f".out.npy.losskit-{host}-{os.getpid()}-abcd.part"
    remote = tmp_path / ".out.npy.losskit-otherhost-1-abcd.part"
    other_name = tmp_path / ".unrelated.part"
    for p in (live, remote, other_name):
        p.write_bytes(b"x")
    score(
        tmp_path / "z.npy",
        tmp_path / "labels.npy",
        loss="softmax-cross-entropy",
        output=tmp_path / "out.npy",
    )
    assert live.exists() and remote.exists() and other_name.exists()


def test_row12_output_keeps_the_permissions_a_plain_open_gives(tmp_path: Path) -> None:
    np.save(tmp_path / "z.npy", np.zeros((5, 2)))
    np.save(tmp_path / "labels.npy", np.zeros(5, np.int64))
    umask = os.umask(0o022)
    try:
        score(
            tmp_path / "z.npy",
            tmp_path / "labels.npy",
            loss="softmax-cross-entropy",
            output=tmp_path / "new.npy",
        )
    finally:
        os.umask(umask)
    assert (tmp_path / "new.npy").stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------- checked before any chunk


def test_a_flipped_byte_in_a_stored_npz_member_fails_its_crc(tmp_path: Path) -> None:
    z = np.random.default_rng(14).normal(size=(300, 4))
    np.savez(tmp_path / "a.npz", z=z, labels=np.zeros(300, np.int64))
    data = bytearray((tmp_path / "a.npz").read_bytes())
    at = data.index(z[150].tobytes())
    data[at + 3] ^= 0x10  # a plausible number still: only the CRC can tell
    (tmp_path / "bad.npz").write_bytes(bytes(data))
    out = tmp_path / "each.npy"
    for chunk_rows in (None, 7):
        with pytest.raises(ValueError, match=r"bad\.npz:z: corrupt data \(its CRC-32"):
            score(
                f"{tmp_path / 'bad.npz'}:z",
                f"{tmp_path / 'bad.npz'}:labels",
                loss="softmax-cross-entropy",
                chunk_rows=chunk_rows,
                output=out,
            )
        assert not out.exists()  # checked before the output appears


def test_crc32_combine_matches_zlib() -> None:
    import zlib

    from losskit.scoring._npz import crc32_combine

    gen = np.random.default_rng(15)
    for a, b in ((0, 0), (1, 7), (100, 1000), (5, 0), (0, 9), (12345, 678)):
        x, y = gen.bytes(a), gen.bytes(b)
        assert crc32_combine(zlib.crc32(x), zlib.crc32(y), b) == zlib.crc32(x + y)


def test_an_output_that_cannot_be_written_fails_before_any_work(tmp_path: Path) -> None:
    np.save(tmp_path / "z.npy", np.zeros((5, 2)))
    np.save(tmp_path / "labels.npy", np.zeros(5, np.int64))
    (tmp_path / "file").write_text("not a folder")
    (tmp_path / "folder.npy").mkdir()
    args = (tmp_path / "z.npy", tmp_path / "labels.npy")
    with pytest.raises(NotADirectoryError, match=r"cannot write .*file/sub/out\.npy: .*file is"):
        score(*args, loss="softmax-cross-entropy", output=tmp_path / "file" / "sub" / "out.npy")
    with pytest.raises(IsADirectoryError, match=r"cannot write .*folder\.npy: it is a folder"):
        score(*args, loss="softmax-cross-entropy", output=tmp_path / "folder.npy")
    made = score(*args, loss="softmax-cross-entropy", output=tmp_path / "new" / "dir" / "o.npy")
    assert made.output is not None and np.load(made.output).shape == (5,)


@pytest.mark.parametrize(
    ("pred", "target", "loss", "options", "message"),
    [
        ((), (), "binary-cross-entropy", {}, r"p\.npy: a 0-d array has no rows"),
        ((6, 3), (6, 4), "softmax-cross-entropy", {}, r"t\.npy: targets of shape \(6, 4\) do not"),
        ((6, 3), (6,), "softmax-cross-entropy", {"float": 1}, r"labels must be integers"),
        ((6, 3), (6,), "softmax-cross-entropy", {"weight": [1.0, 2.0]}, r"weight of shape \(2,\)"),
        ((6, 3), (6, 3), "softmax-cross-entropy", {"ignore_index": 0}, r"ignore_index applies"),
        ((6, 3), (6, 3), "binary-cross-entropy", {"pos_weight": np.ones(6)}, r"pos_weight of"),
        ((6, 3), (6, 3), "binary-cross-entropy", {"pos_weight": np.ones((6, 3))}, r"by row"),
        ((6, 3), (6,), "binary-cross-entropy", {}, r"binary targets of shape \(6,\) do not fit"),
        ((6, 0), (6,), "softmax-cross-entropy", {}, r"no samples to score"),
    ],
)
def test_shapes_and_options_that_do_not_fit_name_the_files_shapes(
    tmp_path: Path,
    pred: tuple[int, ...],
    target: tuple[int, ...],
    loss: str,
    options: dict[str, Any],
    message: str,
) -> None:
    """Checked on the whole files, before any chunk: a chunk's error would name its shape."""
    np.save(tmp_path / "p.npy", np.full(pred, 0.5))
    labels = options.pop("float", None) is None and len(target) < len(pred)
    np.save(tmp_path / "t.npy", np.zeros(target, np.int64 if labels else np.float64))
    with pytest.raises(ValueError, match=message):
        score(tmp_path / "p.npy", tmp_path / "t.npy", loss=loss, chunk_rows=2, **options)


def test_csv_predictions_of_integers_and_weights_from_csv(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("0\n1\n1\n0\n")  # probabilities 0 and 1, as integers
    (tmp_path / "t.csv").write_text("0\n1\n0\n0\n")
    result = score(tmp_path / "p.csv", tmp_path / "t.csv", loss="binary-cross-entropy")
    p, t = np.array([0.0, 1, 1, 0]), np.array([0.0, 1, 0, 0])
    assert result.value == pytest.approx(float(lk.binary_cross_entropy(p, t)), rel=1e-12)
    (tmp_path / "w.csv").write_text("1,2,0.5\n")
    np.save(tmp_path / "z.npy", np.arange(12.0).reshape(4, 3))
    np.save(tmp_path / "labels.npy", np.array([0, 1, 2, 1]))
    weighted = score(
        tmp_path / "z.npy",
        tmp_path / "labels.npy",
        loss="softmax-cross-entropy",
        weight=tmp_path / "w.csv",
    )
    expected = lk.softmax_cross_entropy(
        np.arange(12.0).reshape(4, 3), np.array([0, 1, 2, 1]), weight=np.array([1, 2, 0.5])
    )
    assert weighted.value == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_row10_a_scheduler_without_workers_is_a_timeout_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dask.distributed import LocalCluster

    import losskit.scoring._run as run

    monkeypatch.setattr(run, "CONNECT_TIMEOUT_S", 1.0)
    np.save(tmp_path / "z.npy", np.zeros((10, 2)))
    np.save(tmp_path / "labels.npy", np.zeros(10, np.int64))
    empty = LocalCluster(
        host="127.0.0.1", protocol="tcp", n_workers=0, processes=False, dashboard_address=None
    )
    with empty, pytest.raises(TimeoutError, match=r"scheduler at tcp://127\.0\.0\.1:\d+ has no"):
        score(
            tmp_path / "z.npy",
            tmp_path / "labels.npy",
            loss="softmax-cross-entropy",
            scheduler=empty.scheduler_address,
        )


def test_an_npz_key_may_hold_a_colon(tmp_path: Path) -> None:
    z = np.arange(6, dtype=np.float64).reshape(3, 2)
    np.savez(tmp_path / "p.npz", **{"a:b": z})
    np.save(tmp_path / "t.npy", np.array([0, 1, 1]))
    got = score(f"{tmp_path / 'p.npz'}:a:b", tmp_path / "t.npy", loss="softmax-cross-entropy")
    assert got.value == pytest.approx(float(lk.softmax_cross_entropy(z, np.array([0, 1, 1]))))
