"""Pooling on NCHW input: MaxPool2D, AvgPool2D (windows may overlap) and GlobalAvgPool2D.

Shapes: x (N, C, H, W) → y (N, C, Ho, Wo), Ho = (H − kh) // sh + 1, Wo = (W − kw) // sw + 1
(no padding); GlobalAvgPool2D: (N, C, H, W) → (N, C).

The plain versions, ``max_pool_reference`` and ``avg_pool_reference`` with their ``_backward``,
loop over the output positions and are the tests' oracle; read them first.

Forward and backward loop over the kh·kw kernel offsets (p, q), not over the output positions:
for a fixed offset, the output positions (i, j) read the distinct input pixels
(i·sh + p, j·sw + q) — one strided slice of x. Forward takes a running maximum (or sum) of those
slices. Backward: each input pixel receives the gradient of *every* window it lies in, so it must
be *accumulated* when windows overlap (stride < kernel): ``dx[slice] += ...`` is a whole-tensor,
duplicate-free update per offset, and the loop's ``+=`` does the accumulation across offsets.
That is kh·kw vectorised operations (4 or 9 in practice), no scatter-add (``np.add.at``) and no
per-sample or per-position loop.
"""
from __future__ import annotations

import numbers

from . import backend as B
from .layer import Layer


def _pair(value, name, what):
    """A positive int or a pair of them as a pair of Python ints (an error naming ``name`` else)."""
    items = list(value) if isinstance(value, (tuple, list)) else [value, value]
    if len(items) != 2 or not all(isinstance(v, numbers.Integral) and v >= 1 for v in items):
        raise ValueError(f"{name}: {what} must be a positive int or a pair of them, got {value!r}")
    return tuple(int(v) for v in items)


def _windows_at(x, kernel_size, stride, who):
    """(kh, kw), (Ho, Wo), and for each output position (i, j, rows, cols): its window's slices."""
    kh, kw = _pair(kernel_size, who, "kernel_size")
    sh, sw = (kh, kw) if stride is None else _pair(stride, who, "stride")
    Ho, Wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    positions = [(i, j, slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
                 for i in range(Ho) for j in range(Wo)]
    return (kh, kw), (Ho, Wo), positions


def max_pool_reference(x, kernel_size, stride=None):
    """The plain max pooling: y[n, c, i, j] = max of x[n, c] over the window at (i·sh, j·sw).

    x (N, C, H, W) → y (N, C, Ho, Wo); kernel_size and stride as ``MaxPool2D`` takes them (stride
    None: the kernel). One Python loop over the output positions, each window a plain slice.
    """
    xp = B.get_array_module(x)
    _, (Ho, Wo), positions = _windows_at(x, kernel_size, stride, "max_pool_reference")
    y = xp.empty((*x.shape[:2], Ho, Wo), dtype=x.dtype)       # N, C, Ho, Wo
    for i, j, rows, cols in positions:
        y[:, :, i, j] = x[:, :, rows, cols].max(axis=(2, 3))
    return y


def max_pool_reference_backward(x, dy, kernel_size, stride=None):
    """The plain gradient of ``max_pool_reference``: dy (N, C, Ho, Wo) → dx (N, C, H, W).

    y = the window's maximum, so its whole dy goes to that one pixel: the *first* maximum in
    row-major order when several tie (``argmax``'s rule). Windows overlap when stride < kernel,
    so dx accumulates (+=) over the windows a pixel lies in.
    """
    xp = B.get_array_module(x)
    (kh, kw), _, positions = _windows_at(x, kernel_size, stride, "max_pool_reference_backward")
    N, C = x.shape[:2]
    dx = xp.zeros_like(x)                                     # N, C, H, W
    for i, j, rows, cols in positions:
        window = x[:, :, rows, cols].reshape(N, C, kh * kw)   # N, C, kh·kw (a copy)
        first = window.argmax(axis=2)                         # N, C: the first maximum
        onehot = xp.arange(kh * kw) == first[:, :, None]      # N, C, kh·kw
        dx[:, :, rows, cols] += dy[:, :, i, j, None, None] * onehot.reshape(N, C, kh, kw)
    return dx


def avg_pool_reference(x, kernel_size, stride=None):
    """The plain average pooling: y[n, c, i, j] = mean of x[n, c] over the window at (i·sh, j·sw).

    x (N, C, H, W) → y (N, C, Ho, Wo); arguments as ``AvgPool2D`` takes them.
    """
    xp = B.get_array_module(x)
    _, (Ho, Wo), positions = _windows_at(x, kernel_size, stride, "avg_pool_reference")
    y = xp.empty((*x.shape[:2], Ho, Wo), dtype=x.dtype)       # N, C, Ho, Wo
    for i, j, rows, cols in positions:
        y[:, :, i, j] = x[:, :, rows, cols].mean(axis=(2, 3))
    return y


def avg_pool_reference_backward(x, dy, kernel_size, stride=None):
    """The plain gradient of ``avg_pool_reference``: dy (N, C, Ho, Wo) → dx (N, C, H, W).

    y = (1 / kh·kw) Σ_window x, so every pixel of a window gets dy / (kh·kw), summed (+=) over
    the windows it lies in.
    """
    xp = B.get_array_module(x)
    (kh, kw), _, positions = _windows_at(x, kernel_size, stride, "avg_pool_reference_backward")
    dx = xp.zeros_like(x)                                     # N, C, H, W
    for i, j, rows, cols in positions:
        dx[:, :, rows, cols] += dy[:, :, i, j, None, None] / (kh * kw)
    return dx


class _Pool2D(Layer):
    """Shared set-up of MaxPool2D and AvgPool2D: kernel, stride (default: the kernel), checks."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, self.name, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, self.name, "stride")

    def check_image(self, x):
        """x must be (N, C, H, W) with H ≥ kh and W ≥ kw; returns (Ho, Wo)."""
        self.check_input(x, ndims=(4,))
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if x.shape[2] < kh or x.shape[3] < kw:
            raise ValueError(f"{self.name}: kernel {kh}×{kw} is larger than the input "
                             f"{x.shape[2]}×{x.shape[3]} (shape {tuple(x.shape)})")
        return (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1

    def offsets(self, Ho, Wo):
        """For each kernel offset (p, q): the slices of x that the Ho × Wo windows read there."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        for p in range(kh):
            for q in range(kw):
                rows = slice(p, p + (Ho - 1) * sh + 1, sh)           # i·sh + p for every i
                columns = slice(q, q + (Wo - 1) * sw + 1, sw)        # j·sw + q for every j
                yield p, q, (slice(None), slice(None), rows, columns)

    def __repr__(self):
        return f"{self.name}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2D(_Pool2D):
    """y[n, c, i, j] = max over the window (i·sh .. i·sh+kh−1, j·sw .. j·sw+kw−1) of x[n, c].

    x: (N, C, H, W) → y: (N, C, Ho, Wo). stride defaults to kernel_size; stride < kernel_size
    (overlapping windows) is supported.

    Ties: the gradient of a window goes to one element only, the *first* maximum in row-major
    order within the window (smallest p, then smallest q) — ``argmax``'s rule.
    The plain version: ``max_pool_reference`` and ``max_pool_reference_backward``.

    cache: the argmax index within each window, a flat p·kw + q (N, C, Ho, Wo) as uint8 (int32
    for windows of more than 256 elements), and x's shape.
    """

    def forward(self, x, training: bool = False):
        """x (N, C, H, W) → y (N, C, Ho, Wo).

        A running maximum over the kh·kw kernel offsets: x[at] (N, C, Ho, Wo) holds offset (p, q)'s
        pixel of every window. Strict ``>`` keeps the first maximum; arg = its index p·kw + q.
        """
        xp = B.get_array_module(x)
        kh, kw = self.kernel_size
        Ho, Wo = self.check_image(x)
        (_, _, first), *rest = self.offsets(Ho, Wo)
        y = x[first].copy()                                   # N, C, Ho, Wo: the running max
        arg = xp.zeros(y.shape, dtype=xp.uint8 if kh * kw <= 256 else xp.int32)   # its p·kw + q
        for p, q, at in rest:
            candidate = x[at]                                 # N, C, Ho, Wo (view)
            greater = candidate > y                           # strict: ties keep the earlier one
            xp.maximum(y, candidate, out=y)
            arg *= ~greater                                   # arg = p·kw + q where greater
            arg += greater * arg.dtype.type(p * kw + q)       # (arithmetic: ``where`` is slower)
        self.save_for_backward((arg, x.shape), output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dy (N, C, Ho, Wo) → dx (N, C, H, W).

        y = x[argmax], so dL/dx[r] = Σ over the windows whose argmax is r of dy[window].
        For each offset (p, q): the windows whose argmax sits at (p, q) pass dy to pixel
        (i·sh + p, j·sw + q); ``+=`` sums over windows that share a pixel (overlap).
        """
        arg, shape = self.saved(dy)
        dx = B.get_array_module(dy).zeros(shape, dtype=dy.dtype)    # N, C, H, W
        kw = self.kernel_size[1]
        for p, q, at in self.offsets(*dy.shape[2:]):
            dx[at] += dy * (arg == p * kw + q)                # N, C, Ho, Wo into a strided slice
        return dx


class AvgPool2D(_Pool2D):
    """y[n, c, i, j] = mean over the window (i·sh .. i·sh+kh−1, j·sw .. j·sw+kw−1) of x[n, c].

    x: (N, C, H, W) → y: (N, C, Ho, Wo). stride defaults to kernel_size; overlaps allowed.
    The plain version: ``avg_pool_reference`` and ``avg_pool_reference_backward``.
    cache: x's shape.
    """

    def forward(self, x, training: bool = False):
        """x (N, C, H, W) → y (N, C, Ho, Wo): the sum over the kernel offsets, / (kh·kw)."""
        Ho, Wo = self.check_image(x)
        kh, kw = self.kernel_size
        y = sum(x[at] for _, _, at in self.offsets(Ho, Wo)) / (kh * kw)   # N, C, Ho, Wo
        self.save_for_backward(x.shape, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dy (N, C, Ho, Wo) → dx (N, C, H, W).

        y = (1 / kh·kw) Σ_window x, so every pixel of a window gets dy / (kh·kw), summed (+=)
        over the windows it lies in.
        """
        shape = self.saved(dy)
        kh, kw = self.kernel_size
        dx = B.get_array_module(dy).zeros(shape, dtype=dy.dtype)    # N, C, H, W
        share = dy / (kh * kw)                                # N, C, Ho, Wo
        for _, _, at in self.offsets(*dy.shape[2:]):
            dx[at] += share
        return dx


class GlobalAvgPool2D(Layer):
    """y[n, c] = mean over h, w of x[n, c, h, w].   x: (N, C, H, W) → y: (N, C).

    cache: x's shape.
    """

    def forward(self, x, training: bool = False):
        """x (N, C, H, W) → y (N, C)."""
        self.check_input(x, ndims=(4,))
        y = x.mean(axis=(2, 3))                               # N, C
        self.save_for_backward(x.shape, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dy (N, C) → dx (N, C, H, W): every pixel gets dy / (H·W)."""
        shape = self.saved(dy)
        xp = B.get_array_module(dy)
        dx = xp.empty(shape, dtype=dy.dtype)                  # N, C, H, W
        dx[...] = (dy / (shape[2] * shape[3]))[:, :, None, None]
        return dx
