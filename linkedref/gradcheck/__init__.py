"""Gradient checking as a feature: ``gradcheck(layer, x)`` and ``python -m linkedref.gradcheck``.

``gradcheck`` checks any layer or model (input and every parameter) against central differences in
float64 and raises ``GradientCheckError`` with the worst coordinate's numeric and analytic values.
The command line checks every registered component (``all_cases()``) on the active backend, or
the cases a user's module registers with ``register_case`` (``--module MODULE``).
"""
from .case import Case
from .cases import all_cases, register_case, run_cases
from .check import GradcheckReport, GradientCheckError, away_from_kinks, distinct_values, gradcheck

__all__ = ["gradcheck", "GradcheckReport", "GradientCheckError", "away_from_kinks",
           "distinct_values", "Case", "all_cases", "register_case", "run_cases"]
