"""Gradient-check cases for Dense, Dropout and BatchNorm (see cases.py for the protocol).

Dropout is checked in training mode: every evaluation draws the same mask (see ``gradcheck``).
"""
from __future__ import annotations

from .. import backend as B
from ..batchnorm import BatchNorm
from ..dense import Dense
from ..dropout import Dropout
from .case import Case
from .check import away_from_kinks


def _dense(rng):
    return dict(layer=Dense(5, 3, rng=rng), x=rng.standard_normal((4, 5)))


def _dense_looks_linear(rng):
    return dict(layer=Dense(6, 4, init="looks_linear", rng=rng), x=rng.standard_normal((3, 6)))


def _dropout(rng):
    # away from 0 so that no kept value sits near a sign change of anything downstream
    return dict(layer=Dropout(0.4, rng=rng), x=away_from_kinks((6, 5), rng), training=True)


def _batchnorm_case(shape, training=True, mean=0.0, std=1.0):
    """BatchNorm(C) with non-trivial gamma, beta and running statistics, on x = mean + std·z of
    ``shape`` (N, C) or (N, C, H, W)."""
    def make(rng):
        C = shape[1]
        layer = BatchNorm(C)
        layer.params["gamma"] = B.asarray(rng.uniform(0.5, 2.0, C), dtype=layer.dtype)
        layer.params["beta"] = B.asarray(rng.standard_normal(C), dtype=layer.dtype)
        layer.buffers["running_mean"] = B.asarray(rng.standard_normal(C), dtype=layer.dtype)
        layer.buffers["running_var"] = B.asarray(rng.uniform(0.5, 2.0, C), dtype=layer.dtype)
        return dict(layer=layer, x=mean + std * rng.standard_normal(shape), training=training)
    return make


CASES = [
    Case("Dense", _dense),
    Case("Dense (looks_linear init)", _dense_looks_linear),
    Case("Dropout (training, fixed mask)", _dropout),
    Case("BatchNorm (training, N C)", _batchnorm_case((6, 3), mean=1.0, std=2.0)),
    Case("BatchNorm (training, N C H W)", _batchnorm_case((2, 3, 4, 5))),
    Case("BatchNorm (inference, N C H W)", _batchnorm_case((2, 3, 4, 4), training=False)),
]
