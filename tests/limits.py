"""Run the command line in a child process whose writes fail past a size, as on a full disk.

The limit is set by the child itself, not by `preexec_fn`: forking a process that has
imported JAX (as the test process has, once the JAX tests ran) makes JAX warn about fork
and multithreading, which pytest's filterwarnings=error turns into a failure.
"""

from __future__ import annotations

import subprocess
import sys

_LIMITED = (
    "import resource, signal, sys\n"
    # A write past the limit then fails with EFBIG, as a full disk fails with ENOSPC,
    # instead of killing the process with SIGXFSZ.
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
    "from losskit.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def run_with_file_size_limit(limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _LIMITED.format(limit=limit), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
