"""Mini-batches, the two-layer network, resumable training and `losskit train`."""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from limits import run_with_file_size_limit

import losskit.chapter.training as training
from losskit.batching import iterate_epoch, sample_batch
from losskit.chapter.network import TwoLayerNet
from losskit.chapter.training import (
    LossDivergedError,
    NonFiniteLossError,
    TrainConfig,
    load_checkpoint,
    train,
)
from losskit.cli import main
from losskit.datasets import load_dataset

# ------------------------------------------------------------------ batching


def test_sample_batch_is_the_chapters_random_choice() -> None:
    a = sample_batch(60_000, 100, rng=np.random.default_rng(1))
    b = sample_batch(60_000, 100, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)  # seeded: reproducible
    assert a.shape == (100,) and a.dtype == np.int64
    assert len(set(a.tolist())) == 100 and 0 <= a.min() and a.max() < 60_000
    with_replacement = sample_batch(3, 50, rng=np.random.default_rng(0), replace=True)
    assert set(with_replacement.tolist()) <= {0, 1, 2}


def test_sample_batch_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"numpy.random.Generator.*got RandomState"):
        sample_batch(10, 2, rng=np.random.RandomState(0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot draw 11 distinct samples out of 10"):
        sample_batch(10, 11, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        sample_batch(10, 0, rng=np.random.default_rng(0))


def test_iterate_epoch_visits_every_sample_once() -> None:
    batches = list(iterate_epoch(10, 3, rng=np.random.default_rng(0)))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    assert [len(b) for b in iterate_epoch(10, 3, rng=np.random.default_rng(0), drop_last=True)] == [
        3,
        3,
        3,
    ]


# ------------------------------------------------------------------ network


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("loss", ["cross-entropy", "mse"])
def test_backprop_matches_numerical_gradient(activation: str, loss: str) -> None:
    rng = np.random.default_rng(0)
    net = TwoLayerNet(
        6,
        5,
        4,
        rng=rng,
        activation=activation,
        loss=loss,  # type: ignore[arg-type]
        dtype=np.float64,
    )
    x, t = rng.normal(size=(7, 6)), rng.integers(0, 4, 7)
    value, grads = net.loss_and_gradient(x, t)
    numerical = net.numerical_gradient(x, t, h=1e-6)
    assert value == pytest.approx(net.loss(x, t), rel=1e-12)
    for name, g in grads.items():
        np.testing.assert_allclose(g, numerical[name], rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("loss", ["cross-entropy", "mse"])
def test_each_step_reuses_one_gradient_buffer_and_gets_its_own_gradient(
    loss: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loss gradient goes into one buffer per batch shape (no fresh pages per step), and
    each step's gradients are what a fresh network computes for that batch."""
    from losskit.chapter import network

    buffers: list[int] = []
    fn = network.softmax_cross_entropy if loss == "cross-entropy" else network.mean_squared_error
    original = type(fn).value_and_grad

    def spy(self: Any, *args: Any, grad_out: Any = None, **kwargs: Any) -> Any:
        buffers.append(id(grad_out))
        assert grad_out is not None
        return original(self, *args, grad_out=grad_out, **kwargs)

    monkeypatch.setattr(type(fn), "value_and_grad", spy)
    rng = np.random.default_rng(1)

    def fresh() -> TwoLayerNet:
        return TwoLayerNet(6, 5, 4, rng=np.random.default_rng(2), loss=loss)  # type: ignore[arg-type]

    net = fresh()
    for _ in range(3):
        x, t = rng.normal(size=(7, 6)).astype(np.float32), rng.integers(0, 4, 7)
        value, grads = net.loss_and_gradient(x, t)
        expected_value, expected = fresh().loss_and_gradient(x, t)
        assert value == expected_value
        for name in grads:
            np.testing.assert_array_equal(grads[name], expected[name])
    assert len(set(buffers[::2])) == 1  # every other call is a fresh network's


def test_network_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="activation must be 'sigmoid' or 'relu', got 'tanh'"):
        TwoLayerNet(rng=np.random.default_rng(0), activation="tanh")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        TwoLayerNet(784, 0, rng=np.random.default_rng(0))


# ------------------------------------------------------------------ training

SMALL = TrainConfig(dataset="sample", iters=250, batch_size=100, hidden=20, seed=3)


def test_training_learns_and_records_history(tmp_path: Path) -> None:
    result = train(SMALL, tmp_path)
    history = json.loads((tmp_path / "history.json").read_text())
    assert result.status == "finished" and history == result.history
    assert [r["iteration"] for r in history] == [100, 200, 250]  # per epoch, and the end
    assert set(history[0]) >= {"iteration", "loss", "train_accuracy", "test_accuracy"}
    assert history[-1]["test_accuracy"] > 0.8
    assert history[-1]["loss"] < history[0]["loss"]
    assert (tmp_path / "history.csv").read_text().splitlines()[0].startswith("epoch,iteration")
    assert len(result.losses) == 250


def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path: Path) -> None:
    whole = train(SMALL, tmp_path / "whole")
    calls = 0

    def stop_after_130() -> bool:
        nonlocal calls
        calls += 1
        return calls > 130

    first = train(SMALL, tmp_path / "split", should_stop=stop_after_130)
    assert first.status == "interrupted" and first.iteration == 130
    second = train(SMALL, tmp_path / "split", resume=True)
    assert second.history == whole.history
    assert second.losses == whole.losses
    for name, p in whole.network.params.items():
        np.testing.assert_array_equal(second.network.params[name], p)
    assert (tmp_path / "split" / "history.json").read_bytes() == (
        tmp_path / "whole" / "history.json"
    ).read_bytes()


def test_resume_refuses_different_settings(tmp_path: Path) -> None:
    train(TrainConfig(dataset="sample", iters=20, batch_size=100, hidden=8), tmp_path)
    with pytest.raises(ValueError, match=r"settings differ \(lr: checkpoint 0.1, now 0.2"):
        train(
            TrainConfig(dataset="sample", iters=40, batch_size=100, hidden=8, lr=0.2),
            tmp_path,
            resume=True,
        )
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(SMALL, tmp_path / "empty", resume=True)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import losskit.chapter.training as training

    real = training.minibatch_gradient
    calls = 0

    def nan_at_iteration_150(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        loss, grads = real(*args, **kwargs)  # type: ignore[arg-type]
        return (float("nan") if calls == 150 else loss), grads

    monkeypatch.setattr(training, "minibatch_gradient", nan_at_iteration_150)
    with pytest.raises(
        NonFiniteLossError,
        match=r"became nan at iteration 150 .*last good "
        r"checkpoint \(iteration 100\) is kept",
    ):
        train(SMALL, tmp_path)
    state = load_checkpoint(tmp_path / "checkpoint.npz", SMALL, 784, 10)
    assert state.iteration == 100
    assert all(np.all(np.isfinite(p)) for p in state.network.params.values())
    monkeypatch.setattr(training, "minibatch_gradient", real)
    resumed = train(SMALL, tmp_path, resume=True)  # and the run can go on from there
    assert resumed.status == "finished"


def test_diverging_learning_rate_is_reported_not_warned(tmp_path: Path) -> None:
    with pytest.raises(NonFiniteLossError, match="no checkpoint had been written yet"):
        train(TrainConfig(dataset="sample", iters=300, batch_size=100, hidden=8, lr=1e30), tmp_path)
    assert not (tmp_path / "checkpoint.npz").exists()


def test_cli_train_writes_history_curves_and_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(["train", "--iters", "150", "--hidden", "16", "--seed", "1", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "epoch   1  iteration    100" in text and "test acc" in text
    for name in ("history.json", "history.csv", "curves.png", "checkpoint.npz"):
        assert (out / name).is_file(), name
    png = (out / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000  # a real picture, not blank


def test_cli_train_reports_a_non_finite_loss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["train", "--iters", "300", "--hidden", "8", "--lr", "1e30", "--out", str(tmp_path)]
    )
    assert code == 2  # one line on stderr, at the command line's error boundary
    err = capsys.readouterr().err
    assert err.startswith("losskit: error: the loss became") and err.count("\n") == 1


def test_killed_cli_run_resumes_to_the_same_history(tmp_path: Path) -> None:
    """SIGKILL mid-run (no chance to save), then --resume from the last epoch checkpoint."""
    args = ["--iters", "1200", "--hidden", "16", "--seed", "2", "--quiet"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "losskit", "train", *args]
    subprocess.run(
        [*cmd, "--out", str(tmp_path / "whole")],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )
    run = subprocess.Popen(
        [*cmd, "--out", str(tmp_path / "killed")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = tmp_path / "killed" / "checkpoint.npz"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    assert checkpoint.exists()
    subprocess.run(
        [*cmd, "--out", str(tmp_path / "killed"), "--resume"],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert (tmp_path / "killed" / "history.json").read_text() == (
        tmp_path / "whole" / "history.json"
    ).read_text()


def test_version_is_fast_and_consistent() -> None:
    import losskit
    from losskit.cli import VERSION

    assert VERSION == losskit.__version__
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "losskit", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert out.stdout.strip() == f"losskit {VERSION}"
    assert time.perf_counter() - start < 5  # generous for a busy CI machine; ~0.1 s here


# ------------------------------------------------------------------ faults: checkpoints, data, disk

TINY = TrainConfig(dataset="sample", iters=4, batch_size=5000, hidden=8, seed=5)
TINY_ARGS = ["train", "--iters", "4", "--batch-size", "5000", "--hidden", "8", "--seed", "5"]


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("good")
    train(TINY, out)
    return (out / "checkpoint.npz").read_bytes()


def members_of(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {i.filename.removesuffix(".npy"): archive.read(i) for i in archive.infolist()}


def npy(array: Any, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def zipped(members: dict[str, bytes], *, rehash: bool = True) -> bytes:
    """An archive of these members; with `rehash`, a checksum that matches them (the
    tampering an attacker who read losskit's source would do)."""
    members = dict(members)
    if rehash and all(name in members for name in training.MEMBERS):
        members["sha256"] = npy(np.array(training._digest(members)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, blob in members.items():
            archive.writestr(f"{name}.npy", blob)
    return buffer.getvalue()


def edited(good: bytes, *, rehash: bool = True, **changes: object) -> bytes:
    """The good checkpoint with some arrays replaced (`meta` given as a function of it)."""
    members = members_of(good)
    for name, change in changes.items():
        if callable(change):
            meta = json.loads(str(np.load(io.BytesIO(members["meta"]))[()]))
            change(meta)
            members["meta"] = npy(np.array(json.dumps(meta)))
        elif isinstance(change, bytes):
            members[name] = change
        elif change is None:
            del members[name]
        else:
            members[name] = npy(change)
    return zipped(members, rehash=rehash)


def losses_of(good: bytes) -> Any:
    return np.load(io.BytesIO(members_of(good)["losses"]))


def weight(good: bytes, name: str = "W1") -> Any:
    return np.load(io.BytesIO(members_of(good)[name]))


def _set(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(meta: dict[str, Any]) -> None:
        meta[key] = value

    return change


def _rng(meta: dict[str, Any]) -> None:
    meta["rng_state"]["state"]["state"] += 1


def _bad_rng(meta: dict[str, Any]) -> None:
    meta["rng_state"]["bit_generator"] = "MT19937"


def _history_loss(meta: dict[str, Any]) -> None:
    meta["history"][-1]["loss"] = float("nan")


def _other_run(good: bytes, tmp: Path) -> bytes:
    train(dataclasses.replace(TINY, hidden=16), tmp / "other")
    return (tmp / "other" / "checkpoint.npz").read_bytes()


def _foreign(good: bytes, tmp: Path) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, a=np.arange(3), b=np.ones(2))
    return buffer.getvalue()


def _older_losskit(good: bytes, tmp: Path) -> bytes:
    members = members_of(good)
    del members["sha256"]
    return zipped(members, rehash=False)


def _flipped_byte(good: bytes, tmp: Path) -> bytes:
    blob = bytearray(good)
    blob[len(blob) // 2] ^= 0xFF
    return bytes(blob)


def _lying_header(good: bytes, tmp: Path) -> bytes:
    header = npy(np.zeros((784, 8), np.float32))[:128].replace(b"(784, 8)", b"(9999999999, 8)")
    return edited(good, W1=header + b"\0" * 64)


def _compressed(good: bytes, tmp: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, blob in members_of(good).items():
            archive.writestr(f"{name}.npy", blob)
    return buffer.getvalue()


CORRUPT: dict[str, tuple[Callable[[bytes, Path], bytes], str]] = {
    # The eight cases.
    "empty file": (lambda g, t: b"", "the file is empty"),
    "truncated": (lambda g, t: g[: len(g) // 2], "not a readable .npz archive"),
    "random bytes": (
        lambda g, t: np.random.default_rng(0).bytes(5000),
        "not a readable .npz archive",
    ),
    "missing key": (lambda g, t: edited(g, rehash=False, W2=None), "W2 missing"),
    "wrong dtype": (
        lambda g, t: edited(g, W1=weight(g).astype(np.float64)),
        r"parameter W1 is float64 \(784, 8\), expected float32 \(784, 8\)",
    ),
    "wrong shape": (
        lambda g, t: edited(g, b2=np.zeros(9, np.float32)),
        r"parameter b2 is float32 \(9,\), expected float32 \(10,\)",
    ),
    "object array": (
        lambda g, t: edited(g, W1=npy(np.array([{"x": 1}], dtype=object), allow_pickle=True)),
        "member W1 holds Python objects",
    ),
    "another run": (_other_run, r"settings differ \(hidden: checkpoint 16, now 8\)"),
    "foreign npz": (_foreign, "not a losskit checkpoint: its arrays are a, b"),
    # Tampering, corruption and the format.
    "edited rng state": (lambda g, t: edited(g, rehash=False, meta=_rng), "checksum does not"),
    "invalid rng state": (lambda g, t: edited(g, meta=_bad_rng), "random generator state"),
    "iteration beyond the run": (
        lambda g, t: edited(g, meta=_set("iteration", 500)),
        r"at iteration 500, outside the run's 0..4",
    ),
    "short loss list": (
        lambda g, t: edited(g, losses=losses_of(g)[:-1]),
        r"float64 losses of shape \(3,\) for 4 iterations",
    ),
    "history not from its losses": (lambda g, t: edited(g, meta=_history_loss), "says loss nan"),
    "NaN weight": (
        lambda g, t: edited(g, W2=np.full((8, 10), np.nan, np.float32)),
        "parameter W2 holds NaN",
    ),
    "older losskit": (_older_losskit, "older losskit, without a format version"),
    "format version 2": (lambda g, t: edited(g, meta=_set("version", 2)), "format version is 2"),
    "not ours": (lambda g, t: edited(g, meta=_set("format", "x")), "names no losskit format"),
    "flipped byte": (_flipped_byte, "(checksum does not match|Bad CRC-32)"),
    "lying header": (_lying_header, r"header says \(9999999999, 8\)"),
    "compressed": (_compressed, "compressed or oversized"),
    "extra member": (
        lambda g, t: zipped({**members_of(g), "evil": npy(np.zeros(1))}, rehash=False),
        "evil unexpected",
    ),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_a_bad_checkpoint_is_refused_by_name(
    good_checkpoint: bytes, tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make, reason = CORRUPT[case]
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.npz").write_bytes(make(good_checkpoint, tmp_path))
    with pytest.raises(ValueError, match=re.escape(f"cannot resume from {out}/checkpoint.npz: ")):
        train(TINY, out, resume=True)
    with pytest.raises(ValueError, match=reason):
        train(TINY, out, resume=True)
    capsys.readouterr()
    assert main([*TINY_ARGS, "--quiet", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("losskit: error: cannot resume from") and err.count("\n") == 1, err


def test_a_checkpoint_is_versioned_checksummed_and_readable_by_numpy(
    good_checkpoint: bytes,
) -> None:
    with np.load(io.BytesIO(good_checkpoint), allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        assert (meta["format"], meta["version"]) == ("losskit-checkpoint", 1)
        assert len(str(data["sha256"])) == 64 and data["W1"].shape == (784, 8)


def test_resuming_a_complete_run_repairs_its_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed after the last checkpoint but before (or between) the history writes: the
    run is complete, and --resume rewrites the history from the checkpoint (exit 0)."""
    out = tmp_path / "run"
    assert main([*TINY_ARGS, "--quiet", "--out", str(out)]) == 0
    whole = {n: (out / n).read_bytes() for n in ("history.json", "history.csv")}
    records = json.loads(whole["history.json"])
    (out / "history.json").write_text(json.dumps(records[:1], indent=2) + "\n")
    (out / "history.csv").write_bytes(b"".join(whole["history.csv"].splitlines(True)[:2]))
    assert main([*TINY_ARGS, "--quiet", "--out", str(out), "--resume"]) == 0
    assert {n: (out / n).read_bytes() for n in whole} == whole
    (out / "history.csv").unlink()  # between the .json and the .csv write
    assert train(TINY, out, resume=True).status == "finished"
    assert (out / "history.csv").read_bytes() == whole["history.csv"]


def fail_if_loaded(*args: object, **kwargs: object) -> None:
    raise AssertionError("the output folder must be checked before the data is loaded")


def test_an_output_folder_that_cannot_be_written_is_refused_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training, "load_dataset", fail_if_loaded)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match=f"the output folder {a_file} is a file"):
        train(TINY, a_file)
    with pytest.raises(OSError, match=f"cannot write to the output folder {a_file}/sub"):
        train(TINY, a_file / "sub")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(
        OSError, match=f"output folder {tmp_path}/full: No space left on device"
    ) as info:
        train(TINY, tmp_path / "full")
    assert info.value.errno == errno.ENOSPC and "[Errno" not in str(info.value)
    assert list((tmp_path / "full").iterdir()) == []  # the probe cleaned up


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_output_folder_is_refused_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training, "load_dataset", fail_if_loaded)
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=f"output folder {tmp_path}: Permission"):
            train(TINY, tmp_path)
    finally:
        tmp_path.chmod(0o700)


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
@pytest.mark.parametrize(
    ("limit", "message"),
    [
        (1000, "cannot write to the output folder {out}: File too large"),
        (20_000, "cannot write {out}/checkpoint.npz: File too large"),
    ],
)
def test_a_full_disk_is_one_line_naming_the_file(tmp_path: Path, limit: int, message: str) -> None:
    """A file-size limit fails writes the way a full disk does (EFBIG for ENOSPC): at the
    probe, before training, or at the first checkpoint, with no temporary file left."""
    out = tmp_path / "run"
    result = run_with_file_size_limit(limit, *TINY_ARGS[:5], "--hidden", "50", "--out", str(out))
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"losskit: error: {message.format(out=out)}\n"
    assert sorted(p.name for p in out.iterdir()) == []


def fake_data(x_bad: tuple[int, int] | None = None, label: int | None = None) -> Any:
    (x, t), test = load_dataset("sample")
    x, t = x.copy(), t.copy()
    if x_bad is not None:
        x[x_bad] = np.nan
    if label is not None:
        t[3] = label
    return lambda *args, **kwargs: ((x, t), test)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (fake_data(x_bad=(17, 300)), "the training data holds NaN at image 17, pixel 300"),
        (fake_data(label=200), "the training labels hold 200 at sample 3: expected a class 0..9"),
        (fake_data(label=-1), "the training labels hold -1 at sample 3"),
    ],
    ids=["nan-image", "label-200", "label-minus-1"],
)
def test_bad_training_data_is_named_not_blamed_on_the_learning_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: Any, message: str
) -> None:
    monkeypatch.setattr(training, "load_dataset", data)
    with pytest.raises(ValueError, match=message):
        train(SMALL, tmp_path)
    assert not (tmp_path / "checkpoint.npz").exists()


def test_a_diverging_learning_rate_stops_by_name_while_the_loss_is_still_finite(
    tmp_path: Path,
) -> None:
    # lr 1000 with ReLU: the loss is huge but finite (dead units). It used to finish with
    # exit 0; now the run stops once the loss passes 100x its start, naming the rate.
    with pytest.raises(LossDivergedError, match=r"learning rate 1000(\.0)? is too high") as info:
        train(TrainConfig(dataset="sample", iters=300, hidden=8, lr=1000), tmp_path)
    assert "over 100x its start" in str(info.value)
    history = tmp_path / "history.json"
    for record in json.loads(history.read_text()) if history.exists() else []:
        assert all(math.isfinite(record[k]) for k in record), record


def test_a_diverging_run_ends_the_command_in_one_line_and_exit_2(tmp_path: Path) -> None:
    options = ["--lr", "1000", "--iters", "300", "--out", str(tmp_path), "--quiet"]
    out = subprocess.run(
        [sys.executable, "-m", "losskit", "train", *options],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "learning rate 1000.0 is too high" in out.stderr
    # Piped, the header is one line (rich used to wrap it at 80 columns).
    assert "300 iterations of batch 100, lr 1000.0, seed 0" in out.stdout.splitlines()[0]


def test_a_working_learning_rate_is_not_taken_for_divergence(tmp_path: Path) -> None:
    result = train(TrainConfig(dataset="sample", iters=300, hidden=8, lr=0.5), tmp_path)
    assert result.status == "finished"


def test_atomic_writes_keep_plain_permissions_and_name_the_file_on_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from losskit._files import atomic_write

    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write(tmp_path / "a.bin", b"data")
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o666 & ~umask

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=f"cannot write {tmp_path}/a.bin: No space left"):
        atomic_write(tmp_path / "a.bin", b"new data")
    assert (tmp_path / "a.bin").read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]  # no temporary file left


def test_cli_train_refuses_a_file_as_output_folder_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    assert main([*TINY_ARGS, "--quiet", "--out", str(a_file)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"losskit: error: the output folder {a_file} is a file, not a folder\n"
    assert "losskit train" not in captured.out  # refused before anything started


def test_the_book_preset_is_the_books_network_and_sampling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from losskit.chapter.training import _new_state, minibatch_gradient

    config = TrainConfig(dataset="sample", iters=30, activation="sigmoid", book=True)
    state = _new_state(config, 784, 10)
    params = state.network.params
    assert all(p.dtype == np.float64 for p in params.values())  # the book's float64 weights
    assert abs(float(np.std(params["W1"])) - 0.01) < 0.001  # weight_init_std = 0.01
    assert state.network.activation == "sigmoid"
    # With replacement, as the book's np.random.choice(train_size, batch_size): a batch of
    # 100 from 100 samples repeats some (without replacement it would be a permutation).
    x, t = np.eye(100, 784, dtype=np.float32), np.arange(100) % 10  # 100 distinct rows
    distinct: list[int] = []
    net = state.network
    original = net.loss_and_gradient

    def spy(xb: Any, tb: Any) -> Any:
        distinct.append(len(np.unique(xb, axis=0)))
        return original(xb, tb)

    monkeypatch.setattr(net, "loss_and_gradient", spy)
    rng = np.random.default_rng(0)
    minibatch_gradient(net, x, t, 100, rng, replace=True)
    minibatch_gradient(net, x, t, 100, rng)
    assert distinct[0] < 100 and distinct[1] == 100
    monkeypatch.undo()
    result = train(config, tmp_path)
    assert result.status == "finished"
    with pytest.raises(ValueError, match="--book is the book's sigmoid network"):
        train(dataclasses.replace(config, activation="relu"), tmp_path / "relu")


def test_cli_book_refuses_another_activation_before_training(tmp_path: Path) -> None:
    options = ["--book", "--activation", "relu", "--out", str(tmp_path)]
    out = subprocess.run(
        [sys.executable, "-m", "losskit", "train", *options],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert "--book is the book's sigmoid network; --activation relu contradicts it" in out.stderr
