"""The registry: a user's unit goes in by the call the built-ins use, and every builder takes it."""
import numpy as np
import pytest

import linkedref as lk
import linkedref.backend as B
from linkedref import registry


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    """Each test registers into a copy, so no name leaks into the other tests."""
    monkeypatch.setattr(registry, "_UNITS", dict(registry._UNITS))


class Cube(lk.Activation):
    """y = z³, dz = 3z²·dy: a single unit of one's own."""

    def forward(self, x, training=False):
        self.check_input(x)
        self.save_for_backward(x, output_shape=x.shape)
        return x ** 3

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)
        return dy * 3 * z ** 2


class LKTanh(lk.Activation):
    """concat(tanh(z), tanh(−z)): a mirror link of one's own; dz = (dy_a − dy_b)·(1 − tanh²z)."""
    expansion = 2

    def forward(self, x, training=False):
        self.check_input(x)
        t = B.get_array_module(x).tanh(x)
        y = B.get_array_module(x).concatenate([t, -t], axis=1)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)
        C = z.shape[1]
        return (dy[:, :C] - dy[:, C:]) * (1 - B.get_array_module(z).tanh(z) ** 2)


def test_builtins_are_registered_and_listed():
    names = lk.activation_names()
    assert names[:3] == ("relu", "leaky_relu", "prelu") and "lkswish" in names
    assert registry.ACTIVATIONS == names                    # nothing registered yet
    assert isinstance(lk.activation("LK-ReLU"), lk.LKReLU)


def test_register_makes_a_name_known_to_activation_and_the_builders():
    assert lk.register_activation("LK-Tanh", LKTanh) is LKTanh
    assert "lktanh" in lk.activation_names()
    assert isinstance(lk.activation("lk_tanh"), LKTanh)
    model = lk.depth_net(depth=2, width=3, activation="lktanh", input_size=8, rng=0)
    assert [type(m) for m in model.layers if isinstance(m, lk.Activation)] == [LKTanh, LKTanh]
    assert model.layers[2].in_channels == 6                 # the fan-in follows expansion 2


def test_a_name_clash_is_refused_unless_replace():
    with pytest.raises(ValueError, match=r"'relu' is taken by ReLU; pass replace=True to replace "
                                         r"it \(a class defined again, as in a notebook cell"):
        lk.register_activation("relu", Cube)
    assert lk.register_activation("relu", lk.ReLU) is lk.ReLU     # the same class again: fine
    lk.register_activation("relu", Cube, replace=True)
    assert isinstance(lk.activation("relu"), Cube)


def test_register_refuses_what_is_not_a_unit():
    with pytest.raises(TypeError, match=r"register_activation\('cube'\).*got 3"):
        lk.register_activation("cube", 3)
    with pytest.raises(TypeError, match="not an instance"):
        lk.register_activation("cube", Cube())

    class NoBackward(lk.Activation):
        def forward(self, x, training=False):
            return x

    with pytest.raises(TypeError, match="NoBackward defines no backward; a unit needs"):
        lk.register_activation("nob", NoBackward)
    with pytest.raises(TypeError, match="non-empty str"):
        lk.register_activation("", Cube)
    assert "nob" not in lk.activation_names() and "cube" not in lk.activation_names()


def test_register_warns_about_a_layer_that_is_not_an_activation():
    class PlainLayerUnit(lk.Layer):
        def forward(self, x, training=False):
            return x

        def backward(self, dy, need_dx=True):
            return dy

    with pytest.warns(UserWarning, match="PlainLayerUnit is not an lk.Activation, so "
                                         "check_linkage and dead_units cannot judge it.*subclass"):
        lk.register_activation("plain", PlainLayerUnit)


def test_unknown_name_lists_the_known_ones_and_the_way_in():
    lk.register_activation("cube", Cube)
    with pytest.raises(ValueError, match=r"unknown name 'mish'; known: relu, .*lkswish, cube "
                                         r"\(.*lk.register_activation"):
        lk.activation("mish")
    with pytest.raises(ValueError, match="depth_net: unknown activation 'mish'"):
        lk.depth_net(depth=2, activation="mish")


@pytest.mark.parametrize("build", [
    lambda act: lk.depth_net(depth=2, width=3, activation=act, input_size=12, rng=0),
    lambda act: lk.width_net(3, activation=act, input_size=12, rng=0),
    lambda act: lk.cifar_net(widen=0.1, activation=act, input_size=12, rng=0),
    lambda act: lk.all_cnn(activation=act, width_scale=0.05, rng=0),
    lambda act: lk.small_resnet(blocks=(1,), width=3, activation=act, rng=0),
])
@pytest.mark.parametrize("act", [LKTanh, lambda: LKTanh()], ids=["class", "factory"])
def test_every_builder_takes_a_class_or_a_factory(build, act, rng):
    model = build(act)
    units = [m for _, m in lk.diagnostics.activation_layers(model)]
    assert units and all(isinstance(m, LKTanh) for m in units)
    x = rng.standard_normal((2, 3, 12, 12)).astype(np.float32)
    assert model.forward(B.asarray(x)).shape == (2, 10)


def test_builders_size_per_channel_slopes_and_refuse_bad_units():
    model = lk.depth_net(depth=2, width=3, activation="lkprelu", input_size=8, rng=0)
    assert model.params["1.alpha"].shape == model.params["1.alpha_mirror"].shape == (3,)
    with pytest.raises(TypeError, match="depth_net: activation.*got 3"):
        lk.depth_net(depth=2, activation=3)
    with pytest.raises(TypeError, match="depth_net: activation .* built a str, not a unit"):
        lk.depth_net(depth=2, activation=lambda: "relu")
    assert lk.depth_net(depth=2, activation=LKTanh, init="looks_linear", rng=0)
    with pytest.raises(ValueError, match="looks_linear.*mirror-linked"):
        lk.depth_net(depth=2, activation=Cube, init="looks_linear")
