"""2D toy problems for classifiers: spirals, moons, circles, XOR.

Each returns (X float32 (N, 2), y int64 (N,)) with the classes as balanced as N allows and the
rows in random order. Every draw comes from ``rng``: a numpy Generator, or an int seed (the same
seed gives the same data); None draws fresh entropy. Moons and circles are scikit-learn's,
seeded from ``rng``.
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

    Each quadrant gets n/4 points (as near as n allows); Gaussian noise of std ``noise`` is added
    after the labels are fixed.
    """
    _check("xor", n, noise, minimum=4)
    rng = B.as_generator(rng)
    quadrant = np.concatenate([np.full(m, q) for q, m in enumerate(_class_sizes(n, 4))])
    signs = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]])[quadrant]    # N, 2; first two: class 0
    X = signs * rng.random((n, 2)) + noise * rng.standard_normal((n, 2))
    return _shuffled(rng, X, (quadrant >= 2).astype(np.int64))


def moons(n=1000, noise=0.1, rng=None):
    """scikit-learn's two interleaving half circles (``make_moons``), seeded from ``rng``."""
    _check("moons", n, noise)
    rng = B.as_generator(rng)
    from sklearn.datasets import make_moons   # imported lazily: sklearn is slow to import
    X, y = make_moons(n_samples=n, noise=noise, random_state=int(rng.integers(2**31)))
    return X.astype(np.float32), y.astype(np.int64)          # make_moons shuffles already


def circles(n=1000, noise=0.05, factor=0.5, rng=None):
    """scikit-learn's two concentric circles (``make_circles``; inner radius ``factor``)."""
    _check("circles", n, noise)
    if not 0 < factor < 1:
        raise ValueError(f"circles: factor must be in (0, 1), got {factor!r}")
    rng = B.as_generator(rng)
    from sklearn.datasets import make_circles
    X, y = make_circles(n_samples=n, noise=noise, factor=factor,
                        random_state=int(rng.integers(2**31)))
    return X.astype(np.float32), y.astype(np.int64)          # make_circles shuffles already
