"""The chapter's own numbers (SPEC §0), to the last printed digit."""

from __future__ import annotations

import numpy as np
import pytest

import losskit as lk

T = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=np.float64)  # one-hot "2"
Y_RIGHT = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
Y_WRONG = np.array([0.1, 0.05, 0.0, 0.0, 0.05, 0.1, 0.6, 0.1, 0.0, 0.0])
Y_BOOK_WRONG = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])


def test_mean_squared_error_examples() -> None:
    assert float(lk.mean_squared_error(Y_RIGHT, T)) == pytest.approx(0.0975, abs=1e-15)
    assert float(lk.mean_squared_error(Y_WRONG, T)) == pytest.approx(0.6975, abs=1e-15)
    # The book's printed variant (0.6 at index 7, 0.1 at index 2).
    assert float(lk.mean_squared_error(Y_BOOK_WRONG, T)) == pytest.approx(0.5975, abs=1e-15)


def test_cross_entropy_error_examples() -> None:
    assert float(lk.cross_entropy_error(Y_RIGHT, T)) == 0.510825457099338
    assert float(lk.cross_entropy_error(Y_RIGHT, T)) == -np.log(0.6 + 1e-7)
    assert float(lk.cross_entropy_error(Y_BOOK_WRONG, T)) == pytest.approx(
        2.302584092994546, rel=1e-15
    )
    # δ keeps log(0) finite: a zero probability at the target costs −log(1e-7).
    assert float(lk.cross_entropy_error(Y_WRONG, T)) == 16.11809565095832
    # Labels give the same numbers as one-hot rows.
    assert float(lk.cross_entropy_error(Y_RIGHT, np.array(2))) == 0.510825457099338


def test_without_delta_log_zero_is_infinite() -> None:
    with np.errstate(divide="ignore"):
        assert float(lk.cross_entropy_error(Y_WRONG, T, delta=0.0)) == np.inf


def test_mini_batch_mean_is_independent_of_batch_size() -> None:
    """eq. (4.3): dividing by N makes a batch of copies score like one sample."""
    one = float(lk.cross_entropy_error(Y_RIGHT, T))
    batch = lk.cross_entropy_error(np.tile(Y_RIGHT, (100, 1)), np.tile(T, (100, 1)))
    assert float(batch) == pytest.approx(one, rel=1e-14)
    total = lk.cross_entropy_error(
        np.tile(Y_RIGHT, (100, 1)), np.tile(T, (100, 1)), reduction="sum"
    )
    assert float(total) == pytest.approx(100 * one, rel=1e-14)
