"""The registry of gradient-check cases: one per component, run by ``python -m linkedref.gradcheck``
and by the test suite.

Each area of the library lists its cases in a module ``cases_<area>.py`` beside this one, as
``CASES = [Case("Dense", make), ...]`` where ``make(rng)`` returns the keyword arguments of
``gradcheck`` (``layer``, ``x`` and, where needed, ``loss``, ``labels``, ``training``).
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

import numpy

from .check import gradcheck


@dataclass(frozen=True)
class Case:
    """A named gradient check: ``make(rng) -> dict`` of ``gradcheck`` keyword arguments."""
    name: str
    make: Callable


def all_cases() -> list:
    """Every registered Case, from every ``cases_*.py`` module of this package, in name order."""
    cases = []
    for info in pkgutil.iter_modules(_package_path()):
        if info.name.startswith("cases_"):
            module = importlib.import_module(f"{__package__}.{info.name}")
            cases.extend(module.CASES)
    return sorted(cases, key=lambda c: c.name)


def _package_path():
    import os
    return [os.path.dirname(__file__)]


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
