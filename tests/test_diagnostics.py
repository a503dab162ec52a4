"""Diagnostics: dead units against hand-computed counts, the recorder against plain NumPy."""
import numpy as np
import pytest

import linkedref.backend as B
from linkedref.activations import Activation
from linkedref.diagnostics import (
    Recorder,
    activation_layers,
    dead_definition,
    dead_units,
    grad_norms,
    preactivation_stats,
    watch_activations,
)
from linkedref.layer import Layer, Sequential


# Tiny local layers, so these tests stand on the diagnostics alone.
class Affine(Layer):
    """y = x @ W + b, x (N, D) -> (N, K); W (D, K) and b (K,) given."""

    def __init__(self, W, b):
        super().__init__()
        self.params = {"W": B.asarray(W, self.dtype), "b": B.asarray(b, self.dtype)}
        self.grads = {k: v * 0 for k, v in self.params.items()}

    def forward(self, x, training=False):
        self.cache = x
        return x @ self.params["W"] + self.params["b"]


class Relu(Activation):

    def forward(self, x, training=False):
        return x * (x > 0)


class MirrorRelu(Activation):
    """(relu(z), relu(-z)) on axis 1: C -> 2C."""
    expansion = 2

    def forward(self, x, training=False):
        xp = B.get_array_module(x)
        return xp.concatenate([x * (x > 0), -x * (x < 0)], axis=1)


class Wrap(Layer):
    """A container with a non-Sequential layout (like Residual): children walked in order."""

    def __init__(self, *layers):
        super().__init__()
        self.inner = list(layers)

    def children(self):
        return self.inner

    def forward(self, x, training=False):
        for layer in self.inner:
            x = layer.forward(x, training=training)
        return x


def _net_with_known_dead_units():
    """3 inputs in [0, 1) -> 4 units, of which units 1 and 3 always see z < 0 (dead)."""
    W = np.array([[1.0, -1.0, 0.5, -2.0],
                  [0.5, -1.0, -0.5, -2.0],
                  [0.2, -1.0, 0.3, -2.0]])
    b = np.array([0.1, -0.5, 0.0, -0.1])
    return W, b


def test_dead_units_matches_a_hand_count(rng):
    W, b = _net_with_known_dead_units()
    X = rng.random((100, 3)).astype(np.float32)          # x >= 0, so units 1, 3 get z < 0 always
    model = Sequential([Affine(W, b), Relu(), Affine(np.eye(4), -np.ones(4) * 10), Relu()])
    counts = dead_units(model, X, batch_size=16)
    assert [(c.name, c.dead, c.total) for c in counts] == [("1:Relu", 2, 4), ("3:Relu", 4, 4)]
    assert counts[0].fraction == 0.5


def test_a_linked_unit_is_dead_only_when_both_members_are(rng):
    W, b = _net_with_known_dead_units()
    X = rng.random((50, 3)).astype(np.float32)
    model = Sequential([Affine(W, b), MirrorRelu()])
    (count,) = dead_units(model, X)
    assert (count.dead, count.total) == (0, 4)            # z < 0 always: the mirror member lives
    # A unit whose z is exactly 0 everywhere kills both members; unit 2 only.
    W0 = W.copy()
    W0[:, 2], b0 = 0.0, b.copy()
    b0[2] = 0.0
    (count,) = dead_units(Sequential([Affine(W0, b0), MirrorRelu()]), X)
    assert (count.dead, count.total) == (1, 4)


def test_linked_members_are_paired_c_with_C_plus_c(rng):
    x = np.zeros((6, 4), np.float32)
    x[:, 1] = rng.standard_normal(6)                      # only unit 1 ever sees z != 0
    (count,) = dead_units(Sequential([MirrorRelu()]), x)  # outputs 1 and 5 live, the rest zero
    assert (count.dead, count.total) == (3, 4)


def test_dead_units_on_conv_shaped_outputs_needs_every_position():
    x = np.full((2, 3, 4, 4), -1.0, np.float32)
    x[1, 0, 3, 2] = 0.5                                   # channel 0 alive at one position only
    x[0, 2, 0, 0] = 2.0                                   # channel 2 alive at one position only
    assert [c.dead for c in dead_units(Sequential([Relu()]), x)] == [1]
    assert [c.dead for c in dead_units(Sequential([MirrorRelu()]), x)] == [0]


def test_walks_nested_containers_and_restores_forward(rng):
    model = Sequential([Affine(np.eye(2), np.zeros(2)), Wrap(Relu(), Wrap(MirrorRelu())), Relu()])
    names = [name for name, _ in activation_layers(model)]
    assert names == ["1.0", "1.1.0", "2"]
    seen = []
    with watch_activations(model, lambda name, x, y: seen.append((name, x.shape, y.shape))):
        model.forward(B.asarray(np.ones((5, 2)), dtype="float32"))
    assert seen == [("1.0", (5, 2), (5, 2)), ("1.1.0", (5, 2), (5, 4)), ("2", (5, 4), (5, 4))]
    assert all("forward" not in vars(layer) for _, layer in activation_layers(model))


def test_an_unreachable_activation_is_reported():
    class Skips(Wrap):
        def forward(self, x, training=False):
            return x
    with pytest.raises(ValueError, match="never ran"):
        dead_units(Skips(Relu()), np.ones((2, 2), np.float32))


def test_preactivation_stats_match_numpy(rng):
    x = rng.standard_normal((64, 3, 5, 5))
    s = preactivation_stats(B.asarray(x))
    assert s["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert s["std"] == pytest.approx(x.std(), rel=1e-12)
    assert s["frac_pos"] == pytest.approx((x > 0).mean())
    for q in (1, 25, 50, 75, 99):
        assert s[f"p{q}"] == pytest.approx(np.percentile(x, q), rel=1e-12)


def test_recorder_records_inputs_of_activations_and_grad_norms(rng):
    W, b = _net_with_known_dead_units()
    layer = Affine(W, b)
    model = Sequential([layer, Relu(), Affine(np.ones((4, 2)), np.zeros(2)), MirrorRelu()])
    X = rng.standard_normal((40, 3)).astype(np.float32)
    rec = Recorder(model, X)
    rec.record(step=0)
    layer.grads["W"] = B.asarray(np.full((3, 4), 2.0), layer.dtype)     # as if backward ran
    layer.params["b"] += 1.0                                          # as if the optimizer stepped
    rec.record(step=5)

    z1 = X.astype(np.float64) @ W + b + 1.0                  # layer 1's input at step 5
    assert rec.steps == [0, 5] and rec.layers == ["1", "3"]
    assert rec.stats["1"][1]["p75"] == pytest.approx(np.percentile(z1, 75), rel=1e-5)
    assert rec.stats["1"][1]["mean"] == pytest.approx(z1.mean(), rel=1e-5)
    z3 = np.maximum(z1, 0) @ np.ones((4, 2))
    assert rec.array("std")[1, 1] == pytest.approx(z3.std(), rel=1e-5)
    assert rec.array("p50").shape == (2, 2)
    assert rec.grads["0"] == [0.0, pytest.approx(np.sqrt(12 * 4.0))]
    assert grad_norms(model)["2"] == 0.0
    assert rec.grad_array().shape == (2, 2)


class BatchStats(Layer):
    """Stand-in for BatchNorm: subtracts the batch mean in training mode, a running mean (which
    moves on each training forward) in inference mode."""

    def __init__(self):
        super().__init__()
        self.buffers = {"mean": 0.0}

    def forward(self, x, training=False):
        if training:
            self.buffers["mean"] = x.mean(axis=0)
            return x - x.mean(axis=0)
        return x - self.buffers["mean"]


def test_recorder_in_training_mode_leaves_the_model_alone(rng):
    norm = BatchStats()
    model = Sequential([norm, Relu()])
    X = (rng.standard_normal((30, 2)) + 5).astype(np.float32)
    Recorder(model, X, training=True).record(0)
    assert norm.buffers["mean"] == 0.0                         # ran on a copy
    rec_train, rec_infer = Recorder(model, X, training=True), Recorder(model, X)
    rec_train.record(0)
    rec_infer.record(0)
    assert abs(rec_train.stats["1"][0]["mean"]) < 1e-5          # batch-normalised input
    assert rec_infer.stats["1"][0]["mean"] == pytest.approx(X.mean(), rel=1e-5)


def test_probes_are_cast_to_the_model_dtype(rng):
    from linkedref.activations import ReLU
    from linkedref.dense import Dense
    model = Sequential([Dense(3, 4, rng=0), ReLU()])                # float32 parameters
    X = rng.standard_normal((10, 3))                                # float64 data
    assert dead_units(model, X)[0].total == 4
    rec = Recorder(model.astype("float64"), X.astype(np.float32))
    rec.record(0)
    assert rec.stats["1"][0]["std"] > 0


def test_recorder_without_activation_layers_still_records_grad_norms():
    model = Sequential([Affine(np.ones((2, 2)), np.zeros(2))])
    rec = Recorder(model, np.ones((3, 2), np.float32))
    rec.record(7)
    assert rec.steps == [7] and rec.stats == {} and rec.grads["0"] == [0.0]


# --------------------------------------------------- dead or saturated; layers that are not units
class Softplus(Activation):
    """log(1 + e^z): never exactly 0, so never dead by the paper's definition."""

    def forward(self, x, training=False):
        xp = B.get_array_module(x)
        return xp.logaddexp(0, x)


class LayerUnit(Layer):
    """A mirror ReLU written on lk.Layer instead of lk.Activation (tutorial 02's old way)."""
    expansion = 2

    def forward(self, x, training=False):
        xp = B.get_array_module(x)
        return xp.concatenate([x * (x > 0), -x * (x < 0)], axis=1)


def test_atol_counts_saturated_units_where_exact_zeros_find_none():
    x = np.full((5, 3), -20.0, np.float32)
    x[:, 2] = 1.0                                         # unit 2 far from saturated
    model = Sequential([Softplus()])
    assert [c.dead for c in dead_units(model, x)] == [0]            # never exactly 0
    assert [c.dead for c in dead_units(model, x, atol=1e-6)] == [2]  # softplus(−20) ≈ 2e-9


def test_dead_definition_tells_relu_from_a_unit_that_is_never_zero():
    from linkedref.activations import ReLU
    assert dead_definition(ReLU()) == ("exact zeros (the paper's definition) — ReLU units count "
                                       "when z ≤ 0 for every sample and position")
    line = dead_definition(Softplus())
    assert "Softplus outputs exactly 0 for no z: it cannot be dead" in line
    assert "pass atol" in line
    assert "saturated (|y| ≤ 0.01) — Softplus units count when z ≤ -4.6" in \
        dead_definition(Softplus(), atol=0.01)
    assert "in every member only at z = 0: a unit counts only when all its z lie there, or so " \
           "near that its outputs round to 0 (in float32 sooner" in dead_definition(MirrorRelu())


def test_a_unit_zero_only_at_a_point_is_counted_when_float32_rounds_its_outputs_to_zero():
    """z − tanh(z) is 0 only at z = 0, but in float32 it rounds to exactly 0 for |z| ≲ 1e-4: a
    unit whose z all sit there is dead by the paper's definition, as dead_definition warns."""
    class TanhShrink(Activation):
        def forward(self, x, training=False):
            y = x - B.get_array_module(x).tanh(x)
            self.save_for_backward(x, output_shape=y.shape)
            return y

        def backward(self, dy, need_dx=True):
            return dy * B.get_array_module(dy).tanh(self.saved(dy)) ** 2

    assert "only at z = 0: a unit counts only when" in dead_definition(TanhShrink())
    x = np.array([[1e-5, 0.5], [-2e-5, -0.7]], np.float32)        # unit 0 tiny, unit 1 not
    assert [c.dead for c in dead_units(Sequential([TanhShrink()]), x)] == [1]


def test_a_layer_that_is_not_an_activation_is_named_never_skipped_silently(rng):
    x = rng.standard_normal((4, 2)).astype(np.float32)
    model = Sequential([Affine(np.eye(2), np.zeros(2)), LayerUnit(), Relu()])
    with pytest.warns(UserWarning, match=r"layer 1 \(LayerUnit\) is not an lk.Activation, so "
                                         r"dead_units and Recorder skip it.*subclass"):
        counts = dead_units(model, x)
    assert [c.name for c in counts] == ["2:Relu"]
    with pytest.warns(UserWarning, match="LayerUnit"):
        Recorder(model, x)
    with pytest.raises(TypeError, match="dead_definition: LayerUnit is not an lk.Activation.*"
                                        "subclass lk.Activation"):
        dead_definition(LayerUnit())


def test_dead_definition_names_where_a_unit_is_flat_but_not_counted():
    """ReLU6 counts as dead for z ≤ 0, yet it has no gradient for z ≥ 6 too: the line says where;
    a unit flat only where it counts (ReLU) or never flat (LK-ReLU) gets no such note."""
    class ReLU6(Activation):
        def forward(self, x, training=False):
            y = B.get_array_module(x).clip(x, 0, 6)
            self.save_for_backward(x, output_shape=y.shape)
            return y

        def backward(self, dy, need_dx=True):
            z = self.saved(dy)
            return dy * ((z > 0) & (z < 6))

    line = dead_definition(ReLU6())
    assert "count when z ≤ 0" in line
    assert "where z ≥ 6.001 every member is flat (no gradient) yet not counted" in line
    from linkedref.linked import Linked
    assert "z ≤ -6 or z ≥ 6.001 every member is flat" in dead_definition(Linked.mirror(ReLU6()))
    from linkedref.activations import ReLU
    from linkedref.linked import LKReLU
    assert "flat" not in dead_definition(ReLU()) + dead_definition(LKReLU())
