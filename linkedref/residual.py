"""Residual connection: y = block(x) + shortcut(x), the building brick of a ResNet."""
from __future__ import annotations

from .layer import Container, Layer


class Residual(Container):
    """y = block(x) + shortcut(x); shortcut=None is the identity.

    x (N, ...) → y of block(x)'s shape, which must equal shortcut(x)'s: ``block`` is any Layer
    (typically a Sequential of Conv2D, BatchNorm, activation, ...), ``shortcut`` a Layer mapping x
    to that shape (e.g. a 1×1 stride-2 Conv2D) or None. params/grads/buffers are the children's
    under "block.*" and "shortcut.*".
    """

    def __init__(self, block, shortcut=None):
        for what, layer in (("block", block), ("shortcut", shortcut)):
            if layer is not None and not isinstance(layer, Layer):
                raise TypeError(f"Residual: {what} is a {type(layer).__name__}, not a Layer")
        children = [block] if shortcut is None else [block, shortcut]
        super().__init__(children, names=["block", "shortcut"][:len(children)])
        self.block, self.shortcut = block, shortcut

    def forward(self, x, training: bool = False):
        """x (N, ...) → y = block(x) + shortcut(x)."""
        yb = self.block.forward(x, training=training)
        ys = x if self.shortcut is None else self.shortcut.forward(x, training=training)
        if tuple(yb.shape) != tuple(ys.shape):
            which = "the input (identity shortcut)" if self.shortcut is None else "shortcut(x)"
            raise ValueError(f"Residual: block(x) has shape {tuple(yb.shape)} but {which} has "
                             f"shape {tuple(ys.shape)}; give a shortcut that maps x to the block's "
                             f"output shape (e.g. a 1×1 Conv2D with the block's stride)")
        y = yb + ys
        self.save_for_backward(None, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        """dy (y's shape) → dx (x's shape). Both branches saw the same x, so
        dL/dx = block.backward(dy) + shortcut.backward(dy) (dy itself for the identity)."""
        self.saved(dy)
        dx_block = self.block.backward(dy)
        dx_short = dy if self.shortcut is None else self.shortcut.backward(dy)
        return dx_block + dx_short                            # a new array: dy is left untouched

    def __repr__(self):
        return f"Residual(block={self.block!r}, shortcut={self.shortcut!r})"
