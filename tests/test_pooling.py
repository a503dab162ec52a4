"""Pooling and Flatten: loop oracles with OVERLAPPING windows (a wrong `=` for `+=` fails here),
gradchecks, the tie rule, bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import linkedref.backend as B
from linkedref.gradcheck import distinct_values, gradcheck
from linkedref.gradcheck.cases_conv import CASES
from linkedref.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from linkedref.reshape import Flatten


def pool_oracle(x, k, s, dy, kind):
    """Max/avg pooling forward and dx, one window at a time; dx accumulates (+=) over windows."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw) = k, s
    Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
    y, dx = np.zeros((N, C, Ho, Wo)), np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                    window = x[n, c, rows, cols]
                    if kind == "max":
                        p, q = np.unravel_index(window.argmax(), window.shape)
                        y[n, c, i, j] = window[p, q]
                        dx[n, c, i * sh + p, j * sw + q] += dy[n, c, i, j]
                    else:
                        y[n, c, i, j] = window.mean()
                        dx[n, c, rows, cols] += dy[n, c, i, j] / (kh * kw)
    return y, dx


def check(layer_cls, kind, rng, shape, k, s):
    layer = layer_cls(k, stride=s)
    x = distinct_values(shape, rng)
    y = layer.forward(B.asarray(x))
    dy = rng.standard_normal(tuple(y.shape))
    dx = layer.backward(B.asarray(dy))
    y_want, dx_want = pool_oracle(x, layer.kernel_size, layer.stride, dy, kind)
    np.testing.assert_allclose(B.to_numpy(y), y_want, atol=1e-12)
    np.testing.assert_allclose(B.to_numpy(dx), dx_want, atol=1e-12)


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
def test_pooling_equals_loop_oracle(rng, layer_cls, kind, config):
    check(layer_cls, kind, rng, *config)


@given(H=st.integers(2, 9), W=st.integers(2, 9), kh=st.integers(1, 3), kw=st.integers(1, 3),
       sh=st.integers(1, 3), sw=st.integers(1, 3), kind=st.sampled_from(["max", "avg"]))
def test_pooling_equals_loop_oracle_hypothesis(H, W, kh, kw, sh, sw, kind):
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
def test_ties_follow_the_oracle_on_both_backward_paths(k, s):
    """Many ties (values 0, 1, 2): the running-max forward keeps argmax's first-maximum rule, and the
    non-overlapping write (=) and the overlapping accumulation (+=) both match the loop oracle."""
    rng = np.random.default_rng(3)
    pool = MaxPool2D(k, stride=s)
    x = rng.integers(0, 3, size=(2, 3, 8, 9)).astype(np.float64)
    y = pool.forward(B.asarray(x))
    dy = rng.standard_normal(tuple(y.shape))
    dx = pool.backward(B.asarray(dy))
    y_want, dx_want = pool_oracle(x, pool.kernel_size, pool.stride, dy, "max")
    np.testing.assert_array_equal(B.to_numpy(y), y_want)
    np.testing.assert_allclose(B.to_numpy(dx), dx_want, atol=1e-12)


def test_argmax_cache_is_one_byte_and_wide_for_big_windows(rng):
    """The argmax cache is uint8 (memory); a window of more than 256 elements needs a wider index."""
    pool = MaxPool2D(2)
    pool.forward(B.asarray(rng.standard_normal((1, 2, 4, 4))))
    assert pool.cache[0].dtype == np.uint8
    check(MaxPool2D, "max", rng, (1, 2, 18, 17), 17, 1)        # 289 window elements
    big = MaxPool2D(17, stride=1)
    big.forward(B.asarray(rng.standard_normal((1, 1, 17, 17))))
    assert big.cache[0].dtype == np.int32


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
    with pytest.raises(ValueError, match=f"{cls.__name__}: kernel 3×3 is larger than the input 2×5"):
        cls(3).forward(np.zeros((1, 1, 2, 5)))
    with pytest.raises(ValueError, match=cls.__name__):
        cls(0)
    with pytest.raises(ValueError, match=cls.__name__):
        cls(2, stride=(1, 2, 3))
