"""Mini-batch SGD on the two-layer network, the chapter's experiment (SPEC §4).

Seeded and reproducible: all randomness flows from one `numpy.random.Generator`
whose state is saved in every checkpoint, so ``resume=True`` continues exactly
where the run stopped and ends with the same numbers as an uninterrupted run.
Checkpoints are written atomically; a non-finite loss stops training with a
clear message and leaves the last good checkpoint in place.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from losskit._files import atomic_open, atomic_write
from losskit.batching import sample_batch
from losskit.chapter.network import PARAM_NAMES, Activation, LossName, TwoLayerNet
from losskit.datasets import load_dataset

__all__ = ["NonFiniteLossError", "TrainConfig", "TrainResult", "minibatch_gradient", "train"]

CHECKPOINT = "checkpoint.npz"
HISTORY_JSON = "history.json"
HISTORY_CSV = "history.csv"


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "sample"
    data_dir: str | None = None
    loss: LossName = "cross-entropy"
    activation: Activation = "relu"
    hidden: int = 50
    iters: int = 10_000
    batch_size: int = 100
    lr: float = 0.1
    seed: int = 0

    def check(self) -> None:
        if self.iters < 1 or self.batch_size < 1 or self.hidden < 1:
            raise ValueError("iters, batch_size and hidden must be positive integers")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}")


# Fields that may differ when resuming: more iterations; the same data from another folder.
_RESUMABLE_CHANGES = {"iters", "data_dir"}


@dataclass
class TrainState:
    network: TwoLayerNet
    rng: np.random.Generator
    iteration: int = 0
    losses: list[float] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class TrainResult:
    status: str  # "finished" | "interrupted"
    iteration: int
    history: list[dict[str, Any]]
    losses: list[float]
    out_dir: Path
    network: TwoLayerNet


OnIteration = Callable[[int, float], None]
OnEpoch = Callable[[dict[str, Any]], None]


def _new_state(config: TrainConfig, input_size: int, classes: int) -> TrainState:
    rng = np.random.default_rng(config.seed)
    net = TwoLayerNet(
        input_size, config.hidden, classes, rng=rng, activation=config.activation, loss=config.loss
    )
    return TrainState(net, rng)


def save_checkpoint(path: Path, state: TrainState, config: TrainConfig) -> None:
    meta = {
        "config": dataclasses.asdict(config),
        "iteration": state.iteration,
        "rng_state": state.rng.bit_generator.state,
        "history": state.history,
    }
    buffer = io.BytesIO()
    # Plain arrays and a JSON string: np.load(allow_pickle=False) reads it back safely.
    arrays: dict[str, Any] = {
        "meta": np.array(json.dumps(meta)),
        "losses": np.asarray(state.losses),
        **state.network.params,
    }
    np.savez(buffer, **arrays)
    with atomic_open(path) as f:
        f.write(buffer.getvalue())


def load_checkpoint(path: Path, config: TrainConfig, input_size: int, classes: int) -> TrainState:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        saved = TrainConfig(**meta["config"])
        differing = [
            f"{name}: checkpoint {getattr(saved, name)!r}, now {getattr(config, name)!r}"
            for name in (f.name for f in dataclasses.fields(TrainConfig))
            if name not in _RESUMABLE_CHANGES and getattr(saved, name) != getattr(config, name)
        ]
        if differing:
            raise ValueError(
                f"cannot resume from {path}: the run's settings differ ("
                + "; ".join(differing)
                + ")"
            )
        state = _new_state(config, input_size, classes)
        for name in PARAM_NAMES:
            if data[name].shape != state.network.params[name].shape:
                raise ValueError(
                    f"{path}: parameter {name} has shape {data[name].shape}, "
                    f"expected {state.network.params[name].shape}"
                )
            state.network.params[name] = data[name].astype(state.network.dtype)
        state.rng.bit_generator.state = meta["rng_state"]
        state.iteration = int(meta["iteration"])
        state.history = list(meta["history"])
        state.losses = [float(v) for v in data["losses"]]
    return state


def write_history(out_dir: Path, history: list[dict[str, Any]]) -> None:
    atomic_write(out_dir / HISTORY_JSON, (json.dumps(history, indent=2) + "\n").encode())
    columns = ["epoch", "iteration", "loss", "train_accuracy", "test_accuracy"]
    lines = [",".join(columns)] + [",".join(repr(r[c]) for c in columns) for r in history]
    atomic_write(out_dir / HISTORY_CSV, ("\n".join(lines) + "\n").encode())


def minibatch_gradient(
    net: TwoLayerNet,
    x: np.ndarray[Any, Any],
    t: np.ndarray[Any, Any],
    batch_size: int,
    rng: np.random.Generator,
) -> tuple[float, dict[str, np.ndarray[Any, Any]]]:
    """One step's work: draw a mini-batch (the chapter's way) and backpropagate its loss."""
    batch = sample_batch(len(x), batch_size, rng=rng, replace=batch_size > len(x))
    return net.loss_and_gradient(x[batch], t[batch])


def _start(
    config: TrainConfig, checkpoint: Path, resume: bool, features: int, classes: int
) -> TrainState:
    """The state to train from: the checkpoint's with `resume`, else a fresh seeded one."""
    if resume and checkpoint.is_file():
        return load_checkpoint(checkpoint, config, features, classes)
    if resume:
        raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint}")
    return _new_state(config, features, classes)


def _non_finite(
    loss: float, state: TrainState, checkpoint: Path, config: TrainConfig
) -> NonFiniteLossError:
    kept = (
        f"the last good checkpoint (iteration {state.history[-1]['iteration']}) is "
        f"kept in {checkpoint}"
        if state.history
        else "no checkpoint had been written yet"
    )
    return NonFiniteLossError(
        f"the loss became {loss} at iteration {state.iteration + 1} (learning rate "
        f"{config.lr} too high?); training stopped and {kept}"
    )


def train(
    config: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    on_iteration: OnIteration | None = None,
    on_epoch: OnEpoch | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train by mini-batch SGD; checkpoint, history and curves go to `out_dir`.

    An epoch is ``max(N_train // batch_size, 1)`` iterations (the book's
    ``iter_per_epoch``); after each, and after the last iteration, train and
    test accuracy are measured and a checkpoint is written. `should_stop` is
    polled between iterations: when it returns True the state is checkpointed
    and the run returns with status "interrupted" (resume it later).
    """
    config.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (x_train, t_train), (x_test, t_test) = load_dataset(config.dataset, data_dir=config.data_dir)
    checkpoint = out / CHECKPOINT
    state = _start(config, checkpoint, resume, x_train.shape[1], int(t_train.max()) + 1)
    per_epoch = max(len(x_train) // config.batch_size, 1)
    net = state.network

    while state.iteration < config.iters:
        if should_stop is not None and should_stop():
            save_checkpoint(checkpoint, state, config)
            return TrainResult(
                "interrupted", state.iteration, state.history, state.losses, out, net
            )
        # A diverging run overflows long before it stops; the explicit finiteness check
        # below reports that clearly, so NumPy's overflow warnings would only be noise.
        with np.errstate(over="ignore", invalid="ignore"):
            loss, grads = minibatch_gradient(net, x_train, t_train, config.batch_size, state.rng)
        if not math.isfinite(loss):
            raise _non_finite(loss, state, checkpoint, config)
        net.sgd_step(grads, config.lr)
        state.iteration += 1
        state.losses.append(loss)
        if on_iteration is not None:
            on_iteration(state.iteration, loss)
        if state.iteration % per_epoch == 0 or state.iteration == config.iters:
            since = state.history[-1]["iteration"] if state.history else 0
            record = {
                "epoch": len(state.history) + 1,
                "iteration": state.iteration,
                "loss": float(np.mean(state.losses[since:])),
                "train_accuracy": net.accuracy(x_train, t_train),
                "test_accuracy": net.accuracy(x_test, t_test),
            }
            state.history.append(record)
            save_checkpoint(checkpoint, state, config)
            write_history(out, state.history)
            if on_epoch is not None:
                on_epoch(record)
    return TrainResult("finished", state.iteration, state.history, state.losses, out, net)
