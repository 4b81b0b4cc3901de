"""Build the MNIST sample bundled in the package from the genuine IDX files.

    python tools/build_sample.py ../shared/data/mnist

Takes the first 10,000 training and the first 2,000 test images (and labels), in
their original order, and writes them as gzip IDX files into
src/losskit/datasets/sample/.
"""

from __future__ import annotations

import sys
from pathlib import Path

from losskit.datasets.idx import read_idx, write_idx

TRAIN, TEST = 10_000, 2_000


def main(source: Path) -> None:
    out = Path(__file__).resolve().parent.parent / "src" / "losskit" / "datasets" / "sample"
    for split, n in (("train", TRAIN), ("t10k", TEST)):
        for kind, suffix in (("images", "idx3"), ("labels", "idx1")):
            name = f"{split}-{kind}-{suffix}-ubyte.gz"
            write_idx(out / name, read_idx(source / name)[:n])
            print(f"{out / name}: {(out / name).stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mnist"))
