"""Finding, checking and downloading dataset files, atomically.

``fetch`` streams a file into a temporary file beside its final place
(``linkedref.io.atomic_write``) and moves it there only once it is whole and its size and SHA-256
match, so a failed or broken download leaves nothing that looks like the file. The time limits
are the constants below.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import ssl
import time
import urllib.request
from http.client import HTTPException
from pathlib import Path
from urllib.error import URLError

from tqdm.auto import tqdm

from ..io import atomic_write

CONNECT_TIMEOUT_S = 5   # seconds to reach a mirror: DNS, TCP, TLS (fail fast without a network)
READ_TIMEOUT_S = 30     # seconds one read may wait once connected
DEADLINE_S = 1800       # seconds for one file, all its mirrors together (170 MB at ~100 kB/s)
CHUNK = 1 << 20         # bytes read per step of a download or a checksum
_REMEDY = "delete it to download the dataset again, or pass verify=False to use it as it is"


class DownloadError(OSError):
    """No mirror gave the file (no network, mirrors down, HTTP errors, wrong bytes, deadline)."""


class _BadBytes(ValueError):
    """A mirror answered, but not with the file (an HTML page, a wrong size or checksum)."""


# ------------------------------------------------------------------- connect vs read timeout
class _ReadTimeout:
    """Connect within the timeout given to ``urlopen``; then wait READ_TIMEOUT_S per read."""

    def connect(self):
        super().connect()
        self.sock.settimeout(READ_TIMEOUT_S)


class _HTTPConnection(_ReadTimeout, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_ReadTimeout, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=ssl.create_default_context())


def urlopen(url: str, timeout: float):
    """Open ``url``: ``timeout`` bounds connecting, READ_TIMEOUT_S each read after that; proxies
    come from the environment (``https_proxy``, ``no_proxy``...), read at each call."""
    return urllib.request.build_opener(_HTTPHandler, _HTTPSHandler).open(url, timeout=timeout)


# ------------------------------------------------------------------------------------ files
def cache_dir(root=None) -> Path:
    """The data folder: ``root``, else the env var ``LINKEDREF_DATA``, else ~/.cache/linkedref."""
    if root is None:
        root = os.environ.get("LINKEDREF_DATA") or Path.home() / ".cache" / "linkedref"
    return Path(root).expanduser()


def sha256_of(path) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path, sha256=None, size=None, what="the published size") -> None:
    """Raise ValueError naming ``path`` if its byte size (``what`` that size is) or SHA-256 is
    not the expected one."""
    path = Path(path)
    actual = path.stat().st_size
    if size is not None and actual != size:
        raise ValueError(f"{path}: expected {size} bytes ({what}), found {actual} (truncated or "
                         f"another file); {_REMEDY}")
    if sha256 is not None:
        found = sha256_of(path)
        if found != sha256:
            raise ValueError(f"{path}: SHA-256 mismatch (expected {sha256}, found {found}); "
                             f"{_REMEDY}")


# -------------------------------------------------------------------------------- downloads
def fetch(name: str, urls, folder, sha256=None, size=None, deadline_s=None) -> Path:
    """Download ``name`` into ``folder`` from the first of ``urls`` that gives it; return its path.

    ``sha256`` / ``size``: the bytes a mirror must deliver (None: not checked). A mirror that
    cannot be reached or gives other bytes (an HTML page, a wrong size or checksum) is skipped;
    after ``deadline_s`` (default ``DEADLINE_S``) seconds in all, the download stops. Raises
    DownloadError listing each mirror's problem when none gave the file; nothing is left at
    ``folder/name`` then.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    budget = DEADLINE_S if deadline_s is None else deadline_s
    end = time.monotonic() + budget
    errors = []
    for url in urls:
        if time.monotonic() >= end:
            errors.append(f"{url}: not tried, the {budget} s deadline had passed")
            continue
        try:
            return _fetch_one(url, folder / name, sha256, size, end)
        except (URLError, OSError, HTTPException, _BadBytes) as err:   # timeouts, HTTP errors
            errors.append(f"{url}: {err}")
    raise DownloadError(f"could not download {name}: " + "; ".join(errors))


def _fetch_one(url: str, dest: Path, sha256, size, end) -> Path:
    """Stream ``url`` into a temp file beside ``dest``, verify it, then move it onto ``dest``."""
    timeout = max(0.1, min(CONNECT_TIMEOUT_S, end - time.monotonic()))
    with atomic_write(dest, "download") as out, urlopen(url, timeout=timeout) as response:
        length = response.headers.get("Content-Length") if response.headers else None
        declared = int(length) if length else None
        if declared is not None and size is not None and declared != size:
            raise _BadBytes(f"the server announces {declared} bytes, the file has {size} "
                            f"(not the file; a different version or an error page)")
        digest, received = hashlib.sha256(), 0
        with tqdm(total=declared or size, unit="B", unit_scale=True, unit_divisor=1024,
                  desc=dest.name, leave=False) as bar:
            read = getattr(response, "read1", response.read)     # read1: what has arrived
            for chunk in iter(lambda: read(CHUNK), b""):
                if received == 0 and chunk.lstrip()[:1] == b"<":
                    raise _BadBytes("the server sent an HTML/XML page, not the file")
                if time.monotonic() > end:
                    raise DownloadError(f"the deadline passed after {received} bytes; "
                                        f"the partial file was removed")
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        for want in {declared, size} - {None}:
            if received != want:
                raise _BadBytes(f"incomplete download ({received} of {want} bytes); "
                                f"the partial file was removed")
        if sha256 is not None and digest.hexdigest() != sha256:
            raise _BadBytes(f"SHA-256 of the download is {digest.hexdigest()}, expected "
                            f"{sha256}; the downloaded file was removed")
    return dest
