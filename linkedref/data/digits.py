"""The 8 x 8 handwritten digits, shipped in the package: the offline dataset every tutorial uses.

Source: the UCI ML hand-written digits, "Optical Recognition of Handwritten Digits" (optdigits;
E. Alpaydin and C. Kaynak, 1998; https://archive.ics.uci.edu/dataset/80), as bundled by
scikit-learn (``sklearn.datasets.load_digits``: the 1,797 images of optdigits' test set,
32 x 32 bitmaps counted in 4 x 4 blocks, so each pixel is 0-16). Licence: UCI publishes the
dataset under Creative Commons Attribution 4.0 (CC BY 4.0); scikit-learn's description names
the source and creator but adds no licence of its own.

``digits.npz`` (beside this file; plain arrays, no pickle; SHA-256 checked on every load) holds

    images       uint8  (1797, 8, 8)   pixel counts 0-16, scikit-learn's order
    labels       uint8  (1797,)        the digit 0-9
    train_index  uint16 (1257,)        rows of the training set, in order
    test_index   uint16 (540,)         rows of the test set, in order

The split is scikit-learn's (1.9.1), stored in the file, so scikit-learn is not needed (a test
compares the file with it when it is there):

    bunch = sklearn.datasets.load_digits()
    train_index, test_index = sklearn.model_selection.train_test_split(
        numpy.arange(1797), test_size=0.3, stratify=bunch.target, random_state=0)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .shipped import read_shipped, to_float

FILE = Path(__file__).with_name("digits.npz")
SHA256 = "ad80d83969d73da424c689b9b3872939e5aa13c3d85aee1ca539839ed4f02682"
_ARRAYS = {"images": (np.uint8, (1797, 8, 8)), "labels": (np.uint8, (1797,)),
           "train_index": (np.uint16, (1257,)), "test_index": (np.uint16, (540,))}


def read_digits_file(path=FILE, sha256=SHA256) -> dict:
    """The four arrays of ``digits.npz`` (see the module docstring), checked by ``read_shipped``."""
    return read_shipped(path, sha256, _ARRAYS, "digits")


def load_digits(path=FILE, raw: bool = False):
    """-> ((X_train, y_train), (X_test, y_test)); X float32 (N, 1, 8, 8) in [0, 1], y int64 (N,).

    N = 1,257 train and 540 test (a stratified 70/30 split, fixed: part of the dataset's
    definition). X = pixel count / 16, or with ``raw`` the pixel count 0-16 itself.
    """
    a = read_digits_file(path)
    x = to_float(a["images"][:, None, :, :], 16, raw)                       # 1797, 1, 8, 8
    y = a["labels"].astype(np.int64)                                         # 1797
    train, test = a["train_index"], a["test_index"]
    return (x[train], y[train]), (x[test], y[test])
