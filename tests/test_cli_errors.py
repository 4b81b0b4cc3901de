"""The command line's one error boundary: one line on stderr, exit 2 or 1, never a traceback.

Each case is a failure a user can cause; the output must name the file or option.
A traceback appears only with --debug.
"""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest
from limits import run_with_file_size_limit

import losskit.chapter.tour
from losskit.cli import exit_code_and_message, main


def run_cli(*args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "losskit", *args], capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("losskit: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_out_naming_a_file_fails_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "figures"
    a_file.write_text("mine")

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the tour started although --out cannot be written")

    monkeypatch.setattr(losskit.chapter.tour, "run_tour", never)
    monkeypatch.setattr(losskit.chapter.tour, "run_explain", never)
    for argv in (["tour"], ["explain", "delta"]):
        assert main([*argv, "--out", str(a_file)]) == 2
        line = one_line(capsys.readouterr().err)
        assert "--out" in line and str(a_file) in line and "expected a folder" in line
    assert a_file.read_text() == "mine"  # nothing a user wrote is lost


def test_out_below_a_file_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    code, _, err = run_cli("tour", "--out", str(tmp_path / "f" / "sub"))
    assert code == 2
    assert str(tmp_path / "f") in one_line(err)


def test_a_full_disk_is_an_environment_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "delta.png"

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(losskit.chapter.tour, "run_explain", full)
    assert main(["explain", "delta", "--out", str(tmp_path / "out")]) == 1
    line = one_line(capsys.readouterr().err)
    assert "No space left on device" in line and str(target) in line


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_real_write_error_ends_in_one_line(tmp_path: Path) -> None:
    # /dev/full answers every write with ENOSPC: a real full disk, no mocking.
    pred = tmp_path / "p.npy"
    target = tmp_path / "t.npy"
    import numpy as np

    np.save(pred, np.zeros((4, 3)))
    np.save(target, np.zeros(4, dtype=np.int64))
    code, _, err = run_cli(
        "eval", str(pred), str(target), "--loss", "softmax-cross-entropy", "--output", "/dev/full"
    )
    assert code in (1, 2), err
    one_line(err)


def test_a_missing_input_file_is_bad_input(tmp_path: Path) -> None:
    code, _, err = run_cli(
        "eval", str(tmp_path / "nope.npy"), str(tmp_path / "t.npy"), "--loss", "mean-squared-error"
    )
    assert code == 2
    assert str(tmp_path / "nope.npy") in one_line(err)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    code, _, err = run_cli("--debug", "tour", "--out", str(tmp_path / "f"))
    assert code == 1  # Python's own exit status for an uncaught exception
    assert "Traceback" in err and "expected a folder" in err


@pytest.mark.parametrize(
    ("exc", "code", "words"),
    [
        (ValueError("x.npy: expected 2 columns, found 3"), 2, "x.npy: expected 2 columns"),
        (TypeError("t must hold real numbers"), 2, "real numbers"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "a.npy"), 2, "a.npy"),
        (PermissionError(errno.EACCES, "Permission denied", "/ro/out"), 1, "/ro/out"),
        (OSError(errno.EROFS, "Read-only file system", "/ro/out"), 1, "Read-only"),
        (ConnectionError("tcp://127.0.0.1:1: connection refused"), 1, "127.0.0.1:1"),
        (TimeoutError("https://mirror/x.gz: no answer in 3 s"), 1, "no answer in 3 s"),
        (MemoryError(), 1, "out of memory"),
        (KeyboardInterrupt(), 130, "interrupted"),
        (RuntimeError("bug"), 1, "internal error: RuntimeError: bug"),
    ],
)
def test_every_kind_of_failure_has_its_exit_status(
    exc: BaseException, code: int, words: str
) -> None:
    got_code, text = exit_code_and_message(exc)
    assert got_code == code
    assert words in text


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics are Linux's")
def test_an_unwritable_out_fails_in_the_first_second_naming_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "figures"
    done = run_with_file_size_limit(1024, "tour", "--out", str(out))
    assert done.returncode == 1, done.stderr
    line = one_line(done.stderr)
    assert str(out) in line and "cannot write" in line
    assert "4.2.1" not in done.stdout  # the tour never started


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "p.npy", "t.npy", "--loss", "softmax-cross-entropy", "--delta", "abc"],
        ["eval", "p.npy", "t.npy", "--loss", "nope"],
        ["eval"],
        ["explain", "nope"],
        ["train", "--iters", "1.5"],
        ["data", "verify", "nope"],
    ],
)
def test_a_bad_option_is_one_line_naming_it(argv: list[str]) -> None:
    code, out, err = run_cli(*argv)
    assert code == 2
    line = one_line(err)
    assert "losskit" in line and "usage" not in (out + err).lower()


def test_options_that_cannot_work_are_refused_before_any_work(tmp_path: Path) -> None:
    code, _, err = run_cli("train", "--lr", "1e300", "--iters", "3", "--out", str(tmp_path / "a"))
    assert code == 2 and "--lr" in one_line(err)
    code, _, err = run_cli(
        "train", "--batch-size", "10000000", "--iters", "1", "--out", str(tmp_path / "b")
    )
    assert code == 2 and "--batch-size 10000000 is larger than" in one_line(err)


def test_a_fifo_is_refused_not_waited_for(tmp_path: Path) -> None:
    import os

    import numpy as np

    fifo = tmp_path / "pred.npy"
    os.mkfifo(fifo)
    np.save(tmp_path / "t.npy", np.zeros(3, dtype=np.int64))
    np.save(tmp_path / "p.npy", np.zeros((3, 2)))
    for argv in (
        ["eval", str(fifo), str(tmp_path / "t.npy"), "--loss", "softmax-cross-entropy"],
        ["eval", str(tmp_path / "p.npy"), str(fifo), "--loss", "softmax-cross-entropy"],
    ):
        code, _, err = run_cli(*argv)  # run_cli's timeout would catch a hang
        assert code == 2 and "not a regular file" in one_line(err)


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("http://127.0.0.1:1", "expected tcp://HOST:PORT"),
        ("tls://127.0.0.1:1", "expected tcp://HOST:PORT"),
        ("tcp://[::1", "--scheduler"),
    ],
)
def test_schedulers_we_cannot_use_fail_at_once(tmp_path: Path, address: str, words: str) -> None:
    import numpy as np

    np.save(tmp_path / "p.npy", np.zeros((3, 2)))
    np.save(tmp_path / "t.npy", np.zeros(3, dtype=np.int64))
    code, _, err = run_cli(
        "eval",
        str(tmp_path / "p.npy"),
        str(tmp_path / "t.npy"),
        "--loss",
        "softmax-cross-entropy",
        "--scheduler",
        address,
    )
    assert code == 2 and words in one_line(err)


def test_json_output_stays_json_for_a_nan_result(tmp_path: Path) -> None:
    import json

    import numpy as np

    np.save(tmp_path / "p.npy", np.array([[np.nan, 0.0], [0.0, 1.0]]))
    np.save(tmp_path / "t.npy", np.array([0, 1]))
    code, out, _ = run_cli(
        "eval",
        str(tmp_path / "p.npy"),
        str(tmp_path / "t.npy"),
        "--loss",
        "softmax-cross-entropy",
        "--json",
    )
    assert code == 0
    result = json.loads(out, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))
    assert result["value"] == "nan"


@pytest.mark.parametrize("weights", ["1,nan", "1,inf", "1,-1"])
def test_weights_must_be_finite_and_not_negative(tmp_path: Path, weights: str) -> None:
    import numpy as np

    np.save(tmp_path / "p.npy", np.zeros((3, 2)))
    np.save(tmp_path / "t.npy", np.zeros(3, dtype=np.int64))
    code, _, err = run_cli(
        "eval",
        str(tmp_path / "p.npy"),
        str(tmp_path / "t.npy"),
        "--loss",
        "softmax-cross-entropy",
        "--weight",
        weights,
    )
    assert code == 2 and "weight must be finite and >= 0" in one_line(err)


def test_every_option_of_every_command_has_help_that_shows_its_default() -> None:
    import argparse

    from losskit.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        text = command.format_help()
        for action in command._actions:
            if not action.option_strings or action.dest == "help":
                continue
            assert action.help, f"losskit {name} {action.option_strings[0]} has no help"
            shown = command._get_formatter()._get_help_string(action) or ""
            if action.default not in (None, False, argparse.SUPPRESS):
                assert "default" in shown, f"losskit {name} {action.option_strings[0]}"
                assert "default" in text
