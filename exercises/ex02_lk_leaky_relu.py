"""Exercise 2 — LK-LeakyReLU's backward pass.

g(t) = max(t, αt) with 0 ≤ α ≤ 1 (here α = 0.1), linked with its mirror:
y = concat(g(z), g(−z)). Write dz = dL/dz in ``backward``.

Shapes: z (N, C, ...) → y (N, 2C, ...); dy (N, 2C, ...) → dz (N, C, ...).

Hints:
1. As in exercise 1, dz = dy_a·g'(z) − dy_b·g'(−z): one term per block of C channels, the
   mirror's with a minus sign from the chain rule.
2. g'(t) is 1 for t > 0 and α for t ≤ 0: neither slope is ever 0, so every unit always passes
   a gradient back.
3. g'(z) = where(z > 0, 1, α) and g'(−z) = where(z < 0, 1, α).

Check: python exercises/check.py 2
Answer (read it after trying): site/annotated/linked.html#LKLeakyReLU.backward
"""
import linkedref as lk
import linkedref.backend as B


class LKLeakyReLU(lk.Activation):
    expansion = 2

    def __init__(self, alpha=0.1):
        super().__init__()
        self.alpha = alpha

    def forward(self, x, training=False):
        xp = B.get_array_module(x)
        g = xp.maximum(x, self.alpha * x)                    # g(z)  = max(z, αz)
        g_mirror = xp.maximum(-x, -self.alpha * x)           # g(−z) = max(−z, −αz)
        y = xp.concatenate([g, g_mirror], axis=1)            # N, 2C, ...
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)                                   # N, C, ...
        raise NotImplementedError(f"Exercise 2: return dz = dL/dz, of shape {z.shape}")
