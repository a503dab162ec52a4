"""The fast machinery behind Conv2D: strided windows, im2col in chunks, one GEMM per chunk.

Read ``linkedref.conv.conv2d_reference`` and ``conv2d_reference_backward`` first: they compute the
same numbers as plain loops, and tests hold the two equal. This module only rearranges those sums
so that a BLAS matrix product does the work. Notation, for x (N, C, H, W) and w (O, C, kh, kw):

    K = C·kh·kw, P = Ho·Wo, w2 = w.reshape(O, K),
    cols[n, (c, p, q), (i, j)] = xpad[n, c, i·sh + p, j·sw + q]          (im2col: N, K, P)

- forward (``correlate``):   y[n] = w2 @ cols[n]  (O, P), one batched matmul, already NCHW.
- dW (``weight_grad``):      dW^T = Σ_n cols[n] @ dy[n]^T  (K, O), or one GEMM over n·P when P < K.
- dx, two ways:  ``dx_transposed`` correlates the dilated, padded dy with the flipped kernel (in
  and out channels swapped); ``dx_col2im`` computes dcols = w2^T @ dy and adds each kernel
  offset's columns back into a strided slice of dx. Conv2D picks col2im when C < O or stride > 1.

On a CPU every pass runs in chunks of the batch whose columns fit the cache (``batch_chunks``).
The measurements behind these choices are in benchmarks/README.md ("Why the fast convolution is
built this way").

Memory reused from one call to the next — the whole list, because fresh arrays were measurably
slower (first-touch page faults, cold cache):

1. work arrays from a ``Workspace`` (its docstring says which arrays may live there), one
   ``WORKSPACE`` shared by every Conv2D, so layers run one at a time;
2. a layer's own padded input: ``Conv2D.forward`` passes the one its cache holds from the last
   forward to ``pad(x, pads, into=...)``, which writes the new input over it. That cache is its
   only holder and this forward replaces it anyway, so no one sees the old values change.
"""
from __future__ import annotations

from . import backend as B


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


class Workspace:
    """Work arrays reused from one call to the next: one flat buffer per tag, handed out as views.

    The rule for what may live here: an array from ``get`` is valid until the next ``get`` with
    the same tag. So only arrays that no caller keeps come from a workspace (the im2col columns,
    dW's per-sample products and transposed dy, the dilated dy, dx's columns: each filled and
    used up inside one function of this module), and the layers sharing a workspace must run one
    at a time, never from two threads at once. Nothing a layer caches between forward and
    backward, and nothing a function returns, lives here.

    Why reuse at all: a fresh multi-megabyte NumPy array comes as new pages from the OS, and
    touching them for the first time costs more than the copy written into them.

    Requests above ``limit`` elements get a fresh array. ``clear()`` frees the buffers.
    """

    def __init__(self, limit=2 ** 26):               # elements (256 MiB of float32) per buffer
        self.limit = limit
        self.buffers: dict = {}

    def get(self, xp, shape, dtype, tag):
        """An array of ``shape`` and ``dtype`` on module xp (contents undefined)."""
        size = 1
        for d in shape:
            size *= d
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


WORKSPACE = Workspace()          # the one every Conv2D uses (layers run one at a time)


def pad(x, pads, into=None):
    """x (N, C, H, W) inside a zero border: (N, C, H + top + bottom, W + left + right).

    pads = ((top, bottom), (left, right)); x itself when they are all zero. ``into``: a padded
    array an earlier ``pad`` returned, which its owner gives up (see the module docstring): when
    it has the right shape, dtype and device, only its inside is written (its border is still
    zero). Otherwise a new array, written once: the border zeroed, the inside copied.
    """
    (top, bottom), (left, right) = pads
    if not (top or bottom or left or right):
        return x
    N, C, H, W = x.shape
    xp = B.get_array_module(x)
    shape = (N, C, H + top + bottom, W + left + right)
    reusable = (into is not None and into.shape == shape and into.dtype == x.dtype
                and B.get_array_module(into) is xp and not xp.may_share_memory(into, x))
    xpad = into if reusable else xp.empty(shape, dtype=x.dtype)
    if not reusable:
        xpad[:, :, :top] = 0                                   # the border: rows above and below,
        xpad[:, :, top + H:] = 0
        xpad[:, :, top:top + H, :left] = 0                     # then columns left and right
        xpad[:, :, top:top + H, left + W:] = 0
    xpad[:, :, top:top + H, left:left + W] = x
    return xpad


def im2col(x, kh, kw, stride, work, batch_inside=False):
    """The windows of x (N, C, H, W) copied into cols (N, C·kh·kw, Ho·Wo), an array of ``work``.

    ``batch_inside=True``: cols (C·kh·kw, N·Ho·Wo) instead, the batch folded in beside the output
    positions (for one GEMM over the whole batch).
    """
    win = windows(x, kh, kw, stride)                         # N, C, kh, kw, Ho, Wo (view)
    N, C, _, _, Ho, Wo = win.shape
    if batch_inside:
        win = win.transpose(1, 2, 3, 0, 4, 5)                # C, kh, kw, N, Ho, Wo (view)
    cols = work.get(B.get_array_module(x), win.shape, x.dtype, "cols")
    cols[...] = win                                          # the one copy of the pass
    if batch_inside:
        return cols.reshape(C * kh * kw, N * Ho * Wo)
    return cols.reshape(N, C * kh * kw, Ho * Wo)


CHUNK_BYTES = 3 * 2 ** 20       # im2col columns per chunk of the batch (CPU cache blocking)


def batch_chunks(xp, N, bytes_per_sample):
    """Slices of the batch 0..N whose im2col columns take ~``CHUNK_BYTES`` (at least one sample).

    Why: the GEMM then reads the columns from the CPU cache, right after im2col wrote them. On a
    GPU there is no such cache to fit and each launch costs time: the whole batch is one chunk.
    """
    step = N if xp.__name__ != "numpy" else max(1, min(N, CHUNK_BYTES // max(bytes_per_sample, 1)))
    for start in range(0, N, step):
        yield slice(start, min(start + step, N))


def correlate(x, w, stride, work):
    """Valid cross-correlation of x (N, C, H, W) with w (O, C, kh, kw): y (N, O, Ho, Wo), new array.

    One batched GEMM per chunk of the batch: w2 (O, C·kh·kw) @ cols (n, C·kh·kw, Ho·Wo) →
    (n, O, Ho·Wo), already NCHW.
    """
    xp = B.get_array_module(x)
    N, O, (C, kh, kw) = x.shape[0], w.shape[0], w.shape[1:]
    Ho, Wo = (x.shape[2] - kh) // stride[0] + 1, (x.shape[3] - kw) // stride[1] + 1
    w2 = w.reshape(O, C * kh * kw)
    y = xp.empty((N, O, Ho * Wo), dtype=x.dtype)
    for batch in batch_chunks(xp, N, C * kh * kw * Ho * Wo * x.itemsize):
        cols = im2col(x[batch], kh, kw, stride, work)        # n, C·kh·kw, Ho·Wo
        xp.matmul(w2, cols, out=y[batch])                    # n, O, Ho·Wo
    return y.reshape(N, O, Ho, Wo)


def weight_grad(xpad, dy, kernel_size, stride, work):
    """dW (O, C, kh, kw) from the padded input xpad (N, C, Hp, Wp) and dy (N, O, Ho, Wo).

    dW[o, c, p, q] = Σ_{n,i,j} dy[n, o, i, j] · xpad[n, c, i·sh + p, j·sw + q]
                   = Σ_n dy[n] (O, P) @ cols[n]^T (P, K), summed chunk by chunk.
    Computed transposed, dW^T = Σ_n cols[n] @ dy[n]^T (K, O): OpenBLAS runs that product faster.
    """
    xp = B.get_array_module(dy)
    (kh, kw), C = kernel_size, xpad.shape[1]
    N, O, Ho, Wo = dy.shape
    K, P = C * kh * kw, Ho * Wo
    dy3 = dy.reshape(N, O, P)
    dW_t = xp.zeros((K, O), dtype=dy.dtype)
    for batch in batch_chunks(xp, N, K * P * dy.itemsize):
        n = batch.stop - batch.start
        if P >= K:
            cols = im2col(xpad[batch], kh, kw, stride, work)            # n, K, P
            per_sample = work.get(xp, (n, K, O), dy.dtype, "dW")
            xp.matmul(cols, dy3[batch].transpose(0, 2, 1), out=per_sample)   # n, K, O
            dW_t += per_sample.sum(axis=0)
        else:
            # Few output positions (late layers): each sample's product above would contract over
            # a short P and write a whole K × O block, so instead put the samples beside the
            # positions: one GEMM over n·P, cols as (K, n·P) @ dy as (n·P, O).
            cols = im2col(xpad[batch], kh, kw, stride, work, batch_inside=True)   # K, n·P
            dy_t = work.get(xp, (O, n, P), dy.dtype, "dy_t")
            dy_t[...] = dy3[batch].transpose(1, 0, 2)
            dW_t += cols @ dy_t.reshape(O, n * P).T                     # K, O
    return xp.ascontiguousarray(dW_t.T).reshape(O, C, kh, kw)


def dx_transposed(dy, w, stride, x_shape, pads, work):
    """dx (N, C, H, W) from dy (N, O, Ho, Wo) as a transposed convolution (forward's routine).

    x_shape: the input's (N, C, H, W); pads: ((top, bottom), (left, right)) as in the forward.
    """
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
    dyd = work.get(xp, (N, O, Hd, Wd), dy.dtype, "dyd")                # dilated + padded dy
    dyd.fill(0)
    dyd[:, :, kh - 1:kh - 1 + (Ho - 1) * sh + 1:sh,
        kw - 1:kw - 1 + (Wo - 1) * sw + 1:sw] = dy
    dyd = dyd[:, :, top:top + H + kh - 1, left:left + W + kw - 1]    # view
    w_flip = xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))   # C, O, kh, kw
    return correlate(dyd, w_flip, (1, 1), work)                       # N, C, H, W


def dx_col2im(dy, w, stride, x_shape, pads, work):
    """dx (N, C, H, W) as col2im: the gradient of each window's columns, added back in place.

    Cheaper than the transposed convolution when C < O (it copies dy's windows, O·kh·kw numbers
    per input pixel) or stride > 1 (it multiplies the dilation zeros). Arguments as there.
    """
    xp = B.get_array_module(dy)
    O, C, kh, kw = w.shape
    (sh, sw), (_, _, H, W), ((top, bottom), (left, right)) = stride, x_shape, pads
    N, _, Ho, Wo = dy.shape
    # y[n, :, i, j] = w2 @ cols[n, :, (i, j)]  ⇒  dcols[n] = w2^T (C·kh·kw, O) @ dy[n] (O, Ho·Wo)
    dcols = work.get(xp, (N, C * kh * kw, Ho * Wo), dy.dtype, "dcols")
    xp.matmul(w.reshape(O, C * kh * kw).T, dy.reshape(N, O, Ho * Wo), out=dcols)
    dcols = dcols.reshape(N, C, kh, kw, Ho, Wo)
    # cols[n, c, p, q, i, j] was a copy of xpad[n, c, i·sh + p, j·sw + q]; for a fixed offset
    # (p, q) the windows read distinct pixels (one strided slice), so each offset's gradient is
    # one whole-tensor ``+=``, and the loop over offsets sums the windows that share a pixel.
    dxpad = xp.zeros((N, C, H + top + bottom, W + left + right), dtype=dy.dtype)   # N, C, Hp, Wp
    for p in range(kh):
        for q in range(kw):
            rows = slice(p, p + (Ho - 1) * sh + 1, sh)           # i·sh + p for every i
            columns = slice(q, q + (Wo - 1) * sw + 1, sw)        # j·sw + q for every j
            dxpad[:, :, rows, columns] += dcols[:, :, p, q]
    return dxpad[:, :, top:top + H, left:left + W]                  # N, C, H, W (view)
