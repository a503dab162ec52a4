"""Containers (Sequential, Residual, Linked): one base, merged params, and no layer used twice."""
import copy

import pytest

import linkedref as lk
import linkedref.backend as B


def _shared_activation_net():
    act = lk.LKReLU()
    return lambda: lk.Sequential([lk.Dense(2, 8, rng=0), act, lk.Dense(16, 8, rng=1), act,
                                  lk.Dense(16, 2, rng=2)])


def test_a_layer_object_used_twice_is_refused():
    with pytest.raises(ValueError, match=r"same LKReLU object is used at '1' and at '3'.*deepcopy"):
        _shared_activation_net()()


def test_a_shared_dense_and_a_shared_nested_block_are_refused():
    dense = lk.Dense(4, 4, rng=0)
    with pytest.raises(ValueError, match="same Dense object"):
        lk.Sequential([dense, lk.ReLU(), dense])
    block = lk.Sequential([lk.Dense(4, 4, rng=0), lk.ReLU()])
    with pytest.raises(ValueError, match=r"at '0' and at '1'"):
        lk.Sequential([block, block])
    with pytest.raises(ValueError, match="same ReLU object"):
        relu = lk.ReLU()
        lk.Residual(lk.Sequential([relu]), lk.Sequential([relu]))


def test_deep_copies_are_accepted_and_train_with_right_gradients(rng):
    act = lk.LKReLU()
    model = lk.Sequential([lk.Dense(2, 8, rng=0), act, lk.Dense(16, 8, rng=1),
                           copy.deepcopy(act), lk.Dense(16, 2, rng=2)])
    x = rng.standard_normal((4, 2))
    assert lk.gradcheck(model, x).max_error < 1e-6


def test_container_params_are_read_only_views():
    model = lk.Sequential([lk.Dense(2, 3, rng=0), lk.ReLU()])
    assert list(model.params) == ["0.W", "0.b"] and model.params["0.W"] is model[0].params["W"]
    for attr in ("params", "grads", "buffers"):
        with pytest.raises(AttributeError):
            setattr(model, attr, {})                  # not silently ignored


def test_residual_and_linked_share_the_base():
    res = lk.Residual(lk.Sequential([lk.Dense(3, 3, rng=0)]))
    link = lk.Linked(lk.PReLU(channels=3), (lk.PReLU(channels=3), -1))
    for c in (res, link, lk.Sequential([lk.ReLU()])):
        assert isinstance(c, lk.layer.Container)
    assert list(res.params) == ["block.0.W", "block.0.b"]
    assert list(link.params) == ["0.alpha", "1.alpha"] and link.expansion == 2


def test_every_layer_has_an_expansion():
    assert lk.Dense(2, 2, rng=0).expansion == 1 and lk.LKSELU().expansion == 2
    assert lk.Sequential([lk.ReLU()]).expansion == 1 and lk.Linked.min_max().expansion == 2


@pytest.mark.parametrize("make, match", [
    (lambda: lk.Dense(3.7, 4), "Dense: in_features must be an integer ≥ 1, got 3.7"),
    (lambda: lk.Dense(3, 0), "Dense: out_features must be an integer ≥ 1, got 0"),
    (lambda: lk.BatchNorm(2.5), "BatchNorm: num_features must be an integer ≥ 1, got 2.5"),
    (lambda: lk.Conv2D(3.7, 4, 3), "Conv2D: in_channels must be an integer ≥ 1, got 3.7"),
])
def test_sizes_must_be_whole_numbers(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_batchnorm_refuses_one_value_per_channel_in_training(rng):
    bn = lk.BatchNorm(3)
    x = B.asarray(rng.standard_normal((1, 3)), dtype="float32")
    with pytest.raises(ValueError, match="more than one value per channel"):
        bn.forward(x, training=True)
    assert bn.forward(x, training=False).shape == (1, 3)            # inference is fine
    assert bn.forward(B.asarray(rng.standard_normal((1, 3, 2, 2)), dtype="float32"),
                      training=True).any()


@pytest.mark.parametrize("make, shape", [
    (lambda: lk.Dense(3, 4, rng=0), (5, 3)),
    (lambda: lk.Conv2D(2, 3, 3, padding="same", rng=0), (2, 2, 5, 5)),
    (lambda: lk.BatchNorm(3), (4, 3, 2, 2)),
    (lambda: lk.Sequential([lk.Dense(3, 4, rng=0), lk.ReLU(), lk.Dense(4, 2, rng=1)]), (5, 3)),
    (lambda: lk.PReLU(channels=3), (4, 3, 2, 2)),
    (lambda: lk.LKPReLU(channels=3), (4, 3, 2, 2)),
    (lambda: lk.Linked(lk.PReLU(channels=3), (lk.PReLU(channels=3), -1)), (5, 3)),
])
def test_backward_sets_each_grad_to_a_new_array_of_the_last_forward(make, shape, rng):
    """The layer protocol's rule: grads[key] is replaced by a new array holding dL/dparam of the
    last forward; an array read before keeps its values (no write into it, no accumulation)."""
    layer = make()
    x = [B.asarray(rng.standard_normal(shape), dtype="float32") for _ in range(2)]
    dy = [B.asarray(rng.standard_normal(layer.forward(xi).shape), dtype="float32") for xi in x]
    grads = []
    for xi, dyi in zip(x, dy):
        layer.forward(xi, training=True)
        layer.backward(dyi)
        grads.append({k: (g, B.to_numpy(g).copy()) for k, g in layer.grads.items()})
    fresh = make()                                   # the same weights, one pass on x[1] only
    fresh.forward(x[1], training=True)
    fresh.backward(dy[1])
    assert grads[0].keys() == grads[1].keys() == dict(layer.params).keys()
    for key, (g, values) in grads[0].items():
        assert grads[1][key][0] is not g, key
        assert (B.to_numpy(g) == values).all(), f"{key}: the earlier array was written into"
        assert (grads[1][key][1] == B.to_numpy(fresh.grads[key])).all(), f"{key}: accumulated"


def test_save_for_backward_takes_the_output_shape_by_keyword_not_the_output(rng):
    class Old(lk.Activation):                        # the habit: save_for_backward(x, y)
        def forward(self, x, training=False):
            y = x * 2
            self.save_for_backward(x, y)
            return y

    class Given(lk.Activation):                      # the output itself, by keyword
        def forward(self, x, training=False):
            y = x * 2
            self.save_for_backward(x, output_shape=y)
            return y

    x = B.asarray(rng.standard_normal((2, 3)), dtype="float32")
    with pytest.raises(TypeError, match="takes 2 positional arguments"):
        Old().forward(x)
    with pytest.raises(TypeError, match=r"Given: save_for_backward\(cache, output_shape=y\.shape\) "
                                        r"takes the output's shape, not the output"):
        Given().forward(x)
