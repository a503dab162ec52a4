"""The registry of gradient-check cases: one per component, run by ``python -m linkedref.gradcheck``
and by the test suite. Each area lists its cases in ``cases_<area>.py`` beside this one
(``CASES = [Case("Dense", make), ...]``), registered with ``register_case`` as a user's are.
"""
from __future__ import annotations

import numpy

from . import cases_activations, cases_conv, cases_layers, cases_losses
from .case import Case
from .check import gradcheck

AREAS = (cases_activations, cases_layers, cases_conv, cases_losses)
REGISTERED: list = []         # every Case, in the order it was registered


def register_case(name: str, make) -> None:
    """Register a gradient check named ``name``: ``make(rng)`` returns ``gradcheck``'s keyword
    arguments (``layer``, ``x``; where needed ``loss``, ``labels``, ``training``) drawn from the
    numpy Generator ``rng``. A user's module calls it at import time, e.g. ``register_case("Mine",
    lambda rng: dict(layer=Mine(), x=away_from_kinks((4, 3), rng)))``; then
    ``python -m linkedref.gradcheck --module MODULE`` checks the cases it registered. Import it
    with ``from linkedref.gradcheck import register_case`` (``lk.gradcheck`` is the function)."""
    if not isinstance(name, str) or not name or not callable(make):
        raise TypeError(f"register_case: expected a name and a function make(rng) -> dict of "
                        f"gradcheck arguments, got {name!r}, {make!r}")
    if any(case.name == name for case in REGISTERED):
        raise ValueError(f"register_case: a case named {name!r} is already registered")
    REGISTERED.append(Case(name, make))


for _case in (case for area in AREAS for case in area.CASES):
    register_case(_case.name, _case.make)


def all_cases() -> list:
    """Every registered Case, in name order."""
    return sorted(REGISTERED, key=lambda c: c.name)


def run_cases(cases=None, seed=0, raise_on_fail=False):
    """Run ``cases`` (default: all); returns a list of (case name, report or exception)."""
    results = []
    for case in cases if cases is not None else all_cases():
        rng = numpy.random.default_rng(seed)
        try:
            results.append((case.name, gradcheck(**case.make(rng), raise_on_fail=raise_on_fail)))
        except Exception as err:   # a broken case is reported in the table, not hidden
            if raise_on_fail:
                raise
            results.append((case.name, err))
    return results
