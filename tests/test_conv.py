"""Conv2D: the fast (strided-view + GEMM) passes equal a slow loop oracle; gradchecks; bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import linkedref.backend as B
import linkedref.conv as conv_module
from linkedref.conv import Conv2D, same_padding
from linkedref.gradcheck import gradcheck
from linkedref.gradcheck.cases_conv import CASES


# ------------------------------------------------------------------------------ the oracle
def conv_oracle(x, w, b, stride, pads, dy):
    """Forward, dx, dW, db by the definition, one output position at a time (float64 NumPy).

    y[n, o, i, j] = b[o] + Σ_{c,p,q} w[o, c, p, q] · xpad[n, c, i·sh + p, j·sw + q]; the backward
    pass scatters dy[n, o, i, j] back through the same window (+= : windows may overlap).
    """
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    (sh, sw), ((t, bo), (l, r)) = stride, pads
    xpad = np.pad(x, ((0, 0), (0, 0), (t, bo), (l, r)))
    Ho, Wo = (xpad.shape[2] - kh) // sh + 1, (xpad.shape[3] - kw) // sw + 1
    y = np.zeros((N, O, Ho, Wo))
    dxpad, dw = np.zeros_like(xpad), np.zeros_like(w)
    for n in range(N):
        for o in range(O):
            for i in range(Ho):
                for j in range(Wo):
                    rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                    patch = xpad[n, :, rows, cols]
                    y[n, o, i, j] = (patch * w[o]).sum() + b[o]
                    dxpad[n, :, rows, cols] += dy[n, o, i, j] * w[o]
                    dw[o] += dy[n, o, i, j] * patch
    return y, dxpad[:, :, t:t + H, l:l + W], dw, dy.sum(axis=(0, 2, 3))


def check_against_oracle(rng, N, C, O, H, W, kernel_size, stride, padding):
    with B.default_dtype("float64"):
        conv = Conv2D(C, O, kernel_size, stride=stride, padding=padding, rng=rng)
    conv.params["b"] = B.asarray(rng.standard_normal(O))
    x = rng.standard_normal((N, C, H, W))
    y = conv.forward(B.asarray(x))
    dy = rng.standard_normal(tuple(y.shape))
    dy_before = dy.copy()
    dx = conv.backward(B.asarray(dy))
    want = conv_oracle(x, B.to_numpy(conv.params["W"]), B.to_numpy(conv.params["b"]), conv.stride,
                       conv.pads(H, W), dy)
    got = (y, dx, conv.grads["W"], conv.grads["b"])
    for name, g, w in zip(("y", "dx", "dW", "db"), got, want):
        assert g.shape == w.shape, name
        np.testing.assert_allclose(B.to_numpy(g), w, rtol=0, atol=1e-10, err_msg=name)
    np.testing.assert_array_equal(dy, dy_before)          # dy untouched


CONFIGS = [  # N, C, O, H, W, kernel, stride, padding
    (2, 3, 4, 5, 5, 3, 1, 1),
    (2, 3, 4, 5, 6, 3, 1, 0),
    (1, 2, 3, 7, 5, 3, 2, "same"),
    (2, 2, 3, 8, 8, 3, 2, "same"),
    (2, 2, 2, 6, 7, (2, 3), 2, "same"),              # even kernel: asymmetric "same" padding
    (1, 3, 2, 9, 7, 3, 3, "valid"),
    (2, 1, 2, 7, 6, (3, 2), (2, 1), (1, 2)),
    (1, 2, 3, 5, 4, 1, 1, 0),
    (2, 2, 2, 11, 9, 5, 3, 2),
    (1, 1, 1, 3, 3, 3, 1, "valid"),                  # a single output pixel
    (3, 2, 2, 7, 7, 7, 2, 3),                        # the depth net's first layer, scaled down
    (2, 2, 3, 6, 5, (1, 4), (1, 2), "same"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_fast_conv_equals_loop_oracle(rng, config):
    check_against_oracle(rng, *config)


@given(N=st.integers(1, 2), C=st.integers(1, 3), O=st.integers(1, 3), H=st.integers(3, 8),
       W=st.integers(3, 8), kh=st.integers(1, 3), kw=st.integers(1, 3), sh=st.integers(1, 3),
       sw=st.integers(1, 3), padding=st.sampled_from([0, 1, 2, "same", "valid"]))
def test_fast_conv_equals_loop_oracle_hypothesis(N, C, O, H, W, kh, kw, sh, sw, padding):
    check_against_oracle(np.random.default_rng(0), N, C, O, H, W, (kh, kw), (sh, sw), padding)


@pytest.mark.parametrize("config", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_both_dx_paths_agree(rng, config):
    """backward picks col2im (C < O or stride > 1) or the transposed convolution (else); each
    must give the same dx on every config, whichever one backward chose."""
    N, C, O, H, W, kernel_size, stride, padding = config
    with B.default_dtype("float64"):
        conv = Conv2D(C, O, kernel_size, stride=stride, padding=padding, rng=rng)
    y = conv.forward(B.asarray(rng.standard_normal((N, C, H, W))))
    dy = B.asarray(rng.standard_normal(tuple(y.shape)))
    xpad, size, corner = conv.cache
    via_col2im = B.to_numpy(conv._dx_col2im(dy, xpad.shape, size, corner))
    via_transposed = B.to_numpy(conv._dx_transposed(dy, xpad.shape, size, corner))
    np.testing.assert_allclose(via_col2im, via_transposed, rtol=0, atol=1e-10)


@pytest.mark.parametrize("config", [c for c in CONFIGS if c[0] > 1], ids=str)
def test_chunked_batch_equals_loop_oracle(rng, config, monkeypatch):
    """CPU cache blocking: with CHUNK_BYTES tiny every sample is its own chunk (forward, dW, dx)."""
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 1)
    check_against_oracle(rng, 3, *config[1:])


def test_batch_chunks_cover_the_batch_once(monkeypatch):
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 25)
    assert list(conv_module.batch_chunks(np, 5, 10)) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    assert list(conv_module.batch_chunks(np, 3, 100)) == [slice(0, 1), slice(1, 2), slice(2, 3)]
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 10 ** 6)
    assert list(conv_module.batch_chunks(np, 4, 1)) == [slice(0, 4)]


def test_interleaved_layers_share_scratch_safely(rng):
    """Scratch arrays are shared between layers: running A, B, then A's backward stays exact."""
    with B.default_dtype("float64"):
        a = Conv2D(2, 2, 3, padding=1, rng=rng)
        b = Conv2D(2, 2, 3, padding=1, rng=rng)
    x1, x2 = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 2, 5, 5))
    dy = rng.standard_normal((2, 2, 5, 5))
    a.forward(B.asarray(x1))
    a.forward(B.asarray(x2))          # reuses a's padded buffer: must not keep x1's values
    b.forward(B.asarray(x1))
    b.backward(B.asarray(dy))
    dx = a.backward(B.asarray(dy))
    want = conv_oracle(x2, B.to_numpy(a.params["W"]), np.zeros(2), (1, 1), a.pads(5, 5), dy)
    np.testing.assert_allclose(B.to_numpy(dx), want[1], atol=1e-10)
    np.testing.assert_allclose(B.to_numpy(a.grads["W"]), want[2], atol=1e-10)


# --------------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("case", [c for c in CASES if c.name.startswith("Conv2D")], ids=lambda c: c.name)
def test_gradcheck(case, rng):
    report = gradcheck(**case.make(rng))
    assert report.max_error <= 1e-6


# ------------------------------------------------------------------------- shapes, dtypes
@pytest.mark.parametrize("H,k,s", [(7, 3, 2), (8, 3, 2), (5, 2, 1), (6, 4, 3), (1, 3, 1)])
def test_same_padding_follows_keras(H, k, s):
    before, after = same_padding(H, k, s)
    out = (H + before + after - k) // s + 1
    assert out == -(-H // s) and after - before in (0, 1)


def test_even_kernel_pads_more_at_the_bottom_right():
    conv = Conv2D(1, 1, 2, padding="same", rng=0)
    assert conv.pads(4, 4) == ((0, 1), (0, 1))


def test_float32_stays_float32(rng):
    conv = Conv2D(3, 4, 3, stride=2, padding="same", rng=rng)
    x = B.asarray(rng.standard_normal((2, 3, 6, 6)), dtype="float32")
    y = conv.forward(x)
    dx = conv.backward(y)
    assert y.dtype == dx.dtype == conv.grads["W"].dtype == conv.grads["b"].dtype == np.float32
    assert conv.params["W"].shape == (4, 3, 3, 3) and conv.params["b"].shape == (4,)
    assert not conv.params["b"].any()


def test_glorot_fans_use_the_kernel_area():
    conv = Conv2D(8, 16, (3, 5), rng=0)
    limit = np.sqrt(6 / (8 * 15 + 16 * 15))
    assert np.abs(B.to_numpy(conv.params["W"])).max() <= limit


@pytest.mark.slow   # importing torch takes seconds
def test_matches_pytorch_when_installed(rng):
    torch = pytest.importorskip("torch")
    with B.default_dtype("float64"):
        conv = Conv2D(3, 4, (3, 2), stride=2, padding=1, rng=rng)
    x = rng.standard_normal((2, 3, 7, 6))
    y = conv.forward(B.asarray(x))
    yt = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(B.to_numpy(conv.params["W"])),
                                    stride=2, padding=1)
    np.testing.assert_allclose(B.to_numpy(y), yt.numpy(), atol=1e-12)


# ---------------------------------------------------------------------------- bad input
def test_bad_inputs_name_conv2d_and_the_shapes(rng):
    conv = Conv2D(3, 4, 3, rng=rng)
    with pytest.raises(ValueError, match=r"Conv2D.*4D.*\(2, 3, 5\)"):
        conv.forward(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv2D.*3 .*channels.*\(2, 2, 5, 5\)"):
        conv.forward(np.zeros((2, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv2D: kernel 3×3 is larger than the padded input 2×5"):
        conv.forward(np.zeros((1, 3, 2, 5), np.float32))
    with pytest.raises(TypeError, match="Conv2D.*dtype"):
        conv.forward(np.zeros((1, 3, 5, 5), np.float64))
    with pytest.raises(ValueError, match="Conv2D: backward"):
        Conv2D(1, 1, 1).backward(np.zeros((1, 1, 1, 1), np.float32))


@pytest.mark.parametrize("kwargs", [dict(padding="full"), dict(padding=-1), dict(kernel_size=0),
                                    dict(stride=(1, 2, 3)), dict(kernel_size=2.5)])
def test_bad_arguments(kwargs):
    args = {**dict(in_channels=2, out_channels=2, kernel_size=3), **kwargs}
    with pytest.raises(ValueError, match="Conv2D"):
        Conv2D(**args)


def test_scratch_limit_and_clear_keep_results_exact(rng, monkeypatch):
    """Above SCRATCH_LIMIT the work arrays are fresh; after clear_scratch they are re-created."""
    import linkedref.conv as conv_module
    monkeypatch.setattr(conv_module, "SCRATCH_LIMIT", 10)
    check_against_oracle(rng, 2, 2, 3, 6, 5, 3, 2, "same")
    conv_module.clear_scratch()
    monkeypatch.undo()
    check_against_oracle(rng, 2, 2, 3, 6, 5, 3, 2, "same")
