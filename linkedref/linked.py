"""Linked units (Riera & Pujol, 2017): one pre-activation z feeds several activations.

The paper's mirror link concatenates an activation g and its mirror, on axis 1:

    y  = concat(g(z), g(−z))                 (N, C, ...) → (N, 2C, ...)
    dz = dy_a · g'(z) − dy_b · g'(−z)        dy = concat(dy_a, dy_b)

The minus sign is the chain rule: the mirror is y_b = g(u) with u = −z, so
dy_b/dz = g'(u)·du/dz = −g'(−z). For every z one of g'(z), g'(−z) is non-zero (for ReLU:
z > 0 or z < 0), so the unit's weights always receive a gradient and the unit cannot die.
``LKReLU`` is the paper's LK-ReLU; the other mirror links follow its shape with the g of
``activations.py``. ``Linked`` links any elementwise activations (min-max, three members, ...).

At a kink (z = 0) a backward takes g's slope on the z ≤ 0 side, as the single units do; the
gradient checks steer their inputs away from kinks (``gradcheck.away_from_kinks``). Each
backward names the tests and the cases of ``linkedref/gradcheck/cases_activations.py`` (run by
``python -m linkedref.gradcheck``) that hold it.
"""
from __future__ import annotations

import copy
import warnings
from typing import NamedTuple

from . import backend as B
from . import fast
from .activations import (
    SELU_ALPHA,
    SELU_LAMBDA,
    Activation,
    ReLU,
    check_alpha,
    elu,
    elu_slope,
    leaky_relu,
    per_channel,
    prelu,
    prelu_slope,
    reduce_axes,
    swish,
    swish_slope,
)
from .layer import Container, Layer
from .linkage import not_an_activation


def halves(dy):
    """(dy_a, dy_b): the gradient of the unit half and of the mirror half of (N, 2C, ...)."""
    C = dy.shape[1] // 2
    return dy[:, :C], dy[:, C:]


class LKReLU(Activation):
    """LK-ReLU (= CReLU): y = concat(relu(z), relu(−z)) on axis 1.   (N, C, ...) → (N, 2C, ...)

    y comes from ``fast.crelu``, held equal to the plain ``Linked.mirror(ReLU())`` by a test.
    Cache: the masks z > 0 and z < 0, all backward needs.
    """

    expansion = 2

    def forward(self, x, training=False):
        self.check_input(x)
        y = fast.crelu(x)                       # concat(relu(z), relu(−z)): N, 2C, ...
        self.save_for_backward((x > 0, x < 0), output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dz = dy_a·[z > 0] − dy_b·[z < 0].

        relu'(t) = [t > 0] (0 at t = 0). Unit: d relu(z)/dz = [z > 0]. Mirror, by the chain
        rule with u = −z: d relu(−z)/dz = −relu'(−z) = −[−z > 0] = −[z < 0]. At z = 0 both
        are 0 (the one point where the link passes no gradient; it has measure zero).
        Held by the cases "LKReLU (2D)", "LKReLU (4D)" and tests/test_linked.py::
        test_lkrelu_backward_is_the_crelu_one_liner, test_mirror_classes_equal_general_linked.
        """
        pos, neg = self.saved(dy)                  # [z > 0], [z < 0]: N, C, ...
        dy_a, dy_b = halves(dy)
        return dy_a * pos - dy_b * neg


class LKLeakyReLU(Activation):
    """LK-LeakyReLU: y = concat(g(z), g(−z)), g(t) = max(t, αt), 0 ≤ α ≤ 1 (default 0.01).

    (N, C, ...) → (N, 2C, ...). Cache: the input z.
    """

    expansion = 2

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = check_alpha(self.name, alpha, at_most_one=True)

    def forward(self, x, training=False):
        self.check_input(x)
        alpha = self.alpha
        y = B.get_array_module(x).concatenate([leaky_relu(x, alpha), leaky_relu(-x, alpha)], axis=1)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dz = dy_a·g'(z) − dy_b·g'(−z), g'(t) = 1 (t > 0), α (t ≤ 0).

        Mirror by the chain rule: d g(−z)/dz = −g'(−z), and g'(−z) = 1 (z < 0), α (z ≥ 0).
        At z = 0 both slopes are α: dz = α·(dy_a − dy_b).
        Held by the cases "LKLeakyReLU (2D)", "LKLeakyReLU (4D)" and tests/test_linked.py::
        test_lk_leaky_relu_backward_for_any_alpha (z = 0 included).
        """
        z = self.saved(dy)
        dy_a, dy_b = halves(dy)
        return dy_a * prelu_slope(z, self.alpha) - dy_b * prelu_slope(-z, self.alpha)

    def __repr__(self):
        return f"LKLeakyReLU(alpha={self.alpha})"


class LKPReLU(Activation):
    """LK-PReLU: y = concat(prelu_a(z), prelu_b(−z)) with two INDEPENDENT slope sets a, b.

    prelu_a(t) = t (t > 0), a_c·t (t ≤ 0) = max(t, 0) + a_c·min(t, 0). Shapes: x (N, C, ...) →
    y (N, 2C, ...); ``params["alpha"]`` = a and ``params["alpha_mirror"]`` = b, each (C,) and
    created as ``PReLU``'s slopes are. Cache: the input z.
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
        y = B.get_array_module(x).concatenate([prelu(x, a), prelu(-x, b)], axis=1)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dz, ∂L/∂a and ∂L/∂b, with y_a = prelu_a(z), y_b = prelu_b(−z), both (N, C, ...).

        dz:  ∂y_a/∂z = prelu_a'(z) = 1 (z > 0), a_c (z ≤ 0). The mirror by the chain rule with
             u = −z: ∂y_b/∂z = prelu_b'(u)·du/dz = −prelu_b'(−z), where prelu_b'(−z) = 1 (z < 0),
             b_c (z ≥ 0). So dz = dy_a·(p + a_c(1 − p)) − dy_b·(q + b_c(1 − q)), p = [z > 0],
             q = [z < 0]; at z = 0 (both on their t ≤ 0 side) dz = a_c·dy_a − b_c·dy_b.
        a:   a_c enters every y_a[n, c, p] (sample n, position p) as ∂y_a/∂a_c = min(z, 0), so
             ∂L/∂a_c = Σ_n Σ_p dy_a[n, c, p]·min(z[n, c, p], 0).
        b:   likewise ∂y_b/∂b_c = min(−z, 0) = −max(z, 0), so ∂L/∂b_c = −Σ_n Σ_p dy_b·max(z, 0).
        Held by the cases "LKPReLU (2D)", "LKPReLU (4D)", "LKPReLU (random independent slopes,
        2D)" and "... 4D)" (a ≠ b: swapped slope sets fail them) and tests/test_linked.py::
        test_lkprelu_two_independent_slope_sets.
        """
        z = self.saved(dy)
        dy_a, dy_b = halves(dy)
        xp = B.get_array_module(z)
        a = per_channel(self.params["alpha"], z.ndim)
        b = per_channel(self.params["alpha_mirror"], z.ndim)
        self.grads["alpha"] = (dy_a * xp.minimum(z, 0)).sum(axis=reduce_axes(z.ndim))     # C
        self.grads["alpha_mirror"] = -(dy_b * xp.maximum(z, 0)).sum(axis=reduce_axes(z.ndim))
        return dy_a * prelu_slope(z, a) - dy_b * prelu_slope(-z, b)

    def __repr__(self):
        return f"LKPReLU(init={self.init}, init_mirror={self.init_mirror})"


class LKELU(Activation):
    """LK-ELU: y = concat(g(z), g(−z)), g = elu with scale s (1; λ for LK-SELU).

    g(t) = s·t (t > 0), s·α(e^t − 1) (t ≤ 0).   (N, C, ...) → (N, 2C, ...). Cache: the input z.
    """

    expansion = 2
    scale = 1.0

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = check_alpha(self.name, alpha)

    def forward(self, x, training=False):
        self.check_input(x)
        s, alpha = self.scale, self.alpha
        y = B.get_array_module(x).concatenate([elu(x, alpha, s), elu(-x, alpha, s)], axis=1)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dz = dy_a·g'(z) − dy_b·g'(−z), g'(t) = s (t > 0), s·α·e^t (t ≤ 0).

        Mirror by the chain rule: d g(−z)/dz = −g'(−z), with g'(−z) = s (z < 0), s·α·e^−z
        (z ≥ 0). At z = 0 both slopes are s·α (= s for α = 1: no kink there).
        Held by the cases "LKELU (2D)", "LKELU (4D)", "LKSELU (2D)", "LKSELU (4D)" and
        tests/test_linked.py::test_mirror_classes_equal_general_linked.
        """
        z = self.saved(dy)
        dy_a, dy_b = halves(dy)
        alpha, s = self.alpha, self.scale
        return dy_a * elu_slope(z, alpha, s) - dy_b * elu_slope(-z, alpha, s)

    def __repr__(self):
        return f"LKELU(alpha={self.alpha})"


class LKSELU(LKELU):
    """LK-SELU: y = concat(selu(z), selu(−z)): LK-ELU with α = SELU_ALPHA, s = λ = SELU_LAMBDA.

    (N, C, ...) → (N, 2C, ...)
    """

    scale = SELU_LAMBDA

    def __init__(self):
        super().__init__(alpha=SELU_ALPHA)

    def __repr__(self):
        return "LKSELU()"


class LKSwish(Activation):
    """LK-Swish: y = concat(swish(z), swish(−z)), swish(t) = t·σ(t).   (N, C, ...) → (N, 2C, ...)

    Cache: the input z.
    """

    expansion = 2

    def forward(self, x, training=False):
        self.check_input(x)
        y = B.get_array_module(x).concatenate([swish(x), swish(-x)], axis=1)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dz = dy_a·swish'(z) − dy_b·swish'(−z), swish'(t) = σ(t)·(1 + t(1 − σ(t))).

        Mirror by the chain rule: d swish(−z)/dz = −swish'(−z). Smooth: no convention at 0.
        Held by the cases "LKSwish (2D)", "LKSwish (4D)" and tests/test_linked.py::
        test_mirror_classes_equal_general_linked.
        """
        z = self.saved(dy)
        dy_a, dy_b = halves(dy)
        return dy_a * swish_slope(z) - dy_b * swish_slope(-z)


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
    "i.key" ("1.alpha"). ``expansion`` = d. Members should be ``lk.Activation`` units.
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
        ys = []
        for i, m in enumerate(self.members):
            yi = m.layer.forward(x if m.input_sign > 0 else -x, training=training)  # g_i(r_i·z)
            if tuple(yi.shape) != tuple(x.shape):
                raise ValueError(f"Linked: member {i} ({m.layer.name}) changed the shape "
                                 f"{tuple(x.shape)} to {tuple(yi.shape)}; "
                                 "members must be elementwise")
            ys.append(yi if m.output_sign > 0 else -yi)                               # s_i·g_i
        y = B.get_array_module(x).concatenate(ys, axis=1)                           # N, dC, ...
        self.save_for_backward(x.shape[1], output_shape=y.shape)
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
    if not isinstance(m.layer, Activation):
        warnings.warn(not_an_activation("Linked", f"member {i} ({m.layer.name})",
                                        "check_linkage and dead_units cannot judge it"),
                      stacklevel=3)
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
