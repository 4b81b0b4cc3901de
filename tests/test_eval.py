"""`losskit eval` and Dask: files scored chunk by chunk, locally or on a cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from backends import installed

import losskit as lk
from losskit.cli import main
from losskit.scoring import open_array, score

pytestmark = pytest.mark.skipif(not installed("dask"), reason="backend dask is not installed")

rng = np.random.default_rng(0)
N, C = 1000, 7
LOGITS = (rng.normal(size=(N, C)) * 3).astype(np.float32)
LABELS = rng.integers(0, C, N)
LABELS[::9] = -1
PROBS = rng.dirichlet(np.ones(C), size=N)
WEIGHT = rng.uniform(0.5, 2.0, C)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {
        "logits.npy": LOGITS,
        "labels.npy": LABELS,
        "probs.npy": PROBS,
        "plain_labels.npy": np.where(LABELS < 0, 0, LABELS),
    }
    for name, array in out.items():
        np.save(tmp_path / name, array)
    np.savez(tmp_path / "both.npz", logits=LOGITS, labels=LABELS)
    np.savetxt(tmp_path / "logits.csv", LOGITS, delimiter=",", fmt="%.9g")
    np.savetxt(tmp_path / "labels.csv", LABELS, delimiter=",", fmt="%d")
    return {name: tmp_path / name for name in [*out, "both.npz", "logits.csv", "labels.csv"]}


@pytest.mark.parametrize("chunk_rows", [None, 1, 97, 1000])
def test_weighted_ignored_smoothed_mean_is_exact_across_chunks(
    files: dict[str, Path], chunk_rows: int | None
) -> None:
    options = {"ignore_index": -1, "weight": WEIGHT, "label_smoothing": 0.1}
    result = score(
        files["logits.npy"],
        files["labels.npy"],
        loss="softmax-cross-entropy",
        chunk_rows=chunk_rows,
        **options,
    )
    expected = float(lk.softmax_cross_entropy(LOGITS.astype(np.float64), LABELS, **options))
    assert result.value == pytest.approx(expected, rel=1e-6)
    assert result.rows == N
    assert result.chunks == (1 if chunk_rows is None else -(-N // chunk_rows))
    assert result.count == pytest.approx(WEIGHT[LABELS[LABELS >= 0]].sum(), rel=1e-6)


@pytest.mark.parametrize(
    ("loss", "pred", "target", "options"),
    [
        ("cross-entropy-error", "probs.npy", "plain_labels.npy", {"delta": 1e-7}),
        ("mean-squared-error", "probs.npy", "plain_labels.npy", {}),
        ("binary-cross-entropy", "probs.npy", "probs.npy", {}),
        ("sigmoid-binary-cross-entropy", "logits.npy", "probs.npy", {}),
    ],
)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_every_loss_scores_like_the_library(
    files: dict[str, Path],
    loss: str,
    pred: str,
    target: str,
    options: dict[str, Any],
    reduction: str,
) -> None:
    fn = {
        "cross-entropy-error": lk.cross_entropy_error,
        "mean-squared-error": lk.mean_squared_error,
        "binary-cross-entropy": lk.binary_cross_entropy,
        "sigmoid-binary-cross-entropy": lk.sigmoid_binary_cross_entropy,
    }[loss]
    y, t = np.load(files[pred]), np.load(files[target])
    if loss == "sigmoid-binary-cross-entropy":
        t = t.astype(np.float32)
        np.save(files[target].with_name("probs32.npy"), t)
        target = "probs32.npy"
    expected = float(fn(y, t, reduction=reduction, **options))
    result = score(
        files[pred].parent / pred,
        files[pred].parent / target,
        loss=loss,
        reduction=reduction,
        chunk_rows=64,
        **options,
    )
    assert result.value == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("chunk_rows", [None, 97])  # one chunk; 11 chunks in 3 waves
def test_output_holds_each_samples_loss_in_row_order(
    files: dict[str, Path], tmp_path: Path, chunk_rows: int | None
) -> None:
    cases = [
        ("softmax-cross-entropy", "logits.npy", "labels.npy", {"ignore_index": -1}),
        ("cross-entropy-error", "probs.npy", "plain_labels.npy", {"weight": WEIGHT}),
        ("mean-squared-error", "probs.npy", "probs.npy", {}),
        ("binary-cross-entropy", "probs.npy", "probs.npy", {}),
    ]
    for loss, pred, target, options in cases:
        out = tmp_path / f"{loss}.npy"
        result = score(
            files[pred], files[target], loss=loss, chunk_rows=chunk_rows, output=out, **options
        )
        fn = lk.scoring.LOSSES[loss]
        y, t = np.load(files[pred]), np.load(files[target])
        # Computed in float64, written in the predictions' precision (float32 at least).
        t64 = t.astype(np.float64) if t.dtype.kind == "f" else t
        expected = fn(y.astype(np.float64), t64, reduction="none", **options)
        written = np.load(out)
        assert written.dtype == np.result_type(y.dtype, np.float32)
        np.testing.assert_array_equal(written, expected.astype(written.dtype))
        plain = score(files[pred], files[target], loss=loss, chunk_rows=chunk_rows, **options)
        assert result.value == pytest.approx(plain.value, rel=1e-6)
        assert result.output == str(out)


def test_output_appears_only_when_complete(files: dict[str, Path], tmp_path: Path) -> None:
    labels = np.arange(N) % C
    labels[900] = 99  # in the last wave: earlier chunks were written already
    np.save(tmp_path / "bad.npy", labels)
    out = tmp_path / "out" / "losses.npy"
    out.parent.mkdir()
    out.write_bytes(b"the user's earlier file")
    with pytest.raises(ValueError, match=r"label 99 in row 900"):
        score(
            files["logits.npy"],
            tmp_path / "bad.npy",
            loss="softmax-cross-entropy",
            chunk_rows=50,
            output=out,
        )
    assert out.read_bytes() == b"the user's earlier file"
    assert [p.name for p in out.parent.iterdir()] == ["losses.npy"]  # no partial file left
    with pytest.raises(ValueError, match=r"output '.*logits\.npy' is one of the input files"):
        score(
            files["logits.npy"],
            files["labels.npy"],
            loss="softmax-cross-entropy",
            output=files["logits.npy"],
        )
    assert np.array_equal(np.load(files["logits.npy"]), LOGITS)
    with pytest.raises(ValueError, match=r"output must be a \.npy file, got '.*losses\.csv'"):
        score(
            files["logits.npy"],
            files["labels.npy"],
            loss="softmax-cross-entropy",
            output=tmp_path / "losses.csv",
        )


def test_npz_and_csv_inputs(files: dict[str, Path]) -> None:
    expected = score(
        files["logits.npy"], files["labels.npy"], loss="softmax-cross-entropy", ignore_index=-1
    ).value
    from_npz = score(
        f"{files['both.npz']}:logits",
        f"{files['both.npz']}:labels",
        loss="softmax-cross-entropy",
        ignore_index=-1,
    )
    from_csv = score(
        files["logits.csv"], files["labels.csv"], loss="softmax-cross-entropy", ignore_index=-1
    )
    assert from_npz.value == pytest.approx(expected, rel=1e-6)
    assert from_csv.value == pytest.approx(expected, rel=1e-6)
    assert open_array(files["labels.csv"]).dtype == np.int64  # all-integer CSV: labels


def test_errors_name_the_file_and_the_row(files: dict[str, Path], tmp_path: Path) -> None:
    labels = np.arange(50_000) % C
    labels[36 * 1000 + 123] = 99  # chunk 37 of 50
    labels[49 * 1000 + 5] = -3  # chunk 50, likely to fail first on a free thread: not reported
    np.save(tmp_path / "bad.npy", labels)
    np.save(tmp_path / "big.npy", np.zeros((50_000, C), np.float32))
    with pytest.raises(
        ValueError,
        match=r"label 99 in row 36123 is out of range for 7 classes"
        r".*predictions .*big\.npy, targets .*bad\.npy",
    ):
        score(
            tmp_path / "big.npy",
            tmp_path / "bad.npy",
            loss="softmax-cross-entropy",
            chunk_rows=1000,
        )
    with pytest.raises(FileNotFoundError, match=r"no such file: .*nope\.npy"):
        score(tmp_path / "nope.npy", files["labels.npy"], loss="softmax-cross-entropy")
    np.save(tmp_path / "short.npy", LABELS[:10])
    with pytest.raises(ValueError, match=r"logits\.npy has 1000 rows but .*short\.npy has 10"):
        score(files["logits.npy"], tmp_path / "short.npy", loss="softmax-cross-entropy")
    np.save(tmp_path / "int_pred.npy", LABELS)
    with pytest.raises(
        ValueError,
        match=r"int_pred\.npy: predictions must be floating point, "
        r"got dtype int64",
    ):
        score(tmp_path / "int_pred.npy", files["labels.npy"], loss="softmax-cross-entropy")
    with pytest.raises(ValueError, match=r"mean-squared-error does not take ignore_index"):
        score(files["probs.npy"], files["labels.npy"], loss="mean-squared-error", ignore_index=-1)
    with pytest.raises(ValueError, match=r"holds arrays \['logits', 'labels'\]"):
        score(files["both.npz"], files["labels.npy"], loss="softmax-cross-entropy")
    np.save(tmp_path / "empty.npy", np.zeros((0, C), np.float32))
    np.save(tmp_path / "no_labels.npy", np.zeros(0, np.int64))
    with pytest.raises(ValueError, match=r"empty\.npy: no rows to score"):
        score(tmp_path / "empty.npy", tmp_path / "no_labels.npy", loss="softmax-cross-entropy")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    with pytest.raises(
        ValueError, match=r"ragged\.csv: line 2 has 1 value, expected 2 like line 1"
    ):
        open_array(tmp_path / "ragged.csv")
    (tmp_path / "cut.npy").write_bytes((tmp_path / "big.npy").read_bytes()[:5000])
    with pytest.raises(ValueError, match=r"cut\.npy: truncated"):
        open_array(tmp_path / "cut.npy")


def test_cli_eval_prints_text_and_json(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "eval",
        str(files["logits.npy"]),
        str(files["labels.npy"]),
        "--loss",
        "softmax-cross-entropy",
        "--ignore-index",
        "-1",
        "--weight",
        ",".join(str(w) for w in WEIGHT),
        "--chunk-rows",
        "300",
    ]
    assert main(args) == 0
    assert "softmax-cross-entropy (mean) of" in capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    expected = float(
        lk.softmax_cross_entropy(LOGITS.astype(np.float64), LABELS, ignore_index=-1, weight=WEIGHT)
    )
    assert result["value"] == pytest.approx(expected, rel=1e-6)
    assert result["chunks"] == 4
    out = files["logits.npy"].with_name("per_sample.npy")
    assert main([*args, "--output", str(out)]) == 0
    assert f"each sample's loss: {out}" in capsys.readouterr().out
    assert np.load(out).shape == (N,)
    assert (
        main(["eval", "missing.npy", str(files["labels.npy"]), "--loss", "softmax-cross-entropy"])
        == 2
    )
    assert "no such file: missing.npy" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_eval_on_a_local_dask_cluster_equals_local(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from dask.distributed import LocalCluster

    args = [
        "eval",
        str(files["logits.npy"]),
        str(files["labels.npy"]),
        "--loss",
        "softmax-cross-entropy",
        "--ignore-index",
        "-1",
        "--chunk-rows",
        "128",
        "--json",
    ]
    here = files["logits.npy"].parent
    assert main([*args, "--output", str(here / "local.npy")]) == 0
    local = json.loads(capsys.readouterr().out)
    # In-process workers, but over real TCP on 127.0.0.1 (never another interface).
    with LocalCluster(
        host="127.0.0.1",
        protocol="tcp",
        scheduler_port=0,
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        dashboard_address=None,
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        remote_args = [
            "--scheduler",
            cluster.scheduler_address,
            "--output",
            str(here / "remote.npy"),
        ]
        assert main([*args, *remote_args]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert remote.pop("output") != local.pop("output")
    assert remote == local
    np.testing.assert_array_equal(np.load(here / "remote.npy"), np.load(here / "local.npy"))


def test_losses_on_dask_arrays_stay_lazy_and_match_numpy() -> None:
    import dask.array as da

    z = da.from_array(LOGITS.astype(np.float64), chunks=(128, C))
    t = da.from_array(LABELS, chunks=128)
    lazy = lk.softmax_cross_entropy(z, t, ignore_index=-1, weight=da.from_array(WEIGHT))
    assert isinstance(lazy, da.Array)
    expected = lk.softmax_cross_entropy(
        LOGITS.astype(np.float64), LABELS, ignore_index=-1, weight=WEIGHT
    )
    assert float(lazy.compute()) == pytest.approx(float(expected), rel=1e-12)
    total, count = lk.softmax_cross_entropy.sum_and_count(z, t, ignore_index=-1)
    assert float(total.compute()) / float(count.compute()) == pytest.approx(
        float(lk.softmax_cross_entropy(LOGITS.astype(np.float64), LABELS, ignore_index=-1)),
        rel=1e-12,
    )


# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork+exec, so the child would
# report this test process's peak (it has just written 2.4 GB through a memmap).
_PEAK = """
import json, sys
from losskit.scoring import score
output = sys.argv[3] if len(sys.argv) > 3 else None
r = score(sys.argv[1], sys.argv[2], loss="softmax-cross-entropy", output=output)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"value": r.value, "chunks": r.chunks, "peak_mb": int(hwm.split()[1]) / 1024}))
"""


@pytest.mark.slow
def test_a_2gb_prediction_file_is_scored_in_little_memory(tmp_path: Path) -> None:
    """50,000,000 × 10 float32 (2 GB) with labels: peak memory < 500 MB, and the value of a
    float64 NumPy reference computed in slices; the same when each sample's loss is written
    out (200 MB)."""
    n, c, step = 50_000_000, 10, 2_500_000
    pred = np.lib.format.open_memmap(
        tmp_path / "pred.npy", mode="w+", dtype=np.float32, shape=(n, c)
    )
    labels = np.lib.format.open_memmap(
        tmp_path / "labels.npy", mode="w+", dtype=np.int64, shape=(n,)
    )
    gen = np.random.default_rng(7)
    total = 0.0
    for a in range(0, n, step):
        block = gen.standard_normal((step, c), dtype=np.float32) * np.float32(2)
        lab = gen.integers(0, c, step)
        pred[a : a + step], labels[a : a + step] = block, lab
        z = block.astype(np.float64)
        m = z.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
        last = lse - z[np.arange(step), lab]
        total += float(np.sum(last))
    pred.flush()
    labels.flush()
    del pred, labels
    expected = total / n
    files = [str(tmp_path / "pred.npy"), str(tmp_path / "labels.npy")]
    for output in ([], [str(tmp_path / "losses.npy")]):
        out = subprocess.run(
            [sys.executable, "-c", _PEAK, *files, *output],
            capture_output=True,
            text=True,
            check=True,
            timeout=1200,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert abs(result["value"] - expected) / expected <= 1e-6
        assert result["peak_mb"] < 500, result
        assert result["chunks"] > 100
    losses = np.load(tmp_path / "losses.npy", mmap_mode="r")
    assert losses.shape == (n,)
    np.testing.assert_allclose(losses[-step:], last, rtol=1e-5, atol=1e-6)
