"""Data sets against an attacker and an unlucky user: a hostile mirror, a gzip bomb, lying
IDX headers, labels outside the classes and pixels that are not pixels.

Every case must end in a clear error that names the URL or the file, and leave nothing
unverified where the loader reads. Nothing here needs the internet or ../shared/data: the
hostile server on 127.0.0.1 makes up its answers, and the IDX files are made here.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import shutil
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from losskit.cli import main
from losskit.datasets import download, load_dataset, read_idx, sample_dir, sources, write_idx

# The published sizes of MNIST's .gz files (also in the table in sources.py).
SIZES = {
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
}
GIVE_UP_S = 40  # a dripping answer ends by itself after this, so an unfixed client cannot hang
ENDLESS_LIMIT = 64 << 20  # the "endless" body stops here, so an unfixed client cannot fill the disk
sent: dict[str, int] = {}  # bytes of body each mode has sent, to check where the client stopped


class _Hostile(http.server.BaseHTTPRequestHandler):
    """/<mode>/<file name>: every way a mirror can lie or stall."""

    def do_GET(self) -> None:
        mode, _, name = self.path.strip("/").partition("/")
        size = SIZES.get(name)
        if size is None or not hasattr(self, f"_{mode}"):
            self.send_error(404)
            return
        getattr(self, f"_{mode}")(name, size)

    def _head(self, length: int | None, content_type: str = "application/octet-stream") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send(self, mode: str, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client hung up: what it should do
            return False
        sent[mode] = sent.get(mode, 0) + len(data)
        return True

    def _endless(self, name: str, size: int) -> None:
        self._head(None)  # no Content-Length: the body ends when the server closes
        block = b"\x1f\x8b" + bytes((1 << 16) - 2)
        while sent.get("endless", 0) < ENDLESS_LIMIT and self._send("endless", block):
            pass

    def _huge(self, name: str, size: int) -> None:
        self._head(10**12)  # announces a terabyte
        self._send("huge", b"\x1f\x8b" + bytes(1 << 16))

    def _drip(self, name: str, size: int) -> None:
        self._head(size)  # 1 byte a second, each well within any per-read timeout
        start, body = time.monotonic(), b"\x1f\x8b" + bytes(size - 2)
        for i in range(size):
            if time.monotonic() - start > GIVE_UP_S or not self._send("drip", body[i : i + 1]):
                return
            time.sleep(1.0)

    def _dripheaders(self, name: str, size: int) -> None:
        start = time.monotonic()
        for byte in b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n" * 10:
            if time.monotonic() - start > GIVE_UP_S or not self._send("dripheaders", bytes([byte])):
                return
            time.sleep(1.0)

    def _html(self, name: str, size: int) -> None:
        page = b"<!DOCTYPE html><html><body>Please log in to the hotel Wi-Fi</body></html>"
        self._head(len(page), "text/html; charset=utf-8")
        self._send("html", page)

    def _htmlbinary(self, name: str, size: int) -> None:
        page = b"<!DOCTYPE html><html><body>Not found</body></html>"
        self._head(None)  # an HTML page that claims to be a binary file
        self._send("htmlbinary", page)

    def _redirect(self, name: str, size: int) -> None:
        self.send_response(302)
        self.send_header("Location", f"http://evil.example:{self.server.server_address[1]}/{name}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _wronghash(self, name: str, size: int) -> None:
        self._head(size)  # the right size, the wrong bytes
        self._send("wronghash", b"\x1f\x8b" + bytes(size - 2))

    def _truncated(self, name: str, size: int) -> None:
        self._head(None)  # no Content-Length: a short body looks complete to HTTP
        self._send("truncated", b"\x1f\x8b" + bytes(size // 2))

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _contents(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


URL = "/train-images-idx3-ubyte.gz"


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("endless", r"more than \d+ bytes"),
        ("huge", "announces 1000000000000 bytes"),
        ("html", "HTML page"),
        ("htmlbinary", "not a gzip file"),
        ("redirect", "redirected .*evil.example"),
        ("wronghash", "SHA-256 mismatch"),
        ("truncated", "SHA-256 mismatch|bytes"),
    ],
)
def test_a_hostile_mirror_is_an_error_naming_the_url(
    hostile: str, tmp_path: Path, mode: str, message: str
) -> None:
    url = f"{hostile}/{mode}{URL}"
    with pytest.raises(ConnectionError, match=message) as caught:
        download("mnist", folder=tmp_path, mirrors=[f"{hostile}/{mode}/"], timeout=20)
    assert url in str(caught.value) and "\n" not in str(caught.value)
    assert _contents(tmp_path) == []  # nothing unverified, not even a .part file


def test_an_endless_stream_stops_at_the_cap(hostile: str, tmp_path: Path) -> None:
    sent.pop("endless", None)
    with pytest.raises(ConnectionError, match="more than"):
        download("mnist", folder=tmp_path, mirrors=[f"{hostile}/endless/"], timeout=20)
    # The client hung up at the cap (the server may have a few socket buffers in flight).
    assert sent["endless"] < SIZES["train-images-idx3-ubyte.gz"] + (16 << 20)


@pytest.mark.parametrize("mode", ["drip", "dripheaders"])
def test_a_dripping_server_meets_the_deadline(hostile: str, tmp_path: Path, mode: str) -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=f"{hostile}/{mode}{URL}.*2 s"):
        download("mnist", folder=tmp_path, mirrors=[f"{hostile}/{mode}/"], timeout=2)
    assert time.monotonic() - start < GIVE_UP_S / 2  # a hang bound, not a timing test
    assert _contents(tmp_path) == []


def test_cli_download_against_a_dripping_server(
    hostile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = time.monotonic()
    args = ["data", "download", "mnist", "--data-dir", str(tmp_path)]
    assert main([*args, "--mirror", f"{hostile}/drip/", "--timeout", "2"]) == 1
    assert time.monotonic() - start < GIVE_UP_S / 2
    err = capsys.readouterr().err
    assert err.startswith("losskit: error: ") and err.count("\n") == 1
    assert f"{hostile}/drip{URL}" in err
    assert _contents(tmp_path) == []


# ---- IDX files: a gzip bomb, lying headers, labels and pixels that cannot be right ----------


def _idx(code: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


def _bomb(path: Path, declared: int, present: int) -> None:
    """A gzip file whose header declares `declared` bytes of images and holds `present`
    zero bytes, compressed about a thousand to one."""
    rows = declared // 784
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip container
    with open(path, "wb") as f:
        f.write(packer.compress(_idx(0x08, (rows, 28, 28), b"")))
        block = bytes(1 << 20)
        for _ in range(present >> 20):
            f.write(packer.compress(block))
        f.write(packer.compress(bytes(present % (1 << 20))))
        f.write(packer.flush())


_PEAK = """
import json, sys
from losskit.datasets import load_dataset, read_idx
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
before = hwm()
try:
    if sys.argv[1] == "read_idx":
        read_idx(sys.argv[2])
    else:
        load_dataset("mnist", data_dir=sys.argv[2])
    error = ""
except ValueError as exc:
    error = str(exc)
print(json.dumps({"before": before, "after": hwm(), "error": error}))
"""


def _peak(how: str, where: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, how, str(where)], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_a_gzip_bomb_costs_its_declared_size_and_no_more(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.idx.gz"
    declared = 293_000 * 784  # 230 MB: what 224 KB of deflate can hold
    _bomb(bomb, declared, present=declared)
    assert bomb.stat().st_size < 240_000
    peak = _peak("read_idx", bomb)
    assert peak["error"] == ""  # a valid file, just a big one: 230 MB of zero images
    grown = int(peak["after"]) - int(peak["before"])  # type: ignore[call-overload]
    assert grown < declared + (16 << 20), f"peak grew by {grown} bytes for {declared} declared"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_a_gzip_bomb_under_a_known_name_is_refused_before_decompression(tmp_path: Path) -> None:
    _bomb(tmp_path / "train-images-idx3-ubyte.gz", 47_040_016, present=47_040_000)
    peak = _peak("load_dataset", tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(peak["error"])
    assert "SHA-256" in str(peak["error"]) or "bytes" in str(peak["error"])
    grown = int(peak["after"]) - int(peak["before"])  # type: ignore[call-overload]
    assert grown < 16 << 20


def test_decompression_stops_at_the_declared_size(tmp_path: Path) -> None:
    # The header declares 784 bytes; 50 MB of zeros follow. Only a little is decompressed.
    path = tmp_path / "long.gz"
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        f.write(packer.compress(_idx(0x08, (1, 28, 28), bytes(784))))
        for _ in range(50):
            f.write(packer.compress(bytes(1 << 20)))
        f.write(packer.flush())
    with pytest.raises(ValueError, match=r"long\.gz: trailing bytes"):
        read_idx(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x02\x08\x01" + bytes(8), "not an IDX file"),
        (_idx(0x08, (10, 28, 28), bytes(100)), "truncated"),
        (_idx(0x08, (60_000, 28, 28), bytes(784)), "truncated"),  # the header claims more
        (_idx(0x08, (2**31, 2**31), b""), "more than max_bytes"),
        (b"\x1f\x8b" + bytes(30), "corrupt"),  # a broken gzip stream
    ],
)
def test_malformed_idx_is_a_value_error_naming_the_file(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "some dir" / "x.idx"
    path.parent.mkdir()
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message) as caught:
        read_idx(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_idx_file_is_an_os_error(tmp_path: Path) -> None:
    path = tmp_path / "x.idx"
    write_idx(path, np.zeros(3, np.uint8))
    path.chmod(0)
    with pytest.raises(PermissionError, match=r"x\.idx"):
        read_idx(path)


def _data_set(folder: Path, images: np.ndarray, labels: np.ndarray) -> sources.DataSource:
    """Write a small data set with MNIST's file names, and a table that knows its hashes
    (so the check that follows the SHA-256 one is what the test reaches)."""
    from losskit.datasets.sources import DataSource, KnownFile

    files = {}
    for split in ("train", "t10k"):
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{split}-{kind}-ubyte.gz"
            write_idx(folder / name, array)
            raw = gzip.decompress((folder / name).read_bytes())
            files[name] = KnownFile(
                hashlib.sha256((folder / name).read_bytes()).hexdigest(),
                (folder / name).stat().st_size,
            )
            files[name[:-3]] = KnownFile(hashlib.sha256(raw).hexdigest(), len(raw))
    return DataSource("mnist", "a test set", files, (), "")


@pytest.mark.parametrize(
    ("labels", "bad"),
    [
        (np.array([0, 200, 3, 4], np.uint8), "label 200 at index 1"),
        (np.array([0, 1, 2, 10], np.uint8), "label 10 at index 3"),
        (np.array([0, 1, -1, 2], np.int8), "label -1 at index 2"),
        (np.array([0.0, 1.0, 2.0, 3.0], np.float32), "integer labels"),
    ],
)
def test_labels_outside_the_classes_are_refused_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, labels: np.ndarray, bad: str
) -> None:
    table = _data_set(tmp_path, np.zeros((4, 28, 28), np.uint8), labels)
    monkeypatch.setitem(sources.KNOWN, "mnist", table)
    with pytest.raises(ValueError, match=bad) as caught:
        load_dataset("mnist", data_dir=tmp_path)
    assert str(tmp_path / "train-labels-idx1-ubyte.gz") in str(caught.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_images_that_are_not_bytes_are_refused_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dtype: type
) -> None:
    # IDX can hold floats (type 0x0D, 0x0E), and so NaN; MNIST's pixels are bytes (0x08).
    images = np.zeros((4, 28, 28), dtype)
    if np.dtype(dtype).kind == "f":
        images[2, 3, 4] = np.nan
    table = _data_set(tmp_path, images, np.arange(4, dtype=np.uint8))
    monkeypatch.setitem(sources.KNOWN, "mnist", table)
    with pytest.raises(ValueError, match="expected uint8 pixels") as caught:
        load_dataset("mnist", data_dir=tmp_path)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in str(caught.value)


def test_a_header_over_the_known_size_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = _data_set(tmp_path, np.zeros((4, 28, 28), np.uint8), np.arange(4, dtype=np.uint8))
    # The table says the decompressed labels file is smaller than its header declares.
    small = dict(table.files)
    small["train-labels-idx1-ubyte.gz"] = table.files["train-labels-idx1-ubyte.gz"]
    small["train-labels-idx1-ubyte"] = sources.KnownFile("0" * 64, 3)
    monkeypatch.setitem(sources.KNOWN, "mnist", sources.DataSource("mnist", "t", small, (), ""))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz.*more than max_bytes=3"):
        load_dataset("mnist", data_dir=tmp_path)


def test_the_bundled_sample_is_checked_by_its_own_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import losskit.datasets

    assert set(sources.verify("sample", sample_dir()).values()) == {"ok"}
    for f in sample_dir().glob("*.gz"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    good = labels.read_bytes()
    # Same length, one label changed inside a valid gzip stream: only the hash tells.
    raw = bytearray(gzip.decompress(good))
    raw[8] = (raw[8] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(raw), mtime=0))
    monkeypatch.setattr(losskit.datasets, "sample_dir", lambda: tmp_path)
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz.*SHA-256.*reinstall"):
        load_dataset("sample")


# ---- HTTPS: the real mirrors' scheme; a TLS handshake that drips meets the deadline too ----


class _DripTLS(socketserver.BaseRequestHandler):
    """Answers a TLS ClientHello with a record header announcing 16 KB, then 1 byte a second."""

    def handle(self) -> None:
        start = time.monotonic()
        try:
            self.request.sendall(b"\x16\x03\x03\x40\x00")
            while time.monotonic() - start < GIVE_UP_S:
                self.request.sendall(b"\x02")
                time.sleep(1.0)
        except OSError:
            return


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(https URL of the hostile server, https URL of the dripping handshake, its cert)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subprocess.run(
        [*command, *subject, *files],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    drip = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _DripTLS)
    drip.daemon_threads = True
    for server in (httpd, drip):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield (
        f"https://127.0.0.1:{httpd.server_address[1]}",
        f"https://127.0.0.1:{drip.server_address[1]}",
        cert,
    )
    for server in (httpd, drip):
        server.shutdown()
        server.server_close()


def test_https_transfers_and_checks_the_file(
    tls: tuple[str, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _, cert = tls
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test's own certificate
    # The whole file arrives over TLS; only then does the hash refuse it.
    with pytest.raises(ConnectionError, match=f"{server}/wronghash{URL}: SHA-256 mismatch"):
        download("mnist", folder=tmp_path, mirrors=[f"{server}/wronghash/"], timeout=20)
    assert _contents(tmp_path) == []


def test_an_untrusted_certificate_is_an_error_naming_the_url(
    tls: tuple[str, str, Path], tmp_path: Path
) -> None:
    server, _, _ = tls
    with pytest.raises(ConnectionError, match=f"{server}/wronghash{URL}: .*CERTIFICATE"):
        download("mnist", folder=tmp_path, mirrors=[f"{server}/wronghash/"], timeout=20)
    assert _contents(tmp_path) == []


def test_a_dripping_tls_handshake_meets_the_deadline(
    tls: tuple[str, str, Path], tmp_path: Path
) -> None:
    _, server, _ = tls
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=f"{server}{URL}.*2 s"):
        download("mnist", folder=tmp_path, mirrors=[f"{server}/"], timeout=2)
    assert time.monotonic() - start < GIVE_UP_S / 2


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_known_name_that_is_not_a_file_is_refused_unopened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    import losskit.datasets

    for f in sample_dir().glob("*.gz"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    odd = tmp_path / "train-labels-idx1-ubyte.gz"
    odd.unlink()
    if kind == "folder":
        odd.mkdir()
    else:
        os.mkfifo(odd)  # opening it would block for ever
    monkeypatch.setattr(losskit.datasets, "sample_dir", lambda: tmp_path)
    with pytest.raises(ValueError, match=f"{odd}: expected a regular IDX file"):
        load_dataset("sample")
