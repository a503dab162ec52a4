"""Exercise 8 — Conv2D's backward pass, as loops.

y[n, o, i, j] = b[o] + Σ_{c,p,q} W[o, c, p, q]·xpad[n, c, i·sh + p, j·sw + q], where xpad is x
inside a zero border. Write ``backward`` with loops over the output positions (i, j): return dx and
set ``self.grads["W"]`` and ``self.grads["b"]``.

Shapes: x (N, C, H, W) → y (N, O, Ho, Wo); W (O, C, kh, kw), b (O,); dy (N, O, Ho, Wo) →
dx (N, C, H, W); grads W (O, C, kh, kw), b (O,).

Hints:
1. db[o] sums dy[:, o] over N, Ho and Wo. Each output (i, j) reads one patch
   xpad[:, :, i·sh:i·sh + kh, j·sw:j·sw + kw], so dW gains Σ_n dy[n, :, i, j] ⊗ patch[n].
2. The same patch's pixels receive Σ_o dy[n, o, i, j]·W[o, c, p, q] in dxpad; add (+=): patches
   overlap. Cut the border off dxpad at the end.
3. Pixel (p, q) of the patch meets W[o, c, p, q], not W[o, c, kh−1−p, kw−1−q]: written as one
   convolution of dy, dx uses the kernel flipped — in loops there is nothing to flip.
   ``xp.tensordot(dy[:, :, i, j], W, axes=([1], [0]))`` gives the patch's (N, C, kh, kw).

Check: python exercises/check.py 8
Answer (read it after trying): site/annotated/conv.html#conv2d_reference_backward
"""
import linkedref as lk
import linkedref.backend as B


class Conv2D(lk.Conv2D):
    def forward(self, x, training=False):
        xp = B.get_array_module(x)
        W, b = self.params["W"], self.params["b"]                    # O, C, kh, kw and O
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        (top, bottom), (left, right) = self.pads(*x.shape[2:])
        xpad = xp.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))   # N, C, Hp, Wp
        Ho, Wo = (xpad.shape[2] - kh) // sh + 1, (xpad.shape[3] - kw) // sw + 1
        y = xp.empty((x.shape[0], W.shape[0], Ho, Wo), dtype=x.dtype)      # N, O, Ho, Wo
        for i in range(Ho):
            for j in range(Wo):
                patch = xpad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]  # N, C, kh, kw
                y[:, :, i, j] = xp.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3])) + b
        self.save_for_backward((xpad, (top, left), x.shape), output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        xpad, (top, left), x_shape = self.saved(dy)
        raise NotImplementedError("Exercise 8: set self.grads['W'] and self.grads['b'], "
                                  "return dx")
