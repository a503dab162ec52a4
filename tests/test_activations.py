"""Single activations: gradients, forward against plain formulas, numerics, SELU, bad input."""
import warnings

import numpy as np
import pytest
from _activation_inputs import sigmoid, steered_inputs
from hypothesis import given, settings
from hypothesis import strategies as st

import linkedref.backend as B
from linkedref.activations import (
    ELU,
    SELU,
    SELU_ALPHA,
    SELU_LAMBDA,
    LeakyReLU,
    PReLU,
    ReLU,
    Sigmoid,
    Swish,
    Tanh,
)
from linkedref.gradcheck import away_from_kinks, gradcheck
from linkedref.registry import ACTIVATIONS, activation

SINGLE = ("relu", "leaky_relu", "prelu", "elu", "selu", "swish", "tanh", "sigmoid")

shapes_2d = st.tuples(st.integers(1, 4), st.integers(1, 4))
shapes_4d = st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))


REFERENCE = {
    "relu": lambda z: np.where(z > 0, z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "prelu": lambda z: np.where(z > 0, z, 0.25 * z),
    "elu": lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1),
    "selu": lambda z: 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 *
                                                    (np.exp(np.minimum(z, 0)) - 1)),
    "swish": lambda z: z * sigmoid(z),
    "tanh": np.tanh,
    "sigmoid": sigmoid,
}


@pytest.mark.parametrize("name", ACTIVATIONS)          # single and linked, by name
@settings(max_examples=4)
@given(shape=st.one_of(shapes_2d, shapes_4d), seed=st.integers(0, 2**31))
def test_gradcheck_float64(name, shape, seed):
    rng = np.random.default_rng(seed)
    report = gradcheck(activation(name), steered_inputs(shape, rng))
    assert report.max_error <= 1e-6


@pytest.mark.parametrize("name", SINGLE)
def test_forward_matches_plain_formula(name, rng):
    z = rng.standard_normal((3, 4, 2, 5)) * 3
    y = B.to_numpy(activation(name).astype("float64").forward(B.asarray(z)))
    np.testing.assert_allclose(y, REFERENCE[name](z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", SINGLE)
def test_float32_stays_float32_and_dy_untouched(name, rng):
    layer = activation(name)
    x = B.asarray(rng.standard_normal((4, 3)), dtype="float32")
    y = layer.forward(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    dy = B.asarray(rng.standard_normal((4, 3)), dtype="float32")
    before = dy.copy()
    dx = layer.backward(dy)
    assert dx.dtype == np.float32 and dx.shape == x.shape
    np.testing.assert_array_equal(B.to_numpy(dy), B.to_numpy(before))
    assert layer.expansion == 1


def test_selu_constants():
    assert SELU_ALPHA == 1.6732632423543772 and SELU_LAMBDA == 1.0507009873554805
    layer = SELU()
    assert layer.alpha == SELU_ALPHA and layer.scale == SELU_LAMBDA


def test_selu_keeps_standard_normal_standard():
    z = np.random.default_rng(0).standard_normal((1_000_000, 1))
    y = B.to_numpy(SELU().forward(B.asarray(z)))
    assert abs(y.mean()) < 5e-3 and abs(y.var() - 1) < 5e-3
    y = B.to_numpy(ELU().forward(B.asarray(z)))          # plain ELU does not: a contrast
    assert y.mean() > 0.1


@pytest.mark.parametrize("layer_cls", [Sigmoid, Swish])
def test_sigmoid_and_swish_finite_and_accurate_in_float32(layer_cls):
    z = np.concatenate([-np.logspace(-3, 4, 200), [0.0], np.logspace(-3, 4, 200)])
    x = B.asarray(z.reshape(1, -1), dtype="float32")
    layer = layer_cls()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # no overflow / invalid warnings
        y = B.to_numpy(layer.forward(x))
        dx = B.to_numpy(layer.backward(B.xp().ones_like(x)))
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    z32 = z.astype(np.float32).astype(np.float64)
    ref = sigmoid(z32) if layer_cls is Sigmoid else z32 * sigmoid(z32)
    # relative accuracy, also in the far tails (down to float32's smallest normal numbers)
    np.testing.assert_allclose(y[0], ref, rtol=1e-5, atol=1e-37)


def test_leaky_relu_default_and_range():
    assert LeakyReLU().alpha == 0.01
    with pytest.raises(ValueError, match="LeakyReLU.*alpha"):
        LeakyReLU(alpha=1.5)
    with pytest.raises(ValueError, match="ELU.*alpha"):
        ELU(alpha=0)


def test_prelu_slopes_sized_on_first_forward(rng):
    layer = PReLU(init=0.1)
    assert layer.params == {} and layer.grads == {}
    layer.forward(B.asarray(rng.standard_normal((2, 5, 3, 3)), dtype="float32"))
    assert set(layer.params) == set(layer.grads) == {"alpha"}
    assert layer.params["alpha"].shape == (5,) and layer.params["alpha"].dtype == np.float32
    np.testing.assert_allclose(B.to_numpy(layer.params["alpha"]), 0.1)
    with pytest.raises(ValueError, match="PReLU.*5"):
        layer.forward(B.asarray(rng.standard_normal((2, 4)), dtype="float32"))
    with pytest.raises(TypeError, match="PReLU.*dtype"):
        layer.forward(B.asarray(rng.standard_normal((2, 5)), dtype="float64"))
    assert PReLU(channels=3).params["alpha"].shape == (3,)


def test_prelu_slope_gradient_by_hand():
    layer = PReLU(channels=2).astype("float64")
    x = B.asarray(np.array([[-1.0, 2.0], [-3.0, -4.0]]))
    layer.forward(x)
    layer.backward(B.asarray(np.array([[1.0, 1.0], [2.0, 0.5]])))
    # ∂L/∂a_c = Σ_n dy·min(z, 0): channel 0: 1·(−1) + 2·(−3) = −7; channel 1: 0 + 0.5·(−4) = −2
    np.testing.assert_allclose(B.to_numpy(layer.grads["alpha"]), [-7.0, -2.0])


@pytest.mark.parametrize("name", SINGLE)
def test_backward_before_forward(name):
    with pytest.raises(ValueError, match="before forward"):
        activation(name).backward(B.xp().ones((2, 3)))


@pytest.mark.parametrize("name", SINGLE)
def test_backward_rejects_dy_of_another_shape(name, rng):
    layer = activation(name)
    layer.forward(B.asarray(rng.standard_normal((2, 3)), dtype="float32"))
    with pytest.raises(ValueError, match=rf"{layer.name}: dy has shape \(1, 3\)"):
        layer.backward(B.xp().ones((1, 3), dtype="float32"))    # would broadcast silently


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_leaky_relu_backward_for_any_alpha(alpha, rng):
    z, dy = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    z[0, 0] = 0.0                                               # f'(0) = α
    layer = LeakyReLU(alpha).astype("float64")
    layer.forward(B.asarray(z, dtype="float64"))
    dx = B.to_numpy(layer.backward(B.asarray(dy, dtype="float64")))
    np.testing.assert_array_equal(dx, dy * np.where(z > 0, 1.0, alpha))


@pytest.mark.parametrize("name", SINGLE)
def test_bad_input(name):
    layer = activation(name)
    with pytest.raises(ValueError, match=f"{layer.name}.*ndim"):
        layer.forward(B.xp().ones(3, dtype="float32"))
    with pytest.raises(TypeError, match=f"{layer.name}.*floating"):
        layer.forward(B.xp().ones((2, 3), dtype="int64"))
    with pytest.raises(TypeError, match=f"{layer.name}.*array"):
        layer.forward([[1.0, 2.0]])


def test_any_ndim_from_two(rng):
    for shape in [(2, 3), (2, 3, 4), (2, 3, 2, 2), (1, 2, 2, 2, 2)]:
        x = B.asarray(rng.standard_normal(shape), dtype="float32")
        assert ReLU().forward(x).shape == shape
        assert PReLU().forward(x).shape == shape
        assert Tanh().forward(x).shape == shape


TORCH = {"relu": "relu", "leaky_relu": "leaky_relu", "elu": "elu", "selu": "selu",
         "swish": "silu", "tanh": "tanh", "sigmoid": "sigmoid"}


@pytest.mark.parametrize("name", [*TORCH, "prelu"])
def test_matches_pytorch_when_installed(name, rng):
    """An independent oracle (forward and backward), skipped when PyTorch is absent."""
    torch = pytest.importorskip("torch")
    z = away_from_kinks((3, 4, 2, 2), rng) * 2
    dy = rng.standard_normal(z.shape)
    layer = activation(name).astype("float64")
    y = B.to_numpy(layer.forward(B.asarray(z)))
    dx = B.to_numpy(layer.backward(B.asarray(dy)))
    zt = torch.tensor(z, requires_grad=True)
    if name == "prelu":
        a = torch.full((4,), 0.25, dtype=torch.float64, requires_grad=True)
        yt = torch.nn.functional.prelu(zt, a)
    else:
        yt = getattr(torch.nn.functional, TORCH[name])(zt)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, zt.grad.numpy(), rtol=1e-12, atol=1e-14)
    if name == "prelu":
        np.testing.assert_allclose(B.to_numpy(layer.grads["alpha"]), a.grad.numpy(), rtol=1e-12)


def test_lazy_slopes_are_created_where_the_input_lives(monkeypatch, rng):
    """Sized on the first forward from x's own module, not the active backend: a layer moved
    with .to() before its first forward, or fed from another backend, gets slopes beside x."""
    x = B.asarray(rng.standard_normal((2, 3)), dtype="float32")
    monkeypatch.setattr(B, "xp", lambda: pytest.fail("slopes created on the active backend"))
    layer = PReLU()
    layer.forward(x)
    assert B.get_array_module(layer.params["alpha"]) is B.get_array_module(x)
