"""Pooling on NCHW input: MaxPool2D, AvgPool2D (windows may overlap) and GlobalAvgPool2D.

Shapes: x (N, C, H, W) → y (N, C, Ho, Wo), Ho = (H − kh) // sh + 1, Wo = (W − kw) // sw + 1
(no padding); GlobalAvgPool2D: (N, C, H, W) → (N, C).

Forward reads the windows through a strided view of x (``conv.windows``, no copy).
Backward: each input pixel receives the gradient of *every* window it lies in, so it must be
*accumulated* when windows overlap (stride < kernel). We loop over the kh·kw kernel offsets
(p, q): for a fixed offset, the output positions (i, j) read the distinct input pixels
(i·sh + p, j·sw + q) — one strided slice of dx — so ``dx[slice] += ...`` is a whole-tensor,
duplicate-free update, and the loop's ``+=`` does the accumulation across offsets. That is kh·kw
vectorised operations (4 or 9 in practice), no scatter-add (``np.add.at``) and no per-sample or
per-position loop; it reads more plainly than routing the gradient through a transposed
convolution, and it is as fast for the small pooling kernels used in practice.
"""
from __future__ import annotations

import numbers

from . import backend as B
from .conv import windows
from .layer import Layer


def _pair(value, name, what):
    """A positive int or a pair of them as a pair of Python ints (an error naming ``name`` else)."""
    items = list(value) if isinstance(value, (tuple, list)) else [value, value]
    if len(items) != 2 or not all(isinstance(v, numbers.Integral) and v >= 1 for v in items):
        raise ValueError(f"{name}: {what} must be a positive int or a pair of them, got {value!r}")
    return tuple(int(v) for v in items)


class _Pool2D(Layer):
    """Shared set-up of MaxPool2D and AvgPool2D: kernel, stride (default: the kernel), checks."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, self.name, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, self.name, "stride")

    def windows_of(self, x):
        """Check x and return its windows, a view (N, C, kh, kw, Ho, Wo)."""
        self.check_input(x, ndims=(4,))
        kh, kw = self.kernel_size
        if x.shape[2] < kh or x.shape[3] < kw:
            raise ValueError(f"{self.name}: kernel {kh}×{kw} is larger than the input "
                             f"{x.shape[2]}×{x.shape[3]} (shape {tuple(x.shape)})")
        return windows(x, kh, kw, self.stride)

    def offsets(self, Ho, Wo):
        """For each kernel offset (p, q): the slices of x that the Ho × Wo windows read there."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        for p in range(kh):
            for q in range(kw):
                yield p, q, (slice(None), slice(None),
                             slice(p, p + (Ho - 1) * sh + 1, sh), slice(q, q + (Wo - 1) * sw + 1, sw))

    def __repr__(self):
        return f"{self.name}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2D(_Pool2D):
    """y[n, c, i, j] = max over the window (i·sh .. i·sh+kh−1, j·sw .. j·sw+kw−1) of x[n, c].

    x: (N, C, H, W) → y: (N, C, Ho, Wo). stride defaults to kernel_size; stride < kernel_size
    (overlapping windows) is supported.

    Ties: the gradient of a window goes to one element only, the *first* maximum in row-major
    order within the window (smallest p, then smallest q) — ``argmax``'s rule.

    cache: the argmax index within each window, a flat p·kw + q (N, C, Ho, Wo), and x's shape.
    """

    def forward(self, x, training: bool = False):
        """x (N, C, H, W) → y (N, C, Ho, Wo)."""
        xp = B.get_array_module(x)
        win = self.windows_of(x)                              # N, C, kh, kw, Ho, Wo (view)
        N, C, kh, kw, Ho, Wo = win.shape
        flat = win.reshape(N, C, kh * kw, Ho, Wo)             # copy (kh·kw/(sh·sw) × x)
        arg = flat.argmax(axis=2)                             # N, C, Ho, Wo
        y = xp.take_along_axis(flat, arg[:, :, None], axis=2)[:, :, 0]
        self.cache = (arg, x.shape)
        return y

    def backward(self, dy):
        """dy (N, C, Ho, Wo) → dx (N, C, H, W).

        y = x[argmax], so dL/dx[r] = Σ over the windows whose argmax is r of dy[window].
        For each offset (p, q): the windows whose argmax sits at (p, q) pass dy to pixel
        (i·sh + p, j·sw + q); ``+=`` sums over windows that share a pixel (overlap).
        """
        arg, shape = self.saved()
        xp = B.get_array_module(dy)
        dx = xp.zeros(shape, dtype=dy.dtype)                  # N, C, H, W
        kw = self.kernel_size[1]
        for p, q, at in self.offsets(*dy.shape[2:]):
            dx[at] += dy * (arg == p * kw + q)                 # N, C, Ho, Wo into a strided slice
        return dx


class AvgPool2D(_Pool2D):
    """y[n, c, i, j] = mean over the window (i·sh .. i·sh+kh−1, j·sw .. j·sw+kw−1) of x[n, c].

    x: (N, C, H, W) → y: (N, C, Ho, Wo). stride defaults to kernel_size; overlaps allowed.
    cache: x's shape.
    """

    def forward(self, x, training: bool = False):
        """x (N, C, H, W) → y (N, C, Ho, Wo)."""
        win = self.windows_of(x)                              # N, C, kh, kw, Ho, Wo (view)
        self.cache = x.shape
        return win.mean(axis=(2, 3))

    def backward(self, dy):
        """dy (N, C, Ho, Wo) → dx (N, C, H, W).

        y = (1 / kh·kw) Σ_window x, so every pixel of a window gets dy / (kh·kw), summed (+=)
        over the windows it lies in.
        """
        shape = self.saved()
        xp = B.get_array_module(dy)
        kh, kw = self.kernel_size
        share = dy / (kh * kw)                                # N, C, Ho, Wo
        dx = xp.zeros(shape, dtype=dy.dtype)                  # N, C, H, W
        for _, _, at in self.offsets(*dy.shape[2:]):
            dx[at] += share
        return dx


class GlobalAvgPool2D(Layer):
    """y[n, c] = mean over h, w of x[n, c, h, w].   x: (N, C, H, W) → y: (N, C).  cache: x's shape."""

    def forward(self, x, training: bool = False):
        """x (N, C, H, W) → y (N, C)."""
        self.check_input(x, ndims=(4,))
        self.cache = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dy):
        """dy (N, C) → dx (N, C, H, W): every pixel gets dy / (H·W)."""
        shape = self.saved()
        xp = B.get_array_module(dy)
        dx = xp.empty(shape, dtype=dy.dtype)                  # N, C, H, W
        dx[...] = (dy / (shape[2] * shape[3]))[:, :, None, None]
        return dx
