"""Softmax cross entropy: losskit vs NumPy the book's way vs torch.nn.functional.

Same as `losskit bench` (the code lives in losskit.benchmark so the command works
from an installed package):

    python benchmarks/bench_losses.py [--quick] [--seconds 2]
"""

from losskit.benchmark import main

if __name__ == "__main__":
    raise SystemExit(main())
