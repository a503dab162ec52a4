"""Model builders: parameter counts from the paper's architectures (computed by hand here),
forward/backward shapes, looks-linear exactness, summary and errors."""
import math

import numpy as np
import pytest

import linkedref.backend as B
from linkedref import models as M
from linkedref.conv import Conv2D
from linkedref.dense import Dense

SQRT2 = math.sqrt(2.0)


def conv_params(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def dense_params(d_in, d_out):
    return d_in * d_out + d_out


# ------------------------------------------------------------------------- parameter counts
@pytest.mark.parametrize("act, e", [("relu", 1), ("lkrelu", 2), ("selu", 1), ("lkswish", 2)])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_depth_net_params_follow_the_paper(act, e, batchnorm):
    # 50 layers of width 4: 7×7/2 conv on 3×32×32 → 16×16, then 49 3×3 convs fed w·e channels
    w, H = 4, 16
    expect = conv_params(3, w, 7) + 49 * conv_params(w * e, w, 3) + dense_params(w * e * H * H, 10)
    if batchnorm:
        expect += 50 * 2 * w                                  # gamma and beta per conv layer
    model = M.depth_net(50, 4, activation=act, batchnorm=batchnorm, rng=0)
    assert M.count_params(model) == expect


def test_depth_net_prelu_counts_one_slope_per_channel_and_half():
    w = 4
    base = conv_params(3, w, 7) + 49 * conv_params(w, w, 3) + dense_params(w * 16 * 16, 10)
    assert M.count_params(M.depth_net(50, 4, activation="prelu", rng=0)) == base + 50 * w
    linked = conv_params(3, w, 7) + 49 * conv_params(2 * w, w, 3) + dense_params(2 * w * 256, 10)
    assert M.count_params(M.depth_net(50, 4, activation="lkprelu", rng=0)) == linked + 50 * 2 * w


@pytest.mark.parametrize("act, e", [("relu", 1), ("lkrelu", 2)])
def test_cifar_net_params_follow_keras_cifar10_cnn(act, e):
    # 32 → conv same 32 → valid 30 → pool 15 → same 15 → valid 13 → pool 6: flatten 64·6·6
    expect = (conv_params(3, 32, 3) + conv_params(32 * e, 32, 3) + conv_params(32 * e, 64, 3)
              + conv_params(64 * e, 64, 3) + dense_params(64 * e * 6 * 6, 512)
              + dense_params(512 * e, 10))
    assert M.count_params(M.cifar_net(activation=act, rng=0)) == expect


def test_sqrt2_widening_matches_the_linked_parameter_count():
    linked = M.count_params(M.cifar_net(activation="lkrelu", rng=0))
    wide = M.count_params(M.cifar_net(widen=SQRT2, activation="relu", rng=0))
    single = M.count_params(M.cifar_net(activation="relu", rng=0))
    # widths 45, 45, 91, 91, 724 (rounded): within 1% of the linked net, about twice the single one
    assert abs(wide - linked) / linked < 0.01
    assert 1.9 < linked / single < 2.1
    # depth_net: width 4·√2 rounds to 6, so the match is only within ~10% at this tiny width
    d_linked = M.count_params(M.depth_net(50, 4, activation="lkrelu", rng=0))
    d_wide = M.count_params(M.depth_net(50, 4, activation="relu", widen=SQRT2, rng=0))
    assert d_wide == conv_params(3, 6, 7) + 49 * conv_params(6, 6, 3) + dense_params(6 * 256, 10)
    assert abs(d_wide - d_linked) / d_linked < 0.1


@pytest.mark.parametrize("act, e", [("relu", 1), ("lkrelu", 2)])
def test_width_net_and_all_cnn_params(act, e):
    u = 50                                                   # 32 → 30 (valid 3×3)
    assert M.count_params(M.width_net(u, activation=act, rng=0)) == (
        conv_params(3, u, 3) + dense_params(u * e * 30 * 30, 10))
    a, b = 96, 192
    expect = (conv_params(3, a, 3) + 2 * conv_params(a * e, a, 3) + conv_params(a * e, b, 3)
              + 2 * conv_params(b * e, b, 3) + conv_params(b * e, b, 3) + conv_params(b * e, b, 1)
              + conv_params(b * e, 10, 1))
    assert M.count_params(M.all_cnn(activation=act, rng=0)) == expect
    if act == "relu":
        assert expect == 1_369_738                           # All-CNN-C's ~1.4M parameters


@pytest.mark.parametrize("act, e", [("relu", 1), ("lkrelu", 2)])
def test_small_resnet_params(act, e):
    w = 16
    expect = conv_params(3, w, 3)
    w_in = w
    for stage in range(3):
        out = w * 2 ** stage
        expect += conv_params(w_in * e, out, 3) + conv_params(out * e, out, 3)
        if w_in != out:
            expect += conv_params(w_in, out, 1)              # 1×1 stride-2 projection
        w_in = out
    expect += dense_params(4 * w * e, 10)
    assert M.count_params(M.small_resnet(activation=act, rng=0)) == expect
    bn = M.count_params(M.small_resnet(activation=act, batchnorm=True, rng=0))
    # BN before each activation: 2 per block (on w_in and out channels) and one in the head
    assert bn - expect == 2 * (16 + 16 + 16 + 32 + 32 + 64 + 64)


# ---------------------------------------------------------------------------------- shapes
def _builders():
    return {
        "depth_digits": (lambda a: M.depth_net(5, 4, activation=a, in_channels=1,
                                               input_size=(8, 8), rng=0), (1, 8, 8)),
        "width_digits": (lambda a: M.width_net(6, activation=a, in_channels=1,
                                               input_size=(8, 8), rng=0), (1, 8, 8)),
        "resnet_digits": (lambda a: M.small_resnet((1, 1), width=4, activation=a, batchnorm=True,
                                                   in_channels=1, rng=0), (1, 8, 8)),
        "cifar": (lambda a: M.cifar_net(widen=0.125, activation=a, rng=0), (3, 32, 32)),
        "all_cnn": (lambda a: M.all_cnn(activation=a, width_scale=0.05, rng=0), (3, 32, 32)),
        "resnet": (lambda a: M.small_resnet(width=4, activation=a, rng=0), (3, 32, 32)),
    }


@pytest.mark.parametrize("name", list(_builders()))
@pytest.mark.parametrize("act", ["relu", "lkrelu", "lkprelu"])
def test_forward_and_backward_shapes(name, act, rng):
    build, shape = _builders()[name]
    model = build(act)
    x = B.asarray(rng.standard_normal((2, *shape)), dtype=np.float32)
    y = model.forward(x, training=True)
    assert y.shape == (2, 10) and y.dtype == np.float32
    dx = model.backward(B.xp().ones_like(y))
    assert dx.shape == x.shape
    grads = model.grads
    for key, p in model.params.items():                      # every parameter got a gradient
        assert grads[key].shape == p.shape, key


def test_small_input_too_small_is_a_clear_error():
    with pytest.raises(ValueError, match="cifar_net"):
        M.cifar_net(input_size=(8, 8))


# ---------------------------------------------------------------------------- looks-linear
def _affine_gap(model, rng, shape):
    """max |f(a x1 + (1−a) x2) − (a f(x1) + (1−a) f(x2))| over max |f|: 0 for an affine f."""
    x1, x2 = (B.asarray(rng.standard_normal((3, *shape))) for _ in range(2))
    a = 0.3
    lhs = model.forward(a * x1 + (1 - a) * x2)
    rhs = a * model.forward(x1) + (1 - a) * model.forward(x2)
    return float(np.abs(B.to_numpy(lhs - rhs)).max() / np.abs(B.to_numpy(rhs)).max())


def test_looks_linear_depth_net_is_exactly_linear_at_init(rng):
    with B.default_dtype("float64"):
        ll = M.depth_net(8, 4, activation="lkrelu", init="looks_linear", in_channels=1,
                         input_size=(8, 8), rng=0)
        plain = M.depth_net(8, 4, activation="lkrelu", in_channels=1, input_size=(8, 8), rng=0)
    assert _affine_gap(ll, rng, (1, 8, 8)) < 1e-10
    assert _affine_gap(plain, rng, (1, 8, 8)) > 1e-3        # the check can fail
    weights = [layer for layer in ll if isinstance(layer, (Conv2D, Dense))]
    assert weights[0].init == M.FIRST_INIT                  # the first layer is fed by the data
    for layer in weights[1:]:                               # the rest are fed by the link
        W = B.to_numpy(layer.params["W"])
        axis = 1 if W.ndim == 4 else 0
        unit, mirror = np.split(W, 2, axis=axis)
        np.testing.assert_array_equal(mirror, -unit)


def test_looks_linear_needs_a_linked_activation():
    with pytest.raises(ValueError, match="looks_linear"):
        M.depth_net(3, 4, activation="relu", init="looks_linear")
    with pytest.raises(ValueError, match="looks_linear"):
        M.cifar_net(activation="selu", init="looks_linear")


# ------------------------------------------------------------------------- summary and misc
def test_summary_lists_every_layer_and_the_total(capsys):
    model = M.cifar_net(widen=0.25, activation="lkrelu", rng=0)
    text = M.summary(model, (3, 32, 32))
    assert capsys.readouterr().out.strip() == text.strip()
    rows = [ln for ln in text.splitlines() if ln.strip()[:1].isdigit()]
    assert len(rows) == len(model.layers)
    for i, (row, layer) in enumerate(zip(rows, model.layers)):
        assert row.split()[0] == str(i)
        assert layer.name[:4] in row.replace("Conv3x3", "Conv2D")
    assert "(16, 30, 30)" in rows[3]                          # LK after the valid conv: 2·8 ch
    assert rows[-1].split()[-1] == f"{M.count_params(model.layers[-1]):,}"
    assert f"total params: {M.count_params(model):,}" in text


def test_summary_quiet_and_batch_axis():
    model = M.width_net(3, in_channels=1, input_size=(8, 8), rng=0)
    text = M.summary(model, (5, 1, 8, 8), print_fn=None)
    assert "(10,)" in text and f"{M.count_params(model):,}" in text
    with pytest.raises(ValueError, match="summary"):
        M.summary(model, (8, 8))


def test_count_params_sums_every_array():
    model = M.small_resnet((1,), width=4, batchnorm=True, rng=0)
    assert M.count_params(model) == sum(v.size for v in model.params.values())


def test_unknown_activation_is_a_clear_error():
    for build in (M.depth_net, M.cifar_net, M.all_cnn, M.small_resnet):
        with pytest.raises(ValueError, match="unknown activation 'rleu'"):
            build(activation="rleu")
    with pytest.raises(ValueError, match="width_net"):
        M.width_net(10, activation="lk_nope")
    with pytest.raises(TypeError, match="depth_net"):
        M.depth_net(activation=None)


def test_a_seed_fixes_the_model():
    a, b = (M.cifar_net(widen=0.125, rng=7) for _ in range(2))
    for key in a.params:
        np.testing.assert_array_equal(B.to_numpy(a.params[key]), B.to_numpy(b.params[key]))


@pytest.mark.slow
@pytest.mark.parametrize("net", ["depth", "cifar"])
def test_torch_twins_have_the_same_parameter_counts(net):
    """benchmarks/torch_models.py must build the very networks the benchmark compares against."""
    pytest.importorskip("torch")
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
    try:
        import torch_models as T
    finally:
        sys.path.pop(0)
    for act, bn, widen in [("relu", False, 1.0), ("lkrelu", True, 1.0), ("lkprelu", False, 1.0),
                           ("relu", False, SQRT2)]:
        if net == "depth":
            ours = M.depth_net(50, 4, activation=act, batchnorm=bn, widen=widen, rng=0)
            theirs = T.depth_net(50, 4, activation=act, batchnorm=bn, widen=widen)
        else:
            ours = M.cifar_net(widen=widen, activation=act, batchnorm=bn, rng=0)
            theirs = T.cifar_net(widen=widen, activation=act, batchnorm=bn)
        assert M.count_params(ours) == T.count_params(theirs), (act, bn, widen)
