"""linkedref.data: datasets, preprocessing, toy problems and minibatches.

    from linkedref import data
    (X, y), (X_test, y_test) = data.load("digits")        # NCHW float32 in [0, 1], int64 labels
    (X, y), (X_test, y_test) = data.load("mnist5k")       # 5,000 real MNIST digits, shipped
    X, X_test, stats = data.standardize(X, X_test)         # statistics of the training set only
    for xb, yb in data.batches(X, y, 64, rng=0): ...       # each batch on the active backend

Everything here works on host NumPy arrays; only ``batches`` moves data to the device.
"""
from .batches import batches
from .datasets import KNOWN, load
from .preprocess import (
    ChannelStats,
    fit_channel_stats,
    random_flip_shift,
    shift_scale,
    standardize,
    upsample2x,
)
from .toy import circles, moons, spirals, xor

__all__ = ["load", "KNOWN", "standardize", "fit_channel_stats", "ChannelStats", "shift_scale",
           "random_flip_shift", "upsample2x", "spirals", "moons", "circles", "xor", "batches"]
