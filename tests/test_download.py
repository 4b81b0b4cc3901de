"""Downloads through the real HTTP code, against a server on 127.0.0.1 serving ../shared/data.

Includes a corrupted file, a connection dropped mid-file and a dead mirror: a
partial or corrupted file must never end up in the cache.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from losskit.cli import main
from losskit.datasets import download, verify
from losskit.datasets.sources import DATASETS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not (SHARED / "mnist").is_dir(), reason="../shared/data/mnist not present"
)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves shared/data/mnist under /good/, a corrupted copy under /corrupt/,
    a connection that drops half-way under /drop/, a redirect to /good/ under /moved/,
    and 404 elsewhere."""

    def do_GET(self) -> None:
        mode, _, name = self.path.strip("/").partition("/")
        path = SHARED / "mnist" / name
        if mode == "moved" and path.is_file():  # a redirect on the same host is fine
            self.send_response(301)
            self.send_header("Location", f"/good/{name}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode not in ("good", "corrupt", "drop") or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        if mode == "corrupt" and "labels" in name:
            body = body[:100] + bytes([body[100] ^ 0xFF]) + body[101:]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drop" and "images" in name:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # the peer hangs up mid-file
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_fills_the_cache(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOSSKIT_DATA", str(tmp_path))
    folder = download("mnist", mirrors=[f"{server}/good/"])
    assert folder == tmp_path / "mnist"
    assert set(verify("mnist").values()) == {"ok"}
    assert _leftovers(folder) == sorted(DATASETS["mnist"].sha256)
    # A second call finds everything in place and fetches nothing (a dead mirror is fine).
    download("mnist", mirrors=[f"{server}/missing/"])


def test_corrupted_file_never_reaches_the_cache(server: str, tmp_path: Path) -> None:
    with pytest.raises(ConnectionError, match="SHA-256 mismatch"):
        download("mnist", folder=tmp_path, mirrors=[f"{server}/corrupt/"])
    assert not any("labels" in n for n in _leftovers(tmp_path))
    assert not any(n.endswith(".part") for n in _leftovers(tmp_path))


def test_dropped_connection_leaves_no_partial_file(server: str, tmp_path: Path) -> None:
    with pytest.raises(ConnectionError, match="train-images"):
        download("mnist", folder=tmp_path, mirrors=[f"{server}/drop/"])
    assert _leftovers(tmp_path) == []  # images come first: nothing was complete


def test_falls_back_to_the_next_mirror(server: str, tmp_path: Path) -> None:
    download(
        "mnist",
        folder=tmp_path,
        mirrors=[f"{server}/missing/", f"{server}/drop/", f"{server}/good/"],
    )
    assert set(verify("mnist", tmp_path).values()) == {"ok"}


def test_cli_download_verify_and_path(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOSSKIT_DATA", str(tmp_path))
    assert main(["data", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path)
    assert main(["data", "verify", "mnist"]) == 2  # nothing there yet: bad files are bad input
    assert "missing" in capsys.readouterr().out
    # A mirror that sends a corrupted file is the network's fault (exit 1), said in one line.
    assert main(["data", "download", "mnist", "--mirror", f"{server}/corrupt/"]) == 1
    err = capsys.readouterr().err
    assert "SHA-256 mismatch" in err and err.startswith("losskit: error: ") and err.count("\n") == 1
    assert main(["data", "download", "mnist", "--mirror", f"{server}/good/"]) == 0
    assert "all files verified" in capsys.readouterr().out
    assert main(["data", "verify", "mnist"]) == 0


def test_a_redirect_on_the_same_host_is_followed(server: str, tmp_path: Path) -> None:
    download("mnist", folder=tmp_path, mirrors=[f"{server}/moved/"])
    assert set(verify("mnist", tmp_path).values()) == {"ok"}


def test_force_downloads_again(server: str, tmp_path: Path) -> None:
    download("mnist", folder=tmp_path, mirrors=[f"{server}/good/"])
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    before = labels.stat().st_ino
    download("mnist", folder=tmp_path, mirrors=[f"{server}/good/"], force=True)
    assert labels.stat().st_ino != before  # replaced (atomically) by a fresh, verified copy
    assert set(verify("mnist", tmp_path).values()) == {"ok"}


def _verify_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["data", "verify", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_verify_a_folder_checks_the_data_set_it_holds(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _verify_cli(capsys, "--data-dir", str(SHARED / name))
    assert code == 0, out
    assert "mismatch" not in out and f"as {name}" in out
    assert out.count(": ok") == 4


def test_verify_a_folder_as_the_named_data_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _verify_cli(capsys, "mnist", "--data-dir", str(SHARED / "mnist"))
    assert code == 0 and out.count(": ok") == 4 and "fashion" not in out
    # Named wrongly: every file a mismatch, and each says whose file it is.
    code, out = _verify_cli(capsys, "fashion-mnist", "--data-dir", str(SHARED / "mnist"))
    assert code == 2 and out.count("checksum mismatch") == 4 and "mnist's" in out
    # A folder with nothing known in it: one clear line, exit 2.
    code, out = _verify_cli(capsys, "--data-dir", str(tmp_path))
    assert code == 2 and "no file of a known data set" in out and str(tmp_path) in out


def test_verify_finds_raw_files_and_a_tampered_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import gzip

    for f in (SHARED / "mnist").glob("*.gz"):
        (tmp_path / f.name[:-3]).write_bytes(gzip.decompress(f.read_bytes()))
    code, out = _verify_cli(capsys, "--data-dir", str(tmp_path))
    assert code == 0 and out.count(": ok") == 4, out
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    raw.write_bytes(raw.read_bytes()[:-1] + b"\x07")
    code, out = _verify_cli(capsys, "--data-dir", str(tmp_path))
    assert code == 2 and "t10k-labels-idx1-ubyte: checksum mismatch" in out
