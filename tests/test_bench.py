"""`losskit bench` runs end to end (its numbers are reported, never asserted: no timed tests)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import losskit.benchmark as bench
from losskit.benchmark import _contenders

OURS = ("losskit", "losskit, new grad", "numpy-book", "read floor", "compute floor")


@pytest.fixture(scope="module")
def result() -> bench.Result:
    lines: list[str] = []
    out = bench.run(((16, 10),), seconds=0.01, implementations=OURS, report=lines.append)
    assert any("skipped" in line for line in lines)  # the book's missing backward passes
    return out


def test_every_loss_variant_and_contender_is_measured_or_skipped_with_a_reason(
    result: bench.Result,
) -> None:
    measured = {(r.loss, r.variant, r.impl) for r in result.rows}
    skipped = {(s.loss, s.variant, s.impl) for s in result.skipped}
    for loss in bench.LOSSES:
        assert (loss, "value", "losskit") in measured
        assert (loss, "value+grad", "losskit") in measured
        assert (loss, "value", "numpy-book") in measured
    assert ("softmax_cross_entropy", "value+grad", "numpy-book") in measured
    assert ("softmax_cross_entropy", "value+grad", "losskit, new grad") in measured
    assert {("softmax_cross_entropy", "value", f) for f in bench.FLOORS} <= measured
    assert skipped == {(loss, "value+grad", "numpy-book") for loss in bench.PROBABILITY}
    assert all("no backward pass" in s.reason for s in result.skipped)
    assert all(0 < r.low <= r.median <= r.high and r.first_call > 0 for r in result.rows)


def test_the_report_names_the_machine_and_frames_losskit_by_its_floors(
    result: bench.Result,
) -> None:
    text = bench.render(result, {"import losskit": 0.1})
    first = text.splitlines()[0]
    assert first.startswith(f"measured {result.date} on ")
    assert result.machine["isa"] in first and str(result.machine["cores"]) in first
    for loss in bench.LOSSES:
        assert f"\n{loss}, float32" in text
    assert "| 16×10 | value | losskit |" in text and "| 1.00 |" in text
    assert "read floor 16×10: 0.0 MB of float32 logits read at" in text
    assert "skipped numpy-book (16×10): the book writes no backward pass" in text
    assert text.rstrip().endswith("import losskit 100.00 ms")


def test_the_json_holds_every_row_and_the_machine(result: bench.Result) -> None:
    doc = json.loads(bench.to_json(result, None))
    assert doc["machine"] == result.machine and doc["date"] == result.date
    assert len(doc["rows"]) == len(result.rows)
    assert {"loss", "shape", "variant", "impl", "median", "low", "high"} <= set(doc["rows"][0])


def test_a_missing_library_or_compiler_is_a_reason_not_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(_contenders.Unavailable, match="no_such_library is not installed"):
        _contenders._need("no_such_library")
    pytest.importorskip("torch")
    monkeypatch.setattr(_contenders.shutil, "which", lambda name: None)
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(_contenders.Unavailable, match="needs a C\\+\\+ compiler"):
        _contenders.torch_compiled("softmax_cross_entropy", "value", {})


def test_first_call_reports_each_start_up_cost() -> None:
    costs = bench.first_call(runs=1)
    assert list(costs) == ["import losskit", "import numba", "first call", "second call"]
    assert all(value > 0 for value in costs.values())


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--shape", "0x5"], "expected N x C such as 4096x32000, got '0x5'"),
        (["--seconds", "-1"], "expected seconds in (0, 3600], got '-1'"),
        (["--losses", "mse"], "invalid choice: 'mse'"),
    ],
)
def test_bad_options_are_one_line(option: list[str], message: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "losskit", "bench", *option], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_command_prints_json_with_every_installed_peer() -> None:
    options = ["--shape", "8x4", "--seconds", "0.01", "--losses", "softmax", "--json"]
    out = subprocess.run(
        [sys.executable, "-m", "losskit", "bench", *options],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    impls = {r["impl"] for r in doc["rows"]} | {s["impl"] for s in doc["skipped"]}
    assert impls == set(bench.CONTENDERS)
    assert doc["first_call"]["second call"] > 0
