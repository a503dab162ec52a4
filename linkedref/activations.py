"""Single activation functions, each a Layer applied elementwise.

Every activation takes an input of shape (N, C, ...) — (N, D) vectors or (N, C, H, W) images,
any ndim ≥ 2 — and returns an output of the same shape. Axis 1 is the feature/channel axis;
only PReLU uses it (one slope per feature/channel).

The elementwise formulas also live here as plain functions that write into a given output
(``relu_into``, ``elu_into``, ``sigmoid_into``, ``swish_into``), so that the linked units in
``linked.py`` can write each half of their output in place, without temporaries.

Speed note: on NumPy, ``where``/``copyto(..., where=mask)`` with an irregular mask are much
slower than plain arithmetic (benchmarks/README.md), so selections are written arithmetically:
max(z, 0) + a·min(z, 0) for PReLU, ``dy * mask`` for a derivative that is 1 or 0, max(mask, α)
for one that is 1 or α (0 ≤ α ≤ 1).

Caches (what backward keeps): a boolean mask (ReLU, LeakyReLU: a quarter of a float32 array) or
the input z (all others). Never the output: a later layer may legitimately add into the array it
was given (a residual sum), which would corrupt a cached output.
"""
from __future__ import annotations

from . import backend as B
from .layer import Layer

# SELU's constants (Klambauer et al., 2017): the fixed point (mean 0, variance 1) of the map.
SELU_ALPHA = 1.6732632423543772
SELU_LAMBDA = 1.0507009873554805


# ------------------------------------------------------------- elementwise formulas, in place
def relu_into(t, out):
    """out = max(t, 0). ``out`` must not alias ``t``.

    (NumPy's maximum against a zero-filled array is faster than against the scalar 0; see
    benchmarks/README.md.)
    """
    xp = B.get_array_module(t)
    out[...] = 0
    return xp.maximum(t, out, out=out)


def elu_into(t, out, alpha=1.0, scale=1.0):
    """out = scale·t (t > 0), scale·alpha·(e^t − 1) (t ≤ 0). ``out`` must not alias ``t``.

    Written as max(t, 0) + alpha·expm1(min(t, 0)) (one of the two terms is exactly 0):
    expm1 of min(t, 0) never overflows and is accurate near 0.
    """
    xp = B.get_array_module(t)
    xp.minimum(t, 0, out=out)
    xp.expm1(out, out=out)
    out *= alpha
    out += xp.maximum(t, 0)
    if scale != 1.0:
        out *= scale
    return out


def sigmoid_into(t, out):
    """out = σ(t) = 1 / (1 + e^−t), stable for any t. ``out`` must not alias ``t``.

    σ(t) = e^{min(t, 0)} / (1 + e^{−|t|}): that is 1/(1 + e^−t) for t ≥ 0 and e^t/(1 + e^t) for
    t < 0. No exponent is ever positive (no overflow), and both forms keep full relative accuracy,
    also in the far tails (float32, |t| up to 1e4 and beyond).
    """
    xp = B.get_array_module(t)
    xp.abs(t, out=out)
    xp.negative(out, out=out)
    xp.exp(out, out=out)
    out += 1                                        # 1 + e^{−|t|}
    xp.divide(xp.exp(xp.minimum(t, 0)), out, out=out)
    return out


def swish_into(t, out):
    """out = t·σ(t). ``out`` must not alias ``t``."""
    sigmoid_into(t, out)
    out *= t
    return out


def sigmoid(t):
    """σ(t) in a new array (see ``sigmoid_into``)."""
    xp = B.get_array_module(t)
    return sigmoid_into(t, xp.empty_like(t))


# ------------------------------------------------------------------------------- base class
class Activation(Layer):
    """The base of every unit, single or linked: subclass it to write a unit of your own.

    A unit applies d elementwise functions g_1, ..., g_d to one pre-activation z and
    concatenates them on axis 1: x (N, C, ...) → y (N, d·C, ...); output channel i·C + c is
    member i of unit c. A unit defines

    - ``expansion`` = d (class attribute): 1 for a single unit, 2 for a mirror link
      concat(g(z), g(−z)). The builders size the next layer's fan-in by it, and ``dead_units``
      pairs channels c, C + c, ... as the members of unit c.
    - ``forward(x, training=False)`` → y: ``self.check_input(x)``, compute y, and
      ``self.save_for_backward(cache, output_shape=y.shape)`` with what backward needs: z or a
      mask, never y (a later layer may add into y in place).
    - ``backward(dy, need_dx=True)`` → dz = Σ_i dy_i·g_i'(z), the shape of x: take the cache
      with ``self.saved(dy)`` (it checks dy has y's shape) and never change dy in place.
      ``need_dx=False`` says no one needs dz; a unit may still return it.
    - learnable parameters (PReLU's slopes): ``self.params[k]``, and in backward
      ``self.grads[k] = <a new array>`` holding dL/dparam of the last forward (set, never
      accumulated, never written into the old array).

    What takes a unit (``lk.check_linkage``, ``lk.diagnostics.dead_units``, ``Recorder``,
    ``Linked``'s members, ``lk.register_activation`` and the builders) works by this protocol
    and warns about a layer that is not an Activation, which it cannot judge as a unit.
    A unit of one's own, end to end: tests/user_units/lk_softplus.py.
    """

    def check_input(self, x, ndims=None, channels=None):
        """x must be a float array (N, C, ...) with ndim ≥ 2 (any ndim, unless ``ndims``)."""
        if B.is_array(x) and x.ndim < 2:
            raise ValueError(f"{self.name}: expected input of shape (N, C, ...) with ndim ≥ 2, "
                             f"got shape {tuple(x.shape)}")
        super().check_input(x, ndims=ndims or (getattr(x, "ndim", 2),), channels=channels)


class ReLU(Activation):
    """f(z) = max(0, z);  f'(z) = 1 (z > 0), 0 (z ≤ 0).   (N, C, ...) → (N, C, ...)

    Cache: the boolean mask z > 0.
    """

    def forward(self, x, training=False):
        self.check_input(x)
        xp = B.get_array_module(x)
        y = relu_into(x, xp.empty_like(x))          # max(z, 0)
        self.save_for_backward(x > 0, output_shape=y.shape)   # the mask z > 0: N, C, ... (bool)
        return y

    def backward(self, dy, need_dx=True):
        mask = self.saved(dy)
        return dy * mask                            # dz = dy · f'(z)


class LeakyReLU(Activation):
    """f(z) = z (z > 0), αz (z ≤ 0);  f'(z) = 1 (z > 0), α (z ≤ 0).   (N, C, ...) → (N, C, ...)

    ``alpha`` defaults to 0.01 (PyTorch's default; Keras uses 0.3) and must lie in [0, 1], so that
    f(z) = max(z, αz). Cache: the boolean mask z > 0.
    """

    def __init__(self, alpha=0.01):
        super().__init__()
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"LeakyReLU: alpha must lie in [0, 1], got {alpha}")
        self.alpha = float(alpha)

    def forward(self, x, training=False):
        self.check_input(x)
        xp = B.get_array_module(x)
        y = xp.multiply(x, self.alpha)
        xp.maximum(x, y, out=y)                     # max(z, αz)
        self.save_for_backward(x > 0, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        mask = self.saved(dy)
        slope = mask.astype(dy.dtype)                    # 1 (z > 0), 0 (z ≤ 0)
        xp = B.get_array_module(dy)
        xp.maximum(slope, self.alpha, out=slope)         # f'(z) = max([z > 0], α), as 0 ≤ α ≤ 1
        return xp.multiply(dy, slope, out=slope)         # dz = dy · f'(z)

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


def per_channel(a, ndim):
    """A (C,) parameter reshaped to (1, C, 1, ...) to broadcast against an ndim-D input."""
    return a.reshape((1, -1) + (1,) * (ndim - 2))


def reduce_axes(ndim):
    """Every axis but the channel axis 1: (0, 2, 3, ...)."""
    return (0,) + tuple(range(2, ndim))


class PReLU(Activation):
    """f(z) = z (z > 0), a_c·z (z ≤ 0), one learnable slope a_c per feature/channel c (axis 1).

    f'(z) = 1 (z > 0), a_c (z ≤ 0);   ∂f/∂a_c = z (z ≤ 0), 0 (z > 0).

    Shapes: x (N, C, ...) → y (N, C, ...); ``params["alpha"]`` (C,), created on the first forward
    on x's device (or at construction, on the active backend, when ``channels`` is given) in
    ``self.dtype``, filled with ``init``.
    Cache: the input z.
    """

    def __init__(self, init=0.25, channels=None):
        super().__init__()
        self.init = float(init)
        if channels is not None:
            self.build(int(channels), B.xp())

    def build(self, channels, xp):
        self.params["alpha"] = xp.full((channels,), self.init, dtype=self.dtype)
        self.grads["alpha"] = xp.zeros((channels,), dtype=self.dtype)

    def forward(self, x, training=False):
        if not self.params:                                 # first forward: size the slopes
            self.check_input(x)
            self.build(x.shape[1], B.get_array_module(x))  # on the device x lives on
        self.check_input(x, channels=self.params["alpha"].shape[0])   # and x's dtype
        xp = B.get_array_module(x)
        a = per_channel(self.params["alpha"], x.ndim)      # 1, C, 1, ...
        y = relu_into(x, xp.empty_like(x))                  # max(z, 0)
        y += a * (x - y)                  # + a·min(z, 0), as min(z, 0) = z − max(z, 0)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        x = self.saved(dy)
        xp = B.get_array_module(dy)
        a = per_channel(self.params["alpha"], x.ndim)
        # ∂L/∂a_c = Σ over N and space of dy · min(z, 0)
        self.grads["alpha"][...] = (dy * xp.minimum(x, 0)).sum(axis=reduce_axes(x.ndim))
        pos = x > 0
        return dy * (pos + a * ~pos)                        # dz = dy · (1 (z > 0) or a_c)

    def __repr__(self):
        return f"PReLU(init={self.init})"


class ELU(Activation):
    """f(z) = z (z > 0), α(e^z − 1) (z ≤ 0);  f'(z) = 1 (z > 0), α·e^z = f(z) + α (z ≤ 0).

    (N, C, ...) → (N, C, ...). Cache: the input z.
    """

    scale = 1.0

    def __init__(self, alpha=1.0):
        super().__init__()
        if not float(alpha) > 0:
            raise ValueError(f"{self.name}: alpha must be positive, got {alpha}")
        self.alpha = float(alpha)

    def forward(self, x, training=False):
        self.check_input(x)
        xp = B.get_array_module(x)
        y = elu_into(x, xp.empty_like(x), self.alpha, self.scale)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        x = self.saved(dy)
        xp = B.get_array_module(dy)
        # f'(z) = s (z > 0), s·α·e^z (z ≤ 0), with s the scale (1 for ELU, λ for SELU)
        pos = x > 0
        slope = xp.exp(xp.minimum(x, 0))                 # N, C, ...: e^min(z, 0), no overflow
        slope *= self.alpha
        slope *= ~pos                                    # α·e^z (z ≤ 0), 0 (z > 0)
        slope += pos                                     # 1 (z > 0)
        slope *= self.scale
        return dy * slope

    def __repr__(self):
        return f"ELU(alpha={self.alpha})"


class SELU(ELU):
    """f(z) = λz (z > 0), λα(e^z − 1) (z ≤ 0);  f'(z) = λ (z > 0), λα·e^z = f(z) + λα (z ≤ 0).

    α = SELU_ALPHA ≈ 1.6733, λ = SELU_LAMBDA ≈ 1.0507 (fixed): for z ~ N(0, 1), f(z) has mean 0
    and variance 1. (N, C, ...) → (N, C, ...). Cache: the input z.
    """

    scale = SELU_LAMBDA

    def __init__(self):
        super().__init__(alpha=SELU_ALPHA)

    def __repr__(self):
        return "SELU()"


class Swish(Activation):
    """f(z) = z·σ(z);  f'(z) = σ(z) + z·σ(z)(1 − σ(z)) = σ(z)·(1 + z(1 − σ(z))).

    σ is computed from exp(−|z|), finite for any z. (N, C, ...) → (N, C, ...).
    Cache: the input z (σ is recomputed in backward: one exp instead of a second cached array).
    """

    def forward(self, x, training=False):
        self.check_input(x)
        xp = B.get_array_module(x)
        y = swish_into(x, xp.empty_like(x))
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        x = self.saved(dy)
        s = sigmoid(x)                                   # N, C, ...
        return dy * (s * (1 + x * (1 - s)))              # dz = dy · σ(1 + z(1 − σ))


class Tanh(Activation):
    """f(z) = tanh(z);  f'(z) = 1 − tanh²(z).   (N, C, ...) → (N, C, ...). Cache: the input z."""

    def forward(self, x, training=False):
        self.check_input(x)
        xp = B.get_array_module(x)
        y = xp.tanh(x)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        x = self.saved(dy)
        y = B.get_array_module(x).tanh(x)
        return dy * (1 - y * y)                          # dz = dy · (1 − tanh²z)


class Sigmoid(Activation):
    """f(z) = σ(z) = 1/(1 + e^−z);  f'(z) = σ(z)(1 − σ(z)).

    Computed from exp(−|z|): finite and accurate for any z. (N, C, ...) → (N, C, ...).
    Cache: the input z.
    """

    def forward(self, x, training=False):
        self.check_input(x)
        y = sigmoid(x)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        y = sigmoid(self.saved(dy))
        return dy * (y * (1 - y))                        # dz = dy · σ(1 − σ)
