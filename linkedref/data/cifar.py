"""CIFAR-10's binary version (https://www.cs.toronto.edu/~kriz/cifar.html), never the pickled one.

Each file (``data_batch_1.bin`` ... ``data_batch_5.bin``, ``test_batch.bin``) is a run of
records of 1 + 3072 bytes: the label (0-9), then the image as three 32 x 32 planes, red, green,
blue, each row-major. So the bytes after the label already are one C x H x W image:

    record = [label | R (1024) | G (1024) | B (1024)]   ->   x[n] of shape (3, 32, 32)

The files come in ``cifar-10-binary.tar.gz`` (read here without extracting it) or extracted in a
folder ``cifar-10-batches-bin/``.
"""
from __future__ import annotations

import tarfile
import zlib
from pathlib import Path

import numpy as np

SHAPE = (3, 32, 32)
RECORD = 1 + 3 * 32 * 32          # bytes per record
CLASSES = 10
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
FOLDER = "cifar-10-batches-bin"


def parse_records(data: bytes, name="<bytes>"):
    """Records of 1 + 3072 bytes -> (x uint8 (N, 3, 32, 32), y int64 (N,)).

    Raises ValueError naming ``name`` when the bytes are not whole records or a label is not 0-9.
    """
    if len(data) == 0 or len(data) % RECORD:
        raise ValueError(f"{name}: {len(data)} bytes is not a whole number of {RECORD}-byte "
                         f"CIFAR-10 records (truncated or not a CIFAR-10 binary batch)")
    records = np.frombuffer(data, np.uint8).reshape(-1, RECORD)         # N, 3073
    y = records[:, 0].astype(np.int64)                                  # N
    if y.max() >= CLASSES:
        raise ValueError(f"{name}: label {int(y.max())} out of range 0-{CLASSES - 1} "
                         f"(corrupt file or not CIFAR-10)")
    x = records[:, 1:].reshape(-1, *SHAPE).copy()                        # N, 3, 32, 32
    return x, y


def _concat(parts):
    xs, ys = zip(*parts)
    return np.concatenate(xs), np.concatenate(ys)


def read_folder(folder):
    """Read the extracted batches in ``folder`` -> ((x_train, y_train), (x_test, y_test)), uint8."""
    folder = Path(folder)

    def read(names):
        return _concat([parse_records((folder / n).read_bytes(), str(folder / n)) for n in names])

    return read(TRAIN_FILES), read(TEST_FILES)


def read_archive(path):
    """Read the batches straight from ``cifar-10-binary.tar.gz`` -> same as ``read_folder``."""
    path = Path(path)
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [n for n in TRAIN_FILES + TEST_FILES if n not in members]
            if missing:
                raise ValueError(f"{path}: archive lacks {', '.join(missing)} "
                                 f"(not the CIFAR-10 binary version?)")

            def read(names):
                return _concat([parse_records(tar.extractfile(members[n]).read(), f"{path}:{n}")
                                for n in names])

            return read(TRAIN_FILES), read(TEST_FILES)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated archive ({err})") from err
