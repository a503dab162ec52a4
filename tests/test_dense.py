"""Dense: y = x W + b, its hand-derived backward, and its errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import linkedref.backend as B
from linkedref.dense import Dense
from linkedref.gradcheck import gradcheck
from linkedref.gradcheck.cases_layers import CASES


@given(n=st.integers(1, 6), d_in=st.integers(1, 7), d_out=st.integers(1, 6),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_gradcheck_float64(n, d_in, d_out, bias, seed):
    rng = np.random.default_rng(seed)
    report = gradcheck(Dense(d_in, d_out, bias=bias, rng=rng), rng.standard_normal((n, d_in)),
                       seed=seed)
    assert report.max_error <= 1e-6
    assert {r.name for r in report.rows} == ({"x", "W", "b"} if bias else {"x", "W"})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_registered_layer_cases_pass(case, rng):
    assert gradcheck(**case.make(rng)).max_error <= 1e-6


def test_forward_and_backward_match_the_formulas(rng):
    B.set_default_dtype("float64")
    layer = Dense(4, 3, rng=rng)
    layer.params["b"][...] = B.asarray(rng.standard_normal(3))
    x, dy = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    W, b = B.to_numpy(layer.params["W"]), B.to_numpy(layer.params["b"])
    y = layer.forward(B.asarray(x))
    np.testing.assert_allclose(B.to_numpy(y), x @ W + b, rtol=1e-12)
    dy_dev = B.asarray(dy)
    dx = layer.backward(dy_dev)
    np.testing.assert_allclose(B.to_numpy(dx), dy @ W.T, rtol=1e-12)
    np.testing.assert_allclose(B.to_numpy(layer.grads["W"]), x.T @ dy, rtol=1e-12)
    np.testing.assert_allclose(B.to_numpy(layer.grads["b"]), dy.sum(0), rtol=1e-12)
    np.testing.assert_array_equal(B.to_numpy(dy_dev), dy)            # dy left untouched


def test_backward_sets_new_grad_arrays_and_leaves_the_old_ones_alone(rng):
    """The layer protocol's rule: backward sets grads[key] to a new array (never writes into
    the old one, never accumulates)."""
    layer = Dense(3, 2, rng=rng)
    x = B.asarray(rng.standard_normal((4, 3)), dtype="float32")
    layer.forward(x)
    layer.backward(B.asarray(np.ones((4, 2)), dtype="float32"))
    first = dict(layer.grads)
    assert float(B.to_numpy(layer.grads["b"])[0]) == 4.0
    layer.forward(x)
    layer.backward(B.asarray(np.ones((4, 2)), dtype="float32"))
    assert all(layer.grads[k] is not first[k] for k in first)
    assert float(B.to_numpy(layer.grads["b"])[0]) == 4.0             # replaced, not 8
    assert float(B.to_numpy(first["b"])[0]) == 4.0                   # the old array untouched


def test_parameters_follow_the_default_dtype(rng):
    layer = Dense(3, 2, rng=rng)
    assert layer.params["W"].dtype == np.float32 and layer.params["b"].dtype == np.float32
    assert layer.grads["W"].dtype == np.float32 and layer.params["W"].shape == (3, 2)
    np.testing.assert_array_equal(B.to_numpy(layer.params["b"]), 0)
    B.set_default_dtype("float64")
    layer = Dense(3, 2, rng=rng)
    assert layer.params["W"].dtype == np.float64 and layer.grads["b"].dtype == np.float64


def test_init_and_seed(rng):
    a, b = Dense(20, 30, rng=5), Dense(20, 30, rng=5)
    np.testing.assert_array_equal(B.to_numpy(a.params["W"]), B.to_numpy(b.params["W"]))
    limit = np.sqrt(6 / 50)
    assert np.abs(B.to_numpy(a.params["W"])).max() <= limit                 # glorot_uniform
    assert "b" not in Dense(2, 2, bias=False).params


@pytest.mark.parametrize("x, err, match", [
    (np.zeros((2, 5), np.float32), ValueError, r"Dense: expected 4 features.*\(2, 5\)"),
    (np.zeros((2, 4, 1), np.float32), ValueError, r"Dense: expected 2D input.*\(2, 4, 1\)"),
    (np.zeros((2, 4), np.int64), TypeError, "Dense: expected a floating-point input"),
    (np.zeros((2, 4), np.float64), TypeError, "Dense: input dtype float64 differs.*float32"),
    ([[0.0] * 4] * 2, TypeError, "Dense: expected a NumPy or CuPy array"),
])
def test_bad_input_is_a_clear_error(x, err, match):
    layer = Dense(4, 3, rng=0)
    with pytest.raises(err, match=match):
        layer.forward(B.asarray(x) if isinstance(x, np.ndarray) else x)


def test_bad_construction():
    with pytest.raises(ValueError, match="unknown initializer 'glorot'"):
        Dense(3, 2, init="glorot")
    with pytest.raises(ValueError, match="Dense: in_features must be an integer ≥ 1"):
        Dense(0, 2)


def test_backward_before_forward():
    with pytest.raises(ValueError, match=r"Dense: backward\(\) called before forward\(\)"):
        Dense(3, 2, rng=0).backward(B.asarray(np.ones((1, 2)), dtype="float32"))


def test_backward_rejects_dy_of_another_shape():
    layer = Dense(3, 2, rng=0)
    layer.forward(B.asarray(np.ones((4, 3)), dtype="float32"))
    with pytest.raises(ValueError, match=r"Dense: dy has shape \(4, 3\), expected .*\(4, 2\)"):
        layer.backward(B.asarray(np.ones((4, 3)), dtype="float32"))
