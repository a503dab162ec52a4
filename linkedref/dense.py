"""Dense (fully connected) layer: y = x W + b, x (N, in) → y (N, out)."""
from __future__ import annotations

from . import backend as B
from .init import initialize
from .layer import Layer, check_size


class Dense(Layer):
    """y = x W + b.   x: (N, in_features) → y: (N, out_features).

    params: W (in, out) drawn by ``init``, a name of ``linkedref.init.INITIALIZERS``
    (glorot_uniform as in the paper's Keras code; "looks_linear" for a layer fed by a mirror
    link) from ``rng``, a Generator or int seed; b (out,) zeros, left out when ``bias=False``.
    cache: x (N, in).
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
        y = x @ self.params["W"]                              # N, out
        if self.bias:
            y = y + self.params["b"]                          # b broadcast over N
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dy (N, out) → dx (N, in), or None when not ``need_dx``; sets grads W (in, out)
        and b (out,).

        y = x W + b  ⇒  dL/dx = dy W^T,  dL/dW = x^T dy,  dL/db = Σ_n dy[n].
        """
        x = self.saved(dy)
        self.grads["W"] = x.T @ dy                            # in, out
        if self.bias:
            self.grads["b"] = dy.sum(axis=0)                  # out
        if not need_dx:
            return None
        return dy @ self.params["W"].T                        # N, in

    def __repr__(self):
        return (f"Dense({self.in_features}, {self.out_features}, init={self.init!r}"
                f"{'' if self.bias else ', bias=False'})")
