"""Exercise 6 — Dense: y = x W + b.

Write ``backward``: return dx = dL/dx and set ``self.grads["W"]`` = dL/dW and
``self.grads["b"]`` = dL/db.

Shapes: x (N, in) → y (N, out); W (in, out), b (out,); dy (N, out) → dx (N, in);
grads W (in, out), b (out,).

Hints:
1. Each gradient has the shape of what it differentiates: dx like x, dW like W, db like b. Let
   the shapes pick the products.
2. y[n, k] = Σ_i x[n, i]·W[i, k] + b[k]: b[k] is added to every row n, so db sums dy over N.
3. dx = dy Wᵀ, dW = xᵀ dy, db = Σ_n dy[n].

Check: python exercises/check.py 6
Answer (read it after trying): site/annotated/dense.html#Dense.backward
"""
import linkedref as lk


class Dense(lk.Dense):
    def forward(self, x, training=False):
        y = x @ self.params["W"] + self.params["b"]          # N, out
        self.save_for_backward(x, output_shape=y.shape)      # cache: x (N, in)
        return y

    def backward(self, dy, need_dx=True):
        x = self.saved(dy)                                   # N, in
        raise NotImplementedError("Exercise 6: set self.grads['W'] and self.grads['b'], "
                                  f"return dx of shape {x.shape}")
