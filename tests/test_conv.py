"""Conv2D equals the plain conv2d_reference (forward, dx, dW, db) to 1e-10 in float64; the
reference itself against hand sums, finite differences and PyTorch; gradchecks; bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import linkedref.backend as B
import linkedref.fast.conv as fast
from linkedref.conv import Conv2D, conv2d_reference, conv2d_reference_backward, same_padding
from linkedref.gradcheck import gradcheck
from linkedref.gradcheck.cases_conv import CASES


# ------------------------------------------------------------- Conv2D against the reference
def check_against_reference(rng, N, C, O, H, W, kernel_size, stride, padding):
    """Conv2D's forward and backward equal conv2d_reference(_backward); dy is left untouched."""
    with B.default_dtype("float64"):
        conv = Conv2D(C, O, kernel_size, stride=stride, padding=padding, rng=rng)
    conv.params["b"] = B.asarray(rng.standard_normal(O))
    x = B.asarray(rng.standard_normal((N, C, H, W)))
    y = conv.forward(x)
    dy = B.asarray(rng.standard_normal(tuple(y.shape)))
    dy_before = dy.copy()
    dx = conv.backward(dy)
    w, b = conv.params["W"], conv.params["b"]
    want = (conv2d_reference(x, w, b, stride, padding),
            *conv2d_reference_backward(x, w, dy, stride, padding))
    got = (y, dx, conv.grads["W"], conv.grads["b"])
    for name, g, r in zip(("y", "dx", "dW", "db"), got, want):
        assert g.shape == r.shape, name
        np.testing.assert_allclose(B.to_numpy(g), B.to_numpy(r), rtol=0, atol=1e-10, err_msg=name)
    np.testing.assert_array_equal(B.to_numpy(dy), B.to_numpy(dy_before))


CONFIGS = [  # N, C, O, H, W, kernel, stride, padding
    (2, 3, 4, 5, 5, 3, 1, 1),
    (2, 3, 4, 5, 6, 3, 1, 0),
    (2, 4, 3, 6, 5, 3, 1, "same"),                   # C > O, stride 1: dx as transposed conv
    (1, 2, 3, 7, 5, 3, 2, "same"),
    (2, 2, 3, 8, 8, 3, 2, "same"),
    (2, 2, 2, 6, 7, (2, 3), 2, "same"),              # even kernel: asymmetric "same" padding
    (2, 3, 2, 5, 6, (2, 4), 1, "same"),              # even kernels, stride 1, asymmetric, C > O
    (1, 3, 2, 9, 7, 3, 3, "valid"),
    (2, 1, 2, 7, 6, (3, 2), (2, 1), (1, 2)),
    (1, 2, 3, 5, 4, 1, 1, 0),
    (2, 2, 2, 11, 9, 5, 3, 2),
    (1, 1, 1, 3, 3, 3, 1, "valid"),                  # a single output pixel
    (3, 2, 2, 7, 7, 7, 2, 3),                        # the depth net's first layer, scaled down
    (2, 2, 3, 6, 5, (1, 4), (1, 2), "same"),
    (2, 5, 2, 4, 4, 3, 1, 1),                        # Ho·Wo < C·kh·kw: dW as one GEMM over n·P
    (2, 8, 4, 6, 7, 3, 1, "same"),                   # the depth net's layer: line positions
    (2, 4, 2, 7, 5, (2, 3), 1, "valid"),             # line positions, rows of 5 after the cut
]


@pytest.mark.parametrize("config", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_conv2d_equals_reference(rng, config):
    check_against_reference(rng, *config)


@given(N=st.integers(1, 2), C=st.integers(1, 3), O=st.integers(1, 3), H=st.integers(3, 8),
       W=st.integers(3, 8), kh=st.integers(1, 3), kw=st.integers(1, 3), sh=st.integers(1, 3),
       sw=st.integers(1, 3), padding=st.sampled_from([0, 1, 2, (0, 2), "same", "valid"]))
def test_conv2d_equals_reference_hypothesis(N, C, O, H, W, kh, kw, sh, sw, padding):
    check_against_reference(np.random.default_rng(0), N, C, O, H, W, (kh, kw), (sh, sw), padding)


@pytest.mark.parametrize("config", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_both_dx_paths_equal_the_reference(rng, config):
    """backward picks col2im (C < O or stride > 1) or the transposed convolution (else); each one
    must give the reference's dx on every config, whichever one backward chose."""
    N, C, O, H, W, kernel_size, stride, padding = config
    with B.default_dtype("float64"):
        conv = Conv2D(C, O, kernel_size, stride=stride, padding=padding, rng=rng)
    x = B.asarray(rng.standard_normal((N, C, H, W)))
    dy = B.asarray(rng.standard_normal(tuple(conv.forward(x).shape)))
    want = B.to_numpy(conv2d_reference_backward(x, conv.params["W"], dy, stride, padding)[0])
    pads = conv.pads(H, W)
    for dx_path in (fast.dx_col2im, fast.dx_transposed):
        dx = dx_path(dy, conv.params["W"], conv.stride, x.shape, pads)
        np.testing.assert_allclose(B.to_numpy(dx), want, rtol=0, atol=1e-10,
                                   err_msg=dx_path.__name__)


@pytest.mark.parametrize("config", [c for c in CONFIGS if c[0] > 1], ids=str)
def test_chunked_batch_equals_reference(rng, config, monkeypatch):
    """CPU cache blocking: with CHUNK_BYTES tiny every sample is its own chunk (forward, dW, dx)."""
    monkeypatch.setattr(fast, "CHUNK_BYTES", 1)
    check_against_reference(rng, 3, *config[1:])


# ------------------------------------------------------------- Winograd F(4×4, 3×3)
WINOGRAD_CONFIGS = [  # N, C, O, H, W, padding: stride-1 3×3 layers, channels ≥ the rule's minimum
    (2, 32, 32, 10, 10, "same"),                     # 10×10 output: tiles cut at 12
    (2, 32, 40, 7, 5, "valid"),                      # 5×3 output: one tile each way, cut
    (3, 40, 32, 6, 9, "same"),                       # C > O; 6×9 output
    (2, 32, 33, 6, 5, 2),                            # pad 2: dy fills the dx frame to its edge
    (2, 32, 32, 9, 4, (0, 1)),                       # pads differ between rows and columns
    (2, 32, 32, 5, 5, 3),                            # pad 3: forward Winograd, dx im2col
    (1, 33, 32, 3, 3, "valid"),                      # a single output pixel
    (2, 32, 32, 18, 10, "valid"),                    # 16×8 output: whole tiles, none cut
]


@pytest.fixture
def winograd_calls(monkeypatch):
    """A list that gets an entry per call of fast._winograd ("y/dx") and of
    fast._winograd_weight_grad ("dW"). The rule's limit on spare tiles is lifted: these small
    layers' outputs take Winograd however their tiles fit (the kernel has no such limit)."""
    monkeypatch.setattr(fast, "WINOGRAD_MAX_SPARE", dict.fromkeys(("y", "dx", "dW"), 100))
    calls = []

    def spying(real, tag):
        def spy(*args, **kwargs):
            calls.append(tag)
            return real(*args, **kwargs)
        return spy
    for name, tag in (("_winograd", "y/dx"), ("_winograd_weight_grad", "dW")):
        monkeypatch.setattr(fast, name, spying(getattr(fast, name), tag))
    return calls


@pytest.mark.parametrize("chunk", [None, 1])
@pytest.mark.parametrize("config", WINOGRAD_CONFIGS, ids=str)
def test_winograd_layers_equal_the_reference(rng, config, chunk, winograd_calls, monkeypatch):
    """Forward, dx and dW of wide stride-1 3×3 layers take the Winograd path and equal the plain
    reference to 1e-10 (float64), whole or a sample per chunk."""
    if chunk is not None:
        monkeypatch.setattr(fast, "WINOGRAD_CHUNK_BYTES", chunk)
    N, C, O, H, W, padding = config
    check_against_reference(rng, N, C, O, H, W, 3, 1, padding)
    assert sorted(winograd_calls) == ["dW"] + ["y/dx"] * (1 if padding == 3 else 2)


@pytest.mark.parametrize("config", [c for c in CONFIGS if c[5] == 3 and c[6] == 1], ids=str)
def test_winograd_on_narrow_layers_too(rng, config, winograd_calls, monkeypatch):
    """With the rule's minimum at 1 channel, the narrow 3×3 configs above take Winograd and still
    equal the reference (the kernel itself has no lower limit; the rule is about speed)."""
    monkeypatch.setattr(fast, "WINOGRAD_MIN_CHANNELS", 1)
    check_against_reference(rng, *config)
    assert winograd_calls


def test_the_rule_sends_only_wide_stride1_3x3_layers_to_winograd():
    m, hw = fast.WINOGRAD_MIN_CHANNELS, (16, 16)
    for pass_ in ("y", "dx", "dW"):
        assert fast.use_winograd((m, m, 3, 3), (1, 1), hw, pass_)
        assert not fast.use_winograd((m, m, 3, 3), (2, 2), hw, pass_)
        assert not fast.use_winograd((m - 1, m, 3, 3), (1, 1), hw, pass_)
        assert not fast.use_winograd((m, m - 1, 3, 3), (1, 1), hw, pass_)
        assert not fast.use_winograd((m, m, 5, 5), (1, 1), hw, pass_)
        assert not fast.use_winograd((m, m, 3, 1), (1, 1), hw, pass_)


def test_the_rule_counts_the_spare_outputs_of_the_tiles():
    """Tiles for 15×15 and 30×30 compute 1.14× the outputs: Winograd in every pass; 7×7 and
    14×14, 1.31×: y and dx only; 13×13, 1.51×: y and dx; 3×3 (one tile, 1.78×): none."""
    m = fast.WINOGRAD_MIN_CHANNELS
    for hw, passes in [((15, 15), "y dx dW"), ((30, 30), "y dx dW"), ((7, 7), "y dx"),
                       ((14, 14), "y dx"), ((13, 13), "y dx"), ((3, 3), ""), ((8, 5), "")]:
        chosen = [p for p in ("y", "dx", "dW") if fast.use_winograd((m, m, 3, 3), (1, 1), hw, p)]
        assert chosen == passes.split(), hw


def test_one_winograd_tile_is_the_formula(rng):
    """Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A is the 4×4 valid correlation of a 6×6 tile d with g, and the
    module's transforms compute G g Gᵀ and Bᵀ d B."""
    from linkedref.fast import winograd
    d, g = rng.standard_normal((6, 6)), rng.standard_normal((3, 3))
    BT, G, AT = (np.array(m, dtype=float) for m in (winograd.BT, winograd.G, winograd.AT))
    direct = np.array([[np.sum(d[i:i + 3, j:j + 3] * g) for j in range(4)] for i in range(4)])
    np.testing.assert_allclose(AT @ ((G @ g @ G.T) * (BT @ d @ BT.T)) @ AT.T, direct, atol=1e-12)
    U = winograd.filter_transform(g.reshape(1, 1, 3, 3))                 # 36, O, C
    np.testing.assert_allclose(U[:, 0, 0].reshape(6, 6), G @ g @ G.T, atol=1e-15)
    V = winograd.input_transform(d.reshape(6, 6, 1), np.empty((6, 6, 1)), np.empty((6, 6, 1)))
    np.testing.assert_allclose(V.reshape(6, 6), BT @ d @ BT.T, atol=1e-13)
    m = rng.standard_normal((6, 6))
    Y = winograd.output_transform(m.reshape(6, 6, 1), np.empty((4, 4, 1)), np.empty((4, 6, 1)))
    np.testing.assert_allclose(Y.reshape(4, 4), AT @ m @ AT.T, atol=1e-13)


def test_the_gradient_transforms_are_the_adjoints_of_the_forward_ones(rng):
    """⟨Aᵀ M A, dY⟩ = ⟨M, A dY Aᵀ⟩ and ⟨G g Gᵀ, dU⟩ = ⟨g, Gᵀ dU G⟩: what dW's Winograd needs."""
    from linkedref.fast import winograd
    M, dY = rng.standard_normal((6, 6, 5)), rng.standard_normal((4, 4, 5))
    Y = winograd.output_transform(M, np.empty((4, 4, 5)), np.empty((4, 6, 5)))
    dM = winograd.output_gradient_transform(dY, np.empty((6, 6, 5)), np.empty((6, 4, 5)))
    np.testing.assert_allclose(np.sum(Y * dY), np.sum(M * dM), rtol=1e-12)
    g, dU = rng.standard_normal((2, 3, 3, 3)), rng.standard_normal((36, 2, 3))
    U, dg = winograd.filter_transform(g), winograd.filter_gradient(dU)
    assert dg.shape == g.shape
    np.testing.assert_allclose(np.sum(U * dU), np.sum(g * dg), rtol=1e-12)


def winograd_float32_errors(rng):
    """{(pass, C, O): float32 error / max |exact|} of forward, dx and dW on cifar_net-like layers
    (Glorot weights, ReLU-like inputs, 15×15 and 32×32 maps), against float64."""
    passes = {"y": lambda x, w, dy: fast.correlate(x, w, (1, 1)),
              "dx": lambda x, w, dy: fast.input_grad(dy, w, (1, 1), x.shape, ((0, 0), (0, 0))),
              "dW": lambda x, w, dy: fast.weight_grad(x, dy, (3, 3), (1, 1))}
    errors = {}
    for N, C, O, H in [(4, 32, 32, 32), (4, 32, 64, 17), (4, 64, 64, 15), (4, 128, 64, 15)]:
        limit = np.sqrt(6 / (9 * C + 9 * O))
        w = rng.uniform(-limit, limit, (O, C, 3, 3))
        x = np.maximum(rng.standard_normal((N, C, H, H)), 0)
        dy = rng.standard_normal((N, O, H - 2, H - 2))
        for name, run in passes.items():
            exact = run(x, w, dy)
            single = run(*(a.astype(np.float32) for a in (x, w, dy)))
            assert single.dtype == np.float32
            errors[(name, C, O)] = float(np.abs(single - exact).max() / np.abs(exact).max())
    return errors


def test_winograd_float32_stays_within_its_stated_bound(rng, winograd_calls):
    """float32 forward, dx and dW within WINOGRAD_F32_BOUND × max |y| of the float64 result
    (measured, seeds 0–2: 1.5e-6–7.2e-6; im2col on the same layers, 1.8e-7–7.0e-7)."""
    errors = winograd_float32_errors(rng)
    assert len(winograd_calls) == 24
    worst = max(errors, key=errors.get)
    assert errors[worst] <= fast.WINOGRAD_F32_BOUND, (worst, errors[worst])


# ------------------------------------------------------------- line positions (stride 1)
def test_row_length_picks_line_positions_only_where_they_apply():
    x = np.zeros((2, 8, 6, 7))
    assert fast.row_length(x, 3, 3, (1, 1), out_channels=4) == 7          # 4·4 ≤ 8·3·3
    assert fast.row_length(x, 3, 3, (1, 1), out_channels=32) is None      # many output channels
    assert fast.row_length(x, 3, 3, (2, 1), out_channels=4) is None       # a stride
    assert fast.row_length(x.transpose(0, 1, 3, 2), 3, 3, (1, 1), 4) is None   # columns apart
    assert fast.row_length(np.zeros((2, 8, 6, 14))[..., ::2], 3, 3, (1, 1), 4) == 7
    assert fast.row_length(np.zeros((2, 8, 6, 9))[..., 1:8], 3, 3, (1, 1), 4) == 9


@pytest.mark.parametrize("make_x", [
    lambda xp, a: a,                                                      # contiguous
    lambda xp, a: xp.repeat(a, 2, axis=3)[..., ::2],                      # columns 2 apart
    lambda xp, a: xp.pad(a, ((0, 0), (0, 0), (0, 0), (1, 2)))[..., 1:-2], # rows wider than W
], ids=["contiguous", "strided", "sliced"])
def test_line_windows_read_the_windows_and_the_layer_uses_them(rng, xp, make_x, monkeypatch):
    x = make_x(xp, B.asarray(rng.standard_normal((3, 8, 6, 7))))         # a view on the device
    (N, C, H, W), R = x.shape, x.strides[2] // x.strides[3]
    Ho, Wo = H - 2, W - 1
    line = fast.line_windows(x, 3, 2)                                     # N, C, 3, 2, L
    assert line.shape == (N, C, 3, 2, (Ho - 1) * R + Wo)
    cut = fast.on_grid(xp.ascontiguousarray(line).reshape(N, C * 6, -1), Ho, Wo, R)
    np.testing.assert_array_equal(B.to_numpy(cut),
                                  B.to_numpy(fast.windows(x, 3, 2).reshape(N, C * 6, Ho, Wo)))
    seen, line_windows = [], fast.line_windows
    monkeypatch.setattr(fast, "line_windows", lambda *a: seen.append(a) or line_windows(*a))
    with B.default_dtype("float64"):
        conv = Conv2D(C, 4, (3, 2), padding="valid", rng=rng)             # 4·4 ≤ 8·3·2
    want = conv2d_reference(x.copy(), conv.params["W"], conv.params["b"])
    np.testing.assert_allclose(B.to_numpy(conv.forward(x)), B.to_numpy(want), rtol=0, atol=1e-10)
    assert seen, "Conv2D 8→4 at stride 1 should read line positions"


def test_a_view_into_a_larger_array_with_inf_beside_it_trains_finitely(rng):
    """With no padding, Conv2D keeps its input for dW; a view of a larger array must not bring
    the numbers beside it (between its rows) into dW through the line positions."""
    base = np.full((2, 8, 6, 9), np.inf)
    base[..., 1:8] = rng.standard_normal((2, 8, 6, 7))
    x = B.asarray(base)[..., 1:8]                       # on the device: rows 9 apart, inf between
    with B.default_dtype("float64"):
        conv = Conv2D(8, 4, 3, padding="valid", rng=rng)
    dy = B.asarray(rng.standard_normal(tuple(conv.forward(x).shape)))
    dx = conv.backward(dy)
    want_dx, want_dW, _ = conv2d_reference_backward(x.copy(), conv.params["W"], dy, 1, "valid")
    np.testing.assert_allclose(B.to_numpy(conv.grads["W"]), B.to_numpy(want_dW), rtol=0,
                               atol=1e-10)
    np.testing.assert_allclose(B.to_numpy(dx), B.to_numpy(want_dx), rtol=0, atol=1e-10)


def test_on_line_puts_zeros_between_the_rows(rng):
    dy = rng.standard_normal((2, 3, 4, 5))
    work = fast.Workspace()
    work.get(np, (2, 3, 26), dy.dtype, "dy_line")[...] = np.nan           # a used buffer
    line = fast.on_line(dy, 7, work)                                      # rows 7 apart
    assert line.shape == (2, 3, 3 * 7 + 5)
    np.testing.assert_array_equal(fast.on_grid(line, 4, 5, 7), dy)
    between = np.ones(line.shape[-1], bool)
    for i in range(4):
        between[i * 7:i * 7 + 5] = False
    np.testing.assert_array_equal(line[..., between], 0)
    assert fast.on_line(dy, None, work).shape == (2, 3, 20)             # plain positions


def test_batch_chunks_cover_the_batch_once(monkeypatch):
    monkeypatch.setattr(fast, "CHUNK_BYTES", 25)
    assert list(fast.batch_chunks(np, 5, 10)) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    assert list(fast.batch_chunks(np, 3, 100)) == [slice(0, 1), slice(1, 2), slice(2, 3)]
    monkeypatch.setattr(fast, "CHUNK_BYTES", 10 ** 6)
    assert list(fast.batch_chunks(np, 4, 1)) == [slice(0, 4)]


def test_interleaved_layers_share_the_workspace_safely(rng):
    """Layers share the thread's workspace (fast.workspace()): A forward twice, B forward and
    backward, then A backward is still exact (A's cache holds its own padded input, never a
    workspace array)."""
    with B.default_dtype("float64"):
        a = Conv2D(2, 2, 3, padding=1, rng=rng)
        b = Conv2D(2, 2, 3, padding=1, rng=rng)
    x1, x2 = (B.asarray(rng.standard_normal((2, 2, 5, 5))) for _ in range(2))
    dy = B.asarray(rng.standard_normal((2, 2, 5, 5)))
    a.forward(x1)
    a.forward(x2)
    b.forward(x1)
    b.backward(dy)
    dx = a.backward(dy)
    want_dx, want_dW, _ = conv2d_reference_backward(x2, a.params["W"], dy, 1, 1)
    np.testing.assert_allclose(B.to_numpy(dx), B.to_numpy(want_dx), rtol=0, atol=1e-10)
    np.testing.assert_allclose(B.to_numpy(a.grads["W"]), B.to_numpy(want_dW), rtol=0, atol=1e-10)


def test_workspace_hands_out_one_buffer_per_tag():
    work = fast.Workspace(limit=100)
    a = work.get(np, (3, 4), np.float64, "cols")
    assert work.get(np, (2, 5), np.float64, "cols").base is a.base       # same tag: same memory
    assert not np.shares_memory(work.get(np, (3, 4), np.float64, "dW"), a)
    assert work.get(np, (3, 4), np.float32, "cols").dtype == np.float32   # dtypes kept apart
    big = work.get(np, (11, 10), np.float64, "cols")                      # above the limit: fresh
    assert big.shape == (11, 10) and not np.shares_memory(big, a)
    assert len(work.buffers) == 3 and max(buf.size for buf in work.buffers.values()) == 12
    work.clear()
    assert not work.buffers


def test_workspace_limit_and_clear_keep_results_exact(rng, monkeypatch):
    """Above the workspace's limit the work arrays are fresh; after clear() they are re-created."""
    monkeypatch.setattr(fast.workspace(), "limit", 10)
    check_against_reference(rng, 2, 2, 3, 6, 5, 3, 2, "same")
    fast.workspace().clear()
    monkeypatch.undo()
    check_against_reference(rng, 2, 2, 3, 6, 5, 3, 2, "same")


# ------------------------------------------------------------------ the reference itself
def test_reference_by_hand():
    """One 3×3 image, a 2×2 kernel of ones, padding 'same' (one zero row/column at the end)."""
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    y = conv2d_reference(x, np.ones((1, 1, 2, 2)), np.array([0.5]), padding="same")
    np.testing.assert_array_equal(y[0, 0], [[8.5, 12.5, 7.5],
                                            [20.5, 24.5, 13.5],
                                            [13.5, 15.5, 8.5]])
    dx, dW, db = conv2d_reference_backward(x, np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)),
                                           padding="same")
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 2], [2, 4, 4], [2, 4, 4]])   # windows per pixel
    np.testing.assert_array_equal(dW[0, 0], [[36, 27], [33, 24]])                # sums of x shifted
    np.testing.assert_array_equal(db, [9])


@pytest.mark.parametrize("stride,padding", [(1, 1), ((2, 1), "same"), (2, (0, 2)), (3, "valid")])
def test_reference_backward_matches_finite_differences(rng, stride, padding):
    """<dy, y(x + h·v) − y(x − h·v)> / 2h = <dx, v>, and likewise along W and b (float64)."""
    x, w, b = (rng.standard_normal(s) for s in ((2, 3, 7, 6), (4, 3, 3, 2), (4,)))
    y = conv2d_reference(x, w, b, stride, padding)
    dy = rng.standard_normal(y.shape)
    grads = conv2d_reference_backward(x, w, dy, stride, padding)
    h = 1e-6
    for k, (arg, grad) in enumerate(zip((x, w, b), grads)):
        v = rng.standard_normal(arg.shape)
        plus, minus = [x, w, b], [x, w, b]
        plus[k], minus[k] = arg + h * v, arg - h * v
        numeric = (dy * (conv2d_reference(*plus, stride, padding)
                         - conv2d_reference(*minus, stride, padding))).sum() / (2 * h)
        assert abs(numeric - (grad * v).sum()) <= 1e-6 * max(1.0, abs(numeric)), k


# --------------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("case", [c for c in CASES if c.name.startswith("Conv2D")],
                         ids=lambda c: c.name)
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
def test_conv2d_and_reference_match_pytorch_when_installed(rng):
    """An independent check of the reference (and of Conv2D): PyTorch's conv2d and its autograd."""
    torch = pytest.importorskip("torch")
    with B.default_dtype("float64"):
        conv = Conv2D(3, 4, (3, 2), stride=2, padding=1, rng=rng)
    x, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal(4)
    w = B.to_numpy(conv.params["W"])
    conv.params["b"] = B.asarray(b)
    xt, wt, bt = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride=2, padding=1)
    dy = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(B.to_numpy(conv.forward(B.asarray(x))), yt.detach().numpy(),
                               atol=1e-12)
    np.testing.assert_allclose(conv2d_reference(x, w, b, 2, 1), yt.detach().numpy(), atol=1e-12)
    for got, want in zip(conv2d_reference_backward(x, w, dy, 2, 1), (xt, wt, bt)):
        np.testing.assert_allclose(got, want.grad.numpy(), atol=1e-12)


# ---------------------------------------------------------------------------- bad input
def test_bad_inputs_name_conv2d_and_the_shapes(rng, xp):
    conv = Conv2D(3, 4, 3, rng=rng)
    with pytest.raises(ValueError, match=r"Conv2D.*4D.*\(2, 3, 5\)"):
        conv.forward(xp.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv2D.*3 .*channels.*\(2, 2, 5, 5\)"):
        conv.forward(xp.zeros((2, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv2D: kernel 3×3 is larger than the padded input 2×5"):
        conv.forward(xp.zeros((1, 3, 2, 5), np.float32))
    with pytest.raises(TypeError, match="Conv2D.*dtype"):
        conv.forward(xp.zeros((1, 3, 5, 5), np.float64))
    with pytest.raises(ValueError, match="Conv2D: backward"):
        Conv2D(1, 1, 1).backward(xp.zeros((1, 1, 1, 1), np.float32))


@pytest.mark.parametrize("kwargs", [dict(padding="full"), dict(padding=-1), dict(kernel_size=0),
                                    dict(stride=(1, 2, 3)), dict(kernel_size=2.5)])
def test_bad_arguments(kwargs):
    args = {**dict(in_channels=2, out_channels=2, kernel_size=3), **kwargs}
    with pytest.raises(ValueError, match="Conv2D"):
        Conv2D(**args)


@pytest.mark.parametrize("kwargs", [dict(padding="full"), dict(padding=-1), dict(stride=(1, 2, 3))])
def test_reference_takes_the_arguments_conv2d_takes(kwargs):
    x, w, b = np.zeros((1, 2, 4, 4)), np.zeros((2, 2, 3, 3)), np.zeros(2)
    with pytest.raises(ValueError, match="conv2d_reference"):
        conv2d_reference(x, w, b, **kwargs)
    with pytest.raises(ValueError, match="conv2d_reference_backward"):
        conv2d_reference_backward(x, w, np.zeros((1, 2, 2, 2)), **kwargs)
