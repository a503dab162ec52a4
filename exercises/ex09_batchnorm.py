"""Exercise 9 — BatchNorm's backward pass in training mode.

Per channel, over the M = N·H·W values of the batch: μ = mean(x), σ² = mean((x − μ)²),
x̂ = (x − μ)·s with s = (σ² + eps)^(−1/2), and y = γ·x̂ + β. In training μ and σ² are computed
from x itself. Write ``backward``: return dx and set ``self.grads["gamma"]`` and
``self.grads["beta"]``.

Shapes: x (N, C) or (N, C, H, W) → y (same); gamma, beta (C,); dy (like y) → dx (like x);
grads gamma, beta (C,).

Hints:
1. dL/dβ = Σ dy and dL/dγ = Σ dy·x̂, summed over every axis but the channel axis 1.
2. dy·γ·s alone treats μ and σ² as constants, as in inference. In training they move with every
   x_i: ∂μ/∂x_i = 1/M and ∂σ²/∂x_i = 2(x_i − μ)/M add two terms. (A check: Σ dx over a channel
   is 0, since shifting every x of a channel by one amount leaves y unchanged.)
3. dx = γ·s·(dy − mean(dy) − x̂·mean(dy·x̂)), the means per channel (keepdims=True).

Check: python exercises/check.py 9
Answer (read it after trying): site/annotated/batchnorm.html#BatchNorm.backward
"""
import linkedref as lk
import linkedref.backend as B


class BatchNorm(lk.BatchNorm):
    def forward(self, x, training=True):
        xp = B.get_array_module(x)
        axes = (0,) if x.ndim == 2 else (0, 2, 3)                  # all but the channel axis
        shape = (1, -1) + (1,) * (x.ndim - 2)                      # 1, C[, 1, 1]
        mean = x.mean(axis=axes, keepdims=True)                    # μ
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)     # σ²
        inv_std = 1 / xp.sqrt(var + self.eps)                      # s
        xhat = (x - mean) * inv_std                                # N, C[, H, W]
        y = self.params["gamma"].reshape(shape) * xhat + self.params["beta"].reshape(shape)
        self.save_for_backward((xhat, inv_std), output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        xhat, inv_std = self.saved(dy)         # xhat like x, inv_std (1, C[, 1, 1])
        raise NotImplementedError("Exercise 9: set self.grads['gamma'] and self.grads['beta'], "
                                  "return dx")
