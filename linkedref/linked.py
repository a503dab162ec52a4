"""Linked units (Riera & Pujol, 2017): one pre-activation z feeds several activations.

The paper's mirror link concatenates an activation g and its mirror, on axis 1:

    y  = concat(g(z), g(−z))                 (N, C, ...) → (N, 2C, ...)
    dz = dy_a · g'(z) − dy_b · g'(−z)        dy = concat(dy_a, dy_b)

For every z one of g'(z), g'(−z) is non-zero (for ReLU: z > 0 or z < 0), so the unit's weights
always receive a gradient and the unit cannot die. ``LKReLU`` below is the paper's LK-ReLU (the
same as CReLU); the other mirror links follow the same shape. Each caches its input z.
``Linked`` links any elementwise activations (mirror, min-max, more than two members).
"""
from __future__ import annotations

import copy
from typing import NamedTuple

from . import backend as B
from .activations import (
    SELU_ALPHA,
    SELU_LAMBDA,
    Activation,
    ReLU,
    elu_into,
    per_channel,
    reduce_axes,
    relu_into,
    sigmoid,
    swish_into,
)
from .layer import Container, Layer


class LKReLU(Activation):
    """LK-ReLU (= CReLU): y = concat(relu(z), relu(−z)) on axis 1.   (N, C, ...) → (N, 2C, ...)

    g(z) = max(0, z), g'(z) = 1 (z > 0), 0 (z ≤ 0);   dz = dy_a·[z > 0] − dy_b·[z < 0].
    Cache: the input z.
    """

    expansion = 2

    def forward(self, x, training=False):
        self.check_input(x)
        xp = B.get_array_module(x)
        y, ya, yb = mirror_output(x)         # y (N, 2C, ...), ya and yb its halves (views)
        xp.maximum(x, 0, out=ya)             # ya = relu(z)
        xp.maximum(-x, 0, out=yb)            # yb = relu(−z)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)
        dy_a, dy_b = halves(dy)
        return dy_a * (z > 0) - dy_b * (z < 0)          # dz = dy_a·g'(z) − dy_b·g'(−z)


def mirror_output(x):
    """A new output y (N, 2C, ...) for input x (N, C, ...), and views of its two halves."""
    xp = B.get_array_module(x)
    C = x.shape[1]
    y = xp.empty((x.shape[0], 2 * C) + tuple(x.shape[2:]), dtype=x.dtype)     # N, 2C, ...
    return y, y[:, :C], y[:, C:]


def halves(dy):
    """(dy_a, dy_b): the gradient of the unit half and of the mirror half of (N, 2C, ...)."""
    C = dy.shape[1] // 2
    return dy[:, :C], dy[:, C:]


class LKLeakyReLU(Activation):
    """LK-LeakyReLU: y = concat(g(z), g(−z)), g(z) = max(z, αz), 0 ≤ α ≤ 1 (default 0.01).

    g'(z) = 1 (z > 0), α (z ≤ 0);   dz = dy_a·g'(z) − dy_b·g'(−z).   (N, C, ...) → (N, 2C, ...)
    """

    expansion = 2

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = check_alpha(self.name, alpha)

    def forward(self, x, training=False):
        self.check_input(x)
        xp = B.get_array_module(x)
        y, ya, yb = mirror_output(x)
        xp.multiply(x, self.alpha, out=ya)
        xp.maximum(x, ya, out=ya)                       # ya = g(z)  = max(z, αz)
        xp.multiply(x, -self.alpha, out=yb)
        xp.maximum(-x, yb, out=yb)                      # yb = g(−z) = max(−z, −αz)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)
        dy_a, dy_b = halves(dy)
        xp = B.get_array_module(dy)
        # g'(z) = 1 (z > 0), α (z ≤ 0) = max([z > 0], α);  g'(−z) = max([z < 0], α)  (0 ≤ α ≤ 1)
        slope_a = xp.maximum((z > 0).astype(dy.dtype), self.alpha)
        slope_b = xp.maximum((z < 0).astype(dy.dtype), self.alpha)
        return dy_a * slope_a - dy_b * slope_b          # dz = dy_a·g'(z) − dy_b·g'(−z)

    def __repr__(self):
        return f"LKLeakyReLU(alpha={self.alpha})"


def check_alpha(name, alpha) -> float:
    """A leaky slope α as a float in [0, 1] (then g(z) = max(z, αz)); a clear error otherwise."""
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"{name}: alpha must lie in [0, 1], got {alpha}")
    return float(alpha)


class LKPReLU(Activation):
    """LK-PReLU: y = concat(prelu_a(z), prelu_b(−z)) with two INDEPENDENT slope sets a, b.

    prelu_a(t) = t (t > 0), a_c·t (t ≤ 0). Shapes: x (N, C, ...) → y (N, 2C, ...);
    ``params["alpha"]`` = a and ``params["alpha_mirror"]`` = b, each (C,), created on the first
    forward on x's device (or at construction, on the active backend, when ``channels`` is given)
    in ``self.dtype``.

    dz  = dy_a·(1 if z > 0 else a_c) − dy_b·(1 if z < 0 else b_c)
    ∂L/∂a_c = Σ dy_a·min(z, 0);   ∂L/∂b_c = Σ dy_b·min(−z, 0) = −Σ dy_b·max(z, 0)
    """

    expansion = 2

    def __init__(self, init=0.25, init_mirror=None, channels=None):
        super().__init__()
        self.init = float(init)
        self.init_mirror = self.init if init_mirror is None else float(init_mirror)
        if channels is not None:
            self.build(int(channels), B.xp())

    def build(self, channels, xp):
        for key, value in (("alpha", self.init), ("alpha_mirror", self.init_mirror)):
            self.params[key] = xp.full((channels,), value, dtype=self.dtype)
            self.grads[key] = xp.zeros((channels,), dtype=self.dtype)

    def forward(self, x, training=False):
        if not self.params:                             # first forward: size the slopes
            self.check_input(x)
            self.build(x.shape[1], B.get_array_module(x))
        self.check_input(x, channels=self.params["alpha"].shape[0])
        a = per_channel(self.params["alpha"], x.ndim)           # 1, C, 1, ...
        b = per_channel(self.params["alpha_mirror"], x.ndim)
        y, ya, yb = mirror_output(x)
        p = relu_into(x, yb)                 # scratch: p = max(z, 0)
        m = x - p                            # N, C, ...: min(z, 0)
        B.get_array_module(x).multiply(m, a, out=ya)
        ya += p                              # ya = prelu_a(z)  = max(z, 0) + a·min(z, 0)
        yb *= -b
        yb -= m                              # yb = prelu_b(−z) = max(−z, 0) + b·min(−z, 0)
        self.save_for_backward(x, output_shape=y.shape)    # yb = −min(z, 0) − b·max(z, 0)
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)
        dy_a, dy_b = halves(dy)
        a = per_channel(self.params["alpha"], z.ndim)
        b = per_channel(self.params["alpha_mirror"], z.ndim)
        p = relu_into(z, B.get_array_module(z).empty_like(z))    # N, C, ...: max(z, 0)
        self.grads["alpha"][...] = (dy_a * (z - p)).sum(axis=reduce_axes(z.ndim))  # Σ dy_a·min(z,0)
        self.grads["alpha_mirror"][...] = -(dy_b * p).sum(axis=reduce_axes(z.ndim))  # −Σ dy_b·p
        pos, neg = z > 0, z < 0
        # prelu_a'(z) = 1 (z > 0), a (z ≤ 0);  prelu_b'(−z) = 1 (z < 0), b (z ≥ 0)
        return dy_a * (pos + a * ~pos) - dy_b * (neg + b * ~neg)

    def __repr__(self):
        return f"LKPReLU(init={self.init}, init_mirror={self.init_mirror})"


class LKELU(Activation):
    """LK-ELU: y = concat(elu(z), elu(−z)).   (N, C, ...) → (N, 2C, ...)

    g(t) = s·t (t > 0), s·α(e^t − 1) (t ≤ 0), with s = 1 (s = λ for LK-SELU);
    g'(z) = s (z > 0), s·α·e^{−|z|} (z ≤ 0);  g'(−z) = s (z < 0), s·α·e^{−|z|} (z ≥ 0);
    dz = dy_a·g'(z) − dy_b·g'(−z).
    """

    expansion = 2
    scale = 1.0

    def __init__(self, alpha=1.0):
        super().__init__()
        if not float(alpha) > 0:
            raise ValueError(f"{self.name}: alpha must be positive, got {alpha}")
        self.alpha = float(alpha)

    def forward(self, x, training=False):
        self.check_input(x)
        y, ya, yb = mirror_output(x)
        B.get_array_module(x).negative(x, out=ya)      # scratch: −z
        elu_into(ya, yb, self.alpha, self.scale)        # yb = g(−z)
        elu_into(x, ya, self.alpha, self.scale)         # ya = g(z)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)
        dy_a, dy_b = halves(dy)
        s, pos, neg = self.scale, z > 0, z < 0
        xp = B.get_array_module(z)
        e = xp.exp(-xp.abs(z))                          # N, C, ...: e^{−|z|}
        e *= s * self.alpha                             # g' off the linear side, for both halves
        # dz = s·(dy_a·[z > 0] − dy_b·[z < 0]) + e·(dy_a·[z ≤ 0] − dy_b·[z ≥ 0])
        return s * (dy_a * pos - dy_b * neg) + e * (dy_a * ~pos - dy_b * ~neg)

    def __repr__(self):
        return f"LKELU(alpha={self.alpha})"


class LKSELU(LKELU):
    """LK-SELU: y = concat(selu(z), selu(−z)), α = SELU_ALPHA, λ = SELU_LAMBDA (see LKELU).

    (N, C, ...) → (N, 2C, ...)
    """

    scale = SELU_LAMBDA

    def __init__(self):
        super().__init__(alpha=SELU_ALPHA)

    def __repr__(self):
        return "LKSELU()"


class LKSwish(Activation):
    """LK-Swish: y = concat(swish(z), swish(−z)), swish(t) = t·σ(t).   (N, C, ...) → (N, 2C, ...)

    With s = σ(z) (so σ(−z) = 1 − s):  g'(z) = s(1 + z(1 − s)),  g'(−z) = (1 − s)(1 − z·s);
    dz = dy_a·g'(z) − dy_b·g'(−z).
    """

    expansion = 2

    def forward(self, x, training=False):
        self.check_input(x)
        y, ya, yb = mirror_output(x)
        B.get_array_module(x).negative(x, out=ya)      # scratch: −z
        swish_into(ya, yb)                              # yb = g(−z)
        swish_into(x, ya)                               # ya = g(z)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)
        dy_a, dy_b = halves(dy)
        s = sigmoid(z)                                  # N, C, ...
        # dz = dy_a·g'(z) − dy_b·g'(−z)
        return dy_a * (s * (1 + z * (1 - s))) - dy_b * ((1 - s) * (1 - z * s))


# ------------------------------------------------------------------------- general linkage
class Member(NamedTuple):
    """One member of a ``Linked`` unit: g(z) = output_sign · layer(input_sign · z).

    ``layer``: an elementwise activation (shape-preserving, ``expansion`` 1), its own instance;
    the signs are +1 or −1. The mirror of g is ``Member(g, -1)``;
    min(0, z) = ``Member(ReLU(), -1, -1)``.
    """
    layer: Layer
    input_sign: int = 1
    output_sign: int = 1


class Linked(Container, Activation):
    """Any activations linked on the same pre-activation z, concatenated on axis 1.

    ``Linked(m_1, ..., m_d)``, each m_i a ``Member``, a tuple (layer, input_sign[, output_sign])
    or a bare layer (signs +1):

        y = concat(s_1·g_1(r_1·z), ..., s_d·g_d(r_d·z))      (N, C, ...) → (N, d·C, ...)
        dz = Σ_i r_i·s_i·g_i'(r_i·z)·dy_i                    (dy_i: the i-th block of C channels)

    Examples: ``Linked(ReLU(), (ReLU(), -1))`` is LK-ReLU (mirror link; ``Linked.mirror(ReLU())``);
    ``Linked.min_max()`` = (max(0, z), min(0, z)), the paper's Figure 1a;
    ``Linked(ReLU(), (ReLU(), -1), Tanh())`` has three members. Members' params appear as
    "i.key" ("1.alpha"). ``expansion`` = d. Slower than the LK* classes (the members allocate their
    own outputs); use those in big networks.
    """

    def __init__(self, *members):
        if len(members) == 1 and isinstance(members[0], list):
            members = tuple(members[0])
        if not members:
            raise ValueError("Linked: give at least one member")
        self.members = [as_member(m, i) for i, m in enumerate(members)]
        super().__init__([m.layer for m in self.members])     # refuses a layer used twice
        self.expansion = len(self.members)

    @classmethod
    def mirror(cls, layer):
        """(g(z), g(−z)) with an independent copy of ``layer`` (its own params) as the mirror."""
        return cls(layer, Member(copy.deepcopy(layer), -1))

    @classmethod
    def min_max(cls):
        """(max(0, z), min(0, z)) — the paper's Figure 1a; min(0, z) = −relu(−z)."""
        return cls(ReLU(), Member(ReLU(), -1, -1))

    def forward(self, x, training=False):
        self.check_input(x)
        xp = B.get_array_module(x)
        N, C = x.shape[:2]
        y = xp.empty((N, self.expansion * C) + tuple(x.shape[2:]), dtype=x.dtype)   # N, dC, ...
        for i, m in enumerate(self.members):
            yi = m.layer.forward(x if m.input_sign > 0 else -x, training=training)  # g_i(r_i·z)
            if tuple(yi.shape) != tuple(x.shape):
                raise ValueError(f"Linked: member {i} ({m.layer.name}) changed the shape "
                                 f"{tuple(x.shape)} to {tuple(yi.shape)}; "
                                 "members must be elementwise")
            y[:, i * C:(i + 1) * C] = yi if m.output_sign > 0 else -yi               # s_i·g_i
        self.save_for_backward(C, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        C = self.saved(dy)
        dx = 0
        for i, m in enumerate(self.members):
            dy_i = dy[:, i * C:(i + 1) * C]
            dt = m.layer.backward(dy_i if m.output_sign > 0 else -dy_i)   # s_i·g_i'(r_i z)·dy_i
            dx = dx + dt if m.input_sign > 0 else dx - dt                 # times r_i (chain rule)
        return dx

    def __repr__(self):
        inner = ", ".join(repr(m.layer) if (m.input_sign, m.output_sign) == (1, 1)
                          else f"({m.layer!r}, {m.input_sign:+d}, {m.output_sign:+d})"
                          for m in self.members)
        return f"Linked({inner})"


def as_member(m, i) -> Member:
    """``m`` (a Layer, a Member or a tuple) as a checked Member; ``i`` names it in errors."""
    if isinstance(m, Layer):
        m = Member(m)
    elif isinstance(m, tuple) and 1 <= len(m) <= 3:
        m = Member(*m)
    else:
        raise TypeError(f"Linked: member {i} must be a Layer, a Member or a tuple "
                        f"(layer, input_sign[, output_sign]); got {m!r}")
    if not isinstance(m.layer, Layer):
        raise TypeError(f"Linked: member {i} has a {type(m.layer).__name__}, not a Layer")
    if m.layer.expansion != 1:
        raise ValueError(f"Linked: member {i} ({m.layer.name}) is itself linked; "
                         "give its single members instead")
    if m.input_sign not in (1, -1) or m.output_sign not in (1, -1):
        raise ValueError(f"Linked: member {i} signs must be +1 or -1, got "
                         f"({m.input_sign}, {m.output_sign})")
    return Member(m.layer, int(m.input_sign), int(m.output_sign))


def is_linked(layer) -> bool:
    """True when ``layer`` outputs more than one channel per input channel (``expansion`` > 1)."""
    return layer.expansion > 1
