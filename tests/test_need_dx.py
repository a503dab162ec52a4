"""backward(dy, need_dx=False): the parameter gradients of backward without dL/dx of the input
(the data). Conv2D and Dense skip the product; Sequential passes it to its first layer; every
other layer computes dx anyway; fit asks for it."""
import numpy as np
import pytest

import linkedref as lk
import linkedref.backend as B
import linkedref.fast.conv as fast_conv


def _no_dx(*args, **kwargs):
    raise AssertionError("backward(need_dx=False) computed dx")


def _grads(model):
    return {k: B.to_numpy(v).copy() for k, v in model.grads.items()}


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
    x = B.asarray(rng.standard_normal((2, 3, 4, 4)), dtype="float32")
    x = x.reshape(2, 48) if name == "dense first" else x
    dy = B.asarray(rng.standard_normal((2, 5)), dtype="float32")
    full = make()
    full.forward(x, training=True)
    assert full.backward(dy) is not None
    want = _grads(full)

    skipping = make()
    skipping.forward(x, training=True)
    first, real, asked = skipping.layers[0], lk.fast.input_grad, []

    def input_grad(dy, w, *args):               # which layer's dx is asked for: by its weights
        asked.append(any(w is v for v in first.params.values()))
        return real(dy, w, *args)

    monkeypatch.setattr(lk.fast, "input_grad", input_grad)
    result = skipping.backward(dy, need_dx=False)
    monkeypatch.undo()
    assert (result is None) == (name != "activation first")
    assert not any(asked), "the first Conv2D computed dx"
    got = _grads(skipping)
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


@pytest.mark.parametrize("C, O, stride", [(3, 4, 1), (4, 3, 1), (3, 4, 2)])
def test_conv2d_without_dx_runs_neither_dx_path(C, O, stride, rng, xp, monkeypatch):
    conv = lk.Conv2D(C, O, 3, stride=stride, padding="same", rng=0)
    x = B.asarray(rng.standard_normal((2, C, 6, 6)), dtype="float32")
    dy = B.asarray(rng.standard_normal(tuple(conv.forward(x).shape)), dtype="float32")
    conv.backward(dy)
    want = _grads(conv)
    monkeypatch.setattr(fast_conv, "dx_col2im", _no_dx)
    monkeypatch.setattr(fast_conv, "dx_transposed", _no_dx)
    conv.grads = {k: xp.zeros_like(v) for k, v in conv.grads.items()}
    assert conv.backward(dy, need_dx=False) is None
    for key in want:
        np.testing.assert_array_equal(B.to_numpy(conv.grads[key]), want[key], err_msg=key)
    with pytest.raises(AssertionError, match="computed dx"):
        conv.backward(dy)                                            # the mutation is live


def test_dense_without_dx_multiplies_only_for_the_grads(rng):
    dense = lk.Dense(4, 3, rng=0)
    x = B.asarray(rng.standard_normal((5, 4)), dtype="float32")
    dy = B.asarray(rng.standard_normal((5, 3)), dtype="float32")
    dense.forward(x)
    calls, W = [], dense.params["W"]

    class Watched:                           # W, telling when dy W^T (dx's product) reads W^T
        @property
        def T(self):
            calls.append("dy W^T")
            return W.T

    dense.params["W"] = Watched()
    assert dense.backward(dy, need_dx=False) is None
    assert calls == []                                              # x^T dy only, no dy W^T
    np.testing.assert_allclose(B.to_numpy(dense.grads["W"]), B.to_numpy(x).T @ B.to_numpy(dy),
                               rtol=1e-6)
    dense.backward(dy)
    assert calls == ["dy W^T"]


def test_backward_without_dx_checks_like_backward(rng, xp):
    conv, dense = lk.Conv2D(2, 3, 3, rng=0), lk.Dense(4, 2, rng=0)
    for layer in (conv, dense, lk.Sequential([lk.Dense(4, 2, rng=1)])):
        with pytest.raises(ValueError, match="backward\\(\\) called before forward\\(\\)"):
            layer.backward(xp.ones((1, 2), np.float32), need_dx=False)
    dense.forward(B.asarray(rng.standard_normal((3, 4)), dtype="float32"))
    with pytest.raises(ValueError, match="Dense"):
        dense.backward(xp.ones((3, 5), np.float32), need_dx=False)   # not y's shape


def test_fit_asks_for_no_dx_and_refuses_a_model_that_cannot_be_told(rng):
    X = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.integers(0, 2, 16)
    calls = []

    class Counting(lk.Sequential):
        def backward(self, dy, need_dx=True):
            calls.append(need_dx)
            return super().backward(dy, need_dx=need_dx)

    model = Counting([lk.Dense(4, 2, rng=0)])
    lk.fit(model, lk.SoftmaxCrossEntropy(), lk.SGD(model, lr=0.1), X, y, epochs=1, batch_size=8,
           progress=False)
    assert calls == [False, False]

    class DuckModel:                                   # backward(dy): not the layer protocol
        def __init__(self):
            self.inner = lk.Dense(4, 2, rng=0)
            self.params, self.grads = self.inner.params, self.inner.grads

        def forward(self, x, training=False):
            return self.inner.forward(x, training)

        def backward(self, dy):
            return self.inner.backward(dy)

    duck = DuckModel()
    with pytest.raises(TypeError, match="DuckModel.backward\\(dy\\) must also take need_dx"):
        lk.fit(duck, lk.SoftmaxCrossEntropy(), lk.SGD(duck, lr=0.1), X, y, epochs=1,
               batch_size=8, progress=False)


def test_a_first_layer_that_takes_only_dy_is_asked_for_dx(rng, xp):
    """A layer written as backward(self, dy) still trains first in a Sequential: it is called
    as backward(dy) and its dx is thrown away."""
    class Halved(lk.Layer):
        def forward(self, x, training=False):
            self.save_for_backward(None, output_shape=x.shape)
            return x / 2

        def backward(self, dy):
            self.saved(dy)
            return dy / 2

    model = lk.Sequential([Halved(), lk.Dense(3, 2, rng=0)])
    x = B.asarray(rng.standard_normal((4, 3)), dtype="float32")
    model.forward(x)
    np.testing.assert_allclose(B.to_numpy(model.backward(xp.ones((4, 2), np.float32),
                                                         need_dx=False)),
                               np.ones((4, 2)) @ B.to_numpy(model.layers[1].params["W"]).T / 2,
                               rtol=1e-6)
