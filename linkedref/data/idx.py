"""The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/).

An IDX file is a header followed by one C-ordered (row-major) array, all big-endian:

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte  3     number of dimensions d
    d x uint32  the size of each dimension
    then        prod(sizes) elements

so the first four bytes read as one big-endian int are the "magic number": 2051 (0x00000803)
for images (uint8, N x rows x cols) and 2049 (0x00000801) for labels (uint8, N). The canonical
files are gzipped (``train-images-idx3-ubyte.gz``); plain (already decompressed) files work too.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_bytes(path) -> bytes:
    """The contents of ``path``, gunzipped when it starts with the gzip magic 1f 8b."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:      # BadGzipFile, truncated stream, bad CRC
        raise ValueError(f"{path}: corrupt or truncated gzip file ({err})") from err


def parse_idx(data: bytes, name="<bytes>", magic=None) -> np.ndarray:
    """Parse IDX bytes into an array (native byte order); check the header against the length.

    ``magic``: the magic number required (2051 images, 2049 labels), or None for any IDX array.
    Raises ValueError naming ``name`` on a bad magic number or a length the header does not
    account for exactly.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise ValueError(f"{name}: not an IDX file (first bytes {data[:4].hex() or 'missing'})")
    found = int.from_bytes(data[:4], "big")
    if magic is not None and found != magic:
        raise ValueError(f"{name}: magic number {found}, expected {magic} "
                         f"({'images' if magic == IMAGES_MAGIC else 'labels'})")
    dtype, ndim = _TYPES[data[2]], data[3]
    start = 4 + 4 * ndim
    if len(data) < start:
        raise ValueError(f"{name}: truncated IDX header ({len(data)} bytes, needs {start})")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = start + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{name}: header says shape {shape} ({expected} bytes with the header) "
                         f"but the file holds {len(data)} bytes "
                         f"({'truncated' if len(data) < expected else 'trailing data'})")
    return np.frombuffer(data, dtype, offset=start).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path, magic=None) -> np.ndarray:
    """Read an IDX file (gzipped or plain) into an array; ``magic`` as in ``parse_idx``."""
    return parse_idx(read_bytes(path), name=str(path), magic=magic)
