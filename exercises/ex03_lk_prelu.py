"""Exercise 3 — LK-PReLU: dz and the gradients of its two learnable slopes.

prelu_a(t) = t (t > 0), a_c·t (t ≤ 0), one slope a_c per channel c. LK-PReLU links it with a
mirror that has slopes of its own: y = concat(prelu_a(z), prelu_b(−z)). Write ``backward``: return
dz and set ``self.grads["alpha"]`` = dL/da and ``self.grads["alpha_mirror"]`` = dL/db.

Shapes: z (N, C, H, W) → y (N, 2C, H, W); params alpha (C,), alpha_mirror (C,); dy (N, 2C, H, W)
→ dz (N, C, H, W); grads alpha (C,), alpha_mirror (C,).

Hints:
1. dz = dy_a·prelu_a'(z) − dy_b·prelu_b'(−z), with prelu_a'(z) = 1 (z > 0), a_c (z ≤ 0) and
   prelu_b'(−z) = 1 (z < 0), b_c (z ≥ 0).
2. a_c acts on every sample and every position (h, w) of channel c, so dL/da_c is a sum over
   N, H and W: dL/da_c = Σ dy_a·min(z, 0). Reshape a (C,) slope to (1, C, 1, 1) to broadcast it.
3. prelu_b(−z) = −min(z, 0) − b_c·max(z, 0), so dL/db_c = −Σ dy_b·max(z, 0), summed over axes
   (0, 2, 3).

Check: python exercises/check.py 3
Answer (read it after trying): site/annotated/linked.html#LKPReLU.backward
"""
import linkedref as lk
import linkedref.backend as B


class LKPReLU(lk.Activation):
    expansion = 2

    def __init__(self, channels, init=0.25, init_mirror=0.25):
        super().__init__()
        xp = B.xp()
        self.params = {"alpha": xp.full((channels,), init, dtype=self.dtype),
                       "alpha_mirror": xp.full((channels,), init_mirror, dtype=self.dtype)}
        self.grads = {key: xp.zeros_like(value) for key, value in self.params.items()}

    def forward(self, x, training=False):
        xp = B.get_array_module(x)
        shape = (1, -1) + (1,) * (x.ndim - 2)                # a (C,) slope broadcast: 1, C, 1, 1
        a = self.params["alpha"].reshape(shape)
        b = self.params["alpha_mirror"].reshape(shape)
        pos, neg = xp.maximum(x, 0), xp.minimum(x, 0)        # N, C, H, W each
        y = xp.concatenate([pos + a * neg,                   # prelu_a(z)
                            -neg - b * pos], axis=1)         # prelu_b(−z)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)                                   # N, C, H, W
        raise NotImplementedError("Exercise 3: set self.grads['alpha'] and "
                                  f"self.grads['alpha_mirror'], return dz of shape {z.shape}")
