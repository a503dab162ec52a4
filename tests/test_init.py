"""Initializers: each draw matches its formula; looks_linear makes a mirror-fed layer linear."""
import numpy as np
import pytest

import linkedref.backend as B
from linkedref import init
from linkedref.dense import Dense

FAN_IN, FAN_OUT = 300, 500
SHAPE = (FAN_IN, FAN_OUT)           # 150,000 draws: std within ~0.5% of its target


@pytest.mark.parametrize("name, std", [
    ("glorot_uniform", np.sqrt(2.0 / (FAN_IN + FAN_OUT))),
    ("glorot_normal", np.sqrt(2.0 / (FAN_IN + FAN_OUT))),
    ("he_normal", np.sqrt(2.0 / FAN_IN)),
    ("lecun_normal", np.sqrt(1.0 / FAN_IN)),
])
def test_empirical_std_matches_the_formula(name, std, rng):
    w = init.INITIALIZERS[name](SHAPE, FAN_IN, FAN_OUT, rng)
    assert w.shape == SHAPE and w.dtype == np.float64
    assert abs(w.mean()) < 0.01 * std
    assert w.std() == pytest.approx(std, rel=0.02)


def test_glorot_uniform_bounds(rng):
    limit = np.sqrt(6.0 / (FAN_IN + FAN_OUT))
    w = init.glorot_uniform(SHAPE, FAN_IN, FAN_OUT, rng)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit                 # fills the interval, not a smaller one


@pytest.mark.parametrize("name", ["glorot_normal", "he_normal", "lecun_normal"])
def test_normals_are_truncated_at_two_stddevs_of_the_underlying_normal(name, rng):
    w = init.INITIALIZERS[name](SHAPE, FAN_IN, FAN_OUT, rng)
    scale = w.std() / 0.87962566103423978                 # the std before truncation
    assert np.abs(w).max() <= 2.0 * scale * 1.01
    assert np.abs(w).max() > 1.9 * scale


def test_initialize_gives_backend_arrays_in_the_default_dtype():
    w = init.initialize("glorot_uniform", (4, 3), 4, 3, rng=0)
    assert B.is_array(w) and w.dtype == np.float32 and w.shape == (4, 3)
    assert init.initialize("he_normal", (4, 3), 4, 3, 0, dtype="float64").dtype == np.float64
    B.set_default_dtype("float64")
    assert init.initialize("lecun_normal", (4, 3), 4, 3, 0).dtype == np.float64


def test_a_seed_fixes_the_draw():
    a = init.initialize("glorot_normal", (5, 6), 5, 6, rng=7)
    b = init.initialize("glorot_normal", (5, 6), 5, 6, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b))


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown initializer 'xavier'.*glorot_uniform"):
        init.initialize("xavier", (2, 2), 2, 2, 0)


def test_compute_fans_for_dense_and_conv():
    assert init.compute_fans((7, 3)) == (7, 3)
    assert init.compute_fans((8, 4, 3, 5)) == (4 * 15, 8 * 15)      # (out, in, kh, kw)
    with pytest.raises(ValueError, match="compute_fans"):
        init.compute_fans((2, 3, 4))


# ------------------------------------------------------------------------------- looks-linear
def test_looks_linear_dense_mirrors_the_input_halves_with_orthogonal_w0(rng):
    w = init.looks_linear((8, 3), 8, 3, rng)                          # (in = 2·4, out)
    w0 = w[:4]
    np.testing.assert_array_equal(w[4:], -w0)
    np.testing.assert_allclose(w0.T @ w0, np.eye(3), atol=1e-12)      # orthonormal columns
    w = init.looks_linear((4, 6), 4, 6, rng)                          # fewer inputs than outputs
    np.testing.assert_allclose(w[:2] @ w[:2].T, np.eye(2), atol=1e-12)


def test_looks_linear_conv_mirrors_axis_1(rng):
    w = init.looks_linear((5, 6, 3, 3), 54, 45, rng)                  # (out, in = 2·3, kh, kw)
    np.testing.assert_array_equal(w[:, 3:], -w[:, :3])
    m = w[:, :3].reshape(5, -1)                                       # out x (C·kh·kw)
    np.testing.assert_allclose(m @ m.T, np.eye(5), atol=1e-12)
    # an explicit in_axis overrides the shape rule
    w = init.looks_linear((6, 4), 6, 4, rng, in_axis=1)
    np.testing.assert_array_equal(w[:, 2:], -w[:, :2])


def test_looks_linear_rejects_an_odd_input_size(rng):
    with pytest.raises(ValueError, match="looks_linear.*input size 5.*even"):
        init.looks_linear((5, 4), 5, 4, rng)
    with pytest.raises(ValueError, match="looks_linear.*input size 3.*even"):
        init.initialize("looks_linear", (2, 3, 3, 3), 27, 18, rng)


def _relu_mirror(z):
    """concat(relu(z), relu(−z)) on axis 1 — the mirror link, written here independently."""
    return np.concatenate([np.maximum(z, 0), np.maximum(-z, 0)], axis=1)


def test_looks_linear_dense_fed_by_a_mirror_link_is_linear_at_init(rng):
    B.set_default_dtype("float64")
    C, out = 5, 7
    layer = Dense(2 * C, out, init="looks_linear", rng=rng)
    z = rng.standard_normal((11, C))
    y = B.to_numpy(layer.forward(B.asarray(_relu_mirror(z))))
    w0 = B.to_numpy(layer.params["W"])[:C]
    np.testing.assert_allclose(y, z @ w0, rtol=1e-12, atol=1e-12)
    # ... and it is *not* linear with an ordinary init
    other = Dense(2 * C, out, rng=rng)
    y2 = B.to_numpy(other.forward(B.asarray(_relu_mirror(z))))
    assert np.abs(y2 - z @ B.to_numpy(other.params["W"])[:C]).max() > 0.1


def test_looks_linear_conv_weights_fed_by_a_mirror_link_are_linear_at_init(rng):
    C, out, k = 3, 4, 3
    w = init.looks_linear((out, 2 * C, k, k), 2 * C * k * k, out * k * k, rng)
    patches = rng.standard_normal((10, C, k, k))                      # z over a receptive field
    y = np.einsum("nchw,ochw->no", _relu_mirror(patches), w)
    np.testing.assert_allclose(y, np.einsum("nchw,ochw->no", patches, w[:, :C]), atol=1e-12)
