"""Mini-batches, the two-layer network, resumable training and `losskit train`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from losskit.batching import iterate_epoch, sample_batch
from losskit.chapter.network import TwoLayerNet
from losskit.chapter.training import NonFiniteLossError, TrainConfig, load_checkpoint, train
from losskit.cli import main

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
    assert code == 3
    assert "the loss became" in capsys.readouterr().out


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
