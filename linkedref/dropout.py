"""Inverted dropout (Srivastava et al., 2014): zero a fraction p of activations while training.

Shapes: x (N, ...) → y (same shape). Any number of dimensions ≥ 2 ((N, D) or NCHW); every
element has its own keep/drop draw.

    training:  y = x · m / (1 − p),   m_i ~ Bernoulli(1 − p)   → E[y] = x
    inference: y = x                  (the 1/(1 − p) scaling while training makes this exact)
"""
from __future__ import annotations

import numbers

from . import backend as B
from .layer import Layer


class Dropout(Layer):
    """Inverted dropout with drop probability ``p`` (0 ≤ p < 1) and an explicit Generator.

    rng: a numpy Generator or int seed; every forward in training mode draws a new mask from it
    (``B.uniform``, on the input's device).

    cache: the scaled mask m / (1 − p) (same shape as x) while training; None at inference.
    """

    def __init__(self, p: float, rng=None):
        super().__init__()
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= float(p) < 1.0:
            raise ValueError(f"Dropout: p must be a number with 0 ≤ p < 1, got {p!r}")
        self.p = float(p)
        self.rng = B.as_generator(rng)

    def forward(self, x, training: bool = False):
        """x (N, ...) → y (same shape): masked and rescaled while training, x itself otherwise."""
        self.check_input(x, ndims=(2, 3, 4, 5))
        if not training or self.p == 0.0:
            y = x.copy()         # a new array: callers may write into y without touching x
            self.save_for_backward(None, output_shape=y.shape)      # no mask: dx = dy
            return y
        draws = B.uniform(self.rng, tuple(x.shape), dtype=x.dtype, like=x)   # U[0, 1), shape of x
        keep = draws >= self.p                                # m: P(keep) = 1 − p
        mask = keep.astype(x.dtype) / (1 - self.p)            # m / (1 − p), x's dtype
        y = x * mask
        self.save_for_backward(mask, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dy → dx (same shape).   y = x · s  ⇒  dL/dx = dy · s  (s = m/(1−p); 1 at inference)."""
        mask = self.saved(dy)
        return dy.copy() if mask is None else dy * mask

    def __repr__(self):
        return f"Dropout(p={self.p})"
