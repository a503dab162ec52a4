"""Gradient-check cases for the losses (layer=None: the loss is differentiated in its input)."""
from __future__ import annotations

from ..losses import MSE, SoftmaxCrossEntropy
from .case import Case


def _cross_entropy(rng):
    """Logits (6, 4) of scale 2 (softmax neither uniform nor saturated), every class present."""
    labels = rng.permutation(6) % 4
    return dict(layer=None, x=2.0 * rng.standard_normal((6, 4)), loss=SoftmaxCrossEntropy(),
                labels=labels)


def _mse(rng):
    """Predictions and targets (5, 3)."""
    return dict(layer=None, x=rng.standard_normal((5, 3)), loss=MSE(),
                labels=rng.standard_normal((5, 3)))


CASES = [
    Case("SoftmaxCrossEntropy (N=6, K=4)", _cross_entropy),
    Case("MSE (5, 3)", _mse),
]
