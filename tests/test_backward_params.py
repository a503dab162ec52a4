"""backward_params: the parameter gradients of backward without dL/dx of the input (the data).

Conv2D and Dense skip the product; Sequential asks its first layer for it; every other layer
falls back to backward; fit uses it where the model has it."""
import numpy as np
import pytest

import linkedref as lk
import linkedref.conv_fast as fast


def _no_dx(*args):
    raise AssertionError("backward_params computed dx")


def _grads(model):
    return {k: np.array(v) for k, v in model.grads.items()}


def _nets():
    return {
        "conv first": lambda: lk.Sequential([
            lk.Conv2D(3, 4, 3, padding="same", rng=0), lk.LKReLU(), lk.MaxPool2D(2),
            lk.Flatten(), lk.Dense(8 * 2 * 2, 5, rng=1)]),
        "stride-2 conv first": lambda: lk.depth_net(depth=3, activation="relu", input_size=(4, 4),
                                                    num_classes=5, rng=2),
        "dense first": lambda: lk.Sequential([lk.Dense(48, 6, rng=3), lk.ReLU(),
                                              lk.Dense(6, 5, rng=4)]),
        "activation first": lambda: lk.Sequential([lk.ReLU(), lk.Flatten(),
                                                   lk.Dense(48, 5, rng=5)]),
    }


@pytest.mark.parametrize("name", list(_nets()))
def test_the_same_grads_as_backward_and_no_input_gradient(name, rng, monkeypatch):
    make = _nets()[name]
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    x = x.reshape(2, 48) if name == "dense first" else x
    dy = rng.standard_normal((2, 5)).astype(np.float32)
    full = make()
    full.forward(x, training=True)
    full.backward(dy)
    want = _grads(full)

    skipping = make()
    skipping.forward(x, training=True)
    if name != "activation first":              # Conv2D, Dense: their own backward_params
        monkeypatch.setattr(skipping.layers[0], "backward", _no_dx)
    assert skipping.backward_params(dy) is None
    monkeypatch.undo()
    got = _grads(skipping)
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


@pytest.mark.parametrize("C, O, stride", [(3, 4, 1), (4, 3, 1), (3, 4, 2)])
def test_conv2d_backward_params_runs_neither_dx_path(C, O, stride, rng, monkeypatch):
    conv = lk.Conv2D(C, O, 3, stride=stride, padding="same", rng=0)
    x = rng.standard_normal((2, C, 6, 6)).astype(np.float32)
    dy = rng.standard_normal(conv.forward(x).shape).astype(np.float32)
    conv.backward(dy)
    want = _grads(conv)
    monkeypatch.setattr(fast, "dx_col2im", _no_dx)
    monkeypatch.setattr(fast, "dx_transposed", _no_dx)
    conv.grads = {k: np.zeros_like(v) for k, v in conv.grads.items()}
    assert conv.backward_params(dy) is None
    for key in want:
        np.testing.assert_array_equal(conv.grads[key], want[key], err_msg=key)


def test_backward_params_checks_like_backward(rng):
    conv, dense = lk.Conv2D(2, 3, 3, rng=0), lk.Dense(4, 2, rng=0)
    for layer in (conv, dense, lk.Sequential([lk.Dense(4, 2, rng=1)])):
        with pytest.raises(ValueError, match="backward\\(\\) called before forward\\(\\)"):
            layer.backward_params(np.ones((1, 2), np.float32))
    dense.forward(rng.standard_normal((3, 4)).astype(np.float32))
    with pytest.raises(ValueError, match="Dense"):
        dense.backward_params(np.ones((3, 5), np.float32))              # not y's shape


def test_fit_uses_backward_params_and_still_takes_a_model_without_it(rng):
    X = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.integers(0, 2, 16)
    calls = []

    class Counting(lk.Sequential):
        def backward_params(self, dy):
            calls.append("params")
            return super().backward_params(dy)

    model = Counting([lk.Dense(4, 2, rng=0)])
    lk.fit(model, lk.SoftmaxCrossEntropy(), lk.SGD(model, lr=0.1), X, y, epochs=1, batch_size=8,
           progress=False)
    assert calls == ["params", "params"]

    class DuckModel:                                   # forward/backward/params/grads only
        def __init__(self):
            self.inner = lk.Dense(4, 2, rng=0)
            self.params, self.grads = self.inner.params, self.inner.grads

        def forward(self, x, training=False):
            return self.inner.forward(x, training)

        def backward(self, dy):
            calls.append("duck")
            return self.inner.backward(dy)

    duck = DuckModel()
    lk.fit(duck, lk.SoftmaxCrossEntropy(), lk.SGD(duck, lr=0.1), X, y, epochs=1, batch_size=8,
           progress=False)
    assert calls[-2:] == ["duck", "duck"]


def test_a_subclass_with_its_own_backward_keeps_it(rng):
    """A first layer (or a Sequential) whose class replaces only ``backward`` is trained
    through that backward, not through the parent class's shortcut past it."""
    class HalvedDense(lk.Dense):                       # its own gradient rule
        def backward(self, dy):
            return super().backward(dy / 2)

    class Logged(lk.Sequential):
        seen = []

        def backward(self, dy):
            self.seen.append("own")
            return super().backward(dy)

    x = rng.standard_normal((4, 3)).astype(np.float32)
    dy = rng.standard_normal((4, 2)).astype(np.float32)
    plain, halved = lk.Dense(3, 2, rng=0), lk.Sequential([HalvedDense(3, 2, rng=0)])
    plain.forward(x)
    plain.backward(dy)
    halved.forward(x)
    halved.backward_params(dy)
    halved = halved.layers[0]
    np.testing.assert_allclose(halved.grads["W"], plain.grads["W"] / 2, rtol=1e-6)
    model = Logged([lk.Dense(3, 2, rng=0)])
    model.forward(x)
    model.backward_params(dy)
    assert Logged.seen == ["own"]
