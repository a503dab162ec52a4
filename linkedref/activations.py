"""Single activation functions, each a unit applied elementwise; and ``Activation``, the base
class of every unit, single or linked, whose docstring is the unit protocol (shapes, caches).

The formulas g(z) are plain functions here (``relu``, ``prelu``, ``elu``, ``sigmoid``,
``swish``), with their slopes g'(z), so that the linked units in ``linked.py`` are written with
the same g: LK-ReLU is concat(relu(z), relu(−z)).
"""
from __future__ import annotations

from . import backend as B
from .layer import Layer

# SELU's constants (Klambauer et al., 2017): the fixed point (mean 0, variance 1) of the map.
SELU_ALPHA = 1.6732632423543772
SELU_LAMBDA = 1.0507009873554805


# ----------------------------------------------------------------------- the formulas, g and g'
def relu(z):
    """max(z, 0)."""
    return B.get_array_module(z).maximum(z, 0)


def leaky_relu(z, alpha):
    """max(z, αz): z (z > 0), αz (z ≤ 0), for a leaky slope 0 ≤ α ≤ 1."""
    return B.get_array_module(z).maximum(z, alpha * z)


def prelu(z, a):
    """z (z > 0), a·z (z ≤ 0), written a·min(z, 0) + max(z, 0); ``a`` a number or (1, C, 1, ...)."""
    xp = B.get_array_module(z)
    return a * xp.minimum(z, 0) + xp.maximum(z, 0)


def prelu_slope(z, a):
    """d prelu(z)/dz = 1 (z > 0), a (z ≤ 0)."""
    pos = (z > 0).astype(z.dtype)
    return pos + a * (1 - pos)


def elu(z, alpha, scale=1.0):
    """s·z (z > 0), s·α(e^z − 1) (z ≤ 0), written s·max(z, 0) + s·α·expm1(min(z, 0)): no overflow.

    s = ``scale``: 1 for ELU, λ for SELU."""
    xp = B.get_array_module(z)
    return scale * xp.maximum(z, 0) + (scale * alpha) * xp.expm1(xp.minimum(z, 0))


def elu_slope(z, alpha, scale=1.0):
    """d elu(z)/dz = s (z > 0), s·α·e^z (z ≤ 0); e^min(z, 0) never overflows."""
    xp = B.get_array_module(z)
    pos = (z > 0).astype(z.dtype)
    return scale * (pos + (1 - pos) * alpha * xp.exp(xp.minimum(z, 0)))


def sigmoid(z):
    """σ(z) = 1/(1 + e^−z), written e^min(z, 0) / (1 + e^−|z|): that is 1/(1 + e^−z) for z ≥ 0
    and e^z/(1 + e^z) for z < 0. No exponent is positive (no overflow), and both keep full
    relative accuracy in the tails."""
    xp = B.get_array_module(z)
    return xp.exp(xp.minimum(z, 0)) / (1 + xp.exp(-xp.abs(z)))


def swish(z):
    """z·σ(z)."""
    return z * sigmoid(z)


def swish_slope(z):
    """d swish(z)/dz = σ(z) + z·σ(z)(1 − σ(z)) = σ(z)·(1 + z(1 − σ(z)))."""
    s = sigmoid(z)
    return s * (1 + z * (1 - s))


def check_alpha(owner, alpha, at_most_one=False) -> float:
    """``alpha`` as a float: in [0, 1] for a leaky slope (then g(z) = max(z, αz)), else > 0."""
    ok = 0.0 <= float(alpha) <= 1.0 if at_most_one else float(alpha) > 0
    if not ok:
        raise ValueError(f"{owner}: alpha must {'lie in [0, 1]' if at_most_one else 'be positive'}"
                         f", got {alpha}")
    return float(alpha)


def per_channel(a, ndim):
    """A (C,) parameter reshaped to (1, C, 1, ...) to broadcast against an ndim-D input."""
    return a.reshape((1, -1) + (1,) * (ndim - 2))


def reduce_axes(ndim):
    """Every axis but the channel axis 1: (0, 2, 3, ...), the sum over samples and positions."""
    return (0,) + tuple(range(2, ndim))


# ------------------------------------------------------------------------------- the units
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
      mask, never y (a later layer, a residual sum, may add into y in place).
    - ``backward(dy, need_dx=True)`` → dz = Σ_i dy_i·g_i'(z), the shape of x: take the cache
      with ``self.saved(dy)`` (it checks dy has y's shape) and never change dy in place.
      ``need_dx=False`` says no one needs dz; a unit may still return it.
    - learnable parameters (PReLU's slopes): ``self.params[k]``, and in backward
      ``self.grads[k] = <a new array>`` holding dL/dparam of the last forward (set, never
      accumulated, never written into the old array).

    What takes a unit (``lk.check_linkage``, ``lk.diagnostics.dead_units``, ``Recorder``,
    ``Linked``'s members, ``lk.register_activation`` and the builders) works by this protocol;
    a layer that is not an Activation, which they cannot judge as a unit, gets a warning
    (``check_linkage``: an error) saying so. A unit of one's own, end to end: README.md's
    "Write your own linked unit" and the reading site's guide.
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
        y = relu(x)
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
        self.alpha = check_alpha(self.name, alpha, at_most_one=True)

    def forward(self, x, training=False):
        self.check_input(x)
        y = leaky_relu(x, self.alpha)
        self.save_for_backward(x > 0, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        pos = self.saved(dy).astype(dy.dtype)          # 1 (z > 0), 0 (z ≤ 0)
        return dy * (pos + self.alpha * (1 - pos))      # dz = dy · f'(z)

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


class PReLU(Activation):
    """f(z) = z (z > 0), a_c·z (z ≤ 0), one learnable slope a_c per feature/channel c (axis 1).

    f'(z) = 1 (z > 0), a_c (z ≤ 0);   ∂f/∂a_c = min(z, 0);
    ∂L/∂a_c = Σ over samples n and positions p of dy[n, c, p]·min(z[n, c, p], 0).

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
        y = prelu(x, per_channel(self.params["alpha"], x.ndim))      # a: 1, C, 1, ...
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)
        xp = B.get_array_module(dy)
        self.grads["alpha"] = (dy * xp.minimum(z, 0)).sum(axis=reduce_axes(z.ndim))   # C
        return dy * prelu_slope(z, per_channel(self.params["alpha"], z.ndim))

    def __repr__(self):
        return f"PReLU(init={self.init})"


class ELU(Activation):
    """f(z) = s·z (z > 0), s·α(e^z − 1) (z ≤ 0);  f'(z) = s (z > 0), s·α·e^z (z ≤ 0).

    s = ``scale``: 1 for ELU (SELU sets λ). (N, C, ...) → (N, C, ...). Cache: the input z.
    """

    scale = 1.0

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = check_alpha(self.name, alpha)

    def forward(self, x, training=False):
        self.check_input(x)
        y = elu(x, self.alpha, self.scale)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)
        return dy * elu_slope(z, self.alpha, self.scale)        # dz = dy · f'(z)

    def __repr__(self):
        return f"ELU(alpha={self.alpha})"


class SELU(ELU):
    """f(z) = λz (z > 0), λα(e^z − 1) (z ≤ 0);  f'(z) = λ (z > 0), λα·e^z (z ≤ 0).

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

    (N, C, ...) → (N, C, ...). Cache: the input z (backward recomputes σ from it).
    """

    def forward(self, x, training=False):
        self.check_input(x)
        y = swish(x)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        return dy * swish_slope(self.saved(dy))          # dz = dy · σ(1 + z(1 − σ))


class Tanh(Activation):
    """f(z) = tanh(z);  f'(z) = 1 − tanh²(z).   (N, C, ...) → (N, C, ...). Cache: the input z."""

    def forward(self, x, training=False):
        self.check_input(x)
        y = B.get_array_module(x).tanh(x)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        y = B.get_array_module(dy).tanh(self.saved(dy))
        return dy * (1 - y * y)                          # dz = dy · (1 − tanh²z)


class Sigmoid(Activation):
    """f(z) = σ(z) = 1/(1 + e^−z);  f'(z) = σ(z)(1 − σ(z)).

    (N, C, ...) → (N, C, ...). Cache: the input z.
    """

    def forward(self, x, training=False):
        self.check_input(x)
        y = sigmoid(x)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        y = sigmoid(self.saved(dy))
        return dy * (y * (1 - y))                        # dz = dy · σ(1 − σ)
