"""`losskit bench` runs end to end (its numbers are reported, never asserted: no timed tests)."""

from __future__ import annotations

import losskit.benchmark as bench


def test_bench_runs_every_variant_and_tabulates_them() -> None:
    lines: list[str] = []
    rows, bandwidth = bench.run(
        ((16, 10),),
        seconds=0.01,
        implementations=("losskit", "numpy-book"),
        report=lines.append,
    )
    assert bandwidth > 0
    assert {(r.variant, r.impl) for r in rows} == {
        (variant, impl) for variant in bench.VARIANTS for impl in ("losskit", "numpy-book")
    }
    assert all(0 < r.low <= r.median <= r.high for r in rows)
    text = bench.table(rows, bandwidth)
    assert text.count("| 16×10 |") == 4
    assert "| 1.00 |" in text  # losskit's ratio to itself
    assert any("read bandwidth" in line for line in lines)


def test_first_call_reports_each_start_up_cost() -> None:
    costs = bench.first_call(runs=1)
    assert list(costs) == ["import losskit", "import numba", "first call", "second call"]
    assert all(value > 0 for value in costs.values())
    assert bench.first_call_line(costs).startswith("start-up in a new process")
