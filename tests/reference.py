"""Slow float64 references, written the way the formulas read, one loop per sum.

They know nothing of losskit's internals (no coefficient matrices, no
log-sum-exp helpers shared with the library): an independent oracle. Inputs
are NumPy arrays with the class axis last; outputs are per-sample float64
values and, for label targets, the per-sample weight that PyTorch's "mean"
divides by.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

Arr = np.ndarray[Any, Any]


def rows(a: Arr, classes: int) -> Arr:
    return np.asarray(a, dtype=np.float64).reshape(-1, classes)


def mean_squared_error(y: Arr, t: Arr) -> Arr:
    """E = 1/2 Σ_k (y_k − t_k)², per sample; t one-hot or real."""
    c = y.shape[-1]
    out = []
    for yn, tn in zip(rows(y, c), rows(t, c), strict=True):
        out.append(0.5 * sum((yk - tk) ** 2 for yk, tk in zip(yn, tn, strict=True)))
    return np.array(out).reshape(y.shape[:-1])


def cross_entropy_error(y: Arr, t: Arr, delta: float, weight: Arr | None = None) -> Arr:
    """E = −Σ_k w_k t_k log(y_k + δ), a term with t_k = 0 contributing 0."""
    c = y.shape[-1]
    w = np.ones(c) if weight is None else np.asarray(weight, np.float64)
    out = []
    for yn, tn in zip(rows(y, c), rows(t, c), strict=True):
        total = 0.0
        for k in range(c):
            if tn[k] != 0:
                total -= w[k] * tn[k] * math.log(yn[k] + delta)
        out.append(total)
    return np.array(out).reshape(y.shape[:-1])


def _log_softmax(zn: Arr) -> list[float]:
    m = max(zn)
    lse = m + math.log(sum(math.exp(zk - m) for zk in zn))
    return [zk - lse for zk in zn]


def softmax_cross_entropy_labels(
    z: Arr, labels: Arr, *, weight: Arr | None, ignore_index: int | None, eps: float
) -> tuple[Arr, Arr]:
    """PyTorch's documented formula for class-index targets, with label smoothing:
    loss_n = (1−ε)·(−w_{y_n} log p_{n,y_n}) + ε/C·Σ_k (−w_k log p_{n,k}); ignored → 0.
    Returns (per-sample loss, per-sample weight w_{y_n} or 0 if ignored)."""
    c = z.shape[-1]
    w = np.ones(c) if weight is None else np.asarray(weight, np.float64)
    losses, weights = [], []
    for zn, yn in zip(rows(z, c), np.asarray(labels).reshape(-1), strict=True):
        if ignore_index is not None and yn == ignore_index:
            losses.append(0.0)
            weights.append(0.0)
            continue
        logp = _log_softmax(zn)
        nll = -w[yn] * logp[yn]
        smooth = -sum(w[k] * logp[k] for k in range(c))
        losses.append((1 - eps) * nll + eps / c * smooth)
        weights.append(w[yn])
    shape = z.shape[:-1]
    return np.array(losses).reshape(shape), np.array(weights).reshape(shape)


def softmax_cross_entropy_distribution(z: Arr, t: Arr, *, weight: Arr | None, eps: float) -> Arr:
    """loss_n = −Σ_k w_k q_k log p_{n,k} with q = (1−ε)t + ε/C."""
    c = z.shape[-1]
    w = np.ones(c) if weight is None else np.asarray(weight, np.float64)
    out = []
    for zn, tn in zip(rows(z, c), rows(t, c), strict=True):
        logp = _log_softmax(zn)
        total = 0.0
        for k in range(c):
            q = (1 - eps) * tn[k] + eps / c
            if q != 0:
                total -= w[k] * q * logp[k]
        out.append(total)
    return np.array(out).reshape(z.shape[:-1])


def binary_cross_entropy(p: Arr, t: Arr, delta: float, pos_weight: Arr | None = None) -> Arr:
    """E = −[w₊ t log(p + δ) + (1 − t) log(1 − p + δ)] per element."""
    pw = np.broadcast_to(1.0 if pos_weight is None else pos_weight, p.shape).reshape(-1)
    out = []
    for pn, tn, wn in zip(p.reshape(-1), np.asarray(t, np.float64).reshape(-1), pw, strict=True):
        e = 0.0
        if tn != 0:
            e -= wn * tn * math.log(pn + delta)
        if tn != 1:
            e -= (1 - tn) * math.log(1 - pn + delta)
        out.append(e)
    return np.array(out).reshape(p.shape)


def sigmoid_binary_cross_entropy(x: Arr, t: Arr, pos_weight: Arr | None = None) -> Arr:
    """E = −[w₊ t log σ(x) + (1 − t) log(1 − σ(x))], with log σ(x) = −log(1 + e^{−x})."""

    def log_sigmoid(v: float) -> float:
        return -math.log1p(math.exp(-v)) if v >= 0 else v - math.log1p(math.exp(v))

    pw = np.broadcast_to(1.0 if pos_weight is None else pos_weight, x.shape).reshape(-1)
    out = []
    for xn, tn, wn in zip(x.reshape(-1), np.asarray(t, np.float64).reshape(-1), pw, strict=True):
        out.append(-(wn * tn * log_sigmoid(xn) + (1 - tn) * log_sigmoid(-xn)))
    return np.array(out).reshape(x.shape)


def reduce(per_sample: Arr, reduction: str, sample_weight: Arr | None = None) -> Arr:
    if reduction == "none":
        return per_sample
    total = float(np.sum(per_sample))
    if reduction == "sum":
        return np.array(total)
    denominator = per_sample.size if sample_weight is None else float(np.sum(sample_weight))
    return np.array(total / denominator if denominator else 0.0)


def central_difference(f: Callable[[Arr], float], x: Arr, h: float = 1e-6) -> Arr:
    """Float64 central differences of a scalar function, independent of losskit's own."""
    x = np.asarray(x, np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad
