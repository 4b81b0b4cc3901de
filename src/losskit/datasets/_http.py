"""One file over HTTP(S), as a hostile or broken mirror would send it.

A per-read socket timeout does not bound a download: a server that sends one byte a
second never trips it. So each file has an overall deadline, enforced by shutting the
socket down from a timer thread (that wakes a blocked read at once), and a size cap, so
an endless body stops there. A redirect to another host, an HTML page (a captive portal,
an error page) and anything that does not start like a gzip file are refused by URL.

`stream` raises only ValueError (the server sent something that is not the file),
TimeoutError (the deadline) or ConnectionError (the network, an HTTP error), each with
a message that starts with the URL.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Generator
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlsplit

__all__ = ["stream"]

_GZIP_MAGIC = b"\x1f\x8b"


class _Deadline:
    """Shuts down every socket opened for one file once `seconds` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for a TLS socket: it wakes a read blocked in
    # another thread, where close() would not.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watched(deadline: _Deadline) -> Callable[..., socket.socket]:
    """socket.create_connection that hands each new socket to the deadline at once, so a
    proxy that drips its answer to CONNECT is cut off too."""

    def create(*args: Any, **kwargs: Any) -> socket.socket:
        sock = socket.create_connection(*args, **kwargs)
        deadline.watch(sock)
        return sock

    return create


class _WatchedHTTP(http.client.HTTPConnection):
    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _watched(deadline)


class _WatchedHTTPS(http.client.HTTPSConnection):
    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _watched(deadline)
        self._deadline = deadline

    def connect(self) -> None:
        # The handshake is bounded by the socket timeout (CPython gives it one deadline);
        # TLS then moves the file descriptor into a new socket object: watch that one too.
        super().connect()
        self._deadline.watch(self.sock)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_WatchedHTTP, deadline=self._deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_WatchedHTTPS, deadline=self._deadline), req)


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only on the same scheme, host and port: a mirror that sends us
    elsewhere is not the mirror the user chose."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        old, new = urlsplit(req.full_url), urlsplit(newurl)
        if (new.scheme, new.netloc) != (old.scheme, old.netloc):
            fp.close()
            raise ValueError(
                f"{req.full_url}: redirected ({code}) to {newurl}: expected the file from "
                "this host; a redirect to another host is refused"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def stream(url: str, *, size: int, cap: int, timeout: float) -> Generator[bytes, None, None]:
    """The file at `url` block by block: `size` bytes expected, `cap` at most, all within
    `timeout` seconds from connecting to the last byte. Close it (contextlib.closing) to
    hang up early; errors in the caller's own writes are the caller's (never reworded)."""
    with _Deadline(timeout) as deadline:
        try:
            yield from _blocks(url, size, cap, deadline)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()
            reason = getattr(exc, "reason", exc)
            if deadline.expired or isinstance(reason, TimeoutError):
                raise TimeoutError(
                    f"{url}: the file did not arrive within {timeout:g} s "
                    "(the deadline for one file, connection included)"
                ) from None
            if isinstance(exc, ValueError):
                raise
            raise ConnectionError(f"{url}: {exc}") from None


def _blocks(url: str, size: int, cap: int, deadline: _Deadline) -> Generator[bytes, None, None]:
    opener = urllib.request.build_opener(
        _HTTPHandler(deadline), _HTTPSHandler(deadline), _SameHostRedirects()
    )
    with opener.open(url, timeout=deadline.seconds) as response:
        _check_headers(url, response.headers, size)
        done, head = 0, b""
        while block := response.read(1 << 16):
            if len(head) < 2:
                head = (head + block)[:2]
                if url.endswith(".gz") and not _GZIP_MAGIC.startswith(head):
                    raise ValueError(f"{url}: not a gzip file: it starts with {block[:16]!r}")
            if done + len(block) > cap:
                raise ValueError(f"{url}: more than {cap} bytes for a file of {size}: stopped")
            done += len(block)
            yield block
    if done != size:
        raise ValueError(f"{url}: the transfer ended after {done} bytes, expected {size}")


def _check_headers(url: str, headers: Any, size: int) -> None:
    if headers.get_content_type() == "text/html":
        raise ValueError(
            f"{url}: the server sent an HTML page (Content-Type {headers.get('Content-Type')}), "
            "expected the file itself"
        )
    total = headers.get("Content-Length")
    if total is not None and (not total.isdigit() or int(total) != size):
        raise ValueError(f"{url}: the server announces {total} bytes, expected {size}")
