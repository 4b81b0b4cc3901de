"""The losses timed against the book's NumPy code and the peers: the same as `losskit bench`
(the code lives in losskit.benchmark so that the command works from an installed package).

    python benchmarks/bench_losses.py [--quick] [--shape 4096x32000] [--seconds 2] [--json]
"""

import sys

from losskit.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", *sys.argv[1:]]))
