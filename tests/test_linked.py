"""Linked units: registered gradient checks, forward against an independent concatenation, the
linkage checker, the general Linked, activation() by name, and bad input. (The hypothesis
gradient checks of every activation, single and linked, live in test_activations.py.)"""
import numpy as np
import pytest
from _activation_inputs import sigmoid

import linkedref as lk
import linkedref.backend as B
from linkedref.activations import ELU, SELU, PReLU, ReLU, Sigmoid, Swish, Tanh
from linkedref.gradcheck import away_from_kinks, run_cases
from linkedref.gradcheck.cases_activations import CASES
from linkedref.linkage import check_linkage
from linkedref.linked import (
    LKELU,
    LKSELU,
    Linked,
    LKLeakyReLU,
    LKPReLU,
    LKReLU,
    LKSwish,
    Member,
    is_linked,
)
from linkedref.registry import ACTIVATIONS, activation

LINKED = ("lkrelu", "lkleaky_relu", "lkprelu", "lkelu", "lkselu", "lkswish")


def _elu(z, alpha=1.0, scale=1.0):
    return scale * np.where(z > 0, z, alpha * (np.exp(np.minimum(z, 0)) - 1))


# g for each linked unit, in plain float64 numpy; the test builds concat(g(z), g(-z)) itself.
G = {
    "lkrelu": lambda z: np.where(z > 0, z, 0.0),
    "lkleaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "lkprelu": lambda z: np.where(z > 0, z, 0.25 * z),
    "lkelu": _elu,
    "lkselu": lambda z: _elu(z, 1.6732632423543772, 1.0507009873554805),
    "lkswish": lambda z: z * sigmoid(z),
}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_registered_cases(case):
    [(name, report)] = run_cases([case])
    assert not isinstance(report, Exception), report
    assert report.max_error <= 1e-6, str(report)


@pytest.mark.parametrize("name", LINKED)
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5), (2, 3, 4, 5)])
def test_forward_is_concat_of_unit_and_mirror(name, shape, rng):
    z = rng.standard_normal(shape) * 3
    z[0, 0] = 0.0                                           # the kink itself, too
    y = B.to_numpy(activation(name).astype("float64").forward(B.asarray(z)))
    g = G[name]
    expected = np.concatenate([g(z), g(-z)], axis=1)
    assert y.shape == (shape[0], 2 * shape[1]) + shape[2:]  # axis 1 doubles
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", LINKED)
def test_float32_in_float32_out_and_dy_untouched(name, rng):
    layer = activation(name)
    x = B.asarray(rng.standard_normal((2, 3, 4, 4)), dtype="float32")
    y = layer.forward(x)
    assert y.dtype == np.float32 and y.shape == (2, 6, 4, 4) and y.flags.c_contiguous
    dy = B.asarray(rng.standard_normal(y.shape), dtype="float32")
    before = dy.copy()
    dx = layer.backward(dy)
    assert dx.dtype == np.float32 and dx.shape == x.shape
    np.testing.assert_array_equal(B.to_numpy(dy), B.to_numpy(before))


def test_lkrelu_backward_is_the_crelu_one_liner(rng):
    z = away_from_kinks((3, 4, 2, 2), rng)
    dy = rng.standard_normal((3, 8, 2, 2))
    layer = LKReLU()
    layer.forward(B.asarray(z))
    dx = B.to_numpy(layer.backward(B.asarray(dy)))
    np.testing.assert_array_equal(dx, dy[:, :4] * (z > 0) - dy[:, 4:] * (z < 0))


@pytest.mark.parametrize("cls", [LKReLU, LKELU, LKSELU, LKSwish])
def test_mirror_classes_equal_general_linked(cls, rng):
    single = {LKReLU: ReLU, LKELU: ELU, LKSELU: activation("selu").__class__,
              LKSwish: Swish}[cls]
    fast, general = cls(), Linked.mirror(single())
    z = B.asarray(away_from_kinks((2, 3, 3, 3), rng))
    dy = B.asarray(rng.standard_normal((2, 6, 3, 3)))
    np.testing.assert_allclose(B.to_numpy(fast.forward(z)), B.to_numpy(general.forward(z)),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(B.to_numpy(fast.backward(dy)), B.to_numpy(general.backward(dy)),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4, 5)])
def test_fast_crelu_is_the_plain_formula_bit_for_bit(dtype, shape, rng):
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[:4] = [0.0, -0.0, np.inf, np.nan]          # ties at the kink, ±0, inf, nan
    for z in (B.asarray(x), B.asarray(x[::-1].copy())[::-1]):  # contiguous, and a reversed view
        xp = B.get_array_module(z)
        y = lk.fast.crelu(z)
        plain = lk.activations.relu(xp.concatenate([z, -z], axis=1))
        assert y.shape == plain.shape and y.dtype == plain.dtype
        assert B.to_numpy(y).tobytes() == B.to_numpy(plain).tobytes()      # signs of 0 too
        np.testing.assert_array_equal(B.to_numpy(y), B.to_numpy(Linked.mirror(ReLU()).forward(z)))
        np.testing.assert_array_equal(B.to_numpy(LKReLU().forward(z)), B.to_numpy(y))


def test_lkprelu_two_independent_slope_sets(rng):
    layer = LKPReLU(init=0.1, init_mirror=0.3).astype("float64")
    z = away_from_kinks((4, 3, 2, 2), rng)
    y = B.to_numpy(layer.forward(B.asarray(z)))
    assert set(layer.params) == set(layer.grads) == {"alpha", "alpha_mirror"}
    assert layer.params["alpha"].shape == layer.params["alpha_mirror"].shape == (3,)
    def prelu(t, a):
        return np.where(t > 0, t, a * t)
    np.testing.assert_allclose(y, np.concatenate([prelu(z, 0.1), prelu(-z, 0.3)], axis=1))
    # changing the mirror's slopes leaves the first half alone
    layer.params["alpha_mirror"][...] = 0.9
    y2 = B.to_numpy(layer.forward(B.asarray(z)))
    np.testing.assert_array_equal(y2[:, :3], y[:, :3])
    assert not np.allclose(y2[:, 3:], y[:, 3:])
    # the two slope sets get different gradients, each from its own half only
    dy = rng.standard_normal(y.shape)
    layer.backward(B.asarray(dy))
    ga, gb = B.to_numpy(layer.grads["alpha"]), B.to_numpy(layer.grads["alpha_mirror"])
    np.testing.assert_allclose(ga, (dy[:, :3] * np.minimum(z, 0)).sum(axis=(0, 2, 3)))
    np.testing.assert_allclose(gb, (dy[:, 3:] * np.minimum(-z, 0)).sum(axis=(0, 2, 3)))
    assert not np.allclose(ga, gb)


def test_lkprelu_sized_on_first_forward(rng):
    layer = LKPReLU()
    assert layer.params == {}
    layer.forward(B.asarray(rng.standard_normal((2, 5)), dtype="float32"))
    assert layer.params["alpha_mirror"].shape == (5,)
    with pytest.raises(ValueError, match="LKPReLU.*5"):
        layer.forward(B.asarray(rng.standard_normal((2, 4)), dtype="float32"))


# ------------------------------------------------------------------------- check_linkage
def relu(z):
    return np.maximum(z, 0)


def test_check_linkage_accepts_mirror_and_min_max():
    for linkage in [LKReLU(), Linked.mirror(ReLU()), Linked.min_max(),
                    [relu, lambda z: relu(-z)], [relu, lambda z: np.minimum(z, 0)],
                    LKPReLU(init=0.0), LKSwish(), LKSELU()]:
        result = check_linkage(linkage)
        assert result and result.ok and result.failures.size == 0, (linkage, result)


def test_check_linkage_rejects_a_non_link():
    result = check_linkage([relu, relu])
    assert not result
    assert result.failures.size > 0 and result.failures.max() < 0
    np.testing.assert_allclose(result.failures.min(), -20.0)     # the default range's edge
    assert "ok=False" in repr(result)
    assert not check_linkage(Linked(ReLU(), ReLU()))        # same, as a layer
    assert not check_linkage(ReLU())                         # a single ReLU dies for z < 0
    assert not check_linkage([Sigmoid()], z_range=(-40, 40))  # saturates: slope below tol
    assert not check_linkage(Tanh()) and not check_linkage(SELU())   # flat in the default tails


def test_a_unit_whose_output_disagrees_with_its_expansion_is_named():
    class Forgot(lk.Activation):                     # two members, expansion left at 1
        def forward(self, x, training=False):
            y = B.get_array_module(x).concatenate([x, -x], axis=1)
            self.save_for_backward(x, output_shape=y.shape)
            return y

        def backward(self, dy, need_dx=True):
            return dy[:, :dy.shape[1] // 2] - dy[:, dy.shape[1] // 2:]

    hand_built = lk.Sequential([lk.Dense(3, 4, rng=0), Forgot(), lk.Dense(8, 2, rng=0)])
    for call, who in ((lambda: check_linkage(Forgot()), "check_linkage"),
                      (lambda: lk.diagnostics.dead_definition(Forgot()), "dead_definition"),
                      (lambda: lk.depth_net(depth=3, activation=Forgot), "depth_net"),
                      (lambda: lk.diagnostics.dead_units(hand_built, np.ones((5, 3), "float32")),
                       "dead_units"),
                      (lambda: lk.gradcheck(Forgot(), np.ones((2, 1))), "gradcheck")):
        with pytest.raises(ValueError, match=rf"{who}: Forgot outputs (2|8) channels for (1|4) "
                                             r"input channel\(s\), but its expansion is 1; set "
                                             r"expansion = 2 in the class"):
            call()


def test_check_linkage_range_and_points():
    assert check_linkage([relu, relu], z_range=(0.5, 3.0))   # only positive z: condition holds
    result = check_linkage([relu, relu], z=np.array([-1.0, 2.0]))
    np.testing.assert_array_equal(result.failures, [-1.0])
    assert result.slopes.shape == (2, 2)


def test_check_linkage_does_not_touch_the_layer():
    layer = LKPReLU()
    check_linkage(layer)
    assert layer.params == {} and layer.dtype == np.float32


def test_check_linkage_bad_arguments():
    with pytest.raises(TypeError, match="check_linkage"):
        check_linkage("relu")
    with pytest.raises(ValueError, match="check_linkage"):
        check_linkage([relu], tol=0)


# ------------------------------------------------------------------------------- Linked
def test_min_max_forward(rng):
    z = rng.standard_normal((3, 2, 2, 2))
    y = B.to_numpy(Linked.min_max().forward(B.asarray(z)))
    np.testing.assert_array_equal(y, np.concatenate([np.maximum(0, z), np.minimum(0, z)], axis=1))


def test_three_members_with_params(rng):
    layer = Linked(PReLU(), Member(ELU(), -1, -1), Tanh()).astype("float64")
    z = rng.standard_normal((2, 3, 4))
    y = B.to_numpy(layer.forward(B.asarray(z)))
    assert layer.expansion == 3 and is_linked(layer) and y.shape == (2, 9, 4)
    np.testing.assert_allclose(y, np.concatenate([np.where(z > 0, z, 0.25 * z), -_elu(-z),
                                                  np.tanh(z)], axis=1), rtol=1e-12)
    assert set(layer.params) == set(layer.grads) == {"0.alpha"}
    layer.backward(B.asarray(rng.standard_normal(y.shape)))
    assert layer.grads["0.alpha"] is layer.members[0].layer.grads["alpha"]


def test_linked_rejects_bad_members():
    r = ReLU()
    with pytest.raises(ValueError, match="same ReLU object"):
        Linked(r, (r, -1))
    with pytest.raises(ValueError, match="signs"):
        Linked(ReLU(), (ReLU(), 2))
    with pytest.raises(TypeError, match="member 1"):
        Linked(ReLU(), "relu")
    with pytest.raises(ValueError, match="itself linked"):
        Linked(LKReLU())
    with pytest.raises(ValueError, match="at least one"):
        Linked()


# ------------------------------------------------------------------------ by name; expansion
def test_activation_by_every_name():
    assert ACTIVATIONS == ("relu", "leaky_relu", "prelu", "elu", "selu", "swish", "tanh",
                           "sigmoid") + LINKED
    for name in ACTIVATIONS:
        layer = activation(name)
        assert layer.expansion == (2 if name.startswith("lk") else 1)
        assert is_linked(layer) == name.startswith("lk")
    assert isinstance(activation("lk_relu"), LKReLU)
    assert isinstance(activation("LK-ReLU"), LKReLU)
    assert activation("leaky_relu", alpha=0.2).alpha == 0.2


def test_unknown_activation_lists_the_names():
    with pytest.raises(ValueError, match="unknown.*'mish'.*relu.*lkswish"):
        activation("mish")
    with pytest.raises(TypeError, match="activation"):
        activation(ReLU)


@pytest.mark.parametrize("name", LINKED)
def test_linked_errors(name, rng):
    layer = activation(name)
    with pytest.raises(ValueError, match="before forward"):
        layer.backward(B.xp().ones((2, 6)))
    with pytest.raises(ValueError, match=f"{layer.name}.*ndim"):
        layer.forward(B.xp().ones(3, dtype="float32"))
    with pytest.raises(TypeError, match=f"{layer.name}.*floating"):
        layer.forward(B.xp().ones((2, 3), dtype="int32"))
    layer.forward(B.asarray(rng.standard_normal((2, 3)), dtype="float32"))
    with pytest.raises(ValueError, match=f"{layer.name}.*dy"):
        layer.backward(B.xp().ones((2, 3), dtype="float32"))


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_lk_leaky_relu_backward_for_any_alpha(alpha, rng):
    z, dy = rng.standard_normal((4, 5)), rng.standard_normal((4, 10))
    z[0, 0] = 0.0                                       # both slopes α at z = 0
    layer = LKLeakyReLU(alpha).astype("float64")
    layer.forward(B.asarray(z, dtype="float64"))
    dx = B.to_numpy(layer.backward(B.asarray(dy, dtype="float64")))
    expected = dy[:, :5] * np.where(z > 0, 1.0, alpha) - dy[:, 5:] * np.where(z < 0, 1.0, alpha)
    np.testing.assert_array_equal(dx, expected)


def test_linked_rejects_dy_of_another_shape(rng):
    layer = Linked.min_max()
    layer.forward(B.asarray(rng.standard_normal((2, 3)), dtype="float32"))
    with pytest.raises(ValueError, match=r"Linked: dy has shape \(2, 3\).*\(2, 6\)"):
        layer.backward(B.xp().ones((2, 3), dtype="float32"))


def test_lkprelu_slopes_are_created_where_the_input_lives(monkeypatch, rng):
    x = B.asarray(rng.standard_normal((2, 3)), dtype="float32")
    monkeypatch.setattr(B, "xp", lambda: pytest.fail("slopes created on the active backend"))
    layer = LKPReLU()
    layer.forward(x)
    assert {B.get_array_module(v) for v in layer.params.values()} == {B.get_array_module(x)}


def test_check_linkage_refuses_a_layer_that_is_not_an_activation():
    with pytest.raises(TypeError, match="Dense is not an lk.Activation"):
        check_linkage(lk.Dense(2, 2, rng=0))


def test_activation_by_name_with_wrong_arguments_says_what_it_takes():
    with pytest.raises(TypeError, match=r"'relu' \(ReLU\) takes no arguments; got alpha"):
        activation("relu", alpha=0.1)
    with pytest.raises(TypeError, match=r"'leaky_relu' \(LeakyReLU\) takes alpha; got slope"):
        activation("leaky_relu", slope=0.1)
    assert activation("leaky_relu", alpha=0.1).alpha == 0.1


class MirrorOnLayer(lk.Layer):
    """LK-ReLU written on lk.Layer, not lk.Activation."""
    expansion = 2

    def forward(self, x, training=False):
        xp = B.get_array_module(x)
        return xp.concatenate([xp.maximum(x, 0), xp.maximum(-x, 0)], axis=1)


def test_check_linkage_explains_what_to_do_with_a_layer_unit():
    with pytest.raises(TypeError, match=r"check_linkage: MirrorOnLayer is not an lk.Activation"
                                        r", so it cannot be judged as a unit.*subclass "
                                        r"lk.Activation: .*expansion = its number of members"):
        check_linkage(MirrorOnLayer())


def test_linked_warns_about_a_member_that_is_not_an_activation():
    class Identity(lk.Layer):
        def forward(self, x, training=False):
            return x

    with pytest.warns(UserWarning, match=r"Linked: member 1 \(Identity\) is not an "
                                         r"lk.Activation.*subclass lk.Activation"):
        Linked(ReLU(), Identity())


@pytest.mark.parametrize("cls", [LKReLU, LKLeakyReLU, LKPReLU, LKELU, LKSwish])
def test_each_derivation_names_cases_and_tests_that_exist(cls):
    """The gradcheck cases and tests a backward's docstring cites are real ones."""
    import re
    from pathlib import Path
    doc = " ".join(cls.backward.__doc__.split())
    cases = re.findall(r'"(LK\w+ \([^"]*\))"', doc)
    tests = re.findall(r"\b(test_\w+)(?!\w)(?!\.py)", doc)
    assert cases and tests
    assert set(cases) <= {case.name for case in CASES}
    source = (Path(__file__).parent / "test_linked.py").read_text(encoding="utf-8")
    assert all(f"def {name}(" in source for name in tests)


def test_failing_ranges_name_each_interval_where_the_link_fails():
    relu6 = [lambda z: np.clip(z, 0, 6), lambda z: np.clip(-z, 0, 6)]      # flat for |z| ≥ 6
    result = lk.check_linkage(relu6, z=np.linspace(-10, 10, 201))
    assert not result
    assert result.failing_ranges == "z ≤ -6.1 or z ≥ 6.1"
    assert "of 201 z in [-10, 10]: z ≤ -6.1 or z ≥ 6.1" in repr(result)
    shrink = [lambda z: np.sign(z) * np.maximum(np.abs(z) - 1, 0)]          # flat for |z| < 1
    assert lk.check_linkage(shrink, z=np.linspace(-3, 3, 13)).failing_ranges == "-0.5 ≤ z ≤ 0.5"
    assert lk.check_linkage(lk.LKReLU()).failing_ranges == ""
