"""Dense (fully connected) layer: y = x W + b.

Shapes: x (N, in) → y (N, out); params W (in, out), b (out,).
W is drawn by ``linkedref.init`` (glorot_uniform by default, as in the paper's Keras code;
"looks_linear" for a layer fed by a mirror link); b starts at zero.
"""
from __future__ import annotations

from . import backend as B
from .init import initialize
from .layer import Layer, check_size


class Dense(Layer):
    """y = x W + b.   x: (N, in_features) → y: (N, out_features).

    Args:
        in_features, out_features: sizes of x's axis 1 and y's axis 1.
        init: an initializer name of ``linkedref.init.INITIALIZERS`` (default "glorot_uniform").
        bias: whether to add b (params then hold only W when False).
        rng: a numpy Generator or int seed for the initial W.

    cache: x (N, in). grads["W"], grads["b"] are overwritten in place by each backward.
    """

    def __init__(self, in_features: int, out_features: int, init: str = "glorot_uniform",
                 bias: bool = True, rng=None):
        super().__init__()
        self.in_features = check_size("Dense", "in_features", in_features)
        self.out_features = check_size("Dense", "out_features", out_features)
        self.init, self.bias = init, bool(bias)
        xp = B.xp()
        self.params["W"] = initialize(init, (self.in_features, self.out_features),
                                      self.in_features, self.out_features,
                                      B.as_generator(rng), dtype=self.dtype)
        if self.bias:
            self.params["b"] = xp.zeros(self.out_features, dtype=self.dtype)
        self.grads = {k: xp.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x, training: bool = False):
        """x (N, in) → y (N, out)."""
        self.check_input(x, ndims=(2,), channels=self.in_features)
        xp = B.get_array_module(x)
        y = xp.matmul(x, self.params["W"])                    # N, out
        if self.bias:
            y += self.params["b"]                             # broadcast over N
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dy (N, out) → dx (N, in), or None when not ``need_dx``; writes grads W (in, out)
        and b (out,).

        y = x W + b  ⇒  dL/dx = dy W^T,  dL/dW = x^T dy,  dL/db = Σ_n dy[n].
        """
        self.write_grads(dy, self.saved(dy))
        if not need_dx:
            return None
        return B.get_array_module(dy).matmul(dy, self.params["W"].T)      # N, in

    def write_grads(self, dy, x):
        """grads W (in, out) = x^T dy and b (out,) = Σ_n dy[n], in place where they fit."""
        xp, W = B.get_array_module(dy), self.params["W"]
        if self.grads["W"].shape == W.shape and self.grads["W"].dtype == x.dtype == dy.dtype:
            xp.matmul(x.T, dy, out=self.grads["W"])           # in, out — written in place
        else:
            self.grads["W"] = xp.matmul(x.T, dy)
        if self.bias:
            if self.grads["b"].dtype == dy.dtype:
                dy.sum(axis=0, out=self.grads["b"])           # out
            else:
                self.grads["b"] = dy.sum(axis=0)

    def __repr__(self):
        return (f"Dense({self.in_features}, {self.out_features}, init={self.init!r}"
                f"{'' if self.bias else ', bias=False'})")
