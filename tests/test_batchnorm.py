"""BatchNorm: batch statistics while training, running ones at inference, closed-form backward."""
import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import linkedref.backend as B
from linkedref.batchnorm import BatchNorm
from linkedref.gradcheck import gradcheck

# At least M = 4 values per channel. dL/dx is orthogonal to 1 and to x̂ (per channel), so it
# lives in M − 2 dimensions: for M = 2 it is ~1e-6 (set by eps alone) and its estimate is
# round-off; for M = 3 a direction r nearly orthogonal to its one line makes every slope ~0,
# and the checker's kink test (relative to the slope) then rejects every coordinate.
SHAPES = st.one_of(
    st.tuples(st.integers(4, 8), st.integers(1, 4)),                               # N, C
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 4), st.integers(2, 4)),
)


def _random_bn(C, rng):
    layer = BatchNorm(C)
    layer.params["gamma"] = B.asarray(rng.uniform(0.5, 2.0, C), dtype=layer.dtype)
    layer.params["beta"] = B.asarray(rng.standard_normal(C), dtype=layer.dtype)
    layer.buffers["running_mean"] = B.asarray(rng.standard_normal(C), dtype=layer.dtype)
    layer.buffers["running_var"] = B.asarray(rng.uniform(0.5, 2.0, C), dtype=layer.dtype)
    return layer


@given(shape=SHAPES, training=st.booleans(), seed=st.integers(0, 2**16))
def test_gradcheck_float64(shape, training, seed):
    rng = np.random.default_rng(seed)
    x = 0.5 + 2.0 * rng.standard_normal(shape)
    # The checker's direction r must not come from the same stream as x: with one channel,
    # r ∝ x − 0.5 lies in span(1, x̂), the null space of BatchNorm's dL/dx, and every slope is 0.
    report = gradcheck(_random_bn(shape[1], rng), x, training=training, seed=seed + 1)
    assert report.max_error <= 1e-6
    assert {r.name for r in report.rows} == {"x", "gamma", "beta"}


def test_training_output_is_normalised_per_channel(rng):
    B.set_default_dtype("float64")
    layer = BatchNorm(3)
    x = rng.standard_normal((8, 3, 5, 6)) * np.array([1.0, 5.0, 20.0])[:, None, None] + 3.0
    y = B.to_numpy(layer.forward(B.asarray(x), training=True))
    var = x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), var / (var + 1e-3), rtol=1e-10)  # ≈ 1
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-3)


def test_running_statistics_update_with_keras_momentum(rng):
    B.set_default_dtype("float64")
    layer = BatchNorm(2)
    x = rng.standard_normal((10, 2)) * 3 + 1
    layer.forward(B.asarray(x), training=True)
    mean, unbiased = x.mean(0), x.var(0, ddof=1)
    np.testing.assert_allclose(B.to_numpy(layer.buffers["running_mean"]), 0.01 * mean, rtol=1e-12)
    np.testing.assert_allclose(B.to_numpy(layer.buffers["running_var"]), 0.99 + 0.01 * unbiased,
                               rtol=1e-12)
    layer.forward(B.asarray(x), training=False)                     # inference: no update
    np.testing.assert_allclose(B.to_numpy(layer.buffers["running_mean"]), 0.01 * mean, rtol=1e-12)
    # many steps on the same batch converge to its statistics
    layer = BatchNorm(2, momentum=0.5)
    for _ in range(60):
        layer.forward(B.asarray(x), training=True)
    np.testing.assert_allclose(B.to_numpy(layer.buffers["running_mean"]), mean, rtol=1e-9)
    np.testing.assert_allclose(B.to_numpy(layer.buffers["running_var"]), unbiased, rtol=1e-9)


def test_inference_uses_the_running_statistics(rng):
    B.set_default_dtype("float64")
    layer = _random_bn(3, rng)
    x = rng.standard_normal((4, 3, 2, 2))
    g, b, m, v = (B.to_numpy(d[k]).reshape(1, 3, 1, 1) for d, k in
                  [(layer.params, "gamma"), (layer.params, "beta"),
                   (layer.buffers, "running_mean"), (layer.buffers, "running_var")])
    y = B.to_numpy(layer.forward(B.asarray(x), training=False))
    np.testing.assert_allclose(y, g * (x - m) / np.sqrt(v + 1e-3) + b, rtol=1e-12)
    dy = rng.standard_normal(x.shape)
    dx = B.to_numpy(layer.backward(B.asarray(dy)))
    np.testing.assert_allclose(dx, dy * g / np.sqrt(v + 1e-3), rtol=1e-12)


def test_backward_matches_the_unsimplified_chain_rule(rng):
    """An independent oracle: the textbook step-by-step backward (CS231n style)."""
    B.set_default_dtype("float64")
    layer = _random_bn(3, rng)
    x, dy = rng.standard_normal((5, 3, 2, 3)), rng.standard_normal((5, 3, 2, 3))
    layer.forward(B.asarray(x), training=True)
    dx = B.to_numpy(layer.backward(B.asarray(dy)))
    ax, M = (0, 2, 3), 5 * 2 * 3
    g = B.to_numpy(layer.params["gamma"]).reshape(1, 3, 1, 1)
    mu = x.mean(ax, keepdims=True)
    var = ((x - mu) ** 2).mean(ax, keepdims=True)
    dxhat = dy * g
    dvar = (dxhat * (x - mu) * -0.5 * (var + 1e-3) ** -1.5).sum(ax, keepdims=True)
    dmu = (-dxhat / np.sqrt(var + 1e-3)).sum(ax, keepdims=True) \
        + dvar * (-2 * (x - mu)).mean(ax, keepdims=True)
    expected = dxhat / np.sqrt(var + 1e-3) + dvar * 2 * (x - mu) / M + dmu / M
    np.testing.assert_allclose(dx, expected, rtol=1e-10, atol=1e-12)


def test_backward_leaves_dy_alone_and_keeps_dtype(rng):
    layer = BatchNorm(4)
    x = B.asarray(rng.standard_normal((6, 4)), dtype="float32")
    dy = B.asarray(rng.standard_normal((6, 4)), dtype="float32")
    before = B.to_numpy(dy).copy()
    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    np.testing.assert_array_equal(B.to_numpy(dy), before)
    assert y.dtype == dx.dtype == np.float32
    assert layer.grads["gamma"].dtype == layer.grads["beta"].dtype == np.float32
    assert layer.buffers["running_mean"].dtype == np.float32


def test_parameters_and_buffers_follow_the_default_dtype():
    layer = BatchNorm(3)
    for d in (layer.params, layer.grads, layer.buffers):
        assert all(v.dtype == np.float32 and v.shape == (3,) for v in d.values())
    np.testing.assert_array_equal(B.to_numpy(layer.params["gamma"]), 1)
    np.testing.assert_array_equal(B.to_numpy(layer.buffers["running_var"]), 1)
    B.set_default_dtype("float64")
    layer = BatchNorm(3)
    assert layer.params["beta"].dtype == layer.buffers["running_mean"].dtype == np.float64


def test_gradcheck_does_not_move_the_running_statistics(rng):
    layer = BatchNorm(2)
    before = copy.deepcopy(layer.buffers)
    gradcheck(layer, rng.standard_normal((4, 2)), training=True)
    for k in before:
        np.testing.assert_array_equal(B.to_numpy(layer.buffers[k]), B.to_numpy(before[k]))


@pytest.mark.parametrize("x, err, match", [
    (np.zeros((2, 4), np.float32), ValueError,
     r"BatchNorm: expected 3 features/channels.*\(2, 4\)"),
    (np.zeros((2, 3, 4), np.float32), ValueError, r"BatchNorm: expected 2D or 4D input"),
    (np.zeros((2, 3), np.int32), TypeError, "BatchNorm: expected a floating-point input"),
    (np.zeros((2, 3), np.float64), TypeError, "BatchNorm: input dtype float64 differs"),
])
def test_bad_input_is_a_clear_error(x, err, match):
    with pytest.raises(err, match=match):
        BatchNorm(3).forward(B.asarray(x), training=True)


def test_bad_construction_and_backward_before_forward():
    with pytest.raises(ValueError, match="BatchNorm: num_features"):
        BatchNorm(0)
    with pytest.raises(ValueError, match="BatchNorm: momentum"):
        BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="BatchNorm: eps"):
        BatchNorm(3, eps=0)
    with pytest.raises(ValueError, match=r"BatchNorm: backward\(\) called before forward\(\)"):
        BatchNorm(3).backward(B.asarray(np.ones((2, 3)), dtype="float32"))


def test_backward_rejects_dy_of_another_shape():
    layer = BatchNorm(3)
    layer.forward(B.asarray(np.ones((4, 3, 2, 2)), dtype="float32"), training=True)
    with pytest.raises(ValueError, match=r"BatchNorm: dy has shape \(1, 3, 2, 2\)"):
        layer.backward(B.asarray(np.ones((1, 3, 2, 2)), dtype="float32"))   # would broadcast
