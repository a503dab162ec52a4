"""Dropout: inverted scaling keeps the expectation, a fixed mask in gradcheck, identity at
inference."""
import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import linkedref.backend as B
from linkedref.dropout import Dropout
from linkedref.gradcheck import away_from_kinks, gradcheck


def _x(shape, rng, dtype="float32"):
    return B.asarray(rng.standard_normal(shape), dtype=dtype)


@given(shape=st.sampled_from([(3, 4), (5, 1), (2, 3, 4, 4)]), p=st.floats(0.0, 0.9),
       seed=st.integers(0, 2**16))
def test_gradcheck_float64_with_a_fixed_mask(shape, p, seed):
    rng = np.random.default_rng(seed)
    report = gradcheck(Dropout(p, rng=rng), away_from_kinks(shape, rng), training=True, seed=seed)
    assert report.max_error <= 1e-6


def test_a_deep_copy_draws_the_same_mask(rng):
    """What makes gradcheck's evaluations consistent: copies share the Generator's state."""
    layer = Dropout(0.5, rng=3)
    x = B.asarray(np.ones((8, 16)), dtype="float32")
    a = copy.deepcopy(layer).forward(x, training=True)
    b = copy.deepcopy(layer).forward(x, training=True)
    np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b))
    c, d = layer.forward(x, training=True), layer.forward(x, training=True)
    assert (B.to_numpy(c) != B.to_numpy(d)).any()          # the layer itself draws anew each time


def test_backward_uses_the_forward_mask(rng):
    layer = Dropout(0.3, rng=rng)
    x = B.asarray(np.ones((50, 20)), dtype="float32")
    y = B.to_numpy(layer.forward(x, training=True))
    dy = B.asarray(rng.standard_normal((50, 20)), dtype="float32")
    dy_host = B.to_numpy(dy).copy()
    dx = B.to_numpy(layer.backward(dy))
    np.testing.assert_allclose(dx, dy_host * y, rtol=1e-6)  # y = mask/(1 − p) for x = 1
    np.testing.assert_array_equal(B.to_numpy(dy), dy_host)  # dy untouched
    assert dx.dtype == np.float32


def test_keeps_the_expectation_and_drops_a_fraction_p(rng):
    p = 0.3
    layer = Dropout(p, rng=rng)
    x = B.asarray(np.full((2000, 50), 2.0), dtype="float32")
    y = B.to_numpy(layer.forward(x, training=True))        # 100,000 draws
    assert y.dtype == np.float32
    assert (y == 0).mean() == pytest.approx(p, abs=0.01)
    np.testing.assert_allclose(y[y != 0], 2.0 / (1 - p), rtol=1e-6)
    assert y.mean() == pytest.approx(2.0, rel=0.01)


def test_identity_at_inference_and_for_p_zero(rng):
    x = _x((4, 3, 2, 2), rng)
    layer = Dropout(0.5, rng=rng)
    y = layer.forward(x)
    np.testing.assert_array_equal(B.to_numpy(y), B.to_numpy(x))
    assert y is not x                                      # no aliasing of the input
    dy = _x((4, 3, 2, 2), rng)
    np.testing.assert_array_equal(B.to_numpy(layer.backward(dy)), B.to_numpy(dy))
    np.testing.assert_array_equal(B.to_numpy(Dropout(0.0).forward(x, training=True)), B.to_numpy(x))


def test_same_seed_same_mask(rng):
    x = _x((6, 7), rng)
    a = Dropout(0.5, rng=11).forward(x, training=True)
    b = Dropout(0.5, rng=np.random.default_rng(11)).forward(x, training=True)
    np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "0.5", None, True])
def test_p_must_lie_in_0_1(p):
    with pytest.raises(ValueError, match="Dropout: p must be"):
        Dropout(p)


def test_bad_input_and_backward_before_forward(rng):
    layer = Dropout(0.5, rng=rng)
    with pytest.raises(TypeError, match="Dropout: expected a floating-point input"):
        layer.forward(B.asarray(np.ones((2, 2), np.int32)), training=True)
    with pytest.raises(ValueError, match="Dropout: expected"):
        layer.forward(B.asarray(np.ones(3), dtype="float32"), training=True)
    with pytest.raises(ValueError, match=r"Dropout: backward\(\) called before forward\(\)"):
        Dropout(0.5).backward(_x((2, 2), rng))
