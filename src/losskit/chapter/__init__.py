"""The book's experiment, built on the library: the two-layer network, mini-batch training,
the explanation experiments, the tour and its figures.

Nothing in the library layer (`losskit`, `losskit.kernels`, `losskit.datasets`, ...) imports
from here; the command line (`losskit.cli`) does.
"""
