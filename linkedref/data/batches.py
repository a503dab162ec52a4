"""Minibatches: shuffle with an explicit Generator, move one batch at a time to the backend.

The data set stays in host memory (NumPy); only the batch in use lives on the device, so a data
set larger than GPU memory still trains.
"""
from __future__ import annotations

import numpy

from .. import backend as B


def batches(X, y, batch_size: int, rng=None, shuffle: bool = True, dtype=None):
    """Iterate over (xb, yb) minibatches of (X, y).

    Args:
        X: host array (N, ...) — NumPy (a CuPy array is copied to the host once).
        y: (N,) integer labels, (N, ...) float targets, or None (then yb is None).
        batch_size: samples per batch; the last, partial batch is included.
        rng: a numpy Generator or int seed; required when ``shuffle`` (no hidden randomness).
        shuffle: draw a new order of the samples (one permutation per call).
        dtype: dtype of xb (and of float targets), default the default dtype (float32).

    Yields:
        xb (B, ...) on the active backend in ``dtype``; yb (B,) a backend integer array for
        integer labels, a backend array in ``dtype`` for float targets, or None.
    """
    X = B.to_numpy(X)
    if y is not None:
        y = B.to_numpy(y)
        if y.dtype.kind not in "fiu":
            raise TypeError(f"batches: expected numeric y, got dtype {y.dtype}")
    if X.ndim < 1 or len(X) == 0:
        raise ValueError(f"batches: X is empty (shape {X.shape})")
    if y is not None and len(y) != len(X):
        raise ValueError(f"batches: X has {len(X)} samples but y has {len(y)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, numpy.integer)) \
            or batch_size < 1:
        raise ValueError(f"batches: batch_size must be an integer ≥ 1, got {batch_size!r}")
    if shuffle and rng is None:
        raise ValueError("batches: shuffle=True needs rng (a numpy Generator or an int seed)")
    dtype = B.resolve_dtype(dtype or B.get_default_dtype())
    order = B.as_generator(rng).permutation(len(X)) if shuffle else None
    return _iterate(X, y, int(batch_size), order, dtype)


def _iterate(X, y, batch_size, order, dtype):
    y_dtype = dtype if y is not None and y.dtype.kind == "f" else None   # labels keep theirs
    for start in range(0, len(X), batch_size):
        # a slice (a view, no copy) in order; the permuted indices when shuffling
        idx = slice(start, start + batch_size) if order is None else order[start:start + batch_size]
        yb = None if y is None else B.asarray(y[idx], dtype=y_dtype)
        yield B.asarray(X[idx], dtype=dtype), yb
