"""Residual: y = block(x) + shortcut(x); merged params; gradchecks (also a small CNN end to end)."""
import numpy as np
import pytest

import linkedref.backend as B
from linkedref.conv import Conv2D
from linkedref.gradcheck import gradcheck
from linkedref.gradcheck.cases_conv import CASES
from linkedref.layer import Layer, Sequential
from linkedref.residual import Residual


def _f64_conv(*args, rng, **kwargs):
    with B.default_dtype("float64"):
        return Conv2D(*args, rng=rng, **kwargs)


@pytest.mark.parametrize("case", [c for c in CASES if c.name.startswith(("Residual", "Small CNN"))],
                         ids=lambda c: c.name)
def test_gradcheck(case, rng):
    assert gradcheck(**case.make(rng)).max_error <= 1e-6


def test_identity_shortcut_adds_the_input(rng):
    block = Sequential([_f64_conv(2, 2, 3, padding="same", rng=rng)])
    res = Residual(block)
    x = B.asarray(rng.standard_normal((2, 2, 5, 5)))
    y = res.forward(x)
    np.testing.assert_allclose(B.to_numpy(y), B.to_numpy(block.forward(x) + x))
    dy = B.asarray(rng.standard_normal(y.shape))
    dy_before = dy.copy()
    dx = res.backward(dy)
    np.testing.assert_allclose(B.to_numpy(dx), B.to_numpy(block.backward(dy) + dy))
    np.testing.assert_array_equal(B.to_numpy(dy), B.to_numpy(dy_before))


def test_params_grads_are_merged_under_block_and_shortcut(rng):
    res = Residual(Sequential([Conv2D(2, 3, 3, stride=2, padding="same", rng=rng)]),
                   Conv2D(2, 3, 1, stride=2, rng=rng))
    keys = {"block.0.W", "block.0.b", "shortcut.W", "shortcut.b"}
    assert set(res.params) == set(res.grads) == keys
    assert res.buffers == {}
    x = B.asarray(rng.standard_normal((2, 2, 6, 6)), dtype="float32")
    res.backward(res.forward(x))
    for k in keys:
        assert res.grads[k].shape == res.params[k].shape and res.grads[k].any()
    assert res.params["shortcut.W"] is res.shortcut.params["W"]      # the same arrays, not copies
    res.astype("float64")
    assert all(v.dtype == np.float64 for v in res.params.values())
    assert set(Residual(Sequential([])).params) == set()


def test_shape_mismatch_is_a_clear_error(rng):
    res = Residual(Conv2D(2, 3, 3, padding="same", rng=rng))
    with pytest.raises(ValueError,
                       match=r"Residual: block\(x\) has shape \(1, 3, 4, 4\).*\(1, 2, 4, 4\)"):
        res.forward(B.xp().zeros((1, 2, 4, 4), np.float32))


def test_not_a_layer_and_backward_first():
    with pytest.raises(TypeError, match="Residual: block"):
        Residual(lambda x: x)
    with pytest.raises(TypeError, match="Residual: shortcut"):
        Residual(Layer(), shortcut="identity")
    with pytest.raises(ValueError, match="Residual: backward"):
        Residual(Layer()).backward(np.zeros((1, 1)))


def test_buffers_are_merged_too(rng):
    bn = pytest.importorskip("linkedref.batchnorm")
    res = Residual(Sequential([Conv2D(2, 2, 3, padding=1, rng=rng), bn.BatchNorm(2)]),
                   bn.BatchNorm(2))
    assert {"block.1.running_mean", "block.1.running_var",
            "shortcut.running_mean", "shortcut.running_var"} <= set(res.buffers)
