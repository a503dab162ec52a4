"""Units by name: ``register_activation`` makes a unit known, ``activation`` builds one.

    lk.register_activation("lksoftplus", LKSoftplus)     # a class of your own (an lk.Activation)
    lk.activation("lksoftplus")                           # a new LKSoftplus()
    lk.depth_net(depth=10, activation="lksoftplus")       # every builder takes the name

The built-in units are registered below by the same call; ``ACTIVATIONS`` lists their names.
Names are matched ignoring case, with "-" read as "_" and an "lk_" prefix as "lk"
("LK-ReLU" and "lk_relu" are "lkrelu").
"""
from __future__ import annotations

import inspect
import warnings

from .activations import ELU, SELU, Activation, LeakyReLU, PReLU, ReLU, Sigmoid, Swish, Tanh
from .layer import Layer
from .linkage import not_an_activation
from .linked import LKELU, LKSELU, LKLeakyReLU, LKPReLU, LKReLU, LKSwish

_UNITS: dict = {}            # registered name -> the class (or factory) that builds the unit


def register_activation(name, cls, *, replace=False):
    """Make the unit ``cls`` known by ``name`` to ``activation`` and to every model builder.

    cls: a subclass of ``lk.Activation`` (any class with its own ``forward`` and ``backward``
    works, with a warning), or a factory: a callable that returns a new unit, taking the
    keyword arguments given to ``activation(name, **kw)``. A name already known is refused
    unless ``replace=True`` (registering the same ``cls`` again changes nothing). Returns ``cls``.
    """
    key = _key(name, "register_activation")
    if isinstance(cls, str):
        raise TypeError(f"register_activation({name!r}): expected a unit class or a factory, "
                        f"got the name {cls!r}; pass lk.registry.lookup({cls!r}) for an alias")
    unit_maker(cls, f"register_activation({name!r})")
    if key in _UNITS and not replace and _UNITS[key] is not cls:     # the same cls again: fine
        raise ValueError(f"register_activation: the name {name!r} is taken by "
                         f"{_label(_UNITS[key])}; pass replace=True to replace it (a class "
                         "defined again, as in a notebook cell run twice, is a new class), "
                         "or choose another name")
    _UNITS[key] = cls
    return cls


def activation_names() -> tuple:
    """The names known now, built-ins first, then those registered since, in order."""
    return tuple(_UNITS)


def activation(name, **kwargs):
    """A new unit by name (one of ``activation_names()``); keyword arguments go to its
    constructor: ``activation("leaky_relu", alpha=0.1)`` (see each class for what it takes)."""
    make = lookup(name)
    try:
        inspect.signature(make).bind(**kwargs)
    except TypeError:
        takes = ", ".join(inspect.signature(make).parameters) or "no arguments"
        raise TypeError(f"activation: {name!r} ({_label(make)}) takes {takes}; "
                        f"got {', '.join(kwargs)}") from None
    return make(**kwargs)


def lookup(name):
    """The class (or factory) registered as ``name``; a clear error for an unknown name."""
    key = _key(name, "activation")
    if key not in _UNITS:
        raise ValueError(f"activation: unknown name {name!r}; known: "
                         f"{', '.join(_UNITS)} (a unit of your own: "
                         f"lk.register_activation(name, cls) first)")
    return _UNITS[key]


def unit_maker(spec, who):
    """``spec`` (a registered name, a unit class or a zero-argument factory) as the callable that
    builds the unit; ``who`` names the caller in errors and warnings."""
    if isinstance(spec, str):
        return lookup(spec)
    if not callable(spec) or isinstance(spec, Layer):
        raise TypeError(f"{who}: expected a unit class (a subclass of lk.Activation), a factory "
                        f"returning a new unit, or a registered name; got {spec!r}"
                        + (" (pass the class, or a factory; not an instance)"
                           if isinstance(spec, Layer) else ""))
    if isinstance(spec, type):
        missing = [m for m in ("forward", "backward")
                   if getattr(spec, m, None) in (None, getattr(Layer, m))]
        if missing:
            raise TypeError(f"{who}: {spec.__name__} defines no {' and no '.join(missing)}; "
                            "a unit needs forward(x, training=False) and backward(dy, "
                            "need_dx=True) (see lk.Activation)")
        if not issubclass(spec, Activation):
            warnings.warn(not_an_activation(who, spec.__name__, "check_linkage and dead_units "
                                            "cannot judge it as a unit"), stacklevel=3)
    return spec


def _label(make) -> str:
    return getattr(make, "__name__", repr(make))


def _key(name, who) -> str:
    """The registry key of ``name``: "LK-ReLU" → "lkrelu"."""
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"{who}: expected a unit name (a non-empty str), got {name!r}")
    key = name.strip().lower().replace("-", "_")
    return "lk" + key[3:] if key.startswith("lk_") else key


for _name, _cls in {"relu": ReLU, "leaky_relu": LeakyReLU, "prelu": PReLU, "elu": ELU,
                    "selu": SELU, "swish": Swish, "tanh": Tanh, "sigmoid": Sigmoid,
                    "lkrelu": LKReLU, "lkleaky_relu": LKLeakyReLU, "lkprelu": LKPReLU,
                    "lkelu": LKELU, "lkselu": LKSELU, "lkswish": LKSwish}.items():
    register_activation(_name, _cls)
ACTIVATIONS = activation_names()     # the built-in names
