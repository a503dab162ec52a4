"""Finding, checking and downloading dataset files, atomically.

- ``cache_dir(root)`` — where files live: ``root``, else ``$LINKEDREF_DATA``, else
  ``~/.cache/linkedref``.
- ``check_file(path, sha256, size)`` — raise a ValueError naming the file when its size or
  SHA-256 differs from the published one.
- ``fetch(name, urls, folder, sha256, size)`` — download ``name`` from the first mirror that
  answers, with a tqdm progress bar, into a temporary file beside its final place; the file is
  moved into place with ``os.replace`` only after it is whole and (when ``sha256`` is given) its
  checksum matches. A failed or broken download leaves nothing that looks like the file.

Network failures raise ``DownloadError`` (an ``OSError``); bad bytes raise ``ValueError``.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from http.client import HTTPException
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from tqdm.auto import tqdm

TIMEOUT_S = 15          # seconds to wait for a mirror to answer (fail fast without a network)
CHUNK = 1 << 20         # bytes read per step of a download or a checksum


class DownloadError(OSError):
    """No mirror could be reached (no network, a mirror down, an HTTP error)."""


def cache_dir(root=None) -> Path:
    """The data folder: ``root``, else the env var ``LINKEDREF_DATA``, else ``~/.cache/linkedref``."""
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


def check_file(path, sha256=None, size=None) -> None:
    """Raise ValueError naming ``path`` if its byte size or SHA-256 is not the published one."""
    path = Path(path)
    actual = path.stat().st_size
    if size is not None and actual != size:
        raise ValueError(f"{path}: expected {size} bytes, found {actual} (truncated or not the "
                         f"canonical file); delete it to download it again, or pass verify=False "
                         f"to use it as it is")
    if sha256 is not None:
        found = sha256_of(path)
        if found != sha256:
            raise ValueError(f"{path}: SHA-256 mismatch (expected {sha256}, found {found}); "
                             f"delete it to download it again, or pass verify=False to use it "
                             f"as it is")


def fetch(name: str, urls, folder, sha256=None, size=None) -> Path:
    """Download ``name`` into ``folder`` from the first of ``urls`` that answers; return its path.

    Each mirror is tried in turn after a network error; bad bytes (short, wrong checksum) raise
    a ValueError at once. Nothing is left at ``folder/name`` unless the download verified.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        try:
            return _fetch_one(url, folder / name, sha256, size)
        except (URLError, OSError, HTTPException) as err:   # timeouts, HTTP errors, resets
            errors.append(f"{url}: {err}")
    raise DownloadError(f"could not download {name}: " + "; ".join(errors))


def _fetch_one(url: str, dest: Path, sha256, size) -> Path:
    """Stream ``url`` into a temp file beside ``dest``, verify it, then ``os.replace`` it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length") if response.headers else None
            expected = int(length) if length else size
            with tqdm(total=expected, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=dest.name, leave=False) as bar:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        for want in {expected, size} - {None}:
            if received != want:
                raise ValueError(f"{dest}: download from {url} is incomplete "
                                 f"({received} of {want} bytes); the partial file was removed")
        if sha256 is not None and digest.hexdigest() != sha256:
            raise ValueError(f"{dest}: SHA-256 of the download from {url} is {digest.hexdigest()}, "
                             f"expected {sha256}; the downloaded file was removed")
        os.replace(tmp, dest)
        return dest
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
