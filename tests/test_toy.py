"""2D toy problems: shapes, dtypes, seeding, balance, and that each is the problem it claims."""
import sys

import numpy as np
import pytest

from linkedref.data import circles, moons, spirals, xor

MAKERS = {"spirals": spirals, "moons": moons, "circles": circles, "xor": xor}


@pytest.mark.parametrize("name", MAKERS)
def test_shapes_dtypes_and_balance(name):
    X, y = MAKERS[name](n=401, rng=0)
    assert X.shape == (401, 2) and X.dtype == np.float32
    assert y.shape == (401,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == 2 and counts.max() - counts.min() <= 1
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("name", MAKERS)
def test_same_seed_same_data(name):
    make = MAKERS[name]
    a, b = make(n=100, rng=3), make(n=100, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], make(n=100, rng=4)[0])


@pytest.mark.parametrize("name", MAKERS)
def test_bad_arguments(name):
    with pytest.raises(ValueError, match=f"{name}: n must be"):
        MAKERS[name](n=1, rng=0)
    with pytest.raises(ValueError, match=f"{name}: noise"):
        MAKERS[name](n=100, noise=-1.0, rng=0)


def test_spirals_many_classes_are_balanced_and_radial():
    X, y = spirals(n=600, classes=3, noise=0.0, rng=0)
    assert np.bincount(y).tolist() == [200, 200, 200]
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.min() >= 0.1 - 1e-6 and r.max() <= 1 + 1e-6
    with pytest.raises(ValueError, match="classes"):
        spirals(n=10, classes=1, rng=0)


def linear_fit_accuracy(X, y):
    """Training accuracy of the least-squares linear classifier sign([X, 1] w) for labels ±1."""
    A = np.hstack([X, np.ones((len(X), 1))]).astype(np.float64)         # N, 3
    w = np.linalg.lstsq(A, 2.0 * y - 1, rcond=None)[0]                   # 3
    return np.mean((A @ w > 0) == (y == 1))


def test_spirals_arms_are_interleaved_not_linearly_separable():
    X, y = spirals(n=1000, rng=0)
    assert linear_fit_accuracy(X, y) < 0.75


@pytest.mark.parametrize("make", [moons, circles])
def test_moons_and_circles_are_not_linearly_separable(make):
    X, y = make(n=1000, noise=0.0, rng=0)
    assert linear_fit_accuracy(X, y) < 0.9


def test_xor_labels_follow_the_quadrants():
    X, y = xor(n=400, noise=0.0, rng=0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))
    quadrants = 2 * (X[:, 0] > 0) + (X[:, 1] > 0)
    assert np.bincount(quadrants).tolist() == [100, 100, 100, 100]


def test_circles_factor_sets_the_inner_radius():
    X, y = circles(n=200, noise=0.0, factor=0.3, rng=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6)


def test_moons_follow_their_formulas():
    X, y = moons(n=201, noise=0.0, rng=0)
    assert np.bincount(y).tolist() == [101, 100]
    upper, lower = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    # class 0: (cos t, sin t), t in [0, pi]; class 1: (1 - cos t, 1/2 - sin t)
    np.testing.assert_allclose(np.hypot(*upper.T), 1, atol=1e-6)
    assert upper[:, 1].min() >= -1e-6
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1, atol=1e-6)
    assert lower[:, 1].max() <= 0.5 + 1e-6
    t = np.linspace(0, np.pi, 101)                                      # evenly spaced, ends in
    np.testing.assert_allclose(np.sort(upper[:, 0]), np.sort(np.cos(t)), atol=1e-6)


def test_noise_is_gaussian_with_the_given_std():
    clean, y0 = moons(n=4000, noise=0.0, rng=5)
    noisy, y1 = moons(n=4000, noise=0.2, rng=5)
    # the same seed draws the same permutation after the noise: rows line up
    np.testing.assert_array_equal(y0, y1)
    assert abs((noisy - clean).std() - 0.2) < 0.01
    assert abs((noisy - clean).mean()) < 0.01


def test_circles_points_are_evenly_spaced():
    X, y = circles(n=8, noise=0.0, factor=0.5, rng=0)
    angles = np.sort(np.arctan2(X[y == 0, 1], X[y == 0, 0]) % (2 * np.pi))
    np.testing.assert_allclose(angles, np.arange(4) * np.pi / 2, atol=1e-6)
    with pytest.raises(ValueError, match="factor"):
        circles(n=8, factor=1.0, rng=0)


@pytest.mark.parametrize("name", MAKERS)
def test_no_scikit_learn_needed(name, monkeypatch):
    for module in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "sklearn", None)                   # `import sklearn` fails
    X, y = MAKERS[name](n=50, rng=0)
    assert X.shape == (50, 2) and y.shape == (50,)
