"""Largest errors of losskit against the float64 reference and against PyTorch.

Runs every case of tests/test_against_reference.py on every installed backend,
in float32 and float64, and the randomized option grid of the PyTorch parity
tests; prints the worst relative error of values and gradients for each.

    python tools/error_report.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import reference as ref
from backends import ALL_BACKENDS, configure, installed, to_backend, to_numpy
from test_against_reference import CASES, _on_backend, _prepare, _reference_value


def rel_error(got: Any, expected: Any) -> float:
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    scale = np.maximum(np.abs(expected), 1.0)  # relative for big values, absolute near 0
    return float(np.max(np.abs(got - expected) / scale)) if expected.size else 0.0


def against_reference() -> None:
    print("against the float64 reference (max |got - expected| / max(|expected|, 1)):")
    print(f"  {'backend':<18}{'dtype':<9}{'value':>11}{'gradient':>11}")
    expected_cache: dict[tuple[str, str, str], tuple[Any, Any]] = {}
    for backend in ALL_BACKENDS:
        if not installed(backend):
            print(f"  {backend:<18}not installed")
            continue
        configure(backend)
        for dtype in ("float32", "float64"):
            worst_value = worst_grad = 0.0
            for case in CASES:
                for reduction in ("mean", "sum", "none"):
                    pred, t, opts = _prepare(case, dtype, seed=len(case.id))
                    key = (case.id, dtype, reduction)
                    if key not in expected_cache:
                        p64 = pred.astype(np.float64)
                        r = "sum" if reduction == "none" else reduction
                        expected_cache[key] = (
                            _reference_value(case, p64, t, opts, reduction),
                            ref.central_difference(
                                lambda p, c=case, t=t, o=opts, r=r: float(
                                    _reference_value(c, p, t, o, r)
                                ),
                                p64,
                            ),
                        )
                    value, grad = case.loss.value_and_grad(
                        to_backend(backend, pred),
                        to_backend(backend, t),
                        reduction=reduction,
                        **_on_backend(backend, opts),
                    )
                    exp_value, exp_grad = expected_cache[key]
                    worst_value = max(worst_value, rel_error(to_numpy(value), exp_value))
                    worst_grad = max(worst_grad, rel_error(to_numpy(grad), exp_grad))
            print(f"  {backend:<18}{dtype:<9}{worst_value:>11.2e}{worst_grad:>11.2e}")
    print("  (float64 gradients are compared with central differences, good to ~1e-9)")


def against_torch() -> None:
    if not installed("torch"):
        print("against PyTorch: torch not installed")
        return
    import torch

    torch.set_num_threads(1)
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    print("against torch.nn.functional (same randomized options, same dtype):")
    for dtype in ("float32", "float64"):
        worst = {"cross_entropy": [0.0, 0.0], "bce_with_logits": [0.0, 0.0]}
        for _ in range(300):
            n, c = int(rng.integers(1, 64)), int(rng.integers(2, 50))
            z = (rng.normal(size=(n, c)) * rng.uniform(0.1, 20)).astype(dtype)
            labels = rng.integers(0, c, n)
            weight = rng.uniform(0.1, 3, c).astype(dtype) if rng.random() < 0.5 else None
            eps = float(rng.choice([0.0, 0.1, 0.5]))
            reduction = str(rng.choice(["mean", "sum", "none"]))
            zt = torch.tensor(z, requires_grad=True)
            out = F.cross_entropy(
                zt,
                torch.tensor(labels),
                label_smoothing=eps,
                weight=None if weight is None else torch.tensor(weight),
                reduction=reduction,
            )
            out.sum().backward()
            assert zt.grad is not None
            v, g = __import__("losskit").softmax_cross_entropy.value_and_grad(
                z, labels, weight=weight, label_smoothing=eps, reduction=reduction
            )
            worst["cross_entropy"][0] = max(
                worst["cross_entropy"][0], rel_error(v, out.detach().numpy())
            )
            worst["cross_entropy"][1] = max(
                worst["cross_entropy"][1], rel_error(g, zt.grad.numpy())
            )
            x = z[:, :1] * 3
            tb = rng.random(x.shape).astype(dtype)
            xt = torch.tensor(x, requires_grad=True)
            out = F.binary_cross_entropy_with_logits(xt, torch.tensor(tb), reduction=reduction)
            out.sum().backward()
            assert xt.grad is not None
            v, g = __import__("losskit").sigmoid_binary_cross_entropy.value_and_grad(
                x, tb, reduction=reduction
            )
            worst["bce_with_logits"][0] = max(
                worst["bce_with_logits"][0], rel_error(v, out.detach().numpy())
            )
            worst["bce_with_logits"][1] = max(
                worst["bce_with_logits"][1], rel_error(g, xt.grad.numpy())
            )
        for name, (wv, wg) in worst.items():
            print(f"  {name:<18}{dtype:<9}value {wv:.2e}  gradient {wg:.2e}")


if __name__ == "__main__":
    against_reference()
    against_torch()
