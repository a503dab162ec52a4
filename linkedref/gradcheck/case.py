"""A named gradient check: what ``python -m linkedref.gradcheck`` runs, one per component."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Case:
    """``make(rng) -> dict`` of ``gradcheck`` keyword arguments (see ``register_case``)."""
    name: str
    make: Callable
