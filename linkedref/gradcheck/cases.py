"""The registry of gradient-check cases: one per component, run by ``python -m linkedref.gradcheck``
and by the test suite. Each area lists its cases in a module ``cases_<area>.py`` beside this one
(``CASES = [Case("Dense", make), ...]``); ``all_cases`` joins those lists.
"""
from __future__ import annotations

import numpy

from . import cases_activations, cases_conv, cases_layers, cases_losses
from .check import gradcheck

AREAS = (cases_activations, cases_layers, cases_conv, cases_losses)


def all_cases() -> list:
    """Every registered Case, in name order."""
    return sorted((case for area in AREAS for case in area.CASES), key=lambda c: c.name)


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
