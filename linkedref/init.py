"""Weight initializers: drawn on the host in float64 from an explicit Generator, then moved.

Every initializer has the signature ``f(shape, fan_in, fan_out, rng) -> numpy float64 array``;
``initialize(name, ...)`` looks one up by name and returns an array of the *active* backend in
the requested dtype (the default dtype unless told). Drawing on the host keeps a seed's result
the same on NumPy and CuPy.

Weight layouts and fans (``compute_fans`` below):

- Dense  ``W`` (in, out):              fan_in = in,          fan_out = out
- Conv2D ``W`` (out, in, kh, kw):      fan_in = in·kh·kw,    fan_out = out·kh·kw   (as Keras)

The formulas are Keras 2's (which the paper used), each in its function's docstring;
``glorot_uniform`` is the default of Dense and Conv2D, as in the paper's code.

``looks_linear`` (Balduzzi et al., 2017) is for a layer fed by a mirror link
(LK-ReLU = concat(relu(z), relu(−z)) on axis 1). Its input features/channels are
[unit half; mirror half] (first C, then C), so we set the weights of the mirror half to the
*negative* of the unit half's:  W = [W0; −W0] along the input axis. Then, at initialisation,

    W^T [relu(z); relu(−z)] = W0^T (relu(z) − relu(−z)) = W0^T z,

i.e. the linked layer plus this one is exactly the linear map W0^T: a deep net of them
"looks linear" at the start and trains without vanishing signal. W0 is orthogonal (QR of a
Gaussian, sign-corrected, as Keras's ``Orthogonal``), so W0^T preserves norms (gain 1).
"""
from __future__ import annotations

import numpy

from . import backend as B

_TRUNC_STD = 0.87962566103423978   # std of a standard normal truncated to [−2, 2]


def compute_fans(shape) -> tuple:
    """(fan_in, fan_out) of a Dense (in, out) or Conv2D (out, in, kh, kw) weight shape."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        receptive = shape[2] * shape[3]
        return shape[1] * receptive, shape[0] * receptive
    raise ValueError(f"init.compute_fans: expected a 2D (in, out) or 4D (out, in, kh, kw) shape, "
                     f"got {shape}")


def _truncated_normal(shape, std, rng):
    """Keras's truncated normal: N(0, 1) redrawn outside [−2, 2], rescaled to have std ``std``."""
    v = rng.standard_normal(shape)
    bad = numpy.abs(v) > 2
    while bad.any():                       # host-side rejection; ~4.6% redrawn each round
        v[bad] = rng.standard_normal(int(bad.sum()))
        bad = numpy.abs(v) > 2
    return v * (std / _TRUNC_STD)


def glorot_uniform(shape, fan_in, fan_out, rng):
    """U(−a, a), a = sqrt(6 / (fan_in + fan_out)): std sqrt(2 / (fan_in + fan_out)), as
    glorot_normal's (Glorot & Bengio, 2010)."""
    limit = numpy.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def glorot_normal(shape, fan_in, fan_out, rng):
    """Truncated normal with std sqrt(2 / (fan_in + fan_out))."""
    return _truncated_normal(shape, numpy.sqrt(2.0 / (fan_in + fan_out)), rng)


def he_normal(shape, fan_in, fan_out, rng):
    """Truncated normal with std sqrt(2 / fan_in) (He et al., 2015)."""
    return _truncated_normal(shape, numpy.sqrt(2.0 / fan_in), rng)


def lecun_normal(shape, fan_in, fan_out, rng):
    """Truncated normal with std sqrt(1 / fan_in) (LeCun et al., 1998; SELU's init)."""
    return _truncated_normal(shape, numpy.sqrt(1.0 / fan_in), rng)


def orthogonal(rows, cols, rng):
    """A (rows, cols) matrix with orthonormal columns (rows ≥ cols) or rows (rows < cols)."""
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = numpy.linalg.qr(a)
    q = q * numpy.sign(numpy.diag(r))      # make the decomposition unique (uniform over O(n))
    return q if rows >= cols else q.T


def looks_linear(shape, fan_in, fan_out, rng, in_axis=None):
    """W = [W0; −W0] along the input axis, W0 orthogonal (see the module docstring).

    shape: (in, out) for Dense (input axis 0) or (out, in, kh, kw) for Conv2D (input axis 1),
    unless ``in_axis`` says; the input size must be even. fan_in, fan_out: unused (W0 needs no
    scale), taken for the initializers' common signature.
    """
    shape = tuple(int(s) for s in shape)
    if in_axis is None:
        if len(shape) not in (2, 4):
            raise ValueError(f"init.looks_linear: expected a 2D (in, out) or 4D (out, in, kh, kw) "
                             f"shape, or an explicit in_axis; got {shape}")
        in_axis = 0 if len(shape) == 2 else 1
    n_in = shape[in_axis]
    if n_in % 2:
        raise ValueError(f"init.looks_linear: the input size {n_in} (axis {in_axis} of {shape}) "
                         f"must be even: the layer must be fed by a mirror link [unit; mirror]")
    half = list(shape)
    half[in_axis] = n_in // 2
    # W0 as a matrix (inputs of one half, times the other non-output axes) x (outputs),
    # laid out [C, rest..., out] and then moved to the weight's own axis order.
    out_axis = 1 if in_axis == 0 else 0
    rest = [s for i, s in enumerate(half) if i not in (in_axis, out_axis)]
    n_out = shape[out_axis]
    q = orthogonal(int(numpy.prod(half)) // n_out, n_out, rng)   # (C·prod(rest), out)
    w0 = numpy.moveaxis(q.reshape([half[in_axis], *rest, n_out]), [0, -1], [in_axis, out_axis])
    return numpy.ascontiguousarray(numpy.concatenate([w0, -w0], axis=in_axis))


INITIALIZERS = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_normal": he_normal,
    "lecun_normal": lecun_normal,
    "looks_linear": looks_linear,
}


def initialize(name, shape, fan_in, fan_out, rng, dtype=None, in_axis=None):
    """Draw the initializer ``name`` (a key of INITIALIZERS) as an array of the active backend.

    fan_in, fan_out: see ``compute_fans``; rng: a numpy Generator or an int seed; dtype: the
    default dtype unless given; in_axis: looks_linear's input axis (default 0 for 2D, 1 for 4D).
    """
    if name not in INITIALIZERS:
        raise ValueError(f"init: unknown initializer {name!r}; "
                         f"expected one of {sorted(INITIALIZERS)}")
    rng = B.as_generator(rng)
    dtype = B.resolve_dtype(dtype or B.get_default_dtype())
    if name == "looks_linear":
        w = looks_linear(shape, fan_in, fan_out, rng, in_axis=in_axis)
    else:
        w = INITIALIZERS[name](tuple(shape), fan_in, fan_out, rng)
    return B.asarray(numpy.ascontiguousarray(w), dtype=dtype)   # C order: views reshape in place
