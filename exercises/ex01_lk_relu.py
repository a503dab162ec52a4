"""Exercise 1 — LK-ReLU's backward pass.

LK-ReLU feeds one pre-activation z to a ReLU and to its mirror: y = concat(relu(z), relu(−z)) on
axis 1. Given dy = dL/dy, write dz = dL/dz in ``backward``.

Shapes: z (N, C, ...) → y (N, 2C, ...); dy (N, 2C, ...) → dz (N, C, ...).

Hints:
1. Split dy into the unit's block dy_a = dy[:, :C] and the mirror's block dy_b = dy[:, C:]. z
   feeds both, so dz is the sum of two terms, one from each block.
2. By the chain rule, d relu(−z)/dz = −relu'(−z): the mirror's term carries a minus sign.
3. relu'(z) = [z > 0] and relu'(−z) = [z < 0], so dz = dy_a·[z > 0] − dy_b·[z < 0].

Check: python exercises/check.py 1
Answer (read it after trying): site/annotated/linked.html#LKReLU.backward
"""
import linkedref as lk
import linkedref.backend as B


class LKReLU(lk.Activation):
    expansion = 2                                   # two outputs per input channel

    def forward(self, x, training=False):
        xp = B.get_array_module(x)
        y = xp.concatenate([xp.maximum(x, 0), xp.maximum(-x, 0)], axis=1)    # N, 2C, ...
        self.save_for_backward(x, output_shape=y.shape)                      # cache: z
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)                                                   # N, C, ...
        raise NotImplementedError(f"Exercise 1: return dz = dL/dz, of shape {z.shape}")
