"""Flatten: images to vectors, between the convolutional and the dense part of a network."""
from __future__ import annotations

from .layer import Layer


class Flatten(Layer):
    """y = x.reshape(N, -1).   x: (N, C, H, W) (or any (N, ...)) → y: (N, C·H·W).

    C-order (channel-major), and a *view* of x (no copy), as PyTorch's ``flatten(1)``: do not
    modify it in place.
    cache: x's shape. Backward reshapes dy back to it (a view when dy is contiguous).
    """

    def forward(self, x, training: bool = False):
        """x (N, C, H, W) → y (N, C·H·W)."""
        self.check_input(x, ndims=(2, 3, 4, 5))
        y = x.reshape(x.shape[0], -1)
        self.save_for_backward(x.shape, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dy (N, C·H·W) → dx (N, C, H, W): flattening only moves values, so dx is dy reshaped."""
        shape = self.saved(dy)
        return dy.reshape(shape)

