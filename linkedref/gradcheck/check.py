"""Check a hand-derived backward pass against central finite differences, in float64.

The idea, for a layer y = f(x; θ): pick a fixed random direction r with the shape of y and look
at the scalar L = Σ r·y. Its gradient is exactly what ``backward(r)`` claims to compute
(dL/dx and dL/dθ), and each coordinate of it can be estimated numerically:

    dL/dx_i  ≈  [ Σ r·(f(x + ε e_i) − f(x − ε e_i)) ] / 2ε

We difference the outputs *before* projecting on r, so the large sum does not cancel away the
small change (this keeps the numeric estimate accurate to ~1e-10). With a loss, L is the loss.

Kinks. ReLU, max-pool and friends are not differentiable everywhere. Near a kink the one-sided
slopes up = (L(x+ε) − L(x))/ε and down = (L(x) − L(x−ε))/ε disagree by O(1); such coordinates
are skipped (and counted) rather than reported as errors. But smooth curvature makes them
disagree too, by ε·L'' (near a minimum that can dwarf the slope itself). The two are told apart
by how the disagreement scales with the step: for curvature up − down ≈ h·L'', so it halves when
h halves and quarters at h/4; for a kink at distance d < h it is ≈ J·(1 − d/h) (J the jump in
slope), which does not. A wrong backward pass cannot hide behind this: it changes the analytic
value, not the finite differences.

Errors are relative, per coordinate: |a − n| / max(|a|, |n|, floor), where the floor
(1e-3 × the largest |n| of that tensor, at least 1e-8) keeps round-off on near-zero gradients from
counting as error.

Pointing at the mistake. A failing tensor gets a hint where its failing coordinates show one
(analytic ≈ −numeric: a sign flipped; ≈ 0: a term missing; one ratio R: a scale factor). A linked
unit (``expansion`` d > 1) that fails is checked again with r nonzero in one member's block of C
output channels at a time, and the report names the members that fail.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy

from .. import backend as B
from ..activations import Activation
from ..linkage import check_expansion


class GradientCheckError(AssertionError):
    """A backward pass disagrees with finite differences (the message holds the numbers)."""


@dataclass
class Row:
    """One checked tensor: ``name`` ("x" or a parameter key) and its worst coordinate."""
    name: str
    checked: int
    skipped: int
    max_error: float
    worst_index: tuple = ()
    analytic: float = 0.0
    numeric: float = 0.0
    hint: str = ""

    @property
    def what(self) -> str:
        return "dL/dx" if self.name == "x" else f"parameter '{self.name}'"


@dataclass
class GradcheckReport:
    """What ``gradcheck`` measured: one Row per tensor, and the tolerance used."""
    target: str
    rows: list = field(default_factory=list)
    rtol: float = 1e-6
    members: dict = field(default_factory=dict)      # member i → its rows (expansion d > 1)

    @property
    def max_error(self) -> float:
        return max((r.max_error for r in self.rows), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_error <= self.rtol

    def __str__(self) -> str:
        lines = [f"gradcheck {self.target}: max relative error {self.max_error:.2e} "
                 f"(tolerance {self.rtol:.0e})",
                 f"  {'tensor':<24}{'checked':>8}{'kinks':>7}{'max rel err':>13}  "
                 "worst: index, analytic, numeric"]
        for r in self.rows:
            lines.append(f"  {r.name:<24}{r.checked:>8}{r.skipped:>7}{r.max_error:>13.2e}  "
                         f"{r.worst_index}, {r.analytic:+.10e}, {r.numeric:+.10e}")
        lines += [f"  {r.what}: {r.hint}" for r in self.rows if r.hint and not self.members]
        if self.members:
            d = len(self.members)
            lines.append(f"Checked again with dy nonzero in one member's channels at a time "
                         f"(expansion {d}):")
            for i, rows in self.members.items():
                bad = [r for r in rows if r.max_error > self.rtol]
                who = f"  member {i}{', the mirror' if d == 2 and i == 1 else ''}"
                lines.append(f"{who}: ok" if not bad else f"{who}: " + "; ".join(
                    f"{r.what} wrong (max rel err {r.max_error:.2e}"
                    f"{', ' + r.hint if r.hint else ''})" for r in bad))
        return "\n".join(lines)


def gradcheck(layer, x, *, loss=None, labels=None, training=True, eps=1e-5, rtol=1e-6,
              max_coords=48, seed=0, raise_on_fail=True) -> GradcheckReport:
    """Check ``layer.backward`` (input and every parameter) against central differences; return
    a ``GradcheckReport`` (``print`` it for a table).

    Args:
        layer: any Layer or model (Sequential, ...), or None to check ``loss`` alone on ``x``.
        x: input array (N, ...); any float dtype, any backend — it is copied to float64.
        loss: optional criterion (``loss.forward(y, labels)`` → scalar, ``loss.backward()``);
            without one, L = Σ r·y for a fixed random r.
        labels: the targets passed to ``loss.forward``.
        training: passed to ``forward`` (True checks BatchNorm's batch statistics, Dropout's mask).
        eps: finite-difference step. rtol: the largest relative error allowed.
        max_coords: at most this many coordinates are checked per tensor (chosen at random).
        seed: seeds the direction r and the choice of coordinates.
        raise_on_fail: raise ``GradientCheckError`` with the worst coordinate when rtol is exceeded.

    The layer itself is not modified: the check runs on float64 deep copies, a fresh copy for
    every evaluation, so a layer's random state (Dropout's generator) gives the same mask in every
    evaluation and running statistics do not drift.
    """
    rng = numpy.random.default_rng(seed)
    objective = Objective(layer, x, loss, labels, training, rng)
    if objective.base is not None:
        objective.require_grads_set()
    report = GradcheckReport(objective.target, check_all(objective, eps, rtol, max_coords, rng),
                             rtol)
    d = getattr(objective.base, "expansion", 1)
    if not report.passed and d > 1 and objective.r is not None:
        report.members = {i: check_all(objective.member(i, d), eps, rtol, max_coords,
                                       numpy.random.default_rng(seed)) for i in range(d)}
    if raise_on_fail and not report.passed:
        raise GradientCheckError(str(report))
    return report


def check_all(objective, eps, rtol, max_coords, rng) -> list:
    """One Row per tensor (x, then each parameter) of ``objective``."""
    analytic = objective.analytic_gradients()
    return [check_tensor(objective, name, tensor,
                         checked_gradient(objective.target, name, tensor, analytic), eps, rtol,
                         max_coords, rng)
            for name, tensor in objective.tensors().items()]


class Objective:
    """The scalar L whose gradient backward claims to compute, on float64 copies.

    L is the loss of the layer's output, or Σ r·y for a fixed random direction r (y's shape).
    ``x`` and the copy's parameters are perturbed in place; each evaluation runs a fresh copy.
    """

    def __init__(self, layer, x, loss, labels, training, rng):
        if layer is None and loss is None:
            raise ValueError("gradcheck: give a layer, a loss, or both")
        f64 = numpy.dtype(numpy.float64)
        self.base = None if layer is None else copy.deepcopy(layer).astype(f64)
        self.crit = None if loss is None else copy.deepcopy(loss)
        self.labels, self.training = labels, training
        x = x if B.is_array(x) else numpy.asarray(x)
        self.x = B.asarray(B.to_numpy(x), dtype=f64).copy()
        self.target = "loss " + type(loss).__name__ if self.base is None else self.base.name
        if self.base is not None:
            y = self.base.forward(self.x, training=training)  # creates lazy params (PReLU)
            if isinstance(self.base, Activation):
                check_expansion("gradcheck", self.base, self.x.shape[1], y.shape[1])
        y = self.output()
        self.r = None if self.crit is not None else B.asarray(rng.standard_normal(y.shape), f64)
        self.y0 = y

    def member(self, i, d):
        """This objective with r zero outside member i's block of C = (d·C)/d output channels."""
        part, C = copy.copy(self), self.r.shape[1] // d
        part.r = self.r * 0
        part.r[:, i * C:(i + 1) * C] = self.r[:, i * C:(i + 1) * C]
        return part

    def output(self):
        """The layer's output (no loss) or the loss value, from fresh copies of layer and loss."""
        y = self.x if self.base is None else \
            copy.deepcopy(self.base).forward(self.x, training=self.training)
        if self.crit is None:
            return y.copy()      # y may be a view of x (Flatten), and x is perturbed in place
        return B.to_float(copy.deepcopy(self.crit).forward(y, self.labels))

    def change(self, y_after, y_before) -> float:
        """L(after) − L(before), projecting the output difference on r when there is no loss."""
        if self.r is None:
            return y_after - y_before
        return B.to_float((self.r * (y_after - y_before)).sum())

    def analytic_gradients(self, model=None) -> dict:
        """{"x": dL/dx, key: dL/dparam ...} from one forward and backward of ``model`` (default:
        a fresh copy)."""
        model = copy.deepcopy(self.base) if model is None and self.base is not None else model
        y = self.x if model is None else model.forward(self.x, training=self.training)
        if self.crit is None:
            dy = self.r.copy()                 # backward gets a copy: r must stay as it is
        else:
            crit = copy.deepcopy(self.crit)
            crit.forward(y, self.labels)
            dy = crit.backward()
        if model is None:
            return {"x": dy}
        given = B.to_numpy(dy).copy()
        grads = {"x": model.backward(dy)}
        if not numpy.array_equal(B.to_numpy(dy), given, equal_nan=True):
            raise GradientCheckError(
                f"gradcheck {self.target}: backward changed dy in place; the layer protocol "
                "(layer.py) says it never does, since another path (a residual's shortcut) may "
                "still read it: compute a new array (-dy[:, C:], not dy[:, C:] *= -1)")
        grads.update(model.grads)
        return grads

    def require_grads_set(self):
        """backward must *set* self.grads[k] to a new array (layer.py): a copy's second pass must
        give what a fresh copy's second pass gives (Dropout: the same mask), in a new array."""
        model, fresh = copy.deepcopy(self.base), copy.deepcopy(self.base)
        first = self.analytic_gradients(model)
        kept = {k: B.to_numpy(g).copy() for k, g in first.items() if B.is_array(g)}
        fresh.forward(self.x, training=self.training)
        second, want = self.analytic_gradients(model), self.analytic_gradients(fresh)
        for k in (k for k in self.base.params if k in kept and B.is_array(second.get(k))):
            a, b, w = kept[k], B.to_numpy(second[k]), B.to_numpy(want[k])
            said = f"gradcheck {self.target}: parameter '{k}': a second backward on the same input"
            if numpy.abs(b - w).max(initial=0) > 1e-12 * numpy.abs(w).max(initial=0):
                i = tuple(map(int, numpy.unravel_index(int(abs(b - w).argmax()), b.shape)))
                raise GradientCheckError(
                    f"{said} gave {(a * b).sum() / (a * a).sum():.2f}× the first (at {i}: first "
                    f"{a[i]:+.6e}, second {b[i]:+.6e}, a fresh copy's {w[i]:+.6e}): backward adds "
                    "into self.grads[k] instead of setting it (self.grads[k] = ...)")
            if second[k] is first[k] and a.any():
                raise GradientCheckError(f"{said} wrote into the first one's array: backward "
                                         "writes into self.grads[k] instead of setting a new "
                                         "array (self.grads[k] = ...)")

    def tensors(self) -> dict:
        """The arrays L is differentiated in: x and every parameter of the copy."""
        return {"x": self.x, **({} if self.base is None else self.base.params)}


def checked_gradient(target, name, tensor, analytic):
    """The analytic gradient of ``name`` as a flat float64 host array, after shape checks."""
    grad = analytic.get(name)
    if not B.is_array(grad):                         # missing, or None returned for dx
        raise GradientCheckError(f"gradcheck {target}: backward() left no gradient array for "
                                 f"'{name}' (got {type(grad).__name__})")
    got, want = tuple(grad.shape), tuple(tensor.shape)
    if got != want:
        why = "transposed axes?" if got == want[::-1] else "a sum over the wrong axes?"
        raise GradientCheckError(f"gradcheck {target}: gradient of '{name}' has shape {got}, "
                                 f"expected {want} — {why}")
    if not tensor.flags.c_contiguous:  # reshape would copy, and the perturbation be lost
        raise ValueError(f"gradcheck {target}: parameter '{name}' is not C-contiguous; "
                         "layers must keep their parameters contiguous")
    return B.to_numpy(grad).reshape(-1).astype(numpy.float64)


def one_sided_slopes(objective, flat, i, h):
    """(up, down) = ((L(t + h) − L(t)) / h, (L(t) − L(t − h)) / h) for coordinate t = flat[i]."""
    old = float(flat[i])
    flat[i] = old + h
    y_plus = objective.output()
    flat[i] = old - h
    y_minus = objective.output()
    flat[i] = old
    return (objective.change(y_plus, objective.y0) / h,
            objective.change(objective.y0, y_minus) / h)


def is_kink(objective, flat, i, eps) -> bool:
    """True when the one-sided slopes' disagreement at ε does not scale like curvature:
    (up − down) at ε/2 and ε/4 should be 1/2 and 1/4 of that at ε (a kink's does not shrink so)."""
    up, down = one_sided_slopes(objective, flat, i, eps)
    gap = up - down
    for fraction in (0.5, 0.25):
        u, d = one_sided_slopes(objective, flat, i, eps * fraction)
        if abs((u - d) / gap - fraction) > 0.4 * fraction:
            return True
    return False


def check_tensor(objective, name, tensor, grad, eps, rtol, max_coords, rng) -> Row:
    """Compare ``grad`` (flat) with central differences on up to ``max_coords`` coordinates."""
    flat = tensor.reshape(-1)          # a view: perturbing it perturbs the tensor in place
    idx = numpy.arange(flat.size) if flat.size <= max_coords else \
        numpy.sort(rng.choice(flat.size, max_coords, replace=False))
    up, down = numpy.array([one_sided_slopes(objective, flat, int(i), eps) for i in idx]).T
    # Disagreement far beyond round-off: a kink within eps, or curvature (told apart by is_kink).
    scale = numpy.abs(up + down).max() / 2
    differ = numpy.abs(up - down) > 1e-3 * numpy.maximum(
        numpy.maximum(numpy.abs(up), numpy.abs(down)), max(1e-2 * scale, 1e-6))
    kink = numpy.array([bool(d) and is_kink(objective, flat, int(i), eps)
                        for i, d in zip(idx, differ)], dtype=bool)
    if kink.all():
        raise ValueError(f"gradcheck {objective.target}: every checked coordinate of '{name}' "
                         f"lies within eps={eps} of a kink; steer the input away from kinks "
                         "and ties")
    n, a, kept = 0.5 * (up + down)[~kink], grad[idx[~kink]], idx[~kink]
    floor = max(1e-3 * numpy.abs(n).max(), 1e-8)
    err = numpy.abs(a - n) / numpy.maximum(numpy.maximum(numpy.abs(a), numpy.abs(n)), floor)
    w = int(err.argmax())
    worst = tuple(int(v) for v in numpy.unravel_index(kept[w], tuple(tensor.shape)))
    return Row(name, int(kept.size), int(kink.sum()), float(err[w]), worst, float(a[w]),
               float(n[w]), hint(a[err > rtol], n[err > rtol]))


def hint(a, n) -> str:
    """What the failing coordinates' analytic ``a`` and numeric ``n`` values show, in words."""
    if a.size == 0:
        return ""
    if numpy.all(numpy.abs(a) <= 1e-3 * numpy.abs(n)):
        return "analytic ≈ 0 where numeric is not: a term missing?"
    ratio = a / numpy.where(n == 0, numpy.nan, n)
    R = float(numpy.median(ratio)) if numpy.isfinite(ratio).all() else 0.0
    if R == 0.0 or numpy.abs(ratio - R).max() > 1e-3 * abs(R):
        return ""
    if abs(R + 1) <= 1e-3:
        return "analytic ≈ −numeric: sign flipped?"
    return f"analytic ≈ {R:.4g} × numeric: a scale factor of {R:.4g}?"


# ------------------------------------------------------------------ inputs that avoid kinks/ties
def away_from_kinks(shape, rng: numpy.random.Generator, margin=0.1, scale=1.0):
    """Normal-ish float64 values with |v| ≥ margin (no value near the kink of ReLU & co. at 0).
    Kinks elsewhere (ReLU6's at 6) are not avoided: gradcheck skips and counts the coordinates
    that land on one; a larger ``scale`` makes x reach them, so they are checked on both sides."""
    v = rng.standard_normal(shape) * scale
    return numpy.sign(v) * (margin + numpy.abs(v))


def distinct_values(shape, rng: numpy.random.Generator, spacing=0.01):
    """Float64 values in random order, any two at least ``spacing`` apart (no max-pool ties)."""
    n = int(numpy.prod(shape))
    return ((rng.permutation(n) - n / 2) * spacing).reshape(shape).astype(numpy.float64)
