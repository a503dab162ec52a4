"""Exercise 5 — A three-member link: min-max plus tanh.

Any activations can be linked on one z. This unit has d = 3 members:
y = concat(max(0, z), min(0, z), tanh(z)) on axis 1 — the paper's min-max link (its Figure 1a)
with a tanh beside it; ``lk.Linked(lk.ReLU(), (lk.ReLU(), -1, -1), lk.Tanh())`` builds the same
unit from members. Write dz = dL/dz in ``backward``.

Shapes: z (N, C, ...) → y (N, 3C, ...); dy (N, 3C, ...) → dz (N, C, ...).

Hints:
1. dy has three blocks of C channels, dy_i = dy[:, i·C:(i + 1)·C]; dz = Σ_i dy_i·g_i'(z).
2. min(0, z) = −relu(−z) has slope 1 for z < 0 and 0 for z > 0: no minus sign survives here,
   as the two signs (input and output) cancel.
3. dz = dy_0·[z > 0] + dy_1·[z < 0] + dy_2·(1 − tanh(z)²).

Check: python exercises/check.py 5
Answer (read it after trying): site/annotated/linked.html#Linked.backward
"""
import linkedref as lk
import linkedref.backend as B


class MinMaxTanh(lk.Activation):
    expansion = 3

    def forward(self, x, training=False):
        xp = B.get_array_module(x)
        y = xp.concatenate([xp.maximum(x, 0), xp.minimum(x, 0), xp.tanh(x)], axis=1)  # N, 3C, ...
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)                                   # N, C, ...
        raise NotImplementedError(f"Exercise 5: return dz = dL/dz, of shape {z.shape}")
