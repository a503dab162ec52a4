"""Exercise 7 — MaxPool2D with overlapping windows and ties.

y[n, c, i, j] is the maximum of the kh × kw window of x[n, c] at (i·sh, j·sw). Here the windows
overlap (kernel 3, stride 2), so a pixel can lie in several windows. Write dx = dL/dx in
``backward``.

Shapes: x (N, C, H, W) → y (N, C, Ho, Wo); dy (N, C, Ho, Wo) → dx (N, C, H, W).

Hints:
1. Only the maximum of a window moves y: the window's dy goes to that one pixel, every other
   pixel of the window gets 0 from it.
2. A pixel inside several windows collects the gradient of each: add (+=), do not assign (=).
3. With tied maxima, send the gradient to one of them, the first in row-major order (the
   ``arg`` saved by forward), not to every tied pixel: y moves with one of them, not with all.

Check: python exercises/check.py 7
Answer (read it after trying): site/annotated/pooling.html#MaxPool2D.backward
"""
import linkedref as lk
import linkedref.backend as B


class MaxPool2D(lk.MaxPool2D):
    def forward(self, x, training=False):
        xp = B.get_array_module(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        N, C, H, W = x.shape
        Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
        y = xp.empty((N, C, Ho, Wo), dtype=x.dtype)
        arg = xp.empty((N, C, Ho, Wo), dtype=xp.int64)   # the first maximum's index p·kw + q
        for i in range(Ho):
            for j in range(Wo):
                window = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].reshape(N, C, kh * kw)
                y[:, :, i, j] = window.max(axis=2)
                arg[:, :, i, j] = window.argmax(axis=2)
        self.save_for_backward((x, arg), output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        x, arg = self.saved(dy)                  # x (N, C, H, W), arg (N, C, Ho, Wo)
        raise NotImplementedError("Exercise 7: return dx = dL/dx, of shape x.shape")
