"""2-D convolution on NCHW input, built on strided window views and one batched matmul per pass.

Shapes: x (N, C, H, W) → y (N, O, Ho, Wo); params W (O, C, kh, kw), b (O,).

    y[n, o, i, j] = b[o] + Σ_{c, p, q} W[o, c, p, q] · xpad[n, c, i·s + p, j·s + q]

(a cross-correlation, as in every deep-learning library). How the three passes are computed:

- forward:  ``windows(xpad)`` is a *view* (N, C, kh, kw, Ho, Wo) of the padded input (no copy);
  reshaping it to cols (N, C·kh·kw, Ho·Wo) makes the one copy of the pass (im2col), then
  ``W2 @ cols`` with W2 = W.reshape(O, C·kh·kw) is one batched matmul whose result (N, O, Ho·Wo)
  already *is* y in NCHW: no transpose copy of the output.
- dW:       Σ_n dy[n] (O, Ho·Wo) @ cols[n]^T — one batched matmul, then a sum over n (computed
  transposed, as Σ_n cols[n] @ dy[n]^T, which OpenBLAS runs faster; for small images, with the
  batch folded in beside the output positions, as one GEMM).
- dx:       a *transposed convolution*: the full correlation of dy (dilated with s−1 zeros between
  entries, padded with kh−1/kw−1 zeros) with the kernel flipped in space and with in/out channels
  swapped. It is the forward routine again (view + one matmul): no loop over kernel positions,
  no scatter-add, no per-sample loop. With stride s, though, (s² − 1)/s² of the dilated dy is
  zeros, multiplied all the same, and its window copy holds O·kh·kw numbers per input pixel; so
  when C < O or s > 1, dx is computed the other way round (col2im): dcols = W2^T @ dy, one
  batched matmul, then each kernel offset's columns added back into a strided slice of dx —
  kh·kw whole-tensor ``+=``, no per-sample loop and no scatter-add either.

Why this layout (measured on 2 CPU cores, float32, batch 32): the batched ``W2 @ cols`` with cols
(N, C·kh·kw, Ho·Wo) copies the window view along its contiguous last axis and needs no output
transpose; it matched a single (O, C·kh·kw) @ (C·kh·kw, N·Ho·Wo) GEMM on 64→64 channels and was
~7× faster on the depth net's 4-channel layers, where the single GEMM's operand copy (channels
moved in front of the batch) dominates. ``tensordot``/``einsum`` on the view were slower (they
make the same copy, then transpose the output). On a CPU every pass runs in chunks of the batch
whose columns take ~3 MB (``batch_chunks``): the GEMM then reads them from cache, right after
im2col wrote them.

Padding: an int p (p on every side), a pair (ph, pw), "valid" (no padding) or "same". "same"
follows TensorFlow/Keras: Ho = ceil(H / s), total padding max((Ho − 1)·s + kh − H, 0), of which
the top gets the floor half and the bottom the rest (so an even kernel pads one more row at the
bottom/right — asymmetric, exactly as Keras does).
"""
from __future__ import annotations

import numbers

from . import backend as B
from .init import initialize
from .layer import Layer


def _pair(value, what):
    """An int or a pair of ints as a pair of Python ints (a clear Conv2D error for anything else)."""
    items = list(value) if isinstance(value, (tuple, list)) else [value, value]
    if len(items) != 2 or not all(isinstance(v, numbers.Integral) for v in items):
        raise ValueError(f"Conv2D: {what} must be an int or a pair of ints, got {value!r}")
    return tuple(int(v) for v in items)


def as_strided(x, shape, strides):
    """``as_strided`` of whichever module owns x (numpy.lib.stride_tricks or cupy's)."""
    xp = B.get_array_module(x)
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def windows(x, kh, kw, stride=(1, 1)):
    """View (N, C, kh, kw, Ho, Wo) of x (N, C, H, W): [n, c, p, q, i, j] = x[n, c, i·sh + p, j·sw + q].

    No copy: the kernel offsets (p, q) and the output positions (i, j) both step through x's rows
    and columns; only the strides differ. Ho = (H − kh) // sh + 1, Wo likewise.
    """
    N, C, H, W = x.shape
    sh, sw = stride
    Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
    sN, sC, sH, sW = x.strides
    return as_strided(x, (N, C, kh, kw, Ho, Wo), (sN, sC, sH, sW, sH * sh, sW * sw))


def scratch(xp, shape, dtype, tag):
    """A work array of ``shape`` (contents undefined), reused across calls and across Conv2D layers.

    Why: a fresh multi-megabyte NumPy array comes as new pages from the OS, and touching them for
    the first time (page faults) cost more than the im2col copy itself — a 4× slowdown measured
    on the depth net's 4-channel layers. So each ``tag`` keeps one flat buffer, grown to the
    largest size asked for (at most ``SCRATCH_LIMIT`` elements; larger requests get a fresh array)
    and handed out as views. Only arrays that no caller keeps go here (cols, the dilated dy, dW's
    per-sample products); layers run one at a time, so sharing is safe. ``clear_scratch()``
    frees the buffers.
    """
    size = 1
    for d in shape:
        size *= d
    if size > SCRATCH_LIMIT:
        return xp.empty(shape, dtype=dtype)
    key = (tag, dtype, xp.__name__)
    buf = _SCRATCH.get(key)
    if buf is None or buf.size < size:
        buf = _SCRATCH[key] = xp.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


SCRATCH_LIMIT = 2 ** 26          # elements (256 MiB of float32) per buffer
_SCRATCH: dict = {}


def clear_scratch():
    """Free the work buffers ``scratch`` keeps (they are re-created when next needed)."""
    _SCRATCH.clear()


def im2col(x, kh, kw, stride=(1, 1), batch_inside=False):
    """The windows of x (N, C, H, W) copied into cols (N, C·kh·kw, Ho·Wo) — a scratch array.

    ``batch_inside=True``: cols (C·kh·kw, N·Ho·Wo) instead, the batch folded in beside the output
    positions (for one GEMM over the whole batch).
    """
    win = windows(x, kh, kw, stride)                         # N, C, kh, kw, Ho, Wo (view)
    N, C, _, _, Ho, Wo = win.shape
    if batch_inside:
        win = win.transpose(1, 2, 3, 0, 4, 5)                # C, kh, kw, N, Ho, Wo (view)
    cols = scratch(B.get_array_module(x), win.shape, x.dtype, "cols")
    cols[...] = win                                          # the one copy of the pass
    if batch_inside:
        return cols.reshape(C * kh * kw, N * Ho * Wo)
    return cols.reshape(N, C * kh * kw, Ho * Wo)


CHUNK_BYTES = 3 * 2 ** 20       # im2col columns per chunk of the batch (CPU cache blocking)


def batch_chunks(xp, N, bytes_per_sample):
    """Slices of the batch 0..N whose im2col columns take about ``CHUNK_BYTES`` (at least one sample).

    Why: im2col writes the columns and the GEMM reads them right back. For a whole batch they are
    tens of MB (66 MB for cifar_net's 64→32 conv at batch 32) and leave the CPU cache in between;
    a chunk of ~3 MB is still in cache when the GEMM reads it. Measured (1 thread, batch 32):
    that conv's forward 21 → 16 ms, 128→64 at 15×15 14 → 11.5 ms. It also shrinks the columns'
    scratch buffer from 253 MiB to a few MiB at batch 128. On a GPU there is no such cache to
    fit, and each launch costs time, so there the whole batch is one chunk.
    """
    step = N if xp.__name__ != "numpy" else max(1, min(N, CHUNK_BYTES // max(bytes_per_sample, 1)))
    for start in range(0, N, step):
        yield slice(start, min(start + step, N))


def correlate(x, w, stride=(1, 1)):
    """Valid cross-correlation of x (N, C, H, W) with w (O, C, kh, kw): y (N, O, Ho, Wo).

    One batched GEMM per chunk of the batch: (O, C·kh·kw) @ cols (n, C·kh·kw, Ho·Wo) →
    (n, O, Ho·Wo), already NCHW.
    """
    xp = B.get_array_module(x)
    N, O, (C, kh, kw) = x.shape[0], w.shape[0], w.shape[1:]
    Ho, Wo = (x.shape[2] - kh) // stride[0] + 1, (x.shape[3] - kw) // stride[1] + 1
    w2 = w.reshape(O, C * kh * kw)
    y = xp.empty((N, O, Ho * Wo), dtype=x.dtype)
    for batch in batch_chunks(xp, N, C * kh * kw * Ho * Wo * x.itemsize):
        cols = im2col(x[batch], kh, kw, stride)              # n, C·kh·kw, Ho·Wo
        xp.matmul(w2, cols, out=y[batch])                    # n, O, Ho·Wo
    return y.reshape(N, O, Ho, Wo)


def same_padding(size, k, s):
    """TF/Keras "same": (before, after) so that the output has ceil(size / s) positions."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class Conv2D(Layer):
    """2-D convolution (cross-correlation).  x: (N, C, H, W) → y: (N, O, Ho, Wo).

    Ho = (H + pad_top + pad_bottom − kh) // sh + 1 (Wo likewise); with "same", Ho = ceil(H / sh).

    Args:
        in_channels (C), out_channels (O).
        kernel_size: int or (kh, kw). stride: int or (sh, sw).
        padding: int, (ph, pw), "valid" or "same" (TF/Keras rule, see the module docstring).
        init: initializer name for W (``linkedref.init``); fan_in = C·kh·kw, fan_out = O·kh·kw.
        rng: numpy Generator or int seed for W.

    params: W (O, C, kh, kw), b (O,) zeros.  cache: the padded input xpad (N, C, Hp, Wp) and the
    input size (H, W) with its padding.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 init: str = "glorot_uniform", rng=None):
        super().__init__()
        if int(in_channels) < 1 or int(out_channels) < 1:
            raise ValueError(f"Conv2D: in_channels and out_channels must be ≥ 1, "
                             f"got {in_channels}, {out_channels}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(f"Conv2D: kernel_size and stride must be ≥ 1, "
                             f"got {kernel_size}, {stride}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2D: padding must be an int, a pair, 'same' or 'valid', "
                                 f"got {padding!r}")
            self.padding = padding
        else:
            self.padding = _pair(padding, "padding")
            if min(self.padding) < 0:
                raise ValueError(f"Conv2D: padding must be ≥ 0, got {padding!r}")
        kh, kw = self.kernel_size
        C, O = self.in_channels, self.out_channels
        self.init = init
        self.params["W"] = initialize(init, (O, C, kh, kw), C * kh * kw, O * kh * kw,
                                      B.as_generator(rng), dtype=self.dtype)
        self.params["b"] = B.xp().zeros(O, dtype=self.dtype)
        self.grads = {k: B.xp().zeros_like(v) for k, v in self.params.items()}

    def pads(self, H, W):
        """((top, bottom), (left, right)) for an H × W input."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if self.padding == "same":
            return same_padding(H, kh, sh), same_padding(W, kw, sw)
        if self.padding == "valid":
            return (0, 0), (0, 0)
        ph, pw = self.padding
        return (ph, ph), (pw, pw)

    def forward(self, x, training: bool = False):
        """x (N, C, H, W) → y (N, O, Ho, Wo)."""
        self.check_input(x, ndims=(4,), channels=self.in_channels)
        xp = B.get_array_module(x)
        N, C, H, W = x.shape
        (top, bottom), (left, right) = self.pads(H, W)
        kh, kw = self.kernel_size
        if H + top + bottom < kh or W + left + right < kw:
            raise ValueError(f"Conv2D: kernel {kh}×{kw} is larger than the padded input "
                             f"{H + top + bottom}×{W + left + right} (input shape {tuple(x.shape)}, "
                             f"padding {self.padding!r})")
        xpad = x
        if top or bottom or left or right:                    # pad once, into a zero buffer
            shape = (N, C, H + top + bottom, W + left + right)
            old = self.cache[0] if self.cache is not None else None
            if old is not None and old.shape == shape and old.dtype == x.dtype and \
                    B.get_array_module(old) is xp and old is not x:
                xpad = old                                    # last forward's: border still zero
            else:
                xpad = xp.zeros(shape, dtype=x.dtype)
            xpad[:, :, top:top + H, left:left + W] = x
        y = correlate(xpad, self.params["W"], self.stride)   # N, O, Ho, Wo
        y += self.params["b"][:, None, None]
        self.cache = (xpad, (H, W), (top, left))
        return y

    def backward(self, dy):
        """dy (N, O, Ho, Wo) → dx (N, C, H, W); writes grads W (O, C, kh, kw) and b (O,)."""
        xpad, (H, W), (top, left) = self.saved()
        xp = B.get_array_module(dy)
        w = self.params["W"]
        O, C, kh, kw = w.shape
        sh, sw = self.stride
        N, _, Ho, Wo = dy.shape

        # db[o] = Σ_{n,i,j} dy[n, o, i, j]
        self.grads["b"] = dy.sum(axis=(0, 2, 3))
        # dW[o, c, p, q] = Σ_{n,i,j} dy[n, o, i, j] · xpad[n, c, i·sh + p, j·sw + q]
        #               = Σ_n dy[n] (O, Ho·Wo) @ cols[n]^T (Ho·Wo, C·kh·kw), summed chunk by chunk.
        # Computed transposed, dW^T = Σ_n cols[n] @ dy[n]^T (K, O): OpenBLAS runs that product
        # at 88–97 GFLOP/s here against 60–77 for dy[n] @ cols[n]^T (the same numbers, measured
        # on cifar_net's shapes, 1 thread).
        K, P = C * kh * kw, Ho * Wo
        dy3 = dy.reshape(N, O, P)
        dW_t = xp.zeros((K, O), dtype=dy.dtype)
        for batch in batch_chunks(xp, N, K * P * dy.itemsize):
            n = batch.stop - batch.start
            if P >= K:
                cols = im2col(xpad[batch], kh, kw, self.stride)         # n, K, P
                per_sample = scratch(xp, (n, K, O), dy.dtype, "dW")
                xp.matmul(cols, dy3[batch].transpose(0, 2, 1), out=per_sample)
                dW_t += per_sample.sum(axis=0)
            else:
                # Few output positions (late layers): each sample's product above would contract
                # over a short P and write a whole K × O block, so instead put the samples beside
                # the positions: one GEMM over n·P, cols as (K, n·P) @ dy as (n·P, O).
                cols = im2col(xpad[batch], kh, kw, self.stride, batch_inside=True)   # K, n·P
                dy_t = scratch(xp, (O, n, P), dy.dtype, "dy_t")
                dy_t[...] = dy3[batch].transpose(1, 0, 2)
                dW_t += cols @ dy_t.reshape(O, n * P).T
        self.grads["W"] = xp.ascontiguousarray(dW_t.T).reshape(w.shape)

        if C < O or (sh, sw) != (1, 1):
            return self._dx_col2im(dy, xpad.shape, (H, W), (top, left))
        return self._dx_transposed(dy, xpad.shape, (H, W), (top, left))

    def _dx_transposed(self, dy, padded_shape, size, corner):
        """dx (N, C, H, W) from dy (N, O, Ho, Wo) as a transposed convolution (forward's routine)."""
        xp = B.get_array_module(dy)
        w = self.params["W"]
        O, C, kh, kw = w.shape
        (sh, sw), (H, W), (top, left) = self.stride, size, corner
        N, _, Ho, Wo = dy.shape
        # dx: xpad[r] (r = i·s + p) fed y[i] through W[p], so dxpad[r] = Σ_p dyd[r − p] W[p], where
        # dyd is dy dilated (dyd[i·s] = dy[i], zeros between). Padding dyd with k−1 zeros in front
        # turns this into a valid correlation with the flipped kernel: dxpad[r] = Σ_p' dydpad[r + p']
        # W[k−1−p'], summed over o (so W's channel axes swap). Only rows/columns r of the real input
        # (top ≤ r < top + H) are needed, so the buffer is sliced to exactly those windows.
        Hd, Wd = padded_shape[2] + kh - 1, padded_shape[3] + kw - 1
        dyd = scratch(xp, (N, O, Hd, Wd), dy.dtype, "dyd")              # dilated + padded dy
        dyd.fill(0)
        dyd[:, :, kh - 1:kh - 1 + (Ho - 1) * sh + 1:sh,
            kw - 1:kw - 1 + (Wo - 1) * sw + 1:sw] = dy
        dyd = dyd[:, :, top:top + H + kh - 1, left:left + W + kw - 1]   # view
        w_flip = xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))   # C, O, kh, kw
        return correlate(dyd, w_flip)                                   # N, C, H, W

    def _dx_col2im(self, dy, padded_shape, size, corner):
        """dx (N, C, H, W) as col2im: the gradient of each window's columns, added back in place.

        Why a second path: the transposed convolution above copies dy's windows (O·kh·kw per input
        pixel) and, with stride s, multiplies the s² − 1 dilation zeros of every s² entries. When
        C < O (the first layer: 3 channels) or s > 1 (depth_net's 7×7/2), it is cheaper to go the
        other way round: measured 7.0 → 1.5 ms (3→32, 3×3, 32×32) and 4.1 → 2.0 ms (3→4, 7×7/2),
        batch 32, 1 thread.
        """
        xp = B.get_array_module(dy)
        w = self.params["W"]
        O, C, kh, kw = w.shape
        (sh, sw), (H, W), (top, left) = self.stride, size, corner
        N, _, Ho, Wo = dy.shape
        # y[n, :, i, j] = W2 @ cols[n, :, (i, j)]  ⇒  dcols[n] = W2^T (C·kh·kw, O) @ dy[n] (O, Ho·Wo)
        dcols = scratch(xp, (N, C * kh * kw, Ho * Wo), dy.dtype, "dcols")
        xp.matmul(w.reshape(O, C * kh * kw).T, dy.reshape(N, O, Ho * Wo), out=dcols)
        dcols = dcols.reshape(N, C, kh, kw, Ho, Wo)
        # cols[n, c, p, q, i, j] was a copy of xpad[n, c, i·sh + p, j·sw + q]; for a fixed offset
        # (p, q) the windows read distinct pixels (one strided slice), so each offset's gradient is
        # one whole-tensor ``+=``, and the loop over offsets sums the windows that share a pixel.
        dxpad = xp.zeros(padded_shape, dtype=dy.dtype)                  # N, C, Hp, Wp
        for p in range(kh):
            for q in range(kw):
                rows = slice(p, p + (Ho - 1) * sh + 1, sh)           # i·sh + p for every i
                columns = slice(q, q + (Wo - 1) * sw + 1, sw)        # j·sw + q for every j
                dxpad[:, :, rows, columns] += dcols[:, :, p, q]
        return dxpad[:, :, top:top + H, left:left + W]                  # N, C, H, W (view)

    def __repr__(self):
        return (f"Conv2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r})")
