"""Downloads without a network: urlopen is replaced by fakes, or talks to a server on localhost."""
import gzip
import hashlib
import http.server
import io
import os
import socket
import threading
import time
from urllib.error import URLError

import numpy as np
import pytest

from linkedref.data import datasets, download, load
from linkedref.data.datasets import Remote, Split


class FakeResponse(io.BytesIO):
    """What urlopen returns: a readable context manager with headers; may fail after ``fail_at``
    bytes, or sleep ``delay`` seconds before each read."""

    def __init__(self, data, length=None, fail_at=None, delay=0.0):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data) if length is None else length)}
        self.fail_at, self.delay = fail_at, delay

    def read1(self, n=-1):
        time.sleep(self.delay)
        if self.fail_at is not None and self.tell() >= self.fail_at:
            raise ConnectionResetError("connection reset by peer")
        return super().read1(min(n, 7) if n and n > 0 else n)       # small chunks

    read = read1


def serve(monkeypatch, pages, calls=None, timeouts=None):
    """Replace urlopen: ``pages`` maps url -> FakeResponse factory or exception."""
    def urlopen(url, timeout=None):
        if timeouts is not None:
            timeouts.append(timeout)
        if calls is not None:
            calls.append(url)
        page = pages.get(url, URLError("no network"))
        if isinstance(page, Exception):
            raise page
        return page()
    monkeypatch.setattr(download, "urlopen", urlopen)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


DATA = bytes(range(256)) * 3
SHA = hashlib.sha256(DATA).hexdigest()


def test_fetch_writes_the_verified_file(tmp_path, monkeypatch):
    serve(monkeypatch, {"http://m/f.gz": lambda: FakeResponse(DATA)})
    path = download.fetch("f.gz", ["http://m/f.gz"], tmp_path / "sub", SHA, len(DATA))
    assert path == tmp_path / "sub" / "f.gz" and path.read_bytes() == DATA
    assert leftovers(tmp_path / "sub") == ["f.gz"]                  # no temp file left behind


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_downloaded_file_gets_the_mode_open_gives(tmp_path, monkeypatch, umask):
    serve(monkeypatch, {"http://m/f.gz": lambda: FakeResponse(DATA)})
    old = os.umask(umask)
    try:
        path = download.fetch("f.gz", ["http://m/f.gz"], tmp_path, SHA)
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~umask)     # was always 0o600


def test_fetch_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    serve(monkeypatch, {"http://m/f.gz": lambda: FakeResponse(DATA, fail_at=100)})
    with pytest.raises(download.DownloadError, match="f.gz.*reset"):
        download.fetch("f.gz", ["http://m/f.gz"], tmp_path, SHA)
    assert leftovers(tmp_path) == []


def test_fetch_short_download_leaves_nothing(tmp_path, monkeypatch):
    serve(monkeypatch, {"http://m/f.gz": lambda: FakeResponse(DATA[:-10], length=len(DATA))})
    with pytest.raises(download.DownloadError, match="f.gz.*incomplete"):
        download.fetch("f.gz", ["http://m/f.gz"], tmp_path)             # even without a checksum
    assert leftovers(tmp_path) == []


def test_fetch_checksum_mismatch_removes_the_download(tmp_path, monkeypatch):
    serve(monkeypatch, {"http://m/f.gz": lambda: FakeResponse(DATA[::-1])})
    with pytest.raises(download.DownloadError, match="f.gz: SHA-256 .*removed"):
        download.fetch("f.gz", ["http://m/f.gz"], tmp_path, SHA)
    assert leftovers(tmp_path) == []


def test_fetch_tries_the_next_mirror(tmp_path, monkeypatch):
    calls = []
    serve(monkeypatch, {"http://b/f.gz": lambda: FakeResponse(DATA)}, calls)
    download.fetch("f.gz", ["http://a/f.gz", "http://b/f.gz"], tmp_path, SHA)
    assert calls == ["http://a/f.gz", "http://b/f.gz"]
    assert (tmp_path / "f.gz").read_bytes() == DATA


HTML = b"<!DOCTYPE html><html><body>404 - not here</body></html>"


@pytest.mark.parametrize("bad, why", [
    (lambda: FakeResponse(HTML, length=""), "HTML"),                   # a 200 error page, no size
    (lambda: FakeResponse(b"\n <html>" + DATA[8:]), "HTML"),        # same size
    (lambda: FakeResponse(DATA[::-1]), "SHA-256"),                     # wrong bytes, right size
    (lambda: FakeResponse(DATA + b"!"), "announces 769 bytes"),        # wrong size, before reading
    (lambda: FakeResponse(DATA, fail_at=50), "reset"),
])
def test_wrong_bytes_move_on_to_the_next_mirror(tmp_path, monkeypatch, bad, why):
    calls = []
    serve(monkeypatch, {"http://a/f.gz": bad, "http://b/f.gz": lambda: FakeResponse(DATA)}, calls)
    download.fetch("f.gz", ["http://a/f.gz", "http://b/f.gz"], tmp_path, SHA, len(DATA))
    assert calls == ["http://a/f.gz", "http://b/f.gz"]                 # was: failed at a
    assert leftovers(tmp_path) == ["f.gz"] and (tmp_path / "f.gz").read_bytes() == DATA
    serve(monkeypatch, {"http://a/f.gz": bad})
    with pytest.raises(download.DownloadError, match=f"http://a/f.gz: .*{why}.*http://b/f.gz"):
        download.fetch("g.gz", ["http://a/f.gz", "http://b/f.gz"], tmp_path, SHA, len(DATA))
    assert leftovers(tmp_path) == ["f.gz"]


def test_the_deadline_stops_a_trickle_and_the_mirrors_after_it(tmp_path, monkeypatch):
    calls = []
    serve(monkeypatch, {"http://a/f.gz": lambda: FakeResponse(DATA, delay=0.02),
                        "http://b/f.gz": lambda: FakeResponse(DATA)}, calls)
    start = time.perf_counter()
    with pytest.raises(download.DownloadError, match="a/f.gz: the deadline.*b/f.gz: not tried"):
        download.fetch("f.gz", ["http://a/f.gz", "http://b/f.gz"], tmp_path, SHA, deadline_s=0.2)
    assert time.perf_counter() - start < 1                         # 110 reads would take 2.2 s
    assert calls == ["http://a/f.gz"] and leftovers(tmp_path) == []


def test_connecting_has_a_short_timeout(tmp_path, monkeypatch):
    timeouts = []
    serve(monkeypatch, {}, timeouts=timeouts)
    with pytest.raises(download.DownloadError):
        download.fetch("f.gz", ["http://a/f.gz", "http://b/f.gz"], tmp_path)
    assert len(timeouts) == 2 and max(timeouts) <= download.CONNECT_TIMEOUT_S <= 5   # was 15
    assert download.READ_TIMEOUT_S > download.CONNECT_TIMEOUT_S


# ------------------------------------------------------------------ a real server on localhost
class SlowHandler(http.server.BaseHTTPRequestHandler):
    """Answers DATA after ``delay`` seconds (the connection itself is accepted at once)."""
    delay = 0.0

    def do_GET(self):
        time.sleep(self.delay)
        self.send_response(200)
        self.send_header("Content-Length", str(len(DATA)))
        self.end_headers()
        self.wfile.write(DATA)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/f.gz"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_slow_answer_waits_for_the_read_timeout_not_the_connect_one(tmp_path, monkeypatch,
                                                                       local_server):
    monkeypatch.setattr(SlowHandler, "delay", 0.4)
    monkeypatch.setattr(download, "CONNECT_TIMEOUT_S", 0.2)
    monkeypatch.setattr(download, "READ_TIMEOUT_S", 5)
    path = download.fetch("f.gz", [local_server], tmp_path, SHA, len(DATA))
    assert path.read_bytes() == DATA                                # one 0.2 s timeout: failed
    monkeypatch.setattr(download, "READ_TIMEOUT_S", 0.1)
    with pytest.raises(download.DownloadError, match="timed out"):
        download.fetch("g.gz", [local_server], tmp_path, SHA, len(DATA))


def test_a_closed_port_fails_at_once(tmp_path, monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as s:                                      # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    urls = [f"http://127.0.0.1:{port}/a/f.gz", f"http://127.0.0.1:{port}/b/f.gz"]
    start = time.perf_counter()
    with pytest.raises(download.DownloadError, match="refused"):
        download.fetch("f.gz", urls, tmp_path, SHA)
    assert time.perf_counter() - start < 2 and leftovers(tmp_path) == []


# ---------------------------------------------------------------------------- through load()
def mnist_bytes(rng):
    """The four canonical file names -> small gzipped IDX contents."""
    def images(n):
        return (np.array([2051, n, 28, 28], ">u4").tobytes()
                + rng.integers(0, 256, n * 784, np.uint8).tobytes())

    def labels(n):
        return np.array([2049, n], ">u4").tobytes() + rng.integers(0, 10, n, np.uint8).tobytes()

    return {"train-images-idx3-ubyte.gz": gzip.compress(images(6)),
            "train-labels-idx1-ubyte.gz": gzip.compress(labels(6)),
            "t10k-images-idx3-ubyte.gz": gzip.compress(images(2)),
            "t10k-labels-idx1-ubyte.gz": gzip.compress(labels(2))}


def test_download_false_names_the_files_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "fetch", lambda *a, **k: pytest.fail("downloader called"))
    with pytest.raises(FileNotFoundError) as err:
        load("fashion_mnist", root=tmp_path, download=False)
    msg = str(err.value)
    for name in mnist_bytes(np.random.default_rng(0)):
        assert name in msg
    assert str(tmp_path / "fashion_mnist") in msg and "download=False" in msg
    assert "read from its own folder" in msg


def test_no_network_fails_fast_and_leaves_nothing(tmp_path, monkeypatch):
    calls = []
    serve(monkeypatch, {}, calls)                                   # every URL: URLError
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="cifar-10-binary.tar.gz.*cifar-10-batches-bin.*"
                                                "download failed.*no network"):
        load("cifar10", root=tmp_path)
    assert time.perf_counter() - start < 1
    assert calls == ["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"]
    assert leftovers(tmp_path / "cifar10") == []


def test_load_downloads_missing_files_into_root_name(tmp_path, monkeypatch, rng):
    files = mnist_bytes(rng)
    remotes = {key: Remote(r.name, len(files[r.name]), hashlib.sha256(files[r.name]).hexdigest())
               for key, r in datasets.IDX_DATASETS["mnist"][0].items()}
    monkeypatch.setitem(datasets.IDX_DATASETS, "mnist", (remotes, ("http://a/", "http://b/")))
    monkeypatch.setitem(datasets.SPLITS, "mnist", Split(6, 2, (1, 28, 28)))
    (tmp_path / "mnist").mkdir()
    have = "t10k-labels-idx1-ubyte.gz"
    (tmp_path / "mnist" / have).write_bytes(files[have])
    calls = []
    pages = {f"http://b/{n}": (lambda d=d: FakeResponse(d)) for n, d in files.items()}
    pages["http://a/train-images-idx3-ubyte.gz"] = lambda: FakeResponse(HTML)  # a broken mirror
    serve(monkeypatch, pages, calls)
    (x_train, y_train), (x_test, y_test) = load("mnist", root=tmp_path)
    assert x_train.shape == (6, 1, 28, 28) and y_test.shape == (2,)
    assert "http://b/t10k-labels-idx1-ubyte.gz" not in calls        # the existing file is used
    assert leftovers(tmp_path / "mnist") == sorted(files)
    calls.clear()
    load("mnist", root=tmp_path)                                    # second time: no network
    assert calls == []


def test_cache_dir_root_then_env_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LINKEDREF_DATA", str(tmp_path / "env"))
    assert download.cache_dir(tmp_path / "r") == tmp_path / "r"
    assert download.cache_dir() == tmp_path / "env"
    monkeypatch.delenv("LINKEDREF_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert download.cache_dir() == tmp_path / ".cache" / "linkedref"


def test_load_uses_the_env_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LINKEDREF_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "mnist")):
        load("mnist", download=False)
