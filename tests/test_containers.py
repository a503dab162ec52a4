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
