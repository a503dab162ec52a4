"""Downloads without a network: urlopen is replaced by fakes that serve bytes or fail midway."""
import gzip
import hashlib
import io
import time
from urllib.error import URLError

import numpy as np
import pytest

from linkedref.data import datasets, download, load
from linkedref.data.datasets import Remote


class FakeResponse(io.BytesIO):
    """What urlopen returns: a readable context manager with headers; may fail after ``fail_at``."""

    def __init__(self, data, length=None, fail_at=None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data) if length is None else length)}
        self.fail_at = fail_at

    def read(self, n=-1):
        if self.fail_at is not None and self.tell() >= self.fail_at:
            raise ConnectionResetError("connection reset by peer")
        return super().read(min(n, 7) if n and n > 0 else n)        # small chunks


def serve(monkeypatch, pages, calls=None):
    """Replace urlopen: ``pages`` maps url -> FakeResponse factory or exception."""
    def urlopen(url, timeout=None):
        assert timeout is not None and timeout <= 60
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


def test_fetch_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    serve(monkeypatch, {"http://m/f.gz": lambda: FakeResponse(DATA, fail_at=100)})
    with pytest.raises(download.DownloadError, match="f.gz.*reset"):
        download.fetch("f.gz", ["http://m/f.gz"], tmp_path, SHA)
    assert leftovers(tmp_path) == []


def test_fetch_short_download_leaves_nothing(tmp_path, monkeypatch):
    serve(monkeypatch, {"http://m/f.gz": lambda: FakeResponse(DATA[:-10], length=len(DATA))})
    with pytest.raises(ValueError, match="f.gz.*incomplete"):
        download.fetch("f.gz", ["http://m/f.gz"], tmp_path)             # even without a checksum
    assert leftovers(tmp_path) == []


def test_fetch_checksum_mismatch_removes_the_download(tmp_path, monkeypatch):
    serve(monkeypatch, {"http://m/f.gz": lambda: FakeResponse(DATA[::-1])})
    with pytest.raises(ValueError, match="f.gz: SHA-256 .*removed"):
        download.fetch("f.gz", ["http://m/f.gz"], tmp_path, SHA)
    assert leftovers(tmp_path) == []


def test_fetch_tries_the_next_mirror(tmp_path, monkeypatch):
    calls = []
    serve(monkeypatch, {"http://b/f.gz": lambda: FakeResponse(DATA)}, calls)
    download.fetch("f.gz", ["http://a/f.gz", "http://b/f.gz"], tmp_path, SHA)
    assert calls == ["http://a/f.gz", "http://b/f.gz"]
    assert (tmp_path / "f.gz").read_bytes() == DATA


# ---------------------------------------------------------------------------- through load()
def mnist_bytes(rng):
    """The four canonical file names -> small gzipped IDX contents."""
    images = lambda n: np.array([2051, n, 28, 28], ">u4").tobytes() + rng.integers(0, 256, n * 784, np.uint8).tobytes()
    labels = lambda n: np.array([2049, n], ">u4").tobytes() + rng.integers(0, 10, n, np.uint8).tobytes()
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
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(files["t10k-labels-idx1-ubyte.gz"])
    calls = []
    serve(monkeypatch, {f"http://b/{n}": (lambda d=d: FakeResponse(d)) for n, d in files.items()}, calls)
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
