"""SPEC §2.5, row by row, on every installed backend: same exception type, same message."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from backends import configure, installed, to_backend, to_numpy

import losskit as lk

rng = np.random.default_rng(0)
PROBS = np.full((4, 3), 1 / 3)
LOGITS = rng.normal(size=(4, 3))
LABELS = np.array([0, 2, 1, 1])
BINARY_P = np.full((4, 3), 0.5)
BINARY_T = np.ones((4, 3), dtype=np.int64)

CLASS_LOSSES = {
    "mean_squared_error": (lk.mean_squared_error, PROBS),
    "cross_entropy_error": (lk.cross_entropy_error, PROBS),
    "softmax_cross_entropy": (lk.softmax_cross_entropy, LOGITS),
}
BINARY_LOSSES = {
    "binary_cross_entropy": lk.binary_cross_entropy,
    "sigmoid_binary_cross_entropy": lk.sigmoid_binary_cross_entropy,
}


def realize(call: Callable[[], Any]) -> Any:
    """Run a call and compute its result: lazy backends may raise only at compute time."""
    return to_numpy(call())


def raises(backend: str, exc: type[Exception], pattern: str, call: Callable[[], Any]) -> None:
    with pytest.raises(exc, match=pattern):
        realize(call)


def b(backend: str, a: Any) -> Any:
    return to_backend(backend, np.asarray(a))


# ------------------------------------------------------------------ shapes


@pytest.mark.parametrize("name", CLASS_LOSSES)
def test_label_shape_mismatch_names_both_shapes(backend: str, name: str) -> None:
    loss, y = CLASS_LOSSES[name]
    raises(
        backend,
        ValueError,
        re.escape("(3,)") + ".*" + re.escape("(4, 3)"),
        lambda: loss(b(backend, y), b(backend, LABELS[:3])),
    )


@pytest.mark.parametrize("name", CLASS_LOSSES)
def test_distribution_shape_mismatch_names_both_shapes(backend: str, name: str) -> None:
    loss, y = CLASS_LOSSES[name]
    raises(
        backend,
        ValueError,
        re.escape("(4, 4)") + ".*" + re.escape("(4, 3)"),
        lambda: loss(b(backend, y), b(backend, np.full((4, 4), 0.25))),
    )


@pytest.mark.parametrize("name", ["cross_entropy_error", "softmax_cross_entropy"])
def test_weight_length_mismatch_names_both_shapes(backend: str, name: str) -> None:
    loss, y = CLASS_LOSSES[name]
    raises(
        backend,
        ValueError,
        re.escape("weight of shape (4,)") + ".*" + re.escape("(3,)"),
        lambda: loss(b(backend, y), b(backend, LABELS), weight=b(backend, np.ones(4))),
    )


@pytest.mark.parametrize("name", BINARY_LOSSES)
def test_binary_shape_mismatch(backend: str, name: str) -> None:
    raises(
        backend,
        ValueError,
        re.escape("(4, 2)") + ".*" + re.escape("(4, 3)"),
        lambda: BINARY_LOSSES[name](b(backend, BINARY_P), b(backend, np.ones((4, 2)))),
    )
    raises(
        backend,
        ValueError,
        re.escape("pos_weight of shape (2,)"),
        lambda: BINARY_LOSSES[name](
            b(backend, BINARY_P), b(backend, BINARY_T), pos_weight=b(backend, np.ones(2))
        ),
    )


# ------------------------------------------------------------------ labels


@pytest.mark.parametrize("bad", [-1, 3, 7])
@pytest.mark.parametrize("name", CLASS_LOSSES)
def test_out_of_range_label_names_label_and_class_count(backend: str, name: str, bad: int) -> None:
    loss, y = CLASS_LOSSES[name]
    labels = np.array([0, 1, bad, 2])
    raises(
        backend,
        ValueError,
        rf"label {bad} at index 2 is out of range for 3 classes",
        lambda: loss(b(backend, y), b(backend, labels)),
    )
    raises(
        backend,
        ValueError,
        rf"label {bad} at index 2 is out of range for 3 classes",
        lambda: loss.grad(b(backend, y), b(backend, labels)),
    )


def test_first_bad_label_is_named_with_its_index(backend: str) -> None:
    labels = [0, 5, 9, -2]
    # Dask checks each chunk as it is computed: it names the first bad label of the
    # first chunk that fails, which need not be the first overall (documented).
    pattern = (
        r"label (5 at index 1|9 at index 2|-2 at index 3) is out"
        if backend == "dask"
        else r"label 5 at index 1 is out of range for 3 classes"
    )
    raises(
        backend,
        ValueError,
        pattern,
        lambda: lk.softmax_cross_entropy(b(backend, LOGITS), b(backend, labels)),
    )
    labels2d = np.zeros((2, 4), dtype=np.int64)
    labels2d[1, 3] = 3
    raises(
        backend,
        ValueError,
        re.escape("label 3 at index (1, 3) is out of range"),
        lambda: lk.softmax_cross_entropy(
            b(backend, rng.normal(size=(2, 3, 4))), b(backend, labels2d), axis=1
        ),
    )


def test_ignore_index_is_not_an_out_of_range_label(backend: str) -> None:
    value = realize(
        lambda: lk.softmax_cross_entropy(
            b(backend, LOGITS), b(backend, [0, -100, 1, 2]), ignore_index=-100
        )
    )
    assert np.isfinite(value)
    raises(
        backend,
        ValueError,
        r"label -1 .*ignore_index=-100",
        lambda: lk.softmax_cross_entropy(
            b(backend, LOGITS), b(backend, [0, -100, -1, 2]), ignore_index=-100
        ),
    )


@pytest.mark.parametrize("name", BINARY_LOSSES)
def test_binary_labels_must_be_0_or_1(backend: str, name: str) -> None:
    t = BINARY_T.copy()
    t[2, 1] = 2
    raises(
        backend,
        ValueError,
        re.escape("label 2 at index (2, 1) is out of range for 2 classes"),
        lambda: BINARY_LOSSES[name](b(backend, BINARY_P), b(backend, t)),
    )


def test_one_hot_checks_labels(backend: str) -> None:
    raises(
        backend,
        ValueError,
        r"label 4 at index 1 is out of range for 4 classes",
        lambda: lk.one_hot(b(backend, [0, 4]), 4),
    )


# ------------------------------------------------------------------ types and options


@pytest.mark.parametrize("name", [*CLASS_LOSSES, *BINARY_LOSSES])
def test_integer_predictions_are_a_type_error_listing_allowed(backend: str, name: str) -> None:
    loss = CLASS_LOSSES[name][0] if name in CLASS_LOSSES else BINARY_LOSSES[name]
    raises(
        backend,
        TypeError,
        r"real floating-point dtype \(float16, bfloat16, float32, "
        r"float64\), got dtype .*int",
        lambda: loss(b(backend, np.ones((4, 3), dtype=np.int64)), b(backend, BINARY_T)),
    )


@pytest.mark.parametrize("name", [*CLASS_LOSSES, *BINARY_LOSSES])
def test_unknown_reduction_lists_allowed(backend: str, name: str) -> None:
    loss = CLASS_LOSSES[name][0] if name in CLASS_LOSSES else BINARY_LOSSES[name]
    raises(
        backend,
        ValueError,
        r"one of 'mean', 'sum', 'none', got 'avg'",
        lambda: loss(b(backend, BINARY_P), b(backend, BINARY_T), reduction="avg"),
    )


def test_boolean_targets_of_the_prediction_shape_are_distributions(backend: str) -> None:
    hot = np.eye(3, dtype=bool)[LABELS]
    for loss, y in CLASS_LOSSES.values():
        got = realize(lambda loss=loss, y=y: loss(b(backend, y), b(backend, hot)))
        expected = realize(lambda loss=loss, y=y: loss(b(backend, y), b(backend, LABELS)))
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("name", CLASS_LOSSES)
def test_boolean_targets_of_label_shape_ask_for_an_integer_dtype(backend: str, name: str) -> None:
    loss, y = CLASS_LOSSES[name]
    raises(
        backend,
        ValueError,
        r"targets t of shape \(4,\) have label shape .* but dtype bool: cast labels to an "
        r"integer dtype",
        lambda: loss(b(backend, y), b(backend, LABELS > 0)),
    )


@pytest.mark.parametrize("eps", [-0.1, 1.5, float("nan")])
def test_label_smoothing_outside_unit_interval(backend: str, eps: float) -> None:
    raises(
        backend,
        ValueError,
        r"label_smoothing must lie in \[0, 1\]",
        lambda: lk.softmax_cross_entropy(
            b(backend, LOGITS), b(backend, LABELS), label_smoothing=eps
        ),
    )


@pytest.mark.parametrize("name", ["cross_entropy_error", "binary_cross_entropy"])
def test_negative_delta(backend: str, name: str) -> None:
    loss = lk.cross_entropy_error if name == "cross_entropy_error" else lk.binary_cross_entropy
    raises(
        backend,
        ValueError,
        r"delta must be >= 0.*got -1e-07",
        lambda: loss(b(backend, BINARY_P), b(backend, BINARY_T), delta=-1e-7),
    )


def test_ignore_index_needs_label_targets(backend: str) -> None:
    raises(
        backend,
        ValueError,
        r"ignore_index applies to integer label targets only",
        lambda: lk.softmax_cross_entropy(b(backend, LOGITS), b(backend, PROBS), ignore_index=0),
    )


def test_bad_axis(backend: str) -> None:
    raises(
        backend,
        ValueError,
        r"axis must be an int in \[-2, 1\].*got 2",
        lambda: lk.softmax_cross_entropy(b(backend, LOGITS), b(backend, LABELS), axis=2),
    )


def test_python_lists_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="got a Python list"):
        lk.mean_squared_error([0.1, 0.9], np.array([0.0, 1.0]))


# ------------------------------------------------------------------ probabilities


@pytest.mark.parametrize("bad", [-0.5, 1.5, np.inf])
@pytest.mark.parametrize("name", ["cross_entropy_error", "binary_cross_entropy"])
def test_probabilities_outside_unit_interval(backend: str, name: str, bad: float) -> None:
    p = BINARY_P.copy()
    p[1, 2] = bad
    loss = lk.cross_entropy_error if name == "cross_entropy_error" else lk.binary_cross_entropy
    t = PROBS if name == "cross_entropy_error" else BINARY_T
    raises(
        backend,
        ValueError,
        rf"probabilities in \[0, 1\], got {re.escape(repr(bad))} at index \(1, 2\)",
        lambda: loss(b(backend, p), b(backend, t)),
    )


# ------------------------------------------------------------------ empty / ignored


@pytest.mark.parametrize("name", CLASS_LOSSES)
def test_empty_batch_mean_is_an_error_but_sum_is_zero(backend: str, name: str) -> None:
    loss, _ = CLASS_LOSSES[name]
    y, t = np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    raises(backend, ValueError, r"empty batch", lambda: loss(b(backend, y), b(backend, t)))
    assert realize(lambda: loss(b(backend, y), b(backend, t), reduction="sum")) == 0.0
    assert realize(lambda: loss(b(backend, y), b(backend, t), reduction="none")).shape == (0,)


def test_every_target_ignored_gives_zero_loss_and_gradient(backend: str) -> None:
    t = np.full(4, 1)
    for smoothing in (0.0, 0.3):
        value, grad = lk.softmax_cross_entropy.value_and_grad(
            b(backend, LOGITS), b(backend, t), ignore_index=1, label_smoothing=smoothing
        )
        assert to_numpy(value) == 0.0
        np.testing.assert_array_equal(to_numpy(grad), np.zeros_like(LOGITS))


# ------------------------------------------------------------------ NaN and inf


def test_nan_and_inf_propagate_as_ieee_says(backend: str) -> None:
    # NumPy warns about inf - inf as IEEE arithmetic does; that is the point here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _nan_and_inf_propagate(backend)


def _nan_and_inf_propagate(backend: str) -> None:
    z = LOGITS.copy()
    z[1, 0] = np.nan
    per_sample = realize(
        lambda: lk.softmax_cross_entropy(b(backend, z), b(backend, LABELS), reduction="none")
    )
    assert np.isnan(per_sample[1])
    assert np.all(np.isfinite(per_sample[[0, 2, 3]]))
    assert np.isnan(realize(lambda: lk.softmax_cross_entropy(b(backend, z), b(backend, LABELS))))
    z = LOGITS.copy()
    z[2, 0] = np.inf  # +inf logit on a non-target class: infinitely wrong
    per_sample = realize(
        lambda: lk.softmax_cross_entropy(b(backend, z), b(backend, LABELS), reduction="none")
    )
    assert not np.isfinite(per_sample[2])
    p = BINARY_P.copy()
    p[0, 0] = np.nan
    assert np.isnan(realize(lambda: lk.binary_cross_entropy(b(backend, p), b(backend, BINARY_T))))
    assert np.isnan(
        realize(lambda: lk.cross_entropy_error(b(backend, p), b(backend, np.eye(3)[[0, 0, 1, 2]])))
    )


def test_minus_inf_logit_where_target_is_zero_contributes_zero(backend: str) -> None:
    z = np.array([[0.0, -np.inf, 1.0]])
    value, grad = lk.softmax_cross_entropy.value_and_grad(b(backend, z), b(backend, [2]))
    expected = np.log1p(np.exp(-1.0))
    np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-12)
    assert np.all(np.isfinite(to_numpy(grad)))
    assert to_numpy(grad)[0, 1] == 0.0
    value = lk.softmax_cross_entropy(b(backend, z), b(backend, [[0.5, 0.0, 0.5]]))
    assert np.isfinite(to_numpy(value))


def test_zero_probability_where_target_is_zero_contributes_zero(backend: str) -> None:
    y = np.array([[0.0, 0.25, 0.75]])
    value = realize(lambda: lk.cross_entropy_error(b(backend, y), b(backend, [2]), delta=0.0))
    np.testing.assert_allclose(value, -np.log(0.75), rtol=1e-12)


# ------------------------------------------------------------------ deferred checks


@pytest.mark.skipif(not installed("dask"), reason="backend dask is not installed")
def test_dask_defers_value_checks_to_compute_and_stays_lazy() -> None:
    import dask.array as da

    logits = da.from_array(np.tile(LOGITS, (10, 1)), chunks=(8, 3))
    labels = np.tile(LABELS, 10)
    labels[37] = 3
    lazy = lk.softmax_cross_entropy(logits, da.from_array(labels, chunks=8))
    assert isinstance(lazy, da.Array)  # building the graph raised nothing
    with pytest.raises(ValueError, match="label 3 at index 37 is out of range for 3 classes"):
        lazy.compute()


@pytest.mark.skipif(not installed("jax"), reason="backend jax is not installed")
def test_jax_under_jit_turns_bad_labels_and_probabilities_into_nan() -> None:
    configure("jax")
    import jax
    import jax.numpy as jnp

    bad_labels = jnp.asarray([0, 5, 1, 1])
    per_sample = np.asarray(
        jax.jit(lambda z, t: lk.softmax_cross_entropy(z, t, reduction="none"))(
            jnp.asarray(LOGITS), bad_labels
        )
    )
    assert np.isnan(per_sample[1])
    assert np.all(np.isfinite(per_sample[[0, 2, 3]]))
    grad = np.asarray(jax.jit(lk.softmax_cross_entropy.grad)(jnp.asarray(LOGITS), bad_labels))
    assert np.all(np.isnan(grad[1]))
    assert np.all(np.isfinite(grad[0]))
    p = PROBS.copy()
    p[3, 0] = 1.5
    per_sample = np.asarray(
        jax.jit(lambda y, t: lk.cross_entropy_error(y, t, reduction="none"))(
            jnp.asarray(p), jnp.asarray(LABELS)
        )
    )
    assert np.isnan(per_sample[3])
    assert np.all(np.isfinite(per_sample[:3]))
