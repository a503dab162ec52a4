"""Linked units (Riera & Pujol, 2017): several activations of the same pre-activation z.

A linkage f(z) = (g_1(z), ..., g_d(z)) keeps a unit alive when, for every z, some member has a
non-zero derivative: then dL/dz = Σ_i dL/dg_i · g_i'(z) cannot vanish for all inputs at once.

Mirror links (the paper's experiments), on axis 1, first the unit, then its mirror:

    y = concat(g(z), g(−z))          (N, C, ...) → (N, 2C, ...)
    dz = dy_a · g'(z) − dy_b · g'(−z)     with dy = concat(dy_a, dy_b)

``LKReLU``, ``LKLeakyReLU``, ``LKPReLU`` (two independent slope sets), ``LKELU``, ``LKSELU``,
``LKSwish`` are the fast versions: forward allocates one output and writes both halves into it
with ufunc ``out=`` (no concatenate); backward is one line. Each caches the input z.

``Linked(...)`` links any elementwise activations (mirror, min-max, more than two members) at
the price of the members' own temporaries; ``check_linkage`` tests the linking condition
numerically; ``activation(name)`` builds any activation by name.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import NamedTuple

import numpy

from . import backend as B
from .activations import (ELU, SELU, SELU_ALPHA, SELU_LAMBDA, Activation, LeakyReLU, PReLU, ReLU,
                          Sigmoid, Swish, Tanh, _per_channel, _reduce_axes, elu_into, relu_into,
                          sigmoid, swish_into)
from .layer import Layer


# ------------------------------------------------------------------------ mirror-linked units
class _Mirror(Activation):
    """Base of the mirror links: one output (N, 2C, ...), halves written by ``_forward_into``."""

    expansion = 2

    def forward(self, x, training=False):
        self._check(x, channels=self._channels(x))
        xp = B.get_array_module(x)
        N, C = x.shape[:2]
        y = xp.empty((N, 2 * C) + tuple(x.shape[2:]), dtype=x.dtype)    # N, 2C, ...
        self._forward_into(x, y[:, :C], y[:, C:])
        self.cache = x
        return y

    def _channels(self, x):
        return None

    def _halves(self, dy):
        """(z, dy_a, dy_b): the cached input and the two halves of dy, after a shape check."""
        x = self.saved()
        C = x.shape[1]
        if tuple(dy.shape) != (x.shape[0], 2 * C) + tuple(x.shape[2:]):
            raise ValueError(f"{self.name}: dy has shape {tuple(dy.shape)}, expected the output's "
                             f"{(x.shape[0], 2 * C) + tuple(x.shape[2:])}")
        return x, dy[:, :C], dy[:, C:]


class LKReLU(_Mirror):
    """LK-ReLU (= CReLU): y = concat(relu(z), relu(−z)) on axis 1.   (N, C, ...) → (N, 2C, ...)

    g(z) = max(0, z), g'(z) = 1 (z > 0), 0 (z ≤ 0);   dz = dy_a·[z > 0] − dy_b·[z < 0].
    """

    def _forward_into(self, x, ya, yb):
        xp = B.get_array_module(x)
        relu_into(x, ya)                  # relu(z)
        xp.subtract(ya, x, out=yb)        # relu(−z) = relu(z) − z  (exact: one term is 0)

    def backward(self, dy):
        x, dy_a, dy_b = self._halves(dy)
        return dy_a * (x > 0) - dy_b * (x < 0)          # dz = dy_a·g'(z) − dy_b·g'(−z)


class LKLeakyReLU(_Mirror):
    """LK-LeakyReLU: y = concat(g(z), g(−z)), g(z) = max(z, αz), 0 ≤ α ≤ 1 (default 0.01).

    g'(z) = 1 (z > 0), α (z ≤ 0);   dz = dy_a·g'(z) − dy_b·g'(−z).   (N, C, ...) → (N, 2C, ...)
    """

    def __init__(self, alpha=0.01):
        super().__init__()
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"LKLeakyReLU: alpha must lie in [0, 1], got {alpha}")
        self.alpha = float(alpha)

    def _forward_into(self, x, ya, yb):
        xp = B.get_array_module(x)
        xp.multiply(x, -self.alpha, out=ya)   # scratch: −αz
        xp.negative(x, out=yb)
        xp.maximum(yb, ya, out=yb)            # g(−z) = max(−z, −αz)
        xp.multiply(x, self.alpha, out=ya)
        xp.maximum(x, ya, out=ya)             # g(z) = max(z, αz)

    def backward(self, dy):
        x, dy_a, dy_b = self._halves(dy)
        xp = B.get_array_module(dy)
        # g'(z) = 1 (z > 0), α (z ≤ 0) = max([z > 0], α);  g'(−z) = max([z < 0], α)  (0 ≤ α ≤ 1)
        slope_a = (x > 0).astype(dy.dtype)
        xp.maximum(slope_a, self.alpha, out=slope_a)
        slope_b = (x < 0).astype(dy.dtype)
        xp.maximum(slope_b, self.alpha, out=slope_b)
        slope_a *= dy_a
        slope_b *= dy_b
        return xp.subtract(slope_a, slope_b, out=slope_a)   # dz = dy_a·g'(z) − dy_b·g'(−z)

    def __repr__(self):
        return f"LKLeakyReLU(alpha={self.alpha})"


class LKPReLU(_Mirror):
    """LK-PReLU: y = concat(prelu_a(z), prelu_b(−z)) with two INDEPENDENT slope sets a, b.

    prelu_a(t) = t (t > 0), a_c·t (t ≤ 0). Shapes: x (N, C, ...) → y (N, 2C, ...);
    ``params["alpha"]`` = a and ``params["alpha_mirror"]`` = b, each (C,), created on the first
    forward on x's device (or at construction, on the active backend, when ``channels`` is given)
    in ``self.dtype``.

    dz  = dy_a·(1 if z > 0 else a_c) − dy_b·(1 if z < 0 else b_c)
    ∂L/∂a_c = Σ dy_a·min(z, 0);   ∂L/∂b_c = Σ dy_b·min(−z, 0) = −Σ dy_b·max(z, 0)
    """

    def __init__(self, init=0.25, init_mirror=None, channels=None):
        super().__init__()
        self.init = float(init)
        self.init_mirror = self.init if init_mirror is None else float(init_mirror)
        if channels is not None:
            self._build(int(channels), B.xp())

    def _build(self, channels, xp):
        for key, value in (("alpha", self.init), ("alpha_mirror", self.init_mirror)):
            self.params[key] = xp.full((channels,), value, dtype=self.dtype)
            self.grads[key] = xp.zeros((channels,), dtype=self.dtype)

    def _channels(self, x):
        if not self.params:                               # first forward: size the slopes
            self._check(x)
            if x.dtype != self.dtype:
                raise TypeError(f"{self.name}: input dtype {x.dtype} differs from the parameters' "
                                f"dtype {self.dtype}; cast the input or call .astype()")
            self._build(x.shape[1], B.get_array_module(x))      # on the device x lives on
        return self.params["alpha"].shape[0]

    def _forward_into(self, x, ya, yb):
        xp = B.get_array_module(x)
        a = _per_channel(self.params["alpha"], x.ndim)           # 1, C, 1, ...
        b = _per_channel(self.params["alpha_mirror"], x.ndim)
        relu_into(x, yb)                     # scratch: max(z, 0)
        m = x - yb                           # N, C, ...: min(z, 0)  (the one temporary; exact)
        xp.multiply(m, a, out=ya)
        ya += yb                             # prelu_a(z) = max(z, 0) + a·min(z, 0)
        yb *= -b
        yb -= m                              # prelu_b(−z) = max(−z, 0) + b·min(−z, 0)
                                             #             = −min(z, 0) − b·max(z, 0)

    def backward(self, dy):
        x, dy_a, dy_b = self._halves(dy)
        xp = B.get_array_module(dy)
        a = _per_channel(self.params["alpha"], x.ndim)
        b = _per_channel(self.params["alpha_mirror"], x.ndim)
        axes = _reduce_axes(x.ndim)
        p = relu_into(x, xp.empty_like(x))              # N, C, ...: max(z, 0)
        self.grads["alpha"][...] = (dy_a * (x - p)).sum(axis=axes)      # Σ dy_a·min(z, 0)
        self.grads["alpha_mirror"][...] = -(dy_b * p).sum(axis=axes)    # −Σ dy_b·max(z, 0)
        pos, neg = x > 0, x < 0
        # prelu_a'(z) = 1 (z > 0), a (z ≤ 0);  prelu_b'(−z) = 1 (z < 0), b (z ≥ 0)
        return dy_a * (pos + a * ~pos) - dy_b * (neg + b * ~neg)

    def __repr__(self):
        return f"LKPReLU(init={self.init}, init_mirror={self.init_mirror})"


class LKELU(_Mirror):
    """LK-ELU: y = concat(elu(z), elu(−z)).   (N, C, ...) → (N, 2C, ...)

    g(t) = s·t (t > 0), s·α(e^t − 1) (t ≤ 0), with s = 1 (s = λ for LK-SELU);
    g'(z) = s (z > 0), s·α·e^{−|z|} (z ≤ 0);  g'(−z) = s (z < 0), s·α·e^{−|z|} (z ≥ 0);
    dz = dy_a·g'(z) − dy_b·g'(−z).
    """

    scale = 1.0

    def __init__(self, alpha=1.0):
        super().__init__()
        if not float(alpha) > 0:
            raise ValueError(f"{self.name}: alpha must be positive, got {alpha}")
        self.alpha = float(alpha)

    def _forward_into(self, x, ya, yb):
        xp = B.get_array_module(x)
        xp.negative(x, out=ya)                           # scratch: −z
        elu_into(ya, yb, self.alpha, self.scale)         # g(−z)
        elu_into(x, ya, self.alpha, self.scale)          # g(z)

    def backward(self, dy):
        x, dy_a, dy_b = self._halves(dy)
        xp = B.get_array_module(dy)
        s = self.scale
        pos, neg = x > 0, x < 0
        e = xp.exp(-xp.abs(x))                           # N, C, ...: e^{−|z|}
        e *= s * self.alpha                              # g' off the linear side, for both halves
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


class LKSwish(_Mirror):
    """LK-Swish: y = concat(swish(z), swish(−z)), swish(t) = t·σ(t).   (N, C, ...) → (N, 2C, ...)

    With s = σ(z) (so σ(−z) = 1 − s):  g'(z) = s(1 + z(1 − s)),  g'(−z) = (1 − s)(1 − z·s);
    dz = dy_a·g'(z) − dy_b·g'(−z).
    """

    def _forward_into(self, x, ya, yb):
        xp = B.get_array_module(x)
        xp.negative(x, out=ya)                           # scratch: −z
        swish_into(ya, yb)                               # g(−z)
        swish_into(x, ya)                                # g(z)

    def backward(self, dy):
        x, dy_a, dy_b = self._halves(dy)
        s = sigmoid(x)                                   # N, C, ...
        # dz = dy_a·g'(z) − dy_b·g'(−z)
        return dy_a * (s * (1 + x * (1 - s))) - dy_b * ((1 - s) * (1 - x * s))


# ------------------------------------------------------------------------- general linkage
class Member(NamedTuple):
    """One member of a ``Linked`` unit: g(z) = output_sign · layer(input_sign · z).

    ``layer``: an elementwise activation (shape-preserving, ``expansion`` 1), its own instance;
    the signs are +1 or −1. The mirror of g is ``Member(g, -1)``; min(0, z) = ``Member(ReLU(), -1, -1)``.
    """
    layer: Layer
    input_sign: int = 1
    output_sign: int = 1


class Linked(Activation):
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
        super().__init__()
        if len(members) == 1 and isinstance(members[0], list):
            members = tuple(members[0])
        if not members:
            raise ValueError("Linked: give at least one member")
        self.members = [self._member(m, i) for i, m in enumerate(members)]
        ids = [id(m.layer) for m in self.members]
        if len(set(ids)) != len(ids):
            raise ValueError("Linked: the same layer object appears twice; each member needs its "
                             "own instance (their caches would collide) — use copy.deepcopy")
        self.expansion = len(self.members)

    @staticmethod
    def _member(m, i):
        if isinstance(m, Layer):
            m = Member(m)
        elif isinstance(m, tuple) and 1 <= len(m) <= 3:
            m = Member(*m)
        else:
            raise TypeError(f"Linked: member {i} must be a Layer, a Member or a tuple "
                            f"(layer, input_sign[, output_sign]); got {m!r}")
        if not isinstance(m.layer, Layer):
            raise TypeError(f"Linked: member {i} has a {type(m.layer).__name__}, not a Layer")
        if getattr(m.layer, "expansion", 1) != 1:
            raise ValueError(f"Linked: member {i} ({m.layer.name}) is itself linked; "
                             "give its single members instead")
        if m.input_sign not in (1, -1) or m.output_sign not in (1, -1):
            raise ValueError(f"Linked: member {i} signs must be +1 or -1, got "
                             f"({m.input_sign}, {m.output_sign})")
        return Member(m.layer, int(m.input_sign), int(m.output_sign))

    @classmethod
    def mirror(cls, layer):
        """(g(z), g(−z)) with an independent copy of ``layer`` (its own params) as the mirror."""
        return cls(layer, Member(copy.deepcopy(layer), -1))

    @classmethod
    def min_max(cls):
        """(max(0, z), min(0, z)) — the paper's Figure 1a; min(0, z) = −relu(−z)."""
        return cls(ReLU(), Member(ReLU(), -1, -1))

    # params/grads/buffers are the members', keyed "i.key" (as in Sequential)
    def children(self):
        return [m.layer for m in self.members]

    def _merged(self, attr):
        return {f"{i}.{k}": v for i, m in enumerate(self.members)
                for k, v in getattr(m.layer, attr).items()}

    params = property(lambda self: self._merged("params"), lambda self, value: None)
    grads = property(lambda self: self._merged("grads"), lambda self, value: None)
    buffers = property(lambda self: self._merged("buffers"), lambda self, value: None)

    def forward(self, x, training=False):
        self._check(x)
        xp = B.get_array_module(x)
        N, C = x.shape[:2]
        y = xp.empty((N, self.expansion * C) + tuple(x.shape[2:]), dtype=x.dtype)   # N, dC, ...
        neg = -x if any(m.input_sign < 0 for m in self.members) else None
        for i, m in enumerate(self.members):
            t = x if m.input_sign > 0 else neg
            yi = m.layer.forward(t, training=training)
            if tuple(yi.shape) != tuple(x.shape):
                raise ValueError(f"Linked: member {i} ({m.layer.name}) changed the shape "
                                 f"{tuple(x.shape)} to {tuple(yi.shape)}; members must be elementwise")
            out = y[:, i * C:(i + 1) * C]
            if m.output_sign > 0:
                out[...] = yi
            else:
                xp.negative(yi, out=out)
        self.cache = (tuple(x.shape), x.dtype)
        return y

    def backward(self, dy):
        shape, dtype = self.saved()
        xp = B.get_array_module(dy)
        C = shape[1]
        out_shape = (shape[0], self.expansion * C) + tuple(shape[2:])
        if tuple(dy.shape) != out_shape:
            raise ValueError(f"Linked: dy has shape {tuple(dy.shape)}, expected the output's "
                             f"{out_shape}")
        dx = xp.zeros(shape, dtype=dy.dtype)                    # N, C, ...
        for i, m in enumerate(self.members):
            dy_i = dy[:, i * C:(i + 1) * C]
            dt = m.layer.backward(dy_i if m.output_sign > 0 else -dy_i)   # s_i·g_i'(r_i z)·dy_i
            if m.input_sign > 0:                                          # times r_i (chain rule)
                dx += dt
            else:
                dx -= dt
        return dx

    def __repr__(self):
        inner = ", ".join(repr(m.layer) if (m.input_sign, m.output_sign) == (1, 1)
                          else f"({m.layer!r}, {m.input_sign:+d}, {m.output_sign:+d})"
                          for m in self.members)
        return f"Linked({inner})"


# --------------------------------------------------------------------------- linkage checker
@dataclass
class LinkageCheck:
    """The result of ``check_linkage``: truthy when the linking condition holds everywhere.

    ``z``: the points checked; ``slopes``: the finite-difference derivative of each member,
    (len(z), d) — or (len(z), d, C) for a layer with C per-channel parameters; ``failures``: the
    z values at which no member's |slope| exceeds ``tol``.
    """
    ok: bool
    failures: numpy.ndarray
    z: numpy.ndarray
    slopes: numpy.ndarray
    tol: float

    def __bool__(self):
        return bool(self.ok)

    def __repr__(self):
        if self.ok:
            return (f"LinkageCheck(ok=True: some member has |g'| > {self.tol:g} at all {self.z.size} "
                    f"z in [{self.z.min():g}, {self.z.max():g}])")
        return (f"LinkageCheck(ok=False: every member's |g'| ≤ {self.tol:g} at {self.failures.size} of "
                f"{self.z.size} z, within [{self.failures.min():g}, {self.failures.max():g}])")


def _layer_columns(layer):
    """A function z (n,) → member outputs (n, d, C) for a layer (float64 copy, on the backend)."""
    probe = copy.deepcopy(layer).astype("float64")
    d = getattr(probe, "expansion", 1)
    C = next(iter(probe.params.values())).shape[0] if probe.params else 1

    def columns(z):
        x = B.asarray(numpy.repeat(z[:, None], C, axis=1), dtype="float64")   # n, C
        y = B.to_numpy(probe.forward(x, training=False))                     # n, d·C
        return y.reshape(z.size, d, C)
    return columns


def _function_columns(functions):
    """A function z (n,) → (n, d, 1) from a list of scalar functions (or single-activation layers)."""
    fs = []
    for i, f in enumerate(functions):
        if isinstance(f, Layer):
            if getattr(f, "expansion", 1) != 1:
                raise ValueError(f"check_linkage: item {i} ({f.name}) is linked; pass it on its own")
            layer_fn = _layer_columns(f)
            fs.append(lambda z, g=layer_fn: g(z)[:, 0, :])
        elif callable(f):
            fs.append(lambda z, g=f: numpy.asarray(B.to_numpy(g(z)), dtype=numpy.float64)
                      .reshape(z.size, -1))
        else:
            raise TypeError(f"check_linkage: item {i} is a {type(f).__name__}, not a function")

    def columns(z):
        return numpy.stack([f(z) for f in fs], axis=1)         # n, d, C
    return columns


def check_linkage(linkage, z=None, *, z_range=(-5.0, 5.0), num=2001, tol=1e-6, eps=1e-5):
    """Check numerically that for every z some member of ``linkage`` has a non-zero derivative.

    Args:
        linkage: a linked layer (``Linked``, ``LKReLU``, ...; also a single activation, d = 1),
            or a list of scalar functions g_i(z) of a float64 array (single activation layers
            allowed in the list).
        z: the points to check (default: ``num`` points evenly over ``z_range``).
        tol: a derivative with |g_i'(z)| ≤ tol counts as zero.
        eps: the step of the central difference g_i'(z) ≈ (g_i(z + eps) − g_i(z − eps)) / 2eps,
            computed from forward values only, independent of any backward code. (At a kink the
            central difference averages the one-sided slopes: relu'(0) ≈ 1/2.)

    Layers are probed on a float64 copy (the layer itself is not touched); a layer with
    per-channel parameters is checked channel by channel, and z fails if any channel fails.

    Returns:
        a ``LinkageCheck``, truthy when the condition holds at every z; ``.failures`` lists the
        z where it does not. Example: ``check_linkage([relu, relu])`` fails for every z < 0.
    """
    if not (tol > 0 and eps > 0):
        raise ValueError(f"check_linkage: tol and eps must be positive, got tol={tol}, eps={eps}")
    if z is None:
        z = numpy.linspace(float(z_range[0]), float(z_range[1]), int(num))
    z = numpy.asarray(B.to_numpy(z), dtype=numpy.float64).ravel()
    if z.size == 0:
        raise ValueError("check_linkage: no z values to check")
    if isinstance(linkage, Layer):
        columns = _layer_columns(linkage)
    elif isinstance(linkage, (list, tuple)) and linkage:
        columns = _function_columns(linkage)
    else:
        raise TypeError("check_linkage: expected a linked layer or a non-empty list of functions, "
                        f"got {type(linkage).__name__}")
    slopes = (columns(z + eps) - columns(z - eps)) / (2 * eps)       # n, d, C
    alive = (numpy.abs(slopes) > tol).any(axis=1).all(axis=1)        # n
    if slopes.shape[2] == 1:
        slopes = slopes[:, :, 0]
    return LinkageCheck(ok=bool(alive.all()), failures=z[~alive], z=z, slopes=slopes, tol=tol)


# ----------------------------------------------------------------------------- by name
_CLASSES = {
    "relu": ReLU, "leaky_relu": LeakyReLU, "prelu": PReLU, "elu": ELU, "selu": SELU,
    "swish": Swish, "tanh": Tanh, "sigmoid": Sigmoid,
    "lkrelu": LKReLU, "lkleaky_relu": LKLeakyReLU, "lkprelu": LKPReLU, "lkelu": LKELU,
    "lkselu": LKSELU, "lkswish": LKSwish,
}
ACTIVATIONS = tuple(_CLASSES)


def activation(name, **kwargs):
    """A new activation layer by name: one of ``ACTIVATIONS`` ("relu", ..., "lkswish").

    Case, "-" for "_", and an "lk_" prefix ("lk_relu", "LK-ReLU") are accepted; keyword arguments
    go to the constructor (``activation("leaky_relu", alpha=0.1)``).
    """
    if not isinstance(name, str):
        raise TypeError(f"activation: expected a name (str), got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key.startswith("lk_"):
        key = "lk" + key[3:]
    if key not in _CLASSES:
        raise ValueError(f"activation: unknown name {name!r}; known: {', '.join(ACTIVATIONS)}")
    return _CLASSES[key](**kwargs)


def is_linked(layer) -> bool:
    """True when ``layer`` outputs more than one channel per input channel (``expansion`` > 1)."""
    return getattr(layer, "expansion", 1) > 1
