"""Edge cases found by attacking the core, each kept as a regression test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import array_api_strict as xps
import numpy as np
import pytest
from backends import configure, installed, to_backend, to_numpy

import losskit as lk
from losskit._validate import class_inputs
from losskit.kernels import dispatch

rng = np.random.default_rng(11)


def test_the_small_kernel_is_never_taken_for_a_class_axis_that_is_not_last() -> None:
    z, t = rng.normal(size=(4, 5)), np.array([0, 1, 3, 0, 2])
    inputs = class_inputs("logits", z, t, axis=0, reduction="mean", xp=None)
    assert not dispatch.takes_small_softmax_cross_entropy(inputs)
    for reduction in ("mean", "sum"):
        np.testing.assert_allclose(
            lk.softmax_cross_entropy(z, t, axis=0, reduction=reduction),
            lk.softmax_cross_entropy(z.T.copy(), t, reduction=reduction),
            rtol=1e-12,
        )


def test_axis_0_with_long_columns_does_not_read_past_the_labels() -> None:
    # Before the fix this read labels out of bounds (a segmentation fault): run it apart.
    code = (
        "import numpy as np, losskit as lk\n"
        "z = np.random.default_rng(1).normal(size=(4000, 2)); t = np.array([1, 3999])\n"
        "v, g = lk.softmax_cross_entropy.value_and_grad(z, t, axis=0)\n"
        "w, h = lk.softmax_cross_entropy.value_and_grad(z.T.copy(), t)\n"
        "assert np.isclose(v, w) and np.allclose(g, h.T), (v, w)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict", "torch", "jax", "dask"])
def test_narrow_unsigned_labels_with_more_classes_than_the_dtype_holds(backend: str) -> None:
    if not installed(backend):
        pytest.skip(f"backend {backend} is not installed")
    configure(backend)
    z = rng.normal(size=(3, 300))
    labels = np.array([255, 0, 7], np.uint8)
    expected = lk.softmax_cross_entropy(z, labels.astype(np.int64))
    got = lk.softmax_cross_entropy(to_backend(backend, z), to_backend(backend, labels))
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-12)
    hot = lk.one_hot(to_backend(backend, labels), 300)
    assert to_numpy(hot)[0, 255] == 1.0


def test_a_0d_binary_prediction_keeps_its_shape_on_every_path() -> None:
    for p in (np.array(0.3), xps.asarray(0.3)):
        t = np.array(1) if isinstance(p, np.ndarray) else xps.asarray(1)
        assert tuple(lk.binary_cross_entropy.grad(p, t).shape) == ()
        assert tuple(lk.binary_cross_entropy(p, t, reduction="none").shape) == ()


def test_longdouble_probabilities_take_the_core_not_a_crash() -> None:
    y = np.array([[0.2, 0.5, 0.3]], np.longdouble)
    for loss, t in ((lk.cross_entropy_error, np.array([1])), (lk.binary_cross_entropy, y > 0.3)):
        got = loss(y, t)
        assert np.isfinite(got)
        np.testing.assert_allclose(float(got), float(loss(y.astype(np.float64), t)), rtol=1e-12)


@pytest.mark.parametrize("option", ["sample_weight", "weight"])
def test_negative_weights_are_refused(option: str) -> None:
    z, t = np.array([[0.0, 3.0], [0.0, 0.0]]), np.array([0, 1])
    with pytest.raises(ValueError, match=rf"{option} must be finite and >= 0, got -1.0 at index 1"):
        lk.softmax_cross_entropy(z, t, **{option: np.array([1.0, -1.0])})


def test_python_float_targets_keep_full_precision_on_every_backend() -> None:
    torch = pytest.importorskip("torch")
    y = [0.1, 0.2, 0.7]
    expected = lk.cross_entropy_error(np.array(y), np.array(y))
    got = lk.cross_entropy_error(torch.tensor(y, dtype=torch.float64), y)
    assert abs(float(got) - float(expected)) < 1e-15
    with pytest.raises(TypeError, match="rectangular and hold numbers"):
        lk.mean_squared_error(torch.zeros(2, 2, dtype=torch.float64), [[0, 1], [1]])
    with pytest.raises(TypeError, match="rectangular and hold numbers"):
        lk.mean_squared_error(np.zeros((2, 2)), [[0, 1], [1]])


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("delta", None, "delta must be >= 0"),
        ("delta", "1e-7", "delta must be >= 0"),
        ("delta", np.array(1e-7), "delta must be >= 0"),
        ("label_smoothing", None, "label_smoothing must lie in"),
    ],
)
def test_options_of_the_wrong_kind_are_named(option: str, value: Any, words: str) -> None:
    loss = lk.cross_entropy_error if option == "delta" else lk.softmax_cross_entropy
    with pytest.raises(ValueError, match=words):
        loss(np.full((2, 3), 1 / 3), np.array([0, 1]), **{option: value})


def test_numpy_integer_axis_and_python_number_weights_are_accepted() -> None:
    z, t = rng.normal(size=(2, 3)), np.array([0, 1])
    assert lk.softmax_cross_entropy(z, t, axis=np.int64(1)) == lk.softmax_cross_entropy(z, t)
    np.testing.assert_allclose(
        lk.softmax_cross_entropy(z, t, sample_weight=2.0, reduction="sum"),
        2 * lk.softmax_cross_entropy(z, t, reduction="sum"),
    )
    with pytest.raises(TypeError, match="got None"):
        lk.softmax_cross_entropy(z, None)


def test_memory_maps_take_the_kernels(tmp_path: Path) -> None:
    np.save(tmp_path / "z.npy", rng.normal(size=(100, 10)).astype(np.float32))
    mapped = np.load(tmp_path / "z.npy", mmap_mode="r")
    t = np.arange(100) % 10
    inputs = class_inputs("logits", mapped, t, axis=-1, reduction="mean", xp=None)
    assert dispatch.takes_small_softmax_cross_entropy(inputs)
    assert lk.softmax_cross_entropy(mapped, t) == lk.softmax_cross_entropy(np.array(mapped), t)


def test_torch_narrow_unsigned_labels_are_widened_uint64_is_a_clear_error() -> None:
    torch = pytest.importorskip("torch")
    z = torch.tensor(rng.normal(size=(3, 4)))
    labels = torch.tensor([0, 3, 1])
    expected = lk.softmax_cross_entropy(z, labels)
    for dtype in (torch.uint16, torch.uint32):
        assert lk.softmax_cross_entropy(z, labels.to(dtype)) == expected
    with pytest.raises(TypeError, match="cast them to int64"):
        lk.softmax_cross_entropy(z, labels.to(torch.uint64))


def test_accuracy_checks_its_labels() -> None:
    with pytest.raises(ValueError, match="label 5 at index 1 is out of range for 3 classes"):
        lk.accuracy(np.zeros((2, 3)), np.array([1, 5]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_the_hot_label_batch_checks_give_what_the_full_checks_give(
    monkeypatch: pytest.MonkeyPatch, dtype: type, reduction: str
) -> None:
    import dataclasses

    from losskit import _validate

    z = rng.normal(size=(100, 10)).astype(dtype)
    t = rng.integers(0, 10, 100)
    for axis in (-1, 1):
        hot = _validate._plain_label_batch(z, t, axis, reduction, 0.0)
        assert hot is not None
        monkeypatch.setattr(_validate, "_plain_label_batch", lambda *args: None)
        full = class_inputs("logits", z, t, axis=axis, reduction=reduction, xp=None)
        monkeypatch.undo()
        for field in dataclasses.fields(full):
            assert getattr(hot, field.name) is getattr(full, field.name) or (
                getattr(hot, field.name) == getattr(full, field.name)
            ), field.name
    # Everything else, and every bad label, is left to the full checks (which word errors).
    for args in [
        (z, t.astype(np.int32), -1, reduction, 0.0),
        (z, t, 0, reduction, 0.0),
        (z, t, -1, reduction, 0.1),
        (z, t, -1, "avg", 0.0),
        (z, np.where(t == 3, 10, t), -1, reduction, 0.0),
        (z[:0], t[:0], -1, reduction, 0.0),
        (z.astype(np.float16), t, -1, reduction, 0.0),
    ]:
        assert _validate._plain_label_batch(*args) is None
