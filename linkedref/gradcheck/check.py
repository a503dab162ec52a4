"""Check a hand-derived backward pass against central finite differences, in float64.

The idea, for a layer y = f(x; θ): pick a fixed random direction r with the shape of y and look
at the scalar L = Σ r·y. Its gradient is exactly what ``backward(r)`` claims to compute
(dL/dx and dL/dθ), and each coordinate of it can be estimated numerically:

    dL/dx_i  ≈  [ Σ r·(f(x + ε e_i) − f(x − ε e_i)) ] / 2ε

We difference the outputs *before* projecting on r, so the large sum does not cancel away the
small change (this keeps the numeric estimate accurate to ~1e-10). With a loss, L is the loss.

Kinks. ReLU, max-pool and friends are not differentiable everywhere. At a point within ε of a
kink the one-sided slopes (L(x+ε)−L(x))/ε and (L(x)−L(x−ε))/ε disagree by O(1); such coordinates
are skipped (and counted) rather than reported as errors. A wrong backward pass cannot hide behind
this: it changes the analytic value, not the agreement of the two one-sided slopes.

Errors are relative, per coordinate: |a − n| / max(|a|, |n|, floor), where the floor
(1e-3 × the largest |n| of that tensor, at least 1e-8) keeps round-off on near-zero gradients from
counting as error.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy

from .. import backend as B


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


@dataclass
class GradcheckReport:
    """What ``gradcheck`` measured: one Row per tensor, and the tolerance used."""
    target: str
    rows: list = field(default_factory=list)
    rtol: float = 1e-6

    @property
    def max_error(self) -> float:
        return max((r.max_error for r in self.rows), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_error <= self.rtol

    def __str__(self) -> str:
        lines = [f"gradcheck {self.target}: max relative error {self.max_error:.2e} (tolerance {self.rtol:.0e})",
                 f"  {'tensor':<24}{'checked':>8}{'kinks':>7}{'max rel err':>13}  worst: index, analytic, numeric"]
        for r in self.rows:
            lines.append(f"  {r.name:<24}{r.checked:>8}{r.skipped:>7}{r.max_error:>13.2e}  "
                         f"{r.worst_index}, {r.analytic:+.10e}, {r.numeric:+.10e}")
        return "\n".join(lines)


def gradcheck(layer, x, *, loss=None, labels=None, training=True, eps=1e-5, rtol=1e-6,
              max_coords=48, seed=0, raise_on_fail=True) -> GradcheckReport:
    """Check ``layer.backward`` (input and every parameter) against central differences.

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

    Returns:
        a ``GradcheckReport`` (``print`` it for a table).
    """
    f64 = numpy.dtype(numpy.float64)
    rng = numpy.random.default_rng(seed)
    base = None if layer is None else copy.deepcopy(layer).astype(f64)
    crit = None if loss is None else copy.deepcopy(loss)
    if not B.is_array(x):
        x = numpy.asarray(x)
    x = B.asarray(B.to_numpy(x), dtype=f64).copy()
    target = "loss " + type(loss).__name__ if base is None else base.name

    if base is None and crit is None:
        raise ValueError("gradcheck: give a layer, a loss, or both")
    if base is not None:
        base.forward(x, training=training)   # creates lazily sized parameters (PReLU)

    def evaluate(xin):
        """The output (no loss) or the loss value, from fresh copies of layer and loss."""
        y = xin if base is None else copy.deepcopy(base).forward(xin, training=training)
        if crit is None:
            return y.copy()      # y may be a view of xin (Flatten), and xin is perturbed in place
        return B.to_float(copy.deepcopy(crit).forward(y, labels))

    # The analytic gradient, from one forward/backward on a fresh copy.
    y0 = evaluate(x)
    model = None if base is None else copy.deepcopy(base)
    y = x if model is None else model.forward(x, training=training)
    if crit is None:
        r = B.asarray(rng.standard_normal(tuple(y.shape)), dtype=f64)
        dy = r
    else:
        c = copy.deepcopy(crit)
        c.forward(y, labels)
        dy = c.backward()
        r = None
    dx = dy if model is None else model.backward(dy)
    analytic = {"x": dx}
    if model is not None:
        analytic.update(model.grads)

    def project(yp, yref):
        if r is None:
            return yp - yref
        return B.to_float((r * (yp - yref)).sum())

    tensors = {"x": x}
    if base is not None:
        tensors.update(base.params)
    report = GradcheckReport(target=target, rtol=rtol)
    for name, arr in tensors.items():
        if name not in analytic:
            raise GradientCheckError(f"gradcheck {target}: backward() left no gradient for '{name}'")
        grad = analytic[name]
        if tuple(grad.shape) != tuple(arr.shape):
            raise GradientCheckError(f"gradcheck {target}: gradient of '{name}' has shape "
                                     f"{tuple(grad.shape)}, expected {tuple(arr.shape)}")
        if not arr.flags.c_contiguous:  # reshape would copy, and the perturbation be lost
            raise ValueError(f"gradcheck {target}: parameter '{name}' is not C-contiguous; "
                             "layers must keep their parameters contiguous")
        flat = arr.reshape(-1)          # a view: perturbing it perturbs the tensor in place
        gflat = B.to_numpy(grad).reshape(-1)
        idx = numpy.arange(flat.size) if flat.size <= max_coords else \
            numpy.sort(rng.choice(flat.size, max_coords, replace=False))
        ups, downs = [], []
        for i in idx:
            i = int(i)
            old = float(flat[i])
            flat[i] = old + eps
            yp = evaluate(x)
            flat[i] = old - eps
            ym = evaluate(x)
            flat[i] = old
            ups.append(project(yp, y0) / eps)      # one-sided slopes
            downs.append(project(y0, ym) / eps)
        up, down = numpy.array(ups), numpy.array(downs)
        # A kink within eps: the one-sided slopes disagree by much more than eps·f'' would explain.
        scale = numpy.abs(up + down).max() / 2
        kink = numpy.abs(up - down) > 1e-3 * numpy.maximum(numpy.maximum(numpy.abs(up), numpy.abs(down)),
                                                           max(1e-2 * scale, 1e-6))
        skipped = int(kink.sum())
        kept = idx[~kink]
        if not kept.size:
            raise ValueError(f"gradcheck {target}: every checked coordinate of '{name}' lies within "
                             f"eps={eps} of a kink; steer the input away from kinks and ties")
        nums = 0.5 * (up + down)[~kink]
        anas = gflat[kept].astype(numpy.float64)
        n, a = nums, anas
        floor = max(1e-3 * numpy.abs(n).max(), 1e-8)
        err = numpy.abs(a - n) / numpy.maximum(numpy.maximum(numpy.abs(a), numpy.abs(n)), floor)
        w = int(err.argmax())
        report.rows.append(Row(name, int(kept.size), skipped, float(err[w]),
                               tuple(int(v) for v in numpy.unravel_index(kept[w], tuple(arr.shape))),
                               float(a[w]), float(n[w])))
    if raise_on_fail and not report.passed:
        raise GradientCheckError(str(report))
    return report


# ------------------------------------------------------------------ inputs that avoid kinks/ties
def away_from_kinks(shape, rng: numpy.random.Generator, margin=0.1, scale=1.0):
    """Normal-ish float64 values with |v| ≥ margin (no value near the kink of ReLU & co. at 0)."""
    v = rng.standard_normal(shape) * scale
    return numpy.sign(v) * (margin + numpy.abs(v))


def distinct_values(shape, rng: numpy.random.Generator, spacing=0.01):
    """Float64 values in random order, every two at least ``spacing`` apart (no ties for max-pool)."""
    n = int(numpy.prod(shape))
    return ((rng.permutation(n) - n / 2) * spacing).reshape(shape).astype(numpy.float64)
