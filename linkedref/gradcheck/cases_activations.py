"""Gradient-check cases for the activations: every single and linked unit on 2D and 4D input,
the general ``Linked`` (min-max and a three-member link) and the learnable slopes of PReLU/LKPReLU.

Inputs come from ``away_from_kinks`` (|z| ≥ 0.1), so ReLU-like kinks at 0 are never straddled.
"""
from .. import backend as B
from ..activations import ELU, PReLU, ReLU, Swish, Tanh
from ..linked import Linked
from ..registry import ACTIVATIONS, activation
from .case import Case
from .check import away_from_kinks

SHAPES = {"2D": (4, 3), "4D": (2, 3, 4, 5)}


def _plain(name, shape):
    def make(rng):
        return dict(layer=activation(name), x=away_from_kinks(shape, rng))
    return make


def _random_slopes(layer, shape, rng):
    """Run one forward (sizes the slopes), then give every slope its own random value."""
    x = away_from_kinks(shape, rng)
    layer.forward(B.asarray(x, dtype=layer.dtype))
    for v in layer.params.values():
        v[...] = B.asarray(rng.uniform(-0.5, 1.5, v.shape), dtype=v.dtype)
    return dict(layer=layer, x=x)


CASES = [Case(f"{activation(name).name} ({dims})", _plain(name, shape))
         for name in ACTIVATIONS for dims, shape in SHAPES.items()]
CASES += [
    Case("Linked (min-max, 4D)",
         lambda rng: dict(layer=Linked.min_max(), x=away_from_kinks(SHAPES["4D"], rng))),
    Case("Linked (3 members: ReLU, mirror ReLU, Tanh; 2D)",
         lambda rng: dict(layer=Linked(ReLU(), (ReLU(), -1), Tanh()),
                          x=away_from_kinks(SHAPES["2D"], rng))),
    Case("Linked (3 members with params: PReLU, -ELU(-z), Swish; 4D)",
         lambda rng: _random_slopes(Linked(PReLU(), (ELU(), -1, -1), Swish()), SHAPES["4D"], rng)),
    Case("PReLU (random slopes, 4D)", lambda rng: _random_slopes(PReLU(), SHAPES["4D"], rng)),
    Case("LKPReLU (random independent slopes, 4D)",
         lambda rng: _random_slopes(activation("lkprelu"), SHAPES["4D"], rng)),
    Case("LKPReLU (random independent slopes, 2D)",
         lambda rng: _random_slopes(activation("lkprelu"), SHAPES["2D"], rng)),
]
