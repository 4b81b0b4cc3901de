"""The fused CPU kernels and the rule that picks them.

`dispatch` decides from types and shapes whether a NumPy call takes a kernel and runs it
on inputs that `losskit._validate` has already checked; `_numba` holds the compiled code
(imported on first use, so that ``import losskit`` stays fast). `losskit.benchmark`
measures them against the peers a user would pick instead (``losskit bench``).
"""
