"""`kill -9` at every write of `losskit train`, deterministically, then `--resume`.

The process kills itself (SIGKILL: no cleanup, no flush) the n-th time it reaches a
named point, through the test-only hook LOSSKIT_FAULT_AT=<point>:<n> (losskit._files).
A run of 4 iterations of batch 5000 on the bundled sample is two epochs and makes 7
atomic writes, in this order:

    checkpoint.npz, history.json, history.csv   (epoch 1)
    checkpoint.npz, history.json, history.csv   (epoch 2, the end)
    curves.png                                  (the CLI, after training)

and each write passes four points: write-begin (empty temporary file), write-partial
(half of it written), write-complete (all written and fsynced, not yet renamed) and
write-renamed (in place). training.py adds checkpoint-committed (a checkpoint in
place, its history not yet written) and history-json-written (history.json written,
history.csv not yet). After every kill the visible files are whole (each is one that an
uninterrupted run wrote at some moment), and after `--resume` (or a fresh run when no
checkpoint was committed yet) they are byte-identical to the uninterrupted run's, with
no temporary file left behind.

Most runs are forked from one warmed-up "zygote" process running the CLI's `main`:
starting Python and loading the compiled kernels costs about a second, forking
milliseconds. A few cases run the real `python -m losskit train`, and the zygote's
output is checked to be byte-identical to it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from losskit._files import FAULT_ENV, FAULT_POINTS, fault_point
from losskit.chapter.training import TrainConfig, load_checkpoint

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or not hasattr(signal, "SIGKILL"), reason="needs fork and SIGKILL"
)

ARGS = ["--dataset", "sample", "--iters", "4", "--batch-size", "5000", "--hidden", "8"]
ARGS += ["--seed", "5", "--quiet"]
CONFIG = TrainConfig(dataset="sample", iters=4, batch_size=5000, hidden=8, seed=5)
OUTPUTS = ("checkpoint.npz", "history.json", "history.csv", "curves.png")
WRITES = (*OUTPUTS[:3], *OUTPUTS[:3], OUTPUTS[3])  # the order of the atomic writes
KILLED = -signal.SIGKILL if hasattr(signal, "SIGKILL") else 0
# One thread everywhere: the zygote forks, and the runs must be comparable.
ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

ZYGOTE = r"""
import json, os, sys, tempfile, threading, traceback

# Replies go to the test on the original stdout; everything the runs print, to the log.
reply = os.fdopen(os.dup(1), "w")
log = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.dup2(log, 1)
os.dup2(log, 2)
from losskit.cli import main

with tempfile.TemporaryDirectory() as warm:  # load the kernels, fonts and plotting once
    main(["train", "--iters", "1", "--batch-size", "5000", "--hidden", "8", "--quiet",
          "--out", warm])
assert threading.active_count() == 1, "the zygote must be single-threaded to fork"
print("ready", file=reply, flush=True)
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.environ.update(job["env"])
        try:
            code = main(job["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 99
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), file=reply, flush=True)
"""


class Zygote:
    def __init__(self, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, str(log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=self.environment(),
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            self.close()
            pytest.fail(f"the zygote did not start:\n{log.read_text()}")

    @staticmethod
    def environment() -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
        return {**env, **ENV}

    def run(self, out: Path, *extra: str, fault: str | None = None) -> int:
        """`losskit train ARGS --out OUT EXTRA` in a fresh fork; its exit status (-9: killed)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        env = {FAULT_ENV: fault} if fault else {}
        job = {"argv": ["train", *ARGS, "--out", str(out), *extra], "env": env}
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.stdout.close()
        self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    z = Zygote(tmp_path_factory.mktemp("zygote") / "runs.log")
    yield z
    z.close()


def cli(out: Path, *extra: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real thing: `python -m losskit train ...` in a new interpreter."""
    env = Zygote.environment()
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.run(
        [sys.executable, "-m", "losskit", "train", *ARGS, "--out", str(out), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def contents(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.fixture(scope="module")
def reference(zygote: Zygote, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An uninterrupted run: its final files, and its history and losses to compare with."""
    out = tmp_path_factory.mktemp("reference")
    assert zygote.run(out) == 0
    files = contents(out)
    assert sorted(files) == sorted(OUTPUTS)
    state = load_checkpoint(out / "checkpoint.npz", CONFIG, 784, 10)
    assert [r["iteration"] for r in state.history] == [2, 4]  # two epochs
    return {"files": files, "history": state.history, "losses": state.losses}


def test_the_forked_runs_equal_the_real_command(reference: dict[str, Any], tmp_path: Path) -> None:
    result = cli(tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert contents(tmp_path / "out") == reference["files"]  # and the run is reproducible


def assert_whole(out: Path, reference: dict[str, Any], writing: str | None) -> None:
    """Every visible file is one the uninterrupted run wrote at some moment; at most the
    temporary file of the write in progress is left, hidden."""
    history, losses = reference["history"], reference["losses"]
    visible = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    hidden = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert visible <= set(OUTPUTS)
    if writing is None:
        assert hidden == []
    else:
        assert len(hidden) <= 1 and all(
            h.startswith(f".{writing}.") and h.endswith(".part") for h in hidden
        ), hidden
    if "history.json" in visible:
        records = json.loads((out / "history.json").read_text())
        assert records and records == history[: len(records)]
    if "history.csv" in visible:
        lines = (out / "history.csv").read_text().splitlines()
        whole = (reference["files"]["history.csv"]).decode().splitlines()
        assert len(lines) >= 2 and lines == whole[: len(lines)]
    if "checkpoint.npz" in visible:
        state = load_checkpoint(out / "checkpoint.npz", CONFIG, 784, 10)
        assert state.history and state.history == history[: len(state.history)]
        assert state.losses == losses[: state.iteration]
    if "curves.png" in visible:
        assert (out / "curves.png").read_bytes() == reference["files"]["curves.png"]


WRITE_POINTS = ["write-begin", "write-partial", "write-complete", "write-renamed"]
CASES = [(point, n) for point in WRITE_POINTS for n in range(1, len(WRITES) + 1)]
CASES += [(point, n) for point in ("checkpoint-committed", "history-json-written") for n in (1, 2)]


@pytest.mark.parametrize(("point", "n"), CASES, ids=[f"{p}:{n}" for p, n in CASES])
def test_a_kill_at_any_write_then_resume_gives_the_uninterrupted_run(
    zygote: Zygote, reference: dict[str, Any], tmp_path: Path, point: str, n: int
) -> None:
    out = tmp_path / "out"
    assert zygote.run(out, fault=f"{point}:{n}") == KILLED
    in_progress = point in WRITE_POINTS[:3]  # killed with a temporary file on disk
    assert_whole(out, reference, WRITES[n - 1] if in_progress else None)
    code = zygote.run(out, "--resume")
    if not (out / "checkpoint.npz").exists():
        # Killed before the first checkpoint was in place: nothing to resume, say so.
        assert code == 2 and (point, n) in [(p, 1) for p in WRITE_POINTS[:3]]
        code = zygote.run(out)
    assert code == 0
    assert contents(out) == reference["files"]  # byte-identical, no temporary files left


@pytest.mark.parametrize("point", ["checkpoint-committed", "history-json-written"])
def test_the_real_command_killed_before_its_last_history_write_resumes(
    reference: dict[str, Any], tmp_path: Path, point: str
) -> None:
    """The issue's cases, exactly as reported: the last epoch's checkpoint is in place but
    history.json (or history.csv) is not yet; resuming the complete run repairs them."""
    out = tmp_path / "out"
    assert cli(out, fault=f"{point}:2").returncode == KILLED
    assert_whole(out, reference, None)
    result = cli(out, "--resume")
    assert result.returncode == 0, result.stderr
    assert contents(out) == reference["files"]


def test_the_fault_hook_is_inert_unless_asked_and_refuses_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(FAULT_ENV, raising=False)
    fault_point("write-begin")  # no setting: nothing happens
    monkeypatch.setenv(FAULT_ENV, "write-begin:2")
    fault_point("write-renamed")  # another point: nothing happens
    assert set(WRITE_POINTS) | {"checkpoint-committed", "history-json-written"} <= set(FAULT_POINTS)
    for bad in ("write-begin", "write-begin:0", "write-begin:x", "no-such-point:1"):
        monkeypatch.setenv(FAULT_ENV, bad)
        with pytest.raises(ValueError, match=f"{FAULT_ENV}={bad!r}"):
            fault_point("write-begin")
