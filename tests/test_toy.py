"""2D toy problems: shapes, dtypes, seeding, balance, and that each is the problem it claims."""
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


def test_spirals_arms_are_interleaved_not_linearly_separable():
    from sklearn.linear_model import LogisticRegression
    X, y = spirals(n=1000, rng=0)
    assert LogisticRegression().fit(X, y).score(X, y) < 0.75


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
