"""The linking condition, checked numerically: for every z, some member has g_i'(z) ≠ 0.

    check_linkage(LKReLU())                    # truthy: relu'(z) or relu'(−z) is 1 for z ≠ 0
    check_linkage([relu, relu])                # falsy: both slopes are 0 for every z < 0

The derivatives are central differences of forward values only, independent of any backward
code, so the check tests the paper's definition and not our implementation of it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy

from . import backend as B
from .activations import Activation
from .layer import Layer


@dataclass
class LinkageCheck:
    """The result of ``check_linkage``: truthy when the linking condition holds everywhere.

    ``z``: the points checked; ``slopes``: the finite-difference derivative of each member,
    (len(z), d) — or (len(z), d, C) for a layer with C per-channel parameters; ``failures``: the
    z values at which no member's |slope| exceeds ``tol``; ``failing_ranges``: those z as
    intervals (ReLU6's mirror link fails on two: |z| ≥ 6).
    """
    ok: bool
    failures: numpy.ndarray
    z: numpy.ndarray
    slopes: numpy.ndarray
    tol: float

    def __bool__(self):
        return bool(self.ok)

    @property
    def failing_ranges(self) -> str:
        """Where the link fails, as runs of the checked z: "z ≤ -6.01 or z ≥ 6.01" ("" if none)."""
        z = numpy.sort(self.z)
        return " or ".join(z_ranges(z, numpy.isin(z, self.failures)))

    def __repr__(self):
        checked = f"{self.z.size} z in [{self.z.min():g}, {self.z.max():g}]"
        if self.ok:
            return f"LinkageCheck(ok=True: some member has |g'| > {self.tol:g} at all {checked})"
        return (f"LinkageCheck(ok=False: every member's |g'| ≤ {self.tol:g} at "
                f"{self.failures.size} of {checked}: {self.failing_ranges})")


def z_ranges(z, mask) -> list:
    """The runs of True in ``mask`` over the sorted grid ``z`` as text: "z ≤ 0" (a run from the
    grid's first point), "z ≥ 6", "−1 ≤ z ≤ 1", or "z = 0" (a single point)."""
    edges = numpy.flatnonzero(numpy.diff(numpy.concatenate([[0], mask.astype(int), [0]])))
    runs = []
    for lo, hi in zip(z[edges[::2]], z[edges[1::2] - 1]):
        if lo == hi:
            runs.append(f"z = {lo:g}")
        elif lo == z[0] or hi == z[-1]:
            runs.append(f"z ≤ {hi:g}" if lo == z[0] else f"z ≥ {lo:g}")
        else:
            runs.append(f"{lo:g} ≤ z ≤ {hi:g}")
    return runs


def not_an_activation(who, what, so) -> str:
    """The one message for ``what`` (a layer or a class) that is not an ``lk.Activation`` where a
    unit is expected: ``who`` names the caller, ``so`` what follows ("dead_units skips it")."""
    return (f"{who}: {what} is not an lk.Activation, so {so}; if it is a unit (single or "
            "linked), subclass lk.Activation: the same forward and backward, with expansion = "
            "its number of members")


def member_outputs(layer, who="check_linkage"):
    """A function z (n,) → member outputs (n, d, C) of a unit (a float64 copy, on the backend);
    a layer that is not an ``lk.Activation`` is refused, ``who`` naming the caller."""
    if not isinstance(layer, Activation):
        raise TypeError(not_an_activation(who, layer.name, "it cannot be judged as a unit"))
    probe = copy.deepcopy(layer).astype("float64")
    d = probe.expansion
    C = next(iter(probe.params.values())).shape[0] if probe.params else 1

    def columns(z):
        x = B.asarray(numpy.repeat(z[:, None], C, axis=1), dtype="float64")   # n, C
        y = B.to_numpy(probe.forward(x, training=False))                     # n, d·C
        check_expansion(who, probe, C, y.shape[1])
        return y.reshape(z.size, d, C)
    return columns


def check_expansion(who, unit, inputs, outputs) -> None:
    """ValueError unless ``unit`` gave ``expansion`` output channels per input channel."""
    if outputs != unit.expansion * inputs:
        fix = (f"set expansion = {outputs // inputs} in the class (outputs per input channel)"
               if outputs % inputs == 0 else "its members' outputs, concatenated on axis 1, "
               "should have expansion × the input's channels")
        raise ValueError(f"{who}: {unit.name} outputs {outputs} channels for {inputs} input "
                         f"channel(s), but its expansion is {unit.expansion}; {fix}")


def _function_columns(functions):
    """A function z (n,) → (n, d, 1) from a list of scalar functions (or single activations)."""
    fs = []
    for i, f in enumerate(functions):
        if isinstance(f, Layer):
            if f.expansion != 1:
                raise ValueError(f"check_linkage: item {i} ({f.name}) is linked; "
                                 "pass it on its own")
            layer_fn = member_outputs(f)
            fs.append(lambda z, g=layer_fn: g(z)[:, 0, :])
        elif callable(f):
            fs.append(lambda z, g=f: numpy.asarray(B.to_numpy(g(z)), dtype=numpy.float64)
                      .reshape(z.size, -1))
        else:
            raise TypeError(f"check_linkage: item {i} is a {type(f).__name__}, not a function")

    def columns(z):
        return numpy.stack([f(z) for f in fs], axis=1)         # n, d, C
    return columns


def check_linkage(linkage, z=None, *, z_range=(-20.0, 20.0), num=4001, tol=1e-6, eps=1e-5):
    """Check numerically that for every z some member of ``linkage`` has a non-zero derivative.

    Args:
        linkage: a linked layer (``Linked``, ``LKReLU``, ...; also a single activation, d = 1),
            or a list of scalar functions g_i(z) of a float64 array (single activation layers
            allowed in the list).
        z: the points to check (default: ``num`` points evenly over ``z_range``, wide enough
            to reach the tails where a single member flattens: tanh, sigmoid, SELU's z < 0).
        tol: a derivative with |g_i'(z)| ≤ tol counts as zero.
        eps: the step of the central difference g_i'(z) ≈ (g_i(z + eps) − g_i(z − eps)) / 2eps
            (at a kink it averages the one-sided slopes: relu'(0) ≈ 1/2).

    Layers are probed on a float64 copy (the layer itself is not touched); a layer with
    per-channel parameters is checked channel by channel, and z fails if any channel fails.

    Returns:
        a ``LinkageCheck``, truthy when the condition holds at every z; ``.failures`` lists the
        z where it does not.
    """
    if not (tol > 0 and eps > 0):
        raise ValueError(f"check_linkage: tol and eps must be positive, got tol={tol}, eps={eps}")
    if z is None:
        z = numpy.linspace(float(z_range[0]), float(z_range[1]), int(num))
    z = numpy.asarray(B.to_numpy(z), dtype=numpy.float64).ravel()
    if z.size == 0:
        raise ValueError("check_linkage: no z values to check")
    if isinstance(linkage, Layer):
        columns = member_outputs(linkage)
    elif isinstance(linkage, (list, tuple)) and linkage:
        columns = _function_columns(linkage)
    else:
        raise TypeError("check_linkage: expected a linked layer or a non-empty list of functions, "
                        f"got {type(linkage).__name__}")
    slopes = (columns(z + eps) - columns(z - eps)) / (2 * eps)       # n, d, C
    alive = (numpy.abs(slopes) > tol).any(axis=1).all(axis=1)        # n
    if slopes.shape[2] == 1:
        slopes = slopes[:, :, 0]
    return LinkageCheck(ok=bool(alive.all()), failures=z[~alive], z=z, slopes=slopes, tol=tol)
