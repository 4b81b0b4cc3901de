"""The numbers of Deep Learning from Scratch, ch. 4.2, computed by losskit.

Run:  python examples/chapter_4_2.py
"""

from __future__ import annotations

import numpy as np

import losskit as lk

t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=np.float64)  # one-hot: the answer is "2"
y_right = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])  # "2" most likely
y_wrong = np.array([0.1, 0.05, 0.0, 0.0, 0.05, 0.1, 0.6, 0.1, 0.0, 0.0])  # "6" most likely

print("4.2.1 mean squared error  E = 1/2 Σ (y_k - t_k)²")
print(f"  confident and right: {float(lk.mean_squared_error(y_right, t)):.4f}   (book: 0.0975)")
print(f"  confident and wrong: {float(lk.mean_squared_error(y_wrong, t)):.4f}   (0.6975)")

print("4.2.2 cross-entropy error  E = -Σ t_k log(y_k + δ), δ = 1e-7")
print(f"  confident and right: {float(lk.cross_entropy_error(y_right, t))!r}")
print(
    f"  zero probability at the answer: {float(lk.cross_entropy_error(y_wrong, t))!r}"
    "  (= -log 1e-7, finite thanks to δ)"
)

print("4.2.3 mini-batch: the mean over N does not depend on N")
batch_y, batch_t = np.tile(y_right, (100, 1)), np.tile(t, (100, 1))
print(f"  100 copies, mean: {float(lk.cross_entropy_error(batch_y, batch_t))!r}")
print(
    f"  labels instead of one-hot rows: {float(lk.cross_entropy_error(batch_y, np.full(100, 2)))!r}"
)

print("4.2.5 why a loss: its gradient is never flat where accuracy's is")
logits = np.array([[2.0, 1.0, 0.1]])
loss, grad = lk.softmax_cross_entropy.value_and_grad(logits, np.array([0]))
print(f"  softmax cross entropy {float(loss):.4f}, gradient {np.round(grad, 4).tolist()}")
flat = lk.numerical_gradient(lambda z: lk.accuracy(z, np.array([0])), logits)
print(
    f"  accuracy {float(lk.accuracy(logits, np.array([0])))}, numerical gradient "
    f"{flat.tolist()}: nudging a logit by 1e-4 changes nothing"
)
