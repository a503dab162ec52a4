"""LK-Softplus, a linked unit of one's own, written the way a learner writes it: in a file
outside the library, on lk.Activation, with public names only.

    softplus(t)  = log(1 + e^t) = max(t, 0) + log(1 + e^−|t|)     (no overflow for large |t|)
    softplus'(t) = σ(t) = 1 / (1 + e^−t)

    y  = concat(softplus(z), softplus(−z))           (N, C, ...) → (N, 2C, ...)
    dz = dy_a·σ(z) − dy_b·σ(−z)                       chain rule: d softplus(−z)/dz = −σ(−z)
"""
import linkedref as lk


def sigmoid(z):
    """σ(z) from e = e^−|z|, so no exponent is positive: 1/(1 + e) (z ≥ 0), e/(1 + e) (z < 0)."""
    xp = lk.backend.get_array_module(z)
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1, e) / (1 + e)


def softplus(z):
    xp = lk.backend.get_array_module(z)
    return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))


class LKSoftplus(lk.Activation):
    """LK-Softplus: y = concat(softplus(z), softplus(−z)) on axis 1.  Cache: the input z."""

    expansion = 2                                        # two members: the unit and its mirror

    def forward(self, x, training=False):
        self.check_input(x)
        xp = lk.backend.get_array_module(x)
        y = xp.concatenate([softplus(x), softplus(-x)], axis=1)       # N, 2C, ...
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        z = self.saved(dy)                               # checks dy has y's shape
        C = z.shape[1]
        dy_a, dy_b = dy[:, :C], dy[:, C:]
        return dy_a * sigmoid(z) - dy_b * sigmoid(-z)    # the mirror's minus: the chain rule
