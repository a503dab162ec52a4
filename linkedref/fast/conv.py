"""The fast convolution behind Conv2D: strided windows, im2col in chunks, one GEMM per chunk.

Read ``linkedref.conv.conv2d_reference`` and ``conv2d_reference_backward`` first: they compute the
same numbers as plain loops. This module only rearranges those sums so that a BLAS matrix product
does the work. Notation, for x (N, C, H, W) and w (O, C, kh, kw):

    K = C·kh·kw, P = Ho·Wo, w2 = w.reshape(O, K),
    cols[n, (c, p, q), (i, j)] = xpad[n, c, i·sh + p, j·sw + q]          (im2col: N, K, P)

- ``correlate`` (the forward without bias):  y[n] = w2 @ cols[n]  (O, P), already NCHW.
- ``weight_grad`` (dW):  dW^T = Σ_n cols[n] @ dy[n]^T  (K, O), or one GEMM over n·P when P < K.
- ``input_grad`` (dx):  ``dx_col2im`` adds dcols = w2^T @ dy back window by window, or
  ``dx_transposed`` correlates the dilated dy with the flipped kernel; each derives its way.

At stride 1, where the output has few channels (``row_length``), the three passes take cols on
*line positions* instead (``line_windows`` says how and why). The same products, but GEMMs of
other sizes (BLAS may round a column differently) and, for dW, summed in another order: the
results agree with the plain windows to rounding, not bit for bit.

Stride-1 3×3 layers with many channels on both sides take another route, all three passes:
Winograd F(4×4, 3×3) (``winograd``; ``use_winograd`` is the rule, ``_winograd`` the kernel of the
forward and dx, ``_winograd_weight_grad`` of dW).

On a CPU every pass runs in chunks of the batch whose columns fit the cache (``batch_chunks``),
one after the other; dW sums each chunk's products, then the chunks' sums in order.

Work arrays (the im2col columns, dy on line positions, the dilated dy, ...) are reused from one
call to the next, from the calling thread's ``Workspace`` (``workspace()``): a fresh
multi-megabyte array comes as new pages from the OS, and touching them for the first time costs
more than the copy written into them.
"""
from __future__ import annotations

import math
import threading

from .. import backend as B
from . import winograd


def as_strided(x, shape, strides):
    """``as_strided`` of whichever module owns x (numpy.lib.stride_tricks or cupy's)."""
    xp = B.get_array_module(x)
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def windows(x, kh, kw, stride=(1, 1)):
    """A view (N, C, kh, kw, Ho, Wo) of x (N, C, H, W), no copy.

        windows(x)[n, c, p, q, i, j] = x[n, c, i·sh + p, j·sw + q]

    The kernel offsets (p, q) and the output positions (i, j) both step through x's rows and
    columns; only the strides differ. Ho = (H − kh) // sh + 1, Wo likewise.
    """
    N, C, H, W = x.shape
    sh, sw = stride
    Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
    sN, sC, sH, sW = x.strides
    return as_strided(x, (N, C, kh, kw, Ho, Wo), (sN, sC, sH, sW, sH * sh, sW * sw))


def row_length(x, kh, kw, stride, out_channels):
    """R, the distance from one row of x (N, C, H, W) to the next, in elements, when im2col should
    read the windows along the rows as one line (``line_windows``); None for the plain windows.

    Line positions need stride 1 and rows that step evenly without overlapping. They pay off when
    the output has few channels beside the K = C·kh·kw numbers that im2col copies per position
    (4·O ≤ K): the copy is then most of the work, and the output's cut to Ho × Wo (O numbers per
    position) is small. ``benchmarks/bench_conv.py --plain`` times both per layer shape.
    """
    sH, sW = x.strides[2:]
    if tuple(stride) != (1, 1) or sW <= 0 or sH % sW or sH // sW < x.shape[3]:
        return None
    return sH // sW if 4 * out_channels <= x.shape[1] * kh * kw else None


def line_windows(x, kh, kw):
    """Stride 1: a view (N, C, kh, kw, L) of x (N, C, H, W), no copy, that reads each channel's
    rows as one line, R = x.strides[2] // x.strides[3] elements from one row to the next:

        line_windows(x)[n, c, p, q, i·R + j] = x[n, c, i + p, j + q]     for j < Wo,

    L = (Ho − 1)·R + Wo. Why: im2col then copies each (c, p, q) as one run of L numbers instead
    of Ho short runs of Wo. The price: the positions i·R + j with Wo ≤ j < R, between two output
    rows, hold pixels that wrap around; their products are extra GEMM columns, thrown away
    (``on_grid``) or multiplied by zeros (``on_line``). So that those are finite numbers, x must
    own the memory between its rows: this module passes contiguous arrays or windows of its own
    buffers (``dx_transposed``).
    """
    N, C, H, W = x.shape
    Ho, Wo = H - kh + 1, W - kw + 1
    sN, sC, sH, sW = x.strides
    R = sH // sW
    return as_strided(x, (N, C, kh, kw, (Ho - 1) * R + Wo), (sN, sC, sH, sW, sW))


def on_grid(a, Ho, Wo, R):
    """The view (n, O, Ho, Wo) of line positions a (n, O, L) (a contiguous): a[:, :, i·R + j]."""
    n, O, L = a.shape
    sn, sO, s = a.strides
    return as_strided(a, (n, O, Ho, Wo), (sn, sO, R * s, s))


def on_line(dy, R, work):
    """dy (n, O, Ho, Wo) laid on line positions: (n, O, L) of ``work``, zeros between the rows
    (so the wrapped-around columns add nothing). R None: just dy as (n, O, Ho·Wo)."""
    n, O, Ho, Wo = dy.shape
    if R is None:
        return dy.reshape(n, O, Ho * Wo)
    xp = B.get_array_module(dy)
    line = work.get(xp, (n, O, (Ho - 1) * R + Wo), dy.dtype, "dy_line")
    if Ho > 1 and R > Wo:
        s = line.strides                       # row i's gap: positions i·R + Wo … i·R + R − 1
        as_strided(line[:, :, Wo:], (n, O, Ho - 1, R - Wo), (s[0], s[1], R * s[2], s[2]))[...] = 0
    on_grid(line, Ho, Wo, R)[...] = dy
    return line


class Workspace:
    """Work arrays reused from one call to the next: one flat buffer per tag, handed out as views.

    The rule for what may live here: an array from ``get`` is valid until the next ``get`` with
    the same tag. So only arrays that no caller keeps come from a workspace (each filled and used
    up inside one function of this module), and one workspace serves one thread, so that replicas
    of a model (``DataParallel``) run these kernels at once. Requests above ``limit`` elements get
    a fresh array. ``clear()`` frees the buffers.
    """

    def __init__(self, limit=2 ** 26):               # elements (256 MiB of float32) per buffer
        self.limit = limit
        self.buffers: dict = {}

    def get(self, xp, shape, dtype, tag):
        """An array of ``shape`` and ``dtype`` on module xp (contents undefined)."""
        size = math.prod(shape)
        if size > self.limit:
            return xp.empty(shape, dtype=dtype)
        key = (tag, dtype, xp.__name__)
        buf = self.buffers.get(key)
        if buf is None or buf.size < size:
            buf = self.buffers[key] = xp.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)

    def clear(self):
        """Free every buffer (they are re-created when next needed)."""
        self.buffers.clear()


_THREAD = threading.local()      # .work: this thread's Workspace


def workspace() -> Workspace:
    """The calling thread's own workspace, created when first needed."""
    if getattr(_THREAD, "work", None) is None:
        _THREAD.work = Workspace()
    return _THREAD.work


def im2col(win, work, batch_inside=False):
    """The windows ``win`` of x — ``windows(x, ...)`` (N, C, kh, kw, Ho, Wo) or
    ``line_windows(x, ...)`` (N, C, kh, kw, L) — copied into cols (N, C·kh·kw, P), an array of
    ``work``; P = Ho·Wo or L, the output positions. (The view is made once per pass, then sliced.)

    ``batch_inside=True``: cols (C·kh·kw, N·P) instead, the batch folded in beside the output
    positions (for one GEMM over the whole batch).
    """
    (N, C, kh, kw), P = win.shape[:4], math.prod(win.shape[4:])
    if batch_inside:
        win = win.transpose(1, 2, 3, 0, *range(4, win.ndim))   # C, kh, kw, N, positions (view)
    cols = work.get(B.get_array_module(win), win.shape, win.dtype, "cols")
    cols[...] = win                                          # the one copy of the pass
    if batch_inside:
        return cols.reshape(C * kh * kw, N * P)
    return cols.reshape(N, C * kh * kw, P)


CHUNK_BYTES = 3 * 2 ** 20       # im2col columns per chunk of the batch (CPU cache blocking)


def batch_chunks(xp, N, bytes_per_sample, limit=None):
    """Slices of the batch 0..N whose im2col columns take ~``limit`` bytes, CHUNK_BYTES unless
    given (at least one sample).

    Why: the GEMM then reads the columns from the CPU cache, right after im2col wrote them. On a
    GPU there is no such cache to fit and each launch costs time: the whole batch is one chunk.
    """
    limit = CHUNK_BYTES if limit is None else limit
    step = max(1, N if xp.__name__ != "numpy" else min(N, limit // max(bytes_per_sample, 1)))
    for start in range(0, N, step):
        yield slice(start, min(start + step, N))


def correlate(x, w, stride, prepare=None):
    """Valid cross-correlation of x (N, C, H, W) with w (O, C, kh, kw): y (N, O, Ho, Wo), new array
    (``conv2d_reference`` with no padding and no bias), one batched GEMM y[n] = w2 @ cols[n] per
    chunk of the batch. ``prepare(batch)``, if given, first writes x's samples of each chunk
    (``dx_transposed``). Layers that ``use_winograd`` picks go to ``_winograd`` instead.
    """
    xp = B.get_array_module(x)
    if prepare is None and use_winograd(w.shape, stride, (x.shape[2] - 2, x.shape[3] - 2), "y"):
        return _winograd(x, w, frame=x.shape[2:], offset=(0, 0))
    if prepare is None:
        x = xp.ascontiguousarray(x)          # line positions read x's memory between its rows
    N, O, (C, kh, kw) = x.shape[0], w.shape[0], w.shape[1:]
    Ho, Wo = (x.shape[2] - kh) // stride[0] + 1, (x.shape[3] - kw) // stride[1] + 1
    R = row_length(x, kh, kw, stride, O)
    win = windows(x, kh, kw, stride) if R is None else line_windows(x, kh, kw)
    w2, P = w.reshape(O, C * kh * kw), math.prod(win.shape[4:])
    y = xp.empty((N, O, Ho, Wo), dtype=x.dtype)
    work = workspace()
    for batch in batch_chunks(xp, N, C * kh * kw * P * x.itemsize):
        if prepare is not None:
            prepare(batch)
        cols = im2col(win[batch], work)                      # n, C·kh·kw, P
        if R is None:
            xp.matmul(w2, cols, out=y[batch].reshape(-1, O, P))   # n, O, Ho·Wo
            continue
        line = xp.matmul(w2, cols, out=work.get(xp, (cols.shape[0], O, P), x.dtype, "y_line"))
        y[batch] = on_grid(line, Ho, Wo, R)                  # n, O, Ho, Wo
    return y


def weight_grad(xpad, dy, kernel_size, stride):
    """dW (O, C, kh, kw) from the padded input xpad (N, C, Hp, Wp) and dy (N, O, Ho, Wo).

    dW[o, c, p, q] = Σ_{n,i,j} dy[n, o, i, j] · xpad[n, c, i·sh + p, j·sw + q]
                   = Σ_n dy[n] (O, P) @ cols[n]^T (P, K), summed chunk by chunk,
    computed transposed (K, O), as OpenBLAS runs that product faster. Layers that
    ``use_winograd`` picks go to ``_winograd_weight_grad`` instead.
    """
    xp = B.get_array_module(dy)
    (kh, kw), C, N, O = kernel_size, xpad.shape[1], dy.shape[0], dy.shape[1]
    if use_winograd((O, C, kh, kw), stride, dy.shape[2:], "dW"):
        return _winograd_weight_grad(xpad, dy)
    xpad = xp.ascontiguousarray(xpad)       # so that line positions read only its own pixels
    R = row_length(xpad, kh, kw, stride, O)
    win = windows(xpad, kh, kw, stride) if R is None else line_windows(xpad, kh, kw)
    K, P = C * kh * kw, math.prod(win.shape[4:])
    dW_t = xp.zeros((K, O), dtype=dy.dtype)
    work = workspace()
    for batch in batch_chunks(xp, N, K * P * dy.itemsize):   # this chunk's Σ_n cols[n] @ dy[n]^T
        dW_t += _chunk_product(win[batch], on_line(dy[batch], R, work), work)
    return xp.ascontiguousarray(dW_t.T).reshape(O, C, kh, kw)


def _chunk_product(win, dy3, work):
    """Σ_n cols[n] @ dy[n]^T (K, O) over one chunk: windows win (n, C, kh, kw, positions), dy3
    (n, O, P) on the same positions."""
    xp = B.get_array_module(dy3)
    (n, C, kh, kw), (O, P) = win.shape[:4], dy3.shape[1:]
    K = C * kh * kw
    if P >= K:
        cols = im2col(win, work)                                             # n, K, P
        per_sample = xp.matmul(cols, dy3.transpose(0, 2, 1),
                               out=work.get(xp, (n, K, O), dy3.dtype, "dW"))  # n, K, O
        return per_sample.sum(axis=0)                                        # K, O
    # Few output positions (late layers): each sample's product above would contract over a
    # short P and write a whole K × O block, so instead put the samples beside the positions:
    # one GEMM over n·P, cols as (K, n·P) @ dy as (n·P, O).
    cols = im2col(win, work, batch_inside=True)                                # K, n·P
    dy_t = work.get(xp, (O, n, P), dy3.dtype, "dy_t")
    dy_t[...] = dy3.transpose(1, 0, 2)
    return cols @ dy_t.reshape(O, n * P).T                                    # K, O


def input_grad(dy, w, stride, x_shape, pads):
    """dx (N, C, H, W) from dy (N, O, Ho, Wo), the weights w (O, C, kh, kw), the stride, the
    input's shape and its pads ((top, bottom), (left, right)):

        dxpad[n, c, r, t] = Σ_{o,i,j,p,q: i·sh + p = r, j·sw + q = t} dy[n, o, i, j] · w[o, c, p, q]

    and dx is dxpad's inside. Winograd where ``use_winograd`` says so (and the pads are at most
    2); else col2im or the transposed convolution, whichever is cheaper (``dx_col2im`` says when).
    """
    O, C = w.shape[:2]
    (top, bottom), (left, right) = pads
    if use_winograd(w.shape, stride, x_shape[2:], "dx") and max(top, bottom, left, right) <= 2:
        # dxpad = dy padded by 2 on each side, correlated with the flipped kernel (channels
        # swapped); dx is its rows top … top + H − 1, i.e. dy placed at 2 − top in H + 2 rows.
        xp = B.get_array_module(w)
        w_flip = xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # C, O, 3, 3
        return _winograd(dy, w_flip, frame=(x_shape[2] + 2, x_shape[3] + 2),
                         offset=(2 - top, 2 - left))
    if C < O or tuple(stride) != (1, 1):
        return dx_col2im(dy, w, stride, x_shape, pads)
    return dx_transposed(dy, w, stride, x_shape, pads)


# The thresholds of ``use_winograd`` (``benchmarks/bench_conv.py --im2col`` times both paths per
# layer shape). dW gains least (its 36 GEMMs sum over the tiles into small O × C blocks).
WINOGRAD_MIN_CHANNELS = 32
WINOGRAD_MAX_SPARE = {"y": 1.55, "dx": 1.55, "dW": 1.2}
# Its chunks of the batch: the tiles' transformed inputs (36 numbers per tile and channel) take
# about this many bytes (smaller than im2col's chunks: several GEMMs read each chunk in turn).
WINOGRAD_CHUNK_BYTES = 2 ** 19
# float32 error bound, relative to max |y| (forward, dx and dW on the tutorial nets' weight
# scales): 4× the largest error that test_conv's docstring quotes.
WINOGRAD_F32_BOUND = 3e-5


def use_winograd(w_shape, stride, out_hw, pass_) -> bool:
    """The one rule for which path a layer w (O, C, kh, kw) takes in a pass ("y", "dx" or "dW")
    whose tiles cover an output of size out_hw (y and dW: the layer's output; dx: its input):
    Winograd (``_winograd``, ``_winograd_weight_grad``) for stride-1 3×3 layers whose channel
    counts both reach WINOGRAD_MIN_CHANNELS, where the 4×4 tiles cover out_hw with at most
    WINOGRAD_MAX_SPARE[pass_] times its outputs (13×13 outputs take 16×16: 1.51); im2col else.
    At 16 channels the 36 GEMMs are so thin that the transforms and copies cost more than they
    save; spare tiles are wasted products."""
    O, C, kh, kw = w_shape
    Ho, Wo = out_hw
    tiled = 16 * -(-Ho // 4) * -(-Wo // 4)              # outputs the 4×4 tiles compute
    return ((kh, kw) == (3, 3) and tuple(stride) == (1, 1)
            and min(C, O) >= WINOGRAD_MIN_CHANNELS
            and tiled <= WINOGRAD_MAX_SPARE[pass_] * Ho * Wo)


def _winograd(src, w, frame, offset):
    """y (N, O, Hf − 2, Wf − 2): the valid correlation of w (O, C, 3, 3) with src (N, C, h, w)
    placed at ``offset`` in a frame of zeros (Hf, Wf) — the forward (offset 0, the frame src's own
    size) and dx (dy in a frame 2 wider than the pads, the flipped kernel) alike. F(4×4, 3×3)
    Winograd (``winograd``), a chunk of the batch at a time, its tiles as (6, 6, C, n, tH, tW).

    Numerics: the same sums as ``conv2d_reference`` in another order, with the transforms' sums
    before and after the products: float64 agrees to ~1e-14 relative; float32 to within
    WINOGRAD_F32_BOUND × max |y|.
    """
    xp = B.get_array_module(src)
    (N, C), O, dt = src.shape[:2], w.shape[0], src.dtype
    Ho, Wo = frame[0] - 2, frame[1] - 2
    tH, tW = -(-Ho // 4), -(-Wo // 4)                   # 4×4 output tiles; the frame rounded up
    U = winograd.filter_transform(w)                    # 36, O, C
    y = xp.empty((N, O, Ho, Wo), dtype=dt)
    work = workspace()
    per_sample = 36 * tH * tW * max(C, O) * src.itemsize
    for batch in batch_chunks(xp, N, per_sample, WINOGRAD_CHUNK_BYTES):
        n = batch.stop - batch.start
        T = n * tH * tW                                 # the chunk's tiles
        V = _winograd_input_tiles(src[batch], C, (tH, tW), offset, work)     # 6, 6, C·T
        M = xp.matmul(U, V.reshape(36, C, T), out=work.get(xp, (36, O, T), dt, "wino_m"))
        Y = winograd.output_transform(M.reshape(6, 6, O * T),
                                      work.get(xp, (4, 4, O * T), dt, "wino_y"),
                                      work.get(xp, (4, 6, O * T), dt, "wino_half"))
        tiles = work.get(xp, (n, O, tH, 4, tW, 4), dt, "wino_tiles")   # n, O, rows, columns
        tiles[...] = Y.reshape(4, 4, O, n, tH, tW).transpose(3, 2, 4, 0, 5, 1)
        y[batch] = tiles.reshape(n, O, 4 * tH, 4 * tW)[:, :, :Ho, :Wo]
    return y


def _winograd_input_tiles(src, C, tiles, offset, work):
    """V (6, 6, C·T): the transformed 6×6 input tiles of one chunk, src (n, C, h, w) placed at
    ``offset`` in a frame of zeros holding the tiles (tH, tW) (4 apart: tile (i, j) starts at
    pixel (4i, 4j)). T = n·tH·tW."""
    xp, dt = B.get_array_module(src), src.dtype
    (n, _, h, wd), (tH, tW), (oy, ox) = src.shape, tiles, offset
    T = n * tH * tW
    X = work.get(xp, (n, C, 4 * tH + 2, 4 * tW + 2), dt, "wino_x")   # the chunk in its frame
    X[:, :, :oy], X[:, :, oy + h:], X[:, :, :, :ox], X[:, :, :, ox + wd:] = 0, 0, 0, 0
    X[:, :, oy:oy + h, ox:ox + wd] = src
    sn, sc, sh, sw = X.strides
    d = work.get(xp, (6, 6, C, n, tH, tW), dt, "wino_d")
    d[...] = as_strided(X, d.shape, (sh, sw, sc, sn, 4 * sh, 4 * sw))
    return winograd.input_transform(d.reshape(6, 6, C * T),
                                    work.get(xp, (6, 6, C * T), dt, "wino_v"),
                                    work.get(xp, (6, 6, C * T), dt, "wino_half"))


def _winograd_weight_grad(xpad, dy):
    """dW (O, C, 3, 3) of the valid correlation y = w ⋆ xpad (stride 1) from dy (N, O, Ho, Wo):
    F(4×4, 3×3) Winograd backwards (``winograd`` derives it), dy cut into 4×4 tiles with zeros past
    Ho × Wo, where the forward's tiles were cut. Numerics as ``_winograd``'s."""
    xp = B.get_array_module(dy)
    (N, C), (O, Ho, Wo), dt = xpad.shape[:2], dy.shape[1:], dy.dtype
    tH, tW = -(-Ho // 4), -(-Wo // 4)
    dU = xp.zeros((36, O, C), dtype=dt)
    work = workspace()
    per_sample = 36 * tH * tW * max(C, O) * dy.itemsize
    for batch in batch_chunks(xp, N, per_sample, WINOGRAD_CHUNK_BYTES):
        n = batch.stop - batch.start
        T = n * tH * tW
        V = _winograd_input_tiles(xpad[batch], C, (tH, tW), (0, 0), work)     # 6, 6, C·T
        frame = work.get(xp, (n, O, 4 * tH, 4 * tW), dt, "wino_dy")        # dy, zeros after
        frame[:, :, Ho:], frame[:, :, :, Wo:] = 0, 0
        frame[:, :, :Ho, :Wo] = dy[batch]
        dY = work.get(xp, (4, 4, O, n, tH, tW), dt, "wino_dy_tiles")
        dY[...] = frame.reshape(n, O, tH, 4, tW, 4).transpose(3, 5, 1, 0, 2, 4)
        dM = winograd.output_gradient_transform(dY.reshape(4, 4, O * T),
                                                work.get(xp, (6, 6, O * T), dt, "wino_m"),
                                                work.get(xp, (6, 4, O * T), dt, "wino_y"))
        dU += xp.matmul(dM.reshape(36, O, T), V.reshape(36, C, T).transpose(0, 2, 1),
                        out=work.get(xp, (36, O, C), dt, "wino_du"))   # dM[ξ] @ V[ξ]ᵀ
    return winograd.filter_gradient(dU)


def dx_transposed(dy, w, stride, x_shape, pads):
    """dx (N, C, H, W) from dy (N, O, Ho, Wo) as a transposed convolution (forward's routine).
    Arguments as ``input_grad``'s."""
    xp = B.get_array_module(dy)
    O, C, kh, kw = w.shape
    (sh, sw), (_, _, H, W), ((top, bottom), (left, right)) = stride, x_shape, pads
    N, _, Ho, Wo = dy.shape
    # xpad[r] (r = i·s + p) fed y[i] through W[p], so dxpad[r] = Σ_p dyd[r − p] W[p], where dyd is
    # dy dilated (dyd[i·s] = dy[i], zeros between). Padding dyd with k−1 zeros in front turns this
    # into a valid correlation with the flipped kernel: dxpad[r] = Σ_p' dydpad[r + p'] W[k−1−p'],
    # summed over o (so W's channel axes swap). Only rows/columns r of the real input
    # (top ≤ r < top + H) are needed, so the buffer is sliced to exactly those windows.
    Hd, Wd = H + top + bottom + kh - 1, W + left + right + kw - 1
    dyd = workspace().get(xp, (N, O, Hd, Wd), dy.dtype, "dyd")         # dilated + padded dy

    def dilate(batch):                       # dy dilated and padded, into the chunk's samples
        dyd[batch].fill(0)
        dyd[batch, :, kh - 1:kh - 1 + (Ho - 1) * sh + 1:sh,
            kw - 1:kw - 1 + (Wo - 1) * sw + 1:sw] = dy[batch]

    window = dyd[:, :, top:top + H + kh - 1, left:left + W + kw - 1]   # view
    w_flip = xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))   # C, O, kh, kw
    return correlate(window, w_flip, (1, 1), prepare=dilate)          # N, C, H, W


def dx_col2im(dy, w, stride, x_shape, pads):
    """dx (N, C, H, W) as col2im: the gradient of each window's columns, added back in place.
    Arguments as ``input_grad``'s. Cheaper than the transposed convolution when C < O (that
    copies dy's windows, O·kh·kw numbers per input pixel) or stride > 1 (that multiplies the
    dilation zeros).
    """
    xp = B.get_array_module(dy)
    O, C, kh, kw = w.shape
    (_, _, H, W), ((top, bottom), (left, right)) = x_shape, pads
    N, _, Ho, Wo = dy.shape
    dxpad = xp.zeros((N, C, H + top + bottom, W + left + right), dtype=dy.dtype)   # N, C, Hp, Wp
    R = row_length(dxpad, kh, kw, stride, O)                # Wp or None
    w2_t, K = w.reshape(O, C * kh * kw).T, C * kh * kw
    P = Ho * Wo if R is None else (Ho - 1) * R + Wo
    positions, work = ((Ho, Wo) if R is None else (P,)), workspace()
    for batch in batch_chunks(xp, N, K * P * dy.itemsize):
        # y[n, :, i, j] = w2 @ cols[n, :, (i, j)]  ⇒  dcols[n] = w2^T (K, O) @ dy[n] (O, P)
        dy3 = on_line(dy[batch], R, work)                             # n, O, P
        dcols = work.get(xp, (dy3.shape[0], K, P), dy.dtype, "dcols")
        xp.matmul(w2_t, dy3, out=dcols)
        add_back(dxpad[batch], dcols.reshape(-1, C, kh, kw, *positions), stride, R)
    return dxpad[:, :, top:top + H, left:left + W]                  # N, C, H, W (view)


def add_back(dxpad, dcols, stride, R):
    """dxpad (n, C, Hp, Wp) += each window's column gradients dcols (n, C, kh, kw, positions).

    The forward's cols[n, c, p, q, i, j] is xpad[n, c, i·sh + p, j·sw + q]; for a fixed offset
    (p, q) the windows read distinct pixels (one strided slice), so each offset's gradient is one
    whole-tensor ``+=``, and the loop over offsets sums the windows that share a pixel. On line
    positions (R = Wp, stride 1) that slice is one run: xpad's flat pixels p·R + q + m, m < L.
    """
    (n, C, kh, kw), (sh, sw) = dcols.shape[:4], stride
    flat = None if R is None else dxpad.reshape(n, C, -1)           # a view: dxpad is contiguous
    for p in range(kh):
        for q in range(kw):
            if R is not None:
                start = p * R + q
                flat[:, :, start:start + dcols.shape[4]] += dcols[:, :, p, q]
                continue
            Ho, Wo = dcols.shape[4:]
            rows = slice(p, p + (Ho - 1) * sh + 1, sh)           # i·sh + p for every i
            columns = slice(q, q + (Wo - 1) * sw + 1, sw)        # j·sw + q for every j
            dxpad[:, :, rows, columns] += dcols[:, :, p, q]
