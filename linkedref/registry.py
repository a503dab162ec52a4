"""Every activation by name: ``activation("lkrelu")`` builds a new LK-ReLU layer.

Names (``ACTIVATIONS``): the single units "relu", "leaky_relu", "prelu", "elu", "selu", "swish",
"tanh", "sigmoid", and their mirror links "lk" + name ("lkrelu", ...; not for tanh and sigmoid).
Case, "-" for "_", and an "lk_" prefix are accepted ("LK-ReLU", "lk_relu").
"""
from __future__ import annotations

import inspect

from .activations import ELU, SELU, LeakyReLU, PReLU, ReLU, Sigmoid, Swish, Tanh
from .linked import LKELU, LKSELU, LKLeakyReLU, LKPReLU, LKReLU, LKSwish

_CLASSES = {
    "relu": ReLU, "leaky_relu": LeakyReLU, "prelu": PReLU, "elu": ELU, "selu": SELU,
    "swish": Swish, "tanh": Tanh, "sigmoid": Sigmoid,
    "lkrelu": LKReLU, "lkleaky_relu": LKLeakyReLU, "lkprelu": LKPReLU, "lkelu": LKELU,
    "lkselu": LKSELU, "lkswish": LKSwish,
}
ACTIVATIONS = tuple(_CLASSES)


def activation(name, **kwargs):
    """A new activation layer by name, one of ``ACTIVATIONS``; keyword arguments go to its
    constructor (``activation("leaky_relu", alpha=0.1)``; see each class for what it takes)."""
    cls = _CLASSES[canonical(name)]
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError:
        takes = ", ".join(inspect.signature(cls).parameters) or "no arguments"
        raise TypeError(f"activation: {name!r} ({cls.__name__}) takes {takes}; "
                        f"got {', '.join(kwargs)}") from None
    return cls(**kwargs)


def canonical(name) -> str:
    """The registry key of ``name`` ("LK-ReLU" → "lkrelu"); a clear error for unknown names."""
    if not isinstance(name, str):
        raise TypeError(f"activation: expected a name (str), got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key.startswith("lk_"):
        key = "lk" + key[3:]
    if key not in _CLASSES:
        raise ValueError(f"activation: unknown name {name!r}; known: {', '.join(ACTIVATIONS)}")
    return key
