"""Pooling and Flatten: the layers equal the plain references (max/avg_pool_reference) with
OVERLAPPING windows (a wrong `=` for `+=` fails here); the references by hand; gradchecks, the tie
rule, bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import linkedref.backend as B
from linkedref.gradcheck import distinct_values, gradcheck
from linkedref.gradcheck.cases_conv import CASES
from linkedref.pooling import (
    AvgPool2D,
    GlobalAvgPool2D,
    MaxPool2D,
    avg_pool_reference,
    avg_pool_reference_backward,
    max_pool_reference,
    max_pool_reference_backward,
)
from linkedref.reshape import Flatten

REFERENCE = {"max": (max_pool_reference, max_pool_reference_backward),
             "avg": (avg_pool_reference, avg_pool_reference_backward)}


def check(layer_cls, kind, rng, shape, k, s):
    """The layer's forward and dx equal the plain reference's (float64, distinct values)."""
    layer = layer_cls(k, stride=s)
    x = B.asarray(distinct_values(shape, rng))
    y = layer.forward(x)
    dy = B.asarray(rng.standard_normal(tuple(y.shape)))
    dx = layer.backward(dy)
    forward, backward = REFERENCE[kind]
    np.testing.assert_allclose(B.to_numpy(y), B.to_numpy(forward(x, k, s)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(B.to_numpy(dx), B.to_numpy(backward(x, dy, k, s)), rtol=0,
                               atol=1e-12)


CONFIGS = [  # shape, kernel, stride (None = kernel)
    ((2, 3, 6, 6), 2, None),
    ((2, 2, 7, 6), 3, 2),           # overlapping
    ((1, 2, 5, 5), 2, 1),           # overlapping, every inner pixel in 4 windows
    ((2, 1, 7, 8), (3, 2), (1, 2)),  # non-square, overlapping rows only
    ((1, 1, 3, 3), 3, None),        # one window
    ((2, 2, 9, 7), 3, 3),
]


@pytest.mark.parametrize("config", CONFIGS, ids=[str(c) for c in CONFIGS])
@pytest.mark.parametrize("layer_cls,kind", [(MaxPool2D, "max"), (AvgPool2D, "avg")])
def test_pooling_equals_reference(rng, layer_cls, kind, config):
    check(layer_cls, kind, rng, *config)


@given(H=st.integers(2, 9), W=st.integers(2, 9), kh=st.integers(1, 3), kw=st.integers(1, 3),
       sh=st.integers(1, 3), sw=st.integers(1, 3), kind=st.sampled_from(["max", "avg"]))
def test_pooling_equals_reference_hypothesis(H, W, kh, kw, sh, sw, kind):
    if kh > H or kw > W:
        return
    layer_cls = MaxPool2D if kind == "max" else AvgPool2D
    check(layer_cls, kind, np.random.default_rng(0), (2, 2, H, W), (kh, kw), (sh, sw))


@pytest.mark.parametrize("case", [c for c in CASES if "Pool" in c.name or "Flatten" in c.name],
                         ids=lambda c: c.name)
def test_gradcheck(case, rng):
    assert gradcheck(**case.make(rng)).max_error <= 1e-6


def test_overlapping_max_pool_accumulates():
    """A single large pixel is the max of all four overlapping windows: it gets all four dy."""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0
    pool = MaxPool2D(2, stride=1)
    pool.forward(x)
    dx = pool.backward(np.ones((1, 1, 2, 2)))
    assert dx[0, 0, 1, 1] == 4.0 and dx.sum() == 4.0


def test_ties_go_to_the_first_maximum_in_row_major_order():
    pool = MaxPool2D(2)
    x = np.ones((1, 1, 2, 2))
    pool.forward(x)
    dx = pool.backward(np.full((1, 1, 1, 1), 3.0))
    np.testing.assert_array_equal(dx[0, 0], [[3.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("k,s", [(2, None), (3, 2), (2, 1), ((2, 3), (3, 3))],
                         ids=["non-overlapping", "overlap 3/2", "overlap 2/1", "stride > kernel"])
def test_ties_follow_the_reference_on_both_backward_paths(k, s):
    """Many ties (values 0, 1, 2): the running-max forward keeps argmax's first-maximum rule, and
    the non-overlapping write (=) and the overlapping accumulation (+=) both match the reference."""
    rng = np.random.default_rng(3)
    pool = MaxPool2D(k, stride=s)
    x = B.asarray(rng.integers(0, 3, size=(2, 3, 8, 9)).astype(np.float64))
    y = pool.forward(x)
    dy = B.asarray(rng.standard_normal(tuple(y.shape)))
    dx = pool.backward(dy)
    np.testing.assert_array_equal(B.to_numpy(y), B.to_numpy(max_pool_reference(x, k, s)))
    np.testing.assert_allclose(B.to_numpy(dx), B.to_numpy(max_pool_reference_backward(x, dy, k, s)),
                               rtol=0, atol=1e-12)


def test_references_by_hand():
    """2×2 windows, stride 1, on a 3×3 image with ties: each window's dy goes to its first maximum;
    the average spreads dy over the window, summed where windows overlap."""
    x = np.array([[[[1.0, 3.0, 3.0], [2.0, 0.0, 3.0], [2.0, 2.0, 1.0]]]])
    np.testing.assert_array_equal(max_pool_reference(x, 2, 1)[0, 0], [[3, 3], [2, 3]])
    dx = max_pool_reference_backward(x, np.array([[[[1.0, 10.0], [100.0, 1000.0]]]]), 2, 1)
    np.testing.assert_array_equal(dx[0, 0], [[0, 11, 0], [100, 0, 1000], [0, 0, 0]])
    np.testing.assert_array_equal(avg_pool_reference(x, 2, 1)[0, 0], [[1.5, 2.25], [1.5, 1.5]])
    dx = avg_pool_reference_backward(x, np.full((1, 1, 2, 2), 4.0), 2, 1)
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_argmax_cache_is_one_byte_per_offset_and_big_windows_work(rng):
    """The argmax cache is a bool per kernel offset and window (memory: one byte each, as
    x's float32 pixels take four); a window of over 256 elements works as a small one."""
    pool = MaxPool2D(2)
    pool.forward(B.asarray(rng.standard_normal((1, 2, 4, 4))))
    masks, _ = pool.cache
    assert len(masks) == 4 and all(m.dtype == np.bool_ and m.shape == (1, 2, 2, 2) for m in masks)
    check(MaxPool2D, "max", rng, (1, 2, 18, 17), 17, 1)        # 289 window elements
    big = MaxPool2D(17, stride=1)
    big.forward(B.asarray(rng.standard_normal((1, 1, 17, 17))))
    assert len(big.cache[0]) == 289


def test_stride_defaults_to_kernel_and_dtype_is_kept(rng):
    pool = MaxPool2D((2, 3))
    assert pool.stride == (2, 3)
    x = B.asarray(rng.standard_normal((2, 3, 4, 6)), dtype="float32")
    y = pool.forward(x)
    assert y.shape == (2, 3, 2, 2) and y.dtype == np.float32
    assert pool.backward(y).dtype == np.float32
    assert AvgPool2D(2).forward(x).dtype == np.float32


def test_global_avg_pool(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = GlobalAvgPool2D()
    y = layer.forward(x)
    np.testing.assert_allclose(y, x.mean(axis=(2, 3)))
    dy = rng.standard_normal((2, 3))
    dx = layer.backward(dy)
    np.testing.assert_allclose(dx, np.broadcast_to(dy[:, :, None, None] / 20, x.shape))


def test_flatten_round_trip(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = Flatten()
    y = layer.forward(x)
    np.testing.assert_array_equal(y, x.reshape(2, 60))
    np.testing.assert_array_equal(layer.backward(y), x)
    with pytest.raises(ValueError, match="Flatten"):
        layer.backward(np.zeros((2, 59)))


@pytest.mark.parametrize("make", [lambda: MaxPool2D(2), lambda: AvgPool2D(2), GlobalAvgPool2D],
                         ids=["MaxPool2D", "AvgPool2D", "GlobalAvgPool2D"])
def test_bad_inputs_name_the_layer(make):
    layer = make()
    with pytest.raises(ValueError, match=f"{layer.name}.*4D.*\\(2, 3\\)"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=f"{layer.name}: backward"):
        make().backward(np.zeros((1, 1, 1, 1)))
    with pytest.raises(TypeError, match=layer.name):
        layer.forward(np.zeros((1, 1, 2, 2), dtype=int))


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_kernel_larger_than_input(cls):
    message = f"{cls.__name__}: kernel 3×3 is larger than the input 2×5"
    with pytest.raises(ValueError, match=message):
        cls(3).forward(np.zeros((1, 1, 2, 5)))
    with pytest.raises(ValueError, match=cls.__name__):
        cls(0)
    with pytest.raises(ValueError, match=cls.__name__):
        cls(2, stride=(1, 2, 3))
