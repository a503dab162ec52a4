"""scikit-learn's 8 x 8 handwritten digits: the offline dataset every tutorial starts from.

1,797 images of 10 classes, pixel values 0-16 (bundled with scikit-learn, no download), split
once, stratified, about 70 % train / 30 % test with a fixed seed, so every call returns the same
split.
"""
from __future__ import annotations

import numpy as np

TEST_FRACTION = 0.3
SPLIT_SEED = 0          # fixed: the split is part of the dataset's definition


def load_digits():
    """-> ((X_train, y_train), (X_test, y_test)); X float32 (N, 1, 8, 8) in [0, 1], y int64 (N,)."""
    # scikit-learn is imported here, not at module level: it takes seconds to import
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = _sk_load_digits()
    x = (bunch.images[:, None, :, :] / 16.0).astype(np.float32)       # N, 1, 8, 8
    y = bunch.target.astype(np.int64)                                    # N
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, stratify=y, random_state=SPLIT_SEED)
    return (x_train, y_train), (x_test, y_test)
