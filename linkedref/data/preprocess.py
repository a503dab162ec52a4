"""Preprocessing on the host (NumPy): standardisation, a deliberate corruption, augmentation.

Images are NCHW, vectors (N, D); "per channel" means per index of axis 1 in both cases.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import backend as B


def _check(X, fn, ndims=(2, 4)):
    """Raise TypeError/ValueError naming ``fn`` unless X is a float NumPy array of allowed rank."""
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{fn}: expected a NumPy array (host data), got {type(X).__name__}")
    if X.dtype.kind != "f":
        raise TypeError(f"{fn}: expected floating-point data, got dtype {X.dtype}")
    if X.ndim not in ndims:
        want = " or ".join(f"{d}D" for d in ndims)
        raise ValueError(f"{fn}: expected {want} data, got shape {X.shape}")


# ------------------------------------------------------------------------------ standardize
@dataclass(frozen=True)
class ChannelStats:
    """Per-channel mean and std fitted on a training set; shape (1, C, 1, 1) or (1, D)."""
    mean: np.ndarray
    std: np.ndarray

    def apply(self, X):
        """(X - mean) / std in X's dtype; X of the same layout as the training data."""
        _check(X, "ChannelStats.apply")
        if X.shape[1:2] != self.mean.shape[1:2] or X.ndim != self.mean.ndim:
            raise ValueError(f"ChannelStats.apply: fitted on shape (N, {self.mean.shape[1]}, ...) "
                             f"of {self.mean.ndim}D data, got shape {X.shape}")
        return ((X - self.mean) / self.std).astype(X.dtype, copy=False)


def fit_channel_stats(X, eps=1e-8) -> ChannelStats:
    """Mean and std of each channel (axis 1) over all other axes, in float64.

    A constant channel (std < eps) gets std 1, so it maps to 0 rather than to inf.
    """
    _check(X, "fit_channel_stats")
    axes = tuple(a for a in range(X.ndim) if a != 1)
    mean = X.mean(axis=axes, keepdims=True, dtype=np.float64)            # 1, C(, 1, 1)
    std = X.std(axis=axes, keepdims=True, dtype=np.float64)              # 1, C(, 1, 1)
    return ChannelStats(mean, np.where(std < eps, 1.0, std))


def standardize(X_train, X_test=None):
    """Standardise both sets with the training set's per-channel statistics.

    X_train: (N, C, H, W) or (N, D); X_test: the same layout, or None.
    Returns (X_train', X_test' or None, stats); dtypes are kept. ``stats.apply(X)`` standardises
    any later data the same way.
    """
    stats = fit_channel_stats(X_train)
    return stats.apply(X_train), (None if X_test is None else stats.apply(X_test)), stats


# ----------------------------------------------------------------------------- corruption
def shift_scale(X, shift, scale):
    """X * scale + shift (scalars, or arrays broadcastable to X), in X's dtype: the paper's
    "unnormalised input", to test the claim that linked units train without standardised input."""
    _check(X, "shift_scale", ndims=range(1, 8))
    return (X * scale + shift).astype(X.dtype, copy=False)


# --------------------------------------------------------------------------- augmentation
def random_flip_shift(X, rng, flip=True, max_shift=0.1):
    """Randomly flip each image left-right (probability 1/2) and shift it, filling with zeros
    (the AllCNN/ResNet augmentation).

    X: (N, C, H, W). Each image moves by integers dy, dx drawn uniformly from
    [-round(max_shift * H), +round(max_shift * H)] (and likewise with W), so with the default
    a 32 x 32 image moves up to 3 pixels. rng: a numpy Generator (or an int seed).
    Returns a new array of X's shape and dtype; X is not changed.
    """
    _check(X, "random_flip_shift", ndims=(4,))
    if not 0 <= max_shift < 1:
        raise ValueError(f"random_flip_shift: max_shift must be in [0, 1), got {max_shift}")
    rng = B.as_generator(rng)
    N, C, H, W = X.shape
    sy, sx = int(round(max_shift * H)), int(round(max_shift * W))
    dy = rng.integers(-sy, sy + 1, size=N)                               # N
    dx = rng.integers(-sx, sx + 1, size=N)                               # N
    flips = rng.random(N) < 0.5 if flip else np.zeros(N, bool)           # N
    # out[n, :, i, j] = X'[n, :, i - dy, j - dx], X' the (maybe flipped) image, zero outside.
    # Gather from X zero-padded by (sy, sx): padded index = source index + pad.
    padded = np.pad(X, ((0, 0), (0, 0), (sy, sy), (sx, sx)))             # N, C, H+2sy, W+2sx
    rows = np.arange(H)[None, :] - dy[:, None]                           # N, H
    cols = np.arange(W)[None, :] - dx[:, None]                           # N, W
    cols = np.where(flips[:, None], W - 1 - cols, cols)                  # flip maps j -> W-1-j
    n = np.arange(N)[:, None, None, None]
    c = np.arange(C)[None, :, None, None]
    return padded[n, c, (rows + sy)[:, None, :, None], (cols + sx)[:, None, None, :]]


def upsample2x(X):
    """Nearest-neighbour 2x upsampling: (N, C, H, W) -> (N, C, 2H, 2W), each pixel a 2 x 2 block,
    for nets that need larger inputs than the 8 x 8 digits."""
    _check(X, "upsample2x", ndims=(4,))
    return X.repeat(2, axis=2).repeat(2, axis=3)
