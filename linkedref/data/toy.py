"""2D toy problems for classifiers: spirals, moons, circles, XOR.

Each returns (X float32 (N, 2), y int64 (N,)) with the classes as balanced as N allows and the
rows in random order. Every draw comes from ``rng``: a numpy Generator, or an int seed (the same
seed gives the same data); None: one spawned from ``lk.seed``'s number, else fresh entropy.
Moons and circles have the shapes of scikit-learn's ``make_moons`` / ``make_circles``, written
here in NumPy (the same parameters; not the same numbers as scikit-learn for a given seed).
"""
from __future__ import annotations

import numpy as np

from .. import backend as B


def _check(fn, n, noise, minimum=2):
    if not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{fn}: n must be an int >= {minimum}, got {n!r}")
    if not noise >= 0:
        raise ValueError(f"{fn}: noise must be >= 0, got {noise!r}")


def _shuffled(rng, X, y):
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order].astype(np.int64)


def _class_sizes(n, classes):
    """n split into ``classes`` counts that differ by at most one."""
    return [n // classes + (k < n % classes) for k in range(classes)]


def spirals(n=1000, classes=2, noise=0.05, turns=1.5, rng=None):
    """``classes`` interleaved spiral arms in the unit disc.

    Arm k: radius r from 0.1 to 1, angle 2 pi (turns * r + k / classes), plus Gaussian noise of
    std ``noise`` on both coordinates. Neighbouring arms lie 0.9 / (turns * classes) apart radially.
    """
    _check("spirals", n, noise, minimum=classes)
    if not isinstance(classes, (int, np.integer)) or classes < 2:
        raise ValueError(f"spirals: classes must be an int >= 2, got {classes!r}")
    rng = B.as_generator(rng)
    xs, ys = [], []
    for k, m in enumerate(_class_sizes(n, classes)):
        r = np.linspace(0.1, 1.0, m)                                    # m
        angle = 2 * np.pi * (turns * r + k / classes)                   # m
        xs.append(np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1))
        ys.append(np.full(m, k))
    X = np.concatenate(xs) + noise * rng.standard_normal((n, 2))        # N, 2
    return _shuffled(rng, X, np.concatenate(ys))


def xor(n=1000, noise=0.05, rng=None):
    """Points uniform in the four quadrants of [-1, 1]^2; class 1 where x0 * x1 < 0.

    Each quadrant gets n/4 points; Gaussian noise of std ``noise`` is added after the labels
    are fixed.
    """
    _check("xor", n, noise, minimum=4)
    rng = B.as_generator(rng)
    quadrant = np.concatenate([np.full(m, q) for q, m in enumerate(_class_sizes(n, 4))])
    signs = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]])[quadrant]    # N, 2; first two: class 0
    X = signs * rng.random((n, 2)) + noise * rng.standard_normal((n, 2))
    return _shuffled(rng, X, (quadrant >= 2).astype(np.int64))


def moons(n=1000, noise=0.1, rng=None):
    """Two interleaving half circles (the shape of scikit-learn's ``make_moons``).

    Class 0, the upper moon: (cos t, sin t) for t evenly spaced in [0, pi].
    Class 1, the lower moon: (1 - cos t, 1/2 - sin t), the upper one turned over and shifted.
    Gaussian noise of std ``noise`` is added to both coordinates.
    """
    _check("moons", n, noise)
    rng = B.as_generator(rng)
    n0, n1 = _class_sizes(n, 2)
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)            # n0; n1
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)                       # n0, 2
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)             # n1, 2
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))  # N, 2
    return _shuffled(rng, X, np.repeat([0, 1], [n0, n1]))


def circles(n=1000, noise=0.05, factor=0.5, rng=None):
    """Two concentric circles (the shape of scikit-learn's ``make_circles``).

    Class 0: radius 1; class 1: radius ``factor`` (0 < factor < 1); on each, the m points of
    the class sit at angles 2 pi k / m, k = 0 .. m - 1. Gaussian noise of std ``noise`` is added
    to both coordinates.
    """
    _check("circles", n, noise)
    if not 0 < factor < 1:
        raise ValueError(f"circles: factor must be in (0, 1), got {factor!r}")
    rng = B.as_generator(rng)
    n0, n1 = _class_sizes(n, 2)
    parts = []
    for m, radius in ((n0, 1.0), (n1, factor)):
        angle = np.linspace(0, 2 * np.pi, m, endpoint=False)                 # m
        parts.append(radius * np.stack([np.cos(angle), np.sin(angle)], axis=1))
    X = np.concatenate(parts) + noise * rng.standard_normal((n, 2))          # N, 2
    return _shuffled(rng, X, np.repeat([0, 1], [n0, n1]))
