"""Mini-batch SGD on the two-layer network, the chapter's experiment (SPEC §4).

Seeded and reproducible: all randomness flows from one `numpy.random.Generator`
whose state is saved in every checkpoint, so ``resume=True`` continues exactly
where the run stopped and ends with the same numbers as an uninterrupted run.
Checkpoints are written atomically; a non-finite loss stops training with a
clear message and leaves the last good checkpoint in place.

Crash safety. The checkpoint is the commit point of an epoch, and it carries the
whole history. At each epoch's end the checkpoint is written first (atomically:
the old one or the new one is in place, never half of one), then history.json and
history.csv are derived from it. A kill before the checkpoint is renamed into place
loses the epoch, which the resumed run recomputes identically; a kill after it
leaves history files one epoch behind (or history.csv a row behind history.json),
and every resume rewrites both from the checkpoint's history before going on, even
when the run was already complete. So after `--resume` the three files always agree,
whatever instant the kill came at (tests/test_faults.py kills at each of them).

A checkpoint is an uncompressed .npz read with plain NumPy (never unpickled): the
network's parameters, the per-iteration losses, a JSON "meta" member (format version,
settings, iteration, generator state, history) and the SHA-256 of all of them. Loading
treats it as untrusted: a truncated, foreign, corrupted or edited file is a
`CheckpointError` (a ValueError) naming the file and what is wrong with it.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import io
import json
import math
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from losskit._files import atomic_write, fault_point, probe_writable, remove_stale_temporaries
from losskit.batching import sample_batch
from losskit.chapter.network import PARAM_NAMES, Activation, LossName, TwoLayerNet
from losskit.datasets import load_dataset

__all__ = [
    "CheckpointError",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "load_checkpoint",
    "minibatch_gradient",
    "train",
]

CHECKPOINT = "checkpoint.npz"
HISTORY_JSON = "history.json"
HISTORY_CSV = "history.csv"
CURVES = "curves.png"  # drawn by `losskit train` once the run is finished
OUTPUT_FILES = (CHECKPOINT, HISTORY_JSON, HISTORY_CSV, CURVES)
CLASSES = 10  # every data set here: the digits 0..9, or Fashion-MNIST's ten kinds
COLUMNS = ("epoch", "iteration", "loss", "train_accuracy", "test_accuracy")

FORMAT = "losskit-checkpoint"
FORMAT_VERSION = 1
MEMBERS = ("meta", "losses", *PARAM_NAMES)  # in the order they are written and hashed
CHECKSUM = "sha256"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same run writes the same bytes


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


class LossDivergedError(FloatingPointError):
    """The loss grew past DIVERGED times its first value; the last good checkpoint was kept."""


# SGD that works lowers the loss; one that reaches 100x its first mini-batch loss has
# diverged (cross entropy from 2.3 to 230), even while every number is still finite.
DIVERGED = 100.0


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from: corrupt, foreign, tampered or of another run."""


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
    # The book's ch. 4.5 run exactly: sigmoid, weights N(0, 0.01²) kept in float64, batches
    # drawn with replacement (its np.random.choice(train_size, batch_size)).
    book: bool = False

    def check(self) -> None:
        if self.iters < 1 or self.batch_size < 1 or self.hidden < 1:
            raise ValueError("iters, batch_size and hidden must be positive integers")
        if self.book and self.activation != "sigmoid":
            raise ValueError(
                f"--book is the book's sigmoid network; --activation {self.activation} "
                "contradicts it"
            )
        # The weights are float32: a step size beyond its range overflows in the first step.
        if not (math.isfinite(self.lr) and 0 < self.lr < float(np.finfo(np.float32).max)):
            raise ValueError(f"--lr must be a positive float32 number, got {self.lr!r}")


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
        input_size,
        config.hidden,
        classes,
        rng=rng,
        activation=config.activation,
        loss=config.loss,
        weight_init_std=0.01 if config.book else None,
        dtype=np.float64 if config.book else np.float32,
    )
    return TrainState(net, rng)


def _epoch_loss(losses: list[float], since: int, until: int) -> float:
    """An epoch's recorded loss: the mean over its iterations (recomputed when loading)."""
    return float(np.mean(np.asarray(losses[since:until], dtype=np.float64)))


# ------------------------------------------------------------------ checkpoint: writing


def _npy(array: np.ndarray[Any, Any]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _digest(members: dict[str, bytes]) -> str:
    """SHA-256 over the members' names, lengths and bytes (header and data), in order."""
    h = hashlib.sha256()
    for name in MEMBERS:
        blob = members[name]
        h.update(name.encode() + b"\0" + len(blob).to_bytes(8, "little"))
        h.update(blob)
    return h.hexdigest()


def _pack(arrays: dict[str, np.ndarray[Any, Any]]) -> bytes:
    """The .npz bytes of a checkpoint's arrays, with their checksum (deterministic)."""
    members = {name: _npy(arrays[name]) for name in MEMBERS}
    members[CHECKSUM] = _npy(np.array(_digest(members)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, blob in members.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, blob)
    return buffer.getvalue()


def save_checkpoint(path: Path, state: TrainState, config: TrainConfig) -> None:
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "config": dataclasses.asdict(config),
        "iteration": state.iteration,
        "rng_state": state.rng.bit_generator.state,
        "history": state.history,
    }
    arrays: dict[str, np.ndarray[Any, Any]] = {
        "meta": np.array(json.dumps(meta)),
        "losses": np.asarray(state.losses, dtype=np.float64),
        **state.network.params,
    }
    atomic_write(path, _pack(arrays))


# ------------------------------------------------------------------ checkpoint: reading


def _refuse(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"cannot resume from {path}: {what}")


def _read_members(path: Path) -> dict[str, bytes]:
    """The archive's members, by name; only losskit's own layout (stored, no extras)."""
    with open(path, "rb") as file:  # an OSError here (permissions, ...) names the path
        size = os.fstat(file.fileno()).st_size
        if size == 0:
            raise _refuse(path, "the file is empty (a losskit checkpoint is a .npz archive)")
        try:
            with zipfile.ZipFile(file) as archive:
                infos = archive.infolist()
                names = [i.filename.removesuffix(".npy") for i in infos]
                _check_layout(path, names)
                for info in infos:
                    # Stored members are at most as big as the file: no zip bomb, no
                    # allocation bigger than what is on disk.
                    if info.compress_type != zipfile.ZIP_STORED or info.file_size > size:
                        raise _refuse(path, f"member {info.filename} is compressed or oversized")
                return {name: archive.read(info) for name, info in zip(names, infos, strict=True)}
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            # OSError too: an offset that points outside the file fails as a seek error.
            what = f"it is not a readable .npz archive (truncated or corrupt: {exc})"
            raise _refuse(path, what) from None


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:10]) or "none"
    return shown if len(names) <= 10 else f"{shown}, ... ({len(names)} in all)"


def _check_layout(path: Path, names: list[str]) -> None:
    expected = (*MEMBERS, CHECKSUM)
    if "meta" not in names:
        raise _refuse(
            path,
            f"not a losskit checkpoint: its arrays are {_listing(names)}, "
            f"expected {', '.join(expected)}",
        )
    if CHECKSUM not in names:
        raise _refuse(
            path,
            "it was written by an older losskit, without a format version or checksum; "
            "start the run again without --resume",
        )
    counts = collections.Counter(names)
    missing = [n for n in expected if n not in counts]
    extra = sorted(n for n, count in counts.items() if n not in expected or count > 1)
    if missing or extra:
        problems = ([f"{', '.join(missing)} missing"] if missing else []) + (
            [f"{_listing(extra)} unexpected or repeated"] if extra else []
        )
        raise _refuse(path, f"its arrays are {_listing(names)}: " + "; ".join(problems))


def _parse_npy(path: Path, name: str, blob: bytes) -> np.ndarray[Any, Any]:
    """One .npy member, its header checked against its size before anything is allocated."""
    buffer = io.BytesIO(blob)
    version = np.lib.format.read_magic(buffer)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(buffer)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(buffer)
    else:
        raise _refuse(path, f"member {name} is .npy version {version}, expected 1.0 or 2.0")
    if dtype.hasobject:
        raise _refuse(
            path,
            f"member {name} holds Python objects; a checkpoint holds plain numbers "
            "(losskit never unpickles)",
        )
    count = math.prod(shape)
    offset = buffer.tell()
    if count * dtype.itemsize != len(blob) - offset:
        raise _refuse(
            path,
            f"member {name}'s header says {shape} {dtype} ({count * dtype.itemsize} bytes) "
            f"but it holds {len(blob) - offset} bytes",
        )
    array = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran else "C")


def _parse_meta(path: Path, array: np.ndarray[Any, Any]) -> dict[str, Any]:
    if array.shape != () or array.dtype.kind != "U":
        raise _refuse(path, f"its meta member is {array.dtype} {array.shape}, expected a string")
    meta = json.loads(str(array[()]))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _refuse(path, "not a losskit checkpoint: its meta names no losskit format")
    if meta.get("version") != FORMAT_VERSION:
        raise _refuse(
            path,
            f"its format version is {meta.get('version')!r}; this losskit reads version "
            f"{FORMAT_VERSION}",
        )
    missing = [k for k in ("config", "iteration", "rng_state", "history") if k not in meta]
    if missing:
        raise _refuse(path, f"its meta lacks {', '.join(missing)}")
    return meta


def _check_settings(path: Path, meta: dict[str, Any], config: TrainConfig) -> TrainConfig:
    if not isinstance(meta["config"], dict):
        raise _refuse(path, "its settings are not a mapping")
    try:
        saved = TrainConfig(**meta["config"])
    except TypeError:
        raise _refuse(path, f"its settings {sorted(meta['config'])} are not losskit's") from None
    differing = [
        f"{name}: checkpoint {getattr(saved, name)!r}, now {getattr(config, name)!r}"
        for name in (f.name for f in dataclasses.fields(TrainConfig))
        if name not in _RESUMABLE_CHANGES and getattr(saved, name) != getattr(config, name)
    ]
    if differing:
        raise _refuse(path, "the run's settings differ (" + "; ".join(differing) + ")")
    return saved


def _is_int(value: object) -> bool:
    return type(value) is int


def _check_progress(path: Path, meta: dict[str, Any], saved: TrainConfig, losses: Any) -> int:
    """The iteration, the losses and the history must tell one story."""
    iteration = meta["iteration"]
    if not _is_int(iteration) or not 0 <= iteration <= saved.iters:
        raise _refuse(path, f"it is at iteration {iteration!r}, outside the run's 0..{saved.iters}")
    if losses.dtype != np.float64 or losses.shape != (iteration,):
        raise _refuse(
            path,
            f"it holds {losses.dtype} losses of shape {losses.shape} for {iteration} "
            f"iterations, expected float64 ({iteration},)",
        )
    if not np.all(np.isfinite(losses)):
        raise _refuse(path, "its losses hold NaN or infinity")
    history = meta["history"]
    if not isinstance(history, list):
        raise _refuse(path, "its history is not a list")
    values = losses.tolist()
    since = 0
    for epoch, record in enumerate(history, start=1):
        _check_record(path, epoch, record, since, iteration, values)
        since = record["iteration"]
    return int(iteration)


def _check_record(
    path: Path, epoch: int, record: Any, since: int, iteration: int, losses: list[float]
) -> None:
    where = f"its history record {epoch}"
    if not isinstance(record, dict) or set(record) != set(COLUMNS):
        raise _refuse(path, f"{where} is not a record of {', '.join(COLUMNS)}")
    if not _is_int(record["epoch"]) or record["epoch"] != epoch:
        raise _refuse(path, f"{where} is numbered {record['epoch']!r}")
    at = record["iteration"]
    if not _is_int(at) or not since < at <= iteration:
        raise _refuse(path, f"{where} is at iteration {at!r}, expected {since + 1}..{iteration}")
    if record["loss"] != _epoch_loss(losses, since, at):
        raise _refuse(
            path,
            f"{where} says loss {record['loss']!r} but its losses average "
            f"{_epoch_loss(losses, since, at)!r}",
        )
    for key in ("train_accuracy", "test_accuracy"):
        value = record[key]
        if type(value) not in (int, float) or not 0 <= value <= 1:
            raise _refuse(path, f"{where} has {key} {value!r}, expected a number in [0, 1]")


def _load_params(path: Path, arrays: dict[str, Any], state: TrainState) -> None:
    for name in PARAM_NAMES:
        expected = state.network.params[name]
        found = arrays[name]
        if found.shape != expected.shape or found.dtype != expected.dtype:
            raise _refuse(
                path,
                f"parameter {name} is {found.dtype} {found.shape}, "
                f"expected {expected.dtype} {expected.shape}",
            )
        if not np.all(np.isfinite(found)):
            raise _refuse(path, f"parameter {name} holds NaN or infinity")
        state.network.params[name] = found.copy()  # writable, and no longer tied to the file


def _load(path: Path, config: TrainConfig, input_size: int, classes: int) -> TrainState:
    members = _read_members(path)
    stored = _parse_npy(path, CHECKSUM, members[CHECKSUM])
    if stored.shape != () or stored.dtype.kind != "U" or str(stored[()]) != _digest(members):
        raise _refuse(
            path,
            "its SHA-256 checksum does not match its contents: the file was corrupted or edited",
        )
    arrays = {name: _parse_npy(path, name, members[name]) for name in MEMBERS}
    meta = _parse_meta(path, arrays["meta"])
    saved = _check_settings(path, meta, config)
    state = _new_state(config, input_size, classes)
    state.iteration = _check_progress(path, meta, saved, arrays["losses"])
    _load_params(path, arrays, state)
    try:
        state.rng.bit_generator.state = meta["rng_state"]
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise _refuse(path, f"its random generator state is not valid ({exc})") from None
    state.history = list(meta["history"])
    state.losses = arrays["losses"].tolist()
    return state


def load_checkpoint(path: Path, config: TrainConfig, input_size: int, classes: int) -> TrainState:
    """The training state saved in `path`, for `config`.

    Raises CheckpointError (a ValueError) naming `path` and what is wrong for anything
    but a whole, unmodified checkpoint of this run; OSError if it cannot be read.
    """
    path = Path(path)
    try:
        return _load(path, config, input_size, classes)
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        # What the checks above do not word themselves: a malformed .npy header, JSON
        # that does not parse, numbers too big, ...; never a traceback.
        raise _refuse(path, f"it is corrupt ({type(exc).__name__}: {exc})") from None


# ------------------------------------------------------------------ history and data


def write_history(out_dir: Path, history: list[dict[str, Any]]) -> None:
    atomic_write(out_dir / HISTORY_JSON, (json.dumps(history, indent=2) + "\n").encode())
    fault_point("history-json-written")
    lines = [",".join(COLUMNS)] + [",".join(repr(r[c]) for c in COLUMNS) for r in history]
    atomic_write(out_dir / HISTORY_CSV, ("\n".join(lines) + "\n").encode())


def _check_data(split: str, x: np.ndarray[Any, Any], t: np.ndarray[Any, Any]) -> None:
    """Finite pixels and labels 0..9: bad data is named here, not blamed on the learning
    rate when the loss turns NaN a few iterations later."""
    if x.dtype.kind in "fc":
        for start in range(0, len(x), 8192):  # in blocks: a bounded mask, not one of N×784
            bad = ~np.isfinite(x[start : start + 8192])
            if bad.any():
                index = tuple(int(i) for i in np.argwhere(bad)[0])
                image, rest = start + index[0], index[1:]
                value = x[(image, *rest)]
                what = "NaN" if np.isnan(value) else str(value)
                pixel = f", pixel {rest[0] if len(rest) == 1 else rest}" if rest else ""
                raise ValueError(
                    f"the {split} data holds {what} at image {image}{pixel}: "
                    "images must hold finite numbers"
                )
    if t.ndim != 1 or t.dtype.kind not in "iu":
        raise ValueError(f"the {split} labels are {t.dtype} {t.shape}, expected integer classes")
    bad_labels = np.flatnonzero((t < 0) | (t >= CLASSES))
    if bad_labels.size:
        i = int(bad_labels[0])
        raise ValueError(
            f"the {split} labels hold {t[i]} at sample {i}: expected a class 0..{CLASSES - 1}"
        )


# ------------------------------------------------------------------ training


def minibatch_gradient(
    net: TwoLayerNet,
    x: np.ndarray[Any, Any],
    t: np.ndarray[Any, Any],
    batch_size: int,
    rng: np.random.Generator,
    *,
    replace: bool = False,
) -> tuple[float, dict[str, np.ndarray[Any, Any]]]:
    """One step's work: draw a mini-batch (the chapter's way) and backpropagate its loss."""
    batch = sample_batch(len(x), batch_size, rng=rng, replace=replace or batch_size > len(x))
    return net.loss_and_gradient(x[batch], t[batch])


def _start(
    config: TrainConfig, checkpoint: Path, resume: bool, features: int, classes: int
) -> TrainState:
    """The state to train from: the checkpoint's with `resume`, else a fresh seeded one."""
    if resume and checkpoint.is_file():
        state = load_checkpoint(checkpoint, config, features, classes)
        # The checkpoint is the commit point: a kill after it and before (or between) the
        # history writes left history.json/.csv behind it. Rewrite both from it, also when
        # the run is already complete, so that they always agree with the checkpoint.
        write_history(checkpoint.parent, state.history)
        return state
    if resume:
        raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint}")
    return _new_state(config, features, classes)


def _kept(checkpoint: Path, saved_at: int | None) -> str:
    if saved_at is None:
        return "no checkpoint had been written yet"
    return f"the last good checkpoint (iteration {saved_at}) is kept in {checkpoint}"


def _step(
    net: TwoLayerNet, x: Any, t: Any, config: TrainConfig, rng: np.random.Generator
) -> tuple[float, dict[str, np.ndarray[Any, Any]]]:
    # A diverging run overflows long before it stops; _check_loss reports that clearly,
    # so NumPy's overflow warnings would only be noise.
    with np.errstate(over="ignore", invalid="ignore"):
        return minibatch_gradient(net, x, t, config.batch_size, rng, replace=config.book)


def _check_loss(
    loss: float, state: TrainState, checkpoint: Path, saved_at: int | None, config: TrainConfig
) -> None:
    """A NaN or infinite loss, or one past DIVERGED times the run's first: stop, naming the
    learning rate and what was kept."""
    stopped = f"training stopped and {_kept(checkpoint, saved_at)}"
    if not math.isfinite(loss):
        raise NonFiniteLossError(
            f"the loss became {loss} at iteration {state.iteration + 1} (learning rate "
            f"{config.lr} too high?); {stopped}"
        )
    if state.losses and loss > DIVERGED * state.losses[0]:
        raise LossDivergedError(
            f"the training loss grew from {state.losses[0]:.4g} to {loss:.4g} (over "
            f"{DIVERGED:g}x its start) at iteration {state.iteration + 1}: learning rate "
            f"{config.lr} is too high; {stopped}"
        )


def _record(state: TrainState, x: Any, t: Any, x_test: Any, t_test: Any) -> dict[str, Any]:
    since = state.history[-1]["iteration"] if state.history else 0
    return {
        "epoch": len(state.history) + 1,
        "iteration": state.iteration,
        "loss": _epoch_loss(state.losses, since, state.iteration),
        "train_accuracy": state.network.accuracy(x, t),
        "test_accuracy": state.network.accuracy(x_test, t_test),
    }


def _check_batch_size(config: TrainConfig, images: int) -> None:
    # Batches are drawn without replacement: more than the data holds cannot be drawn (and
    # a huge one would first fail as an allocation that does not name the option).
    if config.batch_size > images:
        raise ValueError(
            f"--batch-size {config.batch_size} is larger than the {images} training images"
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
    # Before any long work: a file in the folder's place, a read-only folder or a full
    # disk is an OSError naming the folder now, not after the first epoch's work.
    probe_writable(out)
    remove_stale_temporaries(out, OUTPUT_FILES)  # left by a killed run in this folder
    (x_train, t_train), (x_test, t_test) = load_dataset(config.dataset, data_dir=config.data_dir)
    _check_data("training", x_train, t_train)
    _check_data("test", x_test, t_test)
    _check_batch_size(config, len(x_train))
    checkpoint = out / CHECKPOINT
    state = _start(config, checkpoint, resume, x_train.shape[1], CLASSES)
    saved_at = state.iteration if resume else None
    per_epoch = max(len(x_train) // config.batch_size, 1)
    net = state.network

    while state.iteration < config.iters:
        if should_stop is not None and should_stop():
            save_checkpoint(checkpoint, state, config)
            return TrainResult(
                "interrupted", state.iteration, state.history, state.losses, out, net
            )
        loss, grads = _step(net, x_train, t_train, config, state.rng)
        _check_loss(loss, state, checkpoint, saved_at, config)
        net.sgd_step(grads, config.lr)
        state.iteration += 1
        state.losses.append(loss)
        if on_iteration is not None:
            on_iteration(state.iteration, loss)
        if state.iteration % per_epoch == 0 or state.iteration == config.iters:
            record = _record(state, x_train, t_train, x_test, t_test)
            state.history.append(record)
            save_checkpoint(checkpoint, state, config)  # the epoch's commit point
            saved_at = state.iteration
            fault_point("checkpoint-committed")
            write_history(out, state.history)
            if on_epoch is not None:
                on_epoch(record)
    return TrainResult("finished", state.iteration, state.history, state.losses, out, net)
