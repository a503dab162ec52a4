"""Reading a data file shipped inside the package: its SHA-256 first, then its arrays, no pickle.

``to_float`` scales the pixel values of every dataset ``load`` reads.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np


def read_shipped(path, sha256, arrays, name) -> dict:
    """{key: array} of the .npz at ``path`` once its SHA-256 equals ``sha256`` and each of
    ``arrays`` ({key: (dtype, shape)}) is there with that dtype and shape.

    Raises FileNotFoundError when ``path`` is missing, ValueError naming ``path`` (and the
    dataset ``name``) when its SHA-256 or its contents are not the shipped ones.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the {name} file shipped with linkedref is missing "
                                f"(reinstall linkedref)")
    raw = path.read_bytes()
    found = hashlib.sha256(raw).hexdigest()
    if found != sha256:
        raise ValueError(f"{path}: SHA-256 {found}, expected {sha256} (the {name} file shipped "
                         f"with linkedref is damaged or replaced; reinstall linkedref)")
    with np.load(io.BytesIO(raw), allow_pickle=False) as f:
        found_arrays = {k: f[k] for k in f.files}
    for key, (dtype, shape) in arrays.items():
        a = found_arrays.get(key)
        if a is None or a.dtype != dtype or a.shape != shape:
            raise ValueError(f"{path}: expected array {key!r} of dtype {np.dtype(dtype)} and "
                             f"shape {shape}")
    return found_arrays


def to_float(x, peak, raw=False):
    """Pixel values -> float32: value / ``peak`` in [0, 1], or with ``raw`` the value itself."""
    x = x.astype(np.float32)
    return x if raw else x / np.float32(peak)
