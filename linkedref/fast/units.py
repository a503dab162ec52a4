"""The kernel behind LKReLU's forward: concat(relu(x), relu(−x)), written into one new array.

The plain form, ``relu(concatenate([x, -x], axis=1))``, makes three arrays (−x, the concatenation,
its relu: five times x's size in all), and for activations of a few MiB the fresh memory costs more
than the arithmetic: on cifar_net's first LK-ReLU layer the plain form takes twice the kernel's
time, and two threads allocating side by side slow each other further. The kernel fills one
output of twice x's size, half by half, in three passes, and computes the same numbers bit for bit.
"""
from __future__ import annotations

from .. import backend as B


def crelu(x):
    """concat(relu(x), relu(−x)) on axis 1: x (N, C, ...) → y (N, 2C, ...)."""
    xp = B.get_array_module(x)
    C = x.shape[1]
    y = xp.empty((x.shape[0], 2 * C) + tuple(x.shape[2:]), dtype=x.dtype)   # N, 2C, ...
    unit, mirror = y[:, :C], y[:, C:]
    xp.maximum(x, 0, out=unit)                  # relu(x)
    xp.negative(x, out=mirror)
    xp.maximum(mirror, 0, out=mirror)           # relu(−x)
    return y
