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
"""
from __future__ import annotations

from . import backend as B
from .layer import Layer, check_pair


def _windows_at(x, kernel_size, stride, who):
    """(kh, kw), (Ho, Wo), and for each output position (i, j, rows, cols): its window's slices."""
    kh, kw = check_pair(who, "kernel_size", kernel_size)
    sh, sw = (kh, kw) if stride is None else check_pair(who, "stride", stride)
    Ho, Wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    positions = [(i, j, slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
                 for i in range(Ho) for j in range(Wo)]
    return (kh, kw), (Ho, Wo), positions


def max_pool_reference(x, kernel_size, stride=None):
    """The plain max pooling: y[n, c, i, j] = max of x[n, c] over the window at (i·sh, j·sw).

    x (N, C, H, W) → y (N, C, Ho, Wo); kernel_size and stride as ``MaxPool2D`` takes them (stride
    None: the kernel). One Python loop over the output positions, each window a plain slice.
    """
    return _pool_reference(x, kernel_size, stride, lambda window: window.max(axis=(2, 3)),
                           "max_pool_reference")


def _pool_reference(x, kernel_size, stride, reduce, who):
    """y[n, c, i, j] = ``reduce`` of x[n, c]'s window at (i·sh, j·sw): (N, C, kh, kw) → (N, C)."""
    xp = B.get_array_module(x)
    _, (Ho, Wo), positions = _windows_at(x, kernel_size, stride, who)
    y = xp.empty((*x.shape[:2], Ho, Wo), dtype=x.dtype)       # N, C, Ho, Wo
    for i, j, rows, cols in positions:
        y[:, :, i, j] = reduce(x[:, :, rows, cols])
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
    return _pool_reference(x, kernel_size, stride, lambda window: window.mean(axis=(2, 3)),
                           "avg_pool_reference")


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
        self.kernel_size = check_pair(self.name, "kernel_size", kernel_size)
        self.stride = check_pair(self.name, "stride", kernel_size if stride is None else stride)

    def check_image(self, x):
        """x must be (N, C, H, W) with H ≥ kh and W ≥ kw; returns (Ho, Wo)."""
        self.check_input(x, ndims=(4,))
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if x.shape[2] < kh or x.shape[3] < kw:
            raise ValueError(f"{self.name}: kernel {kh}×{kw} is larger than the input "
                             f"{x.shape[2]}×{x.shape[3]} (shape {tuple(x.shape)})")
        return (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1

    def offsets(self, Ho, Wo):
        """For each kernel offset (p, q), in row-major order (the k-th is p·kw + q): the slices of
        x that the Ho × Wo windows read there."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        for p in range(kh):
            for q in range(kw):
                rows = slice(p, p + (Ho - 1) * sh + 1, sh)           # i·sh + p for every i
                columns = slice(q, q + (Wo - 1) * sw + 1, sw)        # j·sw + q for every j
                yield slice(None), slice(None), rows, columns

    def __repr__(self):
        return f"{self.name}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2D(_Pool2D):
    """y[n, c, i, j] = max over the window (i·sh .. i·sh+kh−1, j·sw .. j·sw+kw−1) of x[n, c].

    x: (N, C, H, W) → y: (N, C, Ho, Wo); windows may overlap. Ties: the gradient of a window goes
    to its *first* maximum in row-major order (smallest p, then smallest q), as in the plain
    version, ``max_pool_reference`` and ``max_pool_reference_backward``.

    cache: for each kernel offset, where it holds its window's first maximum (N, C, Ho, Wo)
    bool; and x's shape.
    """

    def forward(self, x, training: bool = False):
        """x (N, C, H, W) → y (N, C, Ho, Wo).

        x[at] (N, C, Ho, Wo) holds one kernel offset's pixel of every window. y is the maximum
        of these; the argmax is the first offset, in row-major order, whose pixel equals y.
        """
        xp = B.get_array_module(x)
        offsets = list(self.offsets(*self.check_image(x)))
        y = x[offsets[0]].copy()                              # N, C, Ho, Wo
        for at in offsets[1:]:
            y = xp.maximum(y, x[at])
        found = xp.zeros(y.shape, dtype=bool)                 # the windows whose argmax is known
        argmax = []                                           # per offset: is it the argmax?
        for at in offsets:
            first = (x[at] == y) & ~found
            found = found | first
            argmax.append(first)
        self.save_for_backward((argmax, x.shape), output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dy (N, C, Ho, Wo) → dx (N, C, H, W).

        y = x[argmax], so dL/dx[r] = Σ over the windows whose argmax is r of dy[window]: per
        offset, the windows whose argmax it is pass dy to their pixel there (``+=``: overlaps).
        """
        argmax, shape = self.saved(dy)
        dx = B.get_array_module(dy).zeros(shape, dtype=dy.dtype)    # N, C, H, W
        for at, first in zip(self.offsets(*dy.shape[2:]), argmax):
            dx[at] += dy * first                              # N, C, Ho, Wo into a strided slice
        return dx


class AvgPool2D(_Pool2D):
    """y[n, c, i, j] = mean over the window (i·sh .. i·sh+kh−1, j·sw .. j·sw+kw−1) of x[n, c].

    x: (N, C, H, W) → y: (N, C, Ho, Wo); windows may overlap. The plain version:
    ``avg_pool_reference`` and ``avg_pool_reference_backward``.  cache: x's shape.
    """

    def forward(self, x, training: bool = False):
        """x (N, C, H, W) → y (N, C, Ho, Wo): the sum over the kernel offsets, / (kh·kw)."""
        Ho, Wo = self.check_image(x)
        kh, kw = self.kernel_size
        y = sum(x[at] for at in self.offsets(Ho, Wo)) / (kh * kw)         # N, C, Ho, Wo
        self.save_for_backward(x.shape, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dy (N, C, Ho, Wo) → dx (N, C, H, W). y = (1 / kh·kw) Σ_window x, so every pixel of a
        window gets dy / (kh·kw), summed (+=) over the windows it lies in."""
        shape = self.saved(dy)
        kh, kw = self.kernel_size
        dx = B.get_array_module(dy).zeros(shape, dtype=dy.dtype)    # N, C, H, W
        share = dy / (kh * kw)                                # N, C, Ho, Wo
        for at in self.offsets(*dy.shape[2:]):
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
