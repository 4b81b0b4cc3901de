"""Running the chunks: Dask's threads locally, or a `dask.distributed` cluster.

Chunks go in waves of two per thread, in row order: only a wave's results are in
memory at a time (each sample's loss, with `output`), and a compressed `.npz` member
is inflated about once, not once per chunk read out of order.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import socket
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import numpy as np

from losskit._array import optional_module
from losskit.scoring._arrays import ArrayFile, RawRows
from losskit.scoring._npz import crc32_combine

CONNECT_TIMEOUT_S = 10.0  # to reach a scheduler, and for it to answer

# (sum, count, each sample's loss or None) of one chunk.
Part = tuple[float, float, Any]


class _Result(NamedTuple):
    total: float
    divisor: float  # what "mean" divides by: N, or the counted samples' summed weight
    values: Any  # each sample's loss, or None
    crcs: tuple[int | None, int | None]  # of the raw rows, for stored .npz members


@dataclass(frozen=True)
class _BadChunk:
    message: str


def _crc(f: ArrayFile, raw: np.ndarray[Any, Any]) -> int | None:
    if isinstance(f.layout, RawRows) and f.layout.crc is not None:
        return zlib.crc32(raw.data)  # a fresh, C-contiguous buffer
    return None


def chunk(
    loss: Any,
    pred: ArrayFile,
    target: ArrayFile,
    start: int,
    stop: int,
    options: dict[str, Any],
    per_sample: bool = False,
) -> _Result | _BadChunk:
    """(sum, count) of rows [start, stop) in float64, and each sample's loss when asked
    for. Bad input is returned, not raised, so that the caller can report the first bad
    row of the file whichever thread or worker finished first."""
    raw_y, raw_t = pred.read_rows(start, stop), target.read_rows(start, stop)
    crcs = (_crc(pred, raw_y), _crc(target, raw_t))
    y = raw_y.astype(np.float64, copy=False)
    native = np.float64 if raw_t.dtype.kind == "f" else raw_t.dtype.newbyteorder("=")
    t = raw_t.astype(native, copy=False)
    try:
        if not per_sample:
            total, count = loss.sum_and_count(y, t, **options)
            return _Result(float(total), float(count), None, crcs)
        values, count = loss.per_sample_and_count(y, t, **options)
    except ValueError as exc:
        return _BadChunk(_locate(str(exc), start, pred, target))
    values = np.asarray(values)
    return _Result(float(np.sum(values, dtype=np.float64)), float(count), values, crcs)


def _locate(message: str, start: int, pred: ArrayFile, target: ArrayFile) -> str:
    """Turn a chunk-relative "at index i" into the row of the file, and name the files."""

    def shift(match: re.Match[str]) -> str:
        inner = match.group(1)
        first, _, rest = inner.strip("()").partition(",")
        row = start + int(first)
        return f"in row {row}" + (f" (index ({row},{rest}))" if rest else "")

    message = re.sub(r"at index (\(?-?\d+(?:, -?\d+)*\)?)", shift, message)
    return f"{message} [predictions {pred.name}, targets {target.name}]"


def _in_row_order(results: Sequence[_Result | _BadChunk]) -> list[_Result]:
    """A wave's results, with its earliest chunk's error raised before any is used."""
    good = []
    for result in results:
        if isinstance(result, _BadChunk):
            raise ValueError(result.message)
        good.append(result)
    return good


class _Checksum:
    """A stored .npz member's CRC-32, put together from its chunks' in row order: the
    archive's own check that the bytes scored are the bytes that were saved."""

    def __init__(self, f: ArrayFile) -> None:
        self.file = f
        self.crc = f.layout.crc if isinstance(f.layout, RawRows) else None
        self.value = self.crc[0] if self.crc else 0
        self.row_bytes = math.prod(f.shape[1:]) * f.dtype.itemsize

    def add(self, crc: int | None, rows: int) -> None:
        if self.crc is not None and crc is not None:
            self.value = crc32_combine(self.value, crc, rows * self.row_bytes)

    def verify(self) -> None:
        if self.crc is not None and self.value != self.crc[1]:
            raise ValueError(f"{self.file.name}: corrupt data (its CRC-32 does not match)")


def _waves(bounds: Sequence[tuple[int, int]], threads: int) -> Iterator[Sequence[tuple[int, int]]]:
    size = 2 * max(1, threads)
    for start in range(0, len(bounds), size):
        yield bounds[start : start + size]


def parts(
    loss: Any,
    pred: ArrayFile,
    target: ArrayFile,
    bounds: Sequence[tuple[int, int]],
    options: dict[str, Any],
    scheduler: str | None,
    *,
    per_sample: bool,
) -> Iterator[Part]:
    """Each chunk's part, in row order; checksums are checked after the last one."""
    checks = (_Checksum(pred), _Checksum(target))
    args = (loss, pred, target, bounds, options, scheduler, per_sample)
    for wave, results in _computed(*args):
        for (a, b), result in zip(wave, _in_row_order(results), strict=True):
            for check, crc in zip(checks, result.crcs, strict=True):
                check.add(crc, b - a)
            yield result.total, result.divisor, result.values
    for check in checks:
        check.verify()


def _computed(
    loss: Any,
    pred: ArrayFile,
    target: ArrayFile,
    bounds: Sequence[tuple[int, int]],
    options: dict[str, Any],
    scheduler: str | None,
    per_sample: bool,
) -> Iterator[tuple[Sequence[tuple[int, int]], Sequence[_Result | _BadChunk]]]:
    """(wave, its results), wave after wave."""
    if len(bounds) == 1 and scheduler is None:
        yield bounds, [chunk(loss, pred, target, *bounds[0], options, per_sample)]
        return
    delayed = optional_module("dask.delayed").delayed

    def tasks(wave: Sequence[tuple[int, int]]) -> list[Any]:
        return [delayed(chunk)(loss, pred, target, a, b, options, per_sample) for a, b in wave]

    if scheduler is None:
        compute = optional_module("dask.base").compute
        for wave in _waves(bounds, os.cpu_count() or 1):
            yield wave, compute(*tasks(wave), scheduler="threads")
        return
    with _client(scheduler) as client:
        threads = sum(client.nthreads().values())
        if not threads:  # the chunks would wait for a worker forever
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except TimeoutError:
                raise TimeoutError(
                    f"the Dask scheduler at {scheduler} has no workers (waited "
                    f"{CONNECT_TIMEOUT_S:g} s)"
                ) from None
            threads = sum(client.nthreads().values())
        for wave in _waves(bounds, threads):
            yield wave, _gather(client, tasks(wave), scheduler)


def _gather(client: Any, tasks: list[Any], address: str) -> Any:
    killed = optional_module("distributed").KilledWorker
    try:
        return client.compute(tasks, sync=True)
    except killed as exc:
        raise ConnectionError(f"the Dask cluster at {address} lost its workers ({exc})") from None


@contextlib.contextmanager
def _client(address: str) -> Iterator[Any]:
    """A client of the scheduler at `address`, or a one-line error within the timeout."""
    client_type = optional_module("dask.distributed").Client
    _probe(address)
    try:
        client = client_type(address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
    except ValueError as exc:
        raise ValueError(f"--scheduler {address!r}: {exc}") from None
    except MemoryError:  # distributed read a length from bytes of something else
        raise ConnectionError(
            f"--scheduler {address}: the server there does not speak Dask's protocol"
        ) from None
    except OSError as exc:  # distributed's own timeout, once the address answered
        raise TimeoutError(
            f"the Dask scheduler at {address} did not answer within {CONNECT_TIMEOUT_S:g} s ({exc})"
        ) from None
    with client:
        yield client


def _probe(address: str) -> None:
    """For tcp:// (the default scheme): is something there, and does it speak first, as a
    Dask scheduler does? distributed itself would wait 30 s, then leave a client behind
    that takes seconds more to close."""
    try:
        parts = urlsplit(address if "://" in address else f"tcp://{address}")
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError(f"--scheduler {address!r}: {exc}") from None
    if parts.scheme != "tcp":
        # tls://, ws://, ... need settings this command has no options for, and a client
        # that fails on them waits its whole timeout, then prints a traceback as it dies.
        raise ValueError(
            f"--scheduler {address!r}: expected tcp://HOST:PORT (scheme {parts.scheme!r} "
            "is not supported here)"
        )
    if not host or port is None:
        raise ValueError(f"--scheduler {address!r}: expected tcp://HOST:PORT")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S) as s:
            first = s.recv(1, socket.MSG_PEEK)
    except TimeoutError:
        raise TimeoutError(
            f"the Dask scheduler at {address} did not answer within {CONNECT_TIMEOUT_S:g} s"
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConnectionError(f"cannot reach the Dask scheduler at {address}: {reason}") from None
    if not first:
        raise ConnectionError(f"the Dask scheduler at {address} closed the connection at once")
