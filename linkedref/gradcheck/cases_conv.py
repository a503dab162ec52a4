"""Gradient-check cases of the convolutional layers: Conv2D, pooling, Flatten, Residual, a CNN."""
from __future__ import annotations

from .. import backend as B
from ..activations import ReLU
from ..conv import Conv2D
from ..dense import Dense
from ..layer import Sequential
from ..pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from ..reshape import Flatten
from ..residual import Residual
from .case import Case
from .check import away_from_kinks, distinct_values


def _conv(rng, c_in=2, c_out=3, **kwargs):
    """A float64 Conv2D with a non-zero bias (so the check exercises db)."""
    with B.default_dtype("float64"):
        layer = Conv2D(c_in, c_out, rng=rng, **kwargs)
    layer.params["b"] = B.asarray(rng.standard_normal(c_out))
    return layer


def _conv_case(shape, **kwargs):
    def make(rng):
        return dict(layer=_conv(rng, c_in=shape[1], **kwargs), x=rng.standard_normal(shape))
    return make


def _small_cnn(rng):
    """Conv 3×3 same → ReLU → AvgPool 2 → Flatten → Dense 4."""
    conv = _conv(rng, 2, 3, kernel_size=3, padding="same")
    with B.default_dtype("float64"):
        dense = Dense(3 * 3 * 3, 4, rng=rng)
    layers = [conv, ReLU(), AvgPool2D(2), Flatten(), dense]
    return dict(layer=Sequential(layers), x=away_from_kinks((2, 2, 6, 7), rng))


def _residual(rng, with_shortcut):
    block = Sequential([_conv(rng, 2, 3, kernel_size=3, stride=2, padding="same"),
                        _conv(rng, 3, 3, kernel_size=(1, 3), padding="same")]) if with_shortcut \
        else Sequential([_conv(rng, 2, 2, kernel_size=3, padding=1)])
    shortcut = _conv(rng, 2, 3, kernel_size=1, stride=2) if with_shortcut else None
    return dict(layer=Residual(block, shortcut), x=rng.standard_normal((2, 2, 5, 5)))


CASES = [
    Case("Conv2D (3×3, stride 1, padding 1)", _conv_case((2, 2, 5, 6), kernel_size=3, padding=1)),
    Case("Conv2D (3×3, 32 → 32 channels: the Winograd path)",
         _conv_case((2, 32, 8, 8), c_out=32, kernel_size=3, padding=1)),
    Case("Conv2D (3×3, stride 2, same, odd size)",
         _conv_case((2, 2, 7, 5), kernel_size=3, stride=2, padding="same")),
    Case("Conv2D (2×3, stride 2, same, asymmetric pad)",
         _conv_case((1, 2, 6, 7), kernel_size=(2, 3), stride=2, padding="same")),
    Case("Conv2D (3×2, stride (2,1), valid)",
         _conv_case((2, 3, 7, 6), kernel_size=(3, 2), stride=(2, 1), padding="valid")),
    Case("Conv2D (3×3, stride 3, padding (2,1))",
         _conv_case((2, 1, 8, 7), kernel_size=3, stride=3, padding=(2, 1))),
    Case("MaxPool2D (3×3, stride 2, overlapping)",
         lambda rng: dict(layer=MaxPool2D(3, stride=2), x=distinct_values((2, 2, 7, 6), rng))),
    Case("MaxPool2D (2×2, stride 1, overlapping)",
         lambda rng: dict(layer=MaxPool2D(2, stride=1), x=distinct_values((2, 2, 4, 5), rng))),
    Case("AvgPool2D (3×3, stride 2, overlapping)",
         lambda rng: dict(layer=AvgPool2D(3, stride=2), x=rng.standard_normal((2, 2, 7, 6)))),
    Case("GlobalAvgPool2D",
         lambda rng: dict(layer=GlobalAvgPool2D(), x=rng.standard_normal((2, 3, 4, 5)))),
    # Flatten's output is a view of its input, and gradcheck perturbs x in place, which would move
    # its reference output too; a pooling layer in front gives Flatten an input of its own.
    Case("Flatten (after AvgPool2D)",
         lambda rng: dict(layer=Sequential([AvgPool2D(2, stride=1), Flatten()]),
                          x=rng.standard_normal((2, 3, 3, 4)))),
    Case("Residual (identity shortcut)", lambda rng: _residual(rng, with_shortcut=False)),
    Case("Residual (1×1 stride-2 conv shortcut)", lambda rng: _residual(rng, with_shortcut=True)),
    Case("Small CNN (conv-relu-avgpool-flatten-dense)", _small_cnn),
]
