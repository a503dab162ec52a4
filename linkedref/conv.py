"""2-D convolution on NCHW input: the layer ``Conv2D`` and its plain twin, ``conv2d_reference``.

Shapes: x (N, C, H, W) → y (N, O, Ho, Wo); weights W (O, C, kh, kw), bias b (O,).

    y[n, o, i, j] = b[o] + Σ_{c, p, q} W[o, c, p, q] · xpad[n, c, i·sh + p, j·sw + q]

(a cross-correlation, as in every deep-learning library), where xpad is x inside a border of
zeros. ``conv2d_reference`` and ``conv2d_reference_backward`` compute this formula and its three
gradients as plain loops over the output positions: read them first. ``Conv2D`` computes the same
sums with three kernels of ``linkedref.fast`` (``correlate``, ``weight_grad``, ``input_grad``:
im2col and matrix products); tests hold them equal to the plain loops to 1e-10 in float64.

Padding: an int p (p on every side), a pair (ph, pw), "valid" (no padding) or "same". "same"
follows TensorFlow/Keras: Ho = ceil(H / s), total padding max((Ho − 1)·s + kh − H, 0), of which
the top gets the floor half and the bottom the rest (so an even kernel pads one more row at the
bottom/right — asymmetric, exactly as Keras does).
"""
from __future__ import annotations

from . import backend as B
from . import fast
from .init import initialize
from .layer import Layer, check_pair, check_size


def _padding(padding, who="Conv2D"):
    """Any padding Conv2D accepts, as "same", "valid" or a pair (ph, pw) of ints ≥ 0."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{who}: padding must be an int, a pair, 'same' or 'valid', "
                             f"got {padding!r}")
        return padding
    return check_pair(who, "padding", padding, minimum=0)


def same_padding(size, k, s):
    """TF/Keras "same": (before, after) so that the output has ceil(size / s) positions."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def conv_pads(H, W, kernel_size, stride, padding):
    """((top, bottom), (left, right)) for an H × W input (the pairs and padding of ``Conv2D``)."""
    (kh, kw), (sh, sw) = kernel_size, stride
    if padding == "same":
        return same_padding(H, kh, sh), same_padding(W, kw, sw)
    if padding == "valid":
        return (0, 0), (0, 0)
    ph, pw = padding
    return (ph, ph), (pw, pw)


def _reference_setup(x, W, stride, padding, who):
    """xpad (N, C, Hp, Wp), the strides (sh, sw), the pads and (Ho, Wo) for the plain versions."""
    xp = B.get_array_module(x, W)
    stride, padding = check_pair(who, "stride", stride), _padding(padding, who)
    kh, kw = W.shape[2:]
    pads = conv_pads(x.shape[2], x.shape[3], (kh, kw), stride, padding)
    xpad = xp.pad(x, ((0, 0), (0, 0)) + pads)                        # N, C, Hp, Wp
    Ho, Wo = (xpad.shape[2] - kh) // stride[0] + 1, (xpad.shape[3] - kw) // stride[1] + 1
    return xpad, stride, pads, (Ho, Wo)


def conv2d_reference(x, W, b, stride=1, padding=0):
    """The plain convolution, the oracle for ``Conv2D``:
    y[n, o, i, j] = b[o] + Σ_{c, p, q} W[o, c, p, q] · xpad[n, c, i·sh + p, j·sw + q].

    x (N, C, H, W), W (O, C, kh, kw), b (O,) → y (N, O, Ho, Wo); stride and padding as ``Conv2D``
    takes them. One Python loop over the output positions (i, j): each window is a plain slice of
    xpad and the sum over (c, p, q) one einsum.
    """
    xp = B.get_array_module(x, W)
    xpad, (sh, sw), _, (Ho, Wo) = _reference_setup(x, W, stride, padding, "conv2d_reference")
    kh, kw = W.shape[2:]
    y = xp.empty((x.shape[0], W.shape[0], Ho, Wo), dtype=x.dtype)   # N, O, Ho, Wo
    for i in range(Ho):
        for j in range(Wo):
            window = xpad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]     # N, C, kh, kw
            y[:, :, i, j] = b + xp.einsum("ncpq,ocpq->no", window, W)     # N, O
    return y


def conv2d_reference_backward(x, W, dy, stride=1, padding=0):
    """The plain gradients of ``conv2d_reference``: dy (N, O, Ho, Wo) → (dx, dW, db).

    x (N, C, H, W), W (O, C, kh, kw); dx (N, C, H, W), dW (O, C, kh, kw), db (O,).
    """
    xp = B.get_array_module(x, W, dy)
    who = "conv2d_reference_backward"
    xpad, (sh, sw), ((top, _), (left, _)), (Ho, Wo) = _reference_setup(x, W, stride, padding, who)
    kh, kw = W.shape[2:]
    height, width = x.shape[2:]
    # y[n, o, i, j] has slope 1 in b[o], slope xpad[n, c, i·sh + p, j·sw + q] in W[o, c, p, q],
    # and slope W[o, c, p, q] in that pixel of xpad. So output position (i, j) adds
    #   dW[o, c, p, q]      += Σ_n dy[n, o, i, j] · window[n, c, p, q]
    #   dwindow[n, c, p, q] += Σ_o dy[n, o, i, j] · W[o, c, p, q]
    # and windows overlap when stride < kernel, so dxpad accumulates (+=) over positions.
    db = dy.sum(axis=(0, 2, 3))                                        # O
    dW = xp.zeros_like(W)                                              # O, C, kh, kw
    dxpad = xp.zeros_like(xpad)                                        # N, C, Hp, Wp
    for i in range(Ho):
        for j in range(Wo):
            rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
            g = dy[:, :, i, j]                                         # N, O
            dW += xp.einsum("no,ncpq->ocpq", g, xpad[:, :, rows, cols])
            dxpad[:, :, rows, cols] += xp.einsum("no,ocpq->ncpq", g, W)
    dx = dxpad[:, :, top:top + height, left:left + width]              # N, C, H, W: the border cut
    return dx, dW, db


class Conv2D(Layer):
    """2-D convolution (cross-correlation).  x: (N, C, H, W) → y: (N, O, Ho, Wo).

    Its plain twin: ``conv2d_reference`` (the formula as loops); the padding rule: the module's.
    Ho = (H + pad_top + pad_bottom − kh) // sh + 1 (Wo likewise); with "same", Ho = ceil(H / sh).
    kernel_size, stride: an int or a pair; padding: int, (ph, pw), "valid" or "same".
    ``init``: an initializer name of ``linkedref.init`` for W; ``rng``: a Generator or int seed.

    params: W (O, C, kh, kw), b (O,) zeros.  cache: the padded input xpad (N, C, Hp, Wp), the input
    shape and its pads.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 init: str = "glorot_uniform", rng=None):
        super().__init__()
        self.in_channels = check_size("Conv2D", "in_channels", in_channels)
        self.out_channels = check_size("Conv2D", "out_channels", out_channels)
        self.kernel_size = check_pair("Conv2D", "kernel_size", kernel_size)
        self.stride = check_pair("Conv2D", "stride", stride)
        self.padding = _padding(padding)
        (kh, kw), C, O = self.kernel_size, self.in_channels, self.out_channels
        self.init = init
        self.params["W"] = initialize(init, (O, C, kh, kw), C * kh * kw, O * kh * kw,
                                      B.as_generator(rng), dtype=self.dtype)
        self.params["b"] = B.xp().zeros(O, dtype=self.dtype)
        self.grads = {k: B.xp().zeros_like(v) for k, v in self.params.items()}

    def pads(self, H, W):
        """((top, bottom), (left, right)) for an H × W input."""
        return conv_pads(H, W, self.kernel_size, self.stride, self.padding)

    def forward(self, x, training: bool = False):
        """x (N, C, H, W) → y (N, O, Ho, Wo)."""
        self.check_input(x, ndims=(4,), channels=self.in_channels)
        pads = (top, bottom), (left, right) = self.pads(*x.shape[2:])
        (kh, kw), Hp, Wp = self.kernel_size, x.shape[2] + top + bottom, x.shape[3] + left + right
        if Hp < kh or Wp < kw:
            raise ValueError(f"Conv2D: kernel {kh}×{kw} is larger than the padded input "
                             f"{Hp}×{Wp} (input shape {tuple(x.shape)}, padding {self.padding!r})")
        self.cache = None                    # the last pass's padded input goes before this one
        xpad = B.get_array_module(x).zeros((x.shape[0], x.shape[1], Hp, Wp), dtype=x.dtype)
        xpad[:, :, top:top + x.shape[2], left:left + x.shape[3]] = x     # x inside a zero border
        # y[n, o, i, j] = b[o] + Σ_{c,p,q} W[o, c, p, q] · xpad[n, c, i·sh + p, j·sw + q]
        y = fast.correlate(xpad, self.params["W"], self.stride)           # N, O, Ho, Wo
        y += self.params["b"][:, None, None]
        self.save_for_backward((xpad, x.shape, pads), output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dy (N, O, Ho, Wo) → dx (N, C, H, W), or None when not ``need_dx``; sets grads
        W (O, C, kh, kw) and b (O,)."""
        xpad, x_shape, pads = self.saved(dy)
        # db[o] = Σ_{n,i,j} dy[n, o, i, j]
        self.grads["b"] = dy.sum(axis=(0, 2, 3))                          # O
        # dW[o, c, p, q] = Σ_{n,i,j} dy[n, o, i, j] · xpad[n, c, i·sh + p, j·sw + q]
        self.grads["W"] = fast.weight_grad(xpad, dy, self.kernel_size, self.stride)
        if not need_dx:
            return None
        # dxpad[n, c, r, t] = Σ over the (o, i, j, p, q) with i·sh + p = r, j·sw + q = t of
        # dy[n, o, i, j] · W[o, c, p, q]; dx is its inside (the border cut)
        return fast.input_grad(dy, self.params["W"], self.stride, x_shape, pads)  # N, C, H, W

    def __repr__(self):
        return (f"Conv2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r})")
