"""Looking inside a network while it trains: dead units, pre-activation statistics, gradient norms.

Three tools, none of which changes the network or any other module:

- ``activation_layers(model)``: the activation layers of a model, in the order data meets them.
- ``dead_units(model, X)``: per activation layer, the units that are *dead* in the paper's sense
  (zero output for every sample of ``X``); a linked unit is dead only when all its members are.
  ``dead_definition(layer)`` says in one line what that means for a layer.
- ``Recorder(model, X_probe)``: at the steps you choose, statistics of each activation layer's
  input z on a fixed probe batch, and the norm of each layer's parameter gradients.

They look inside through ``watch_activations``, which wraps each activation layer's forward.
"""
from __future__ import annotations

import contextlib
import copy
import warnings
from typing import NamedTuple

import numpy

from . import backend as B
from .activations import Activation, reduce_axes
from .linkage import check_expansion, member_outputs, not_an_activation, z_ranges


# --------------------------------------------------------------------------- finding the layers
def activation_layers(model, path: str = "") -> list:
    """``[(name, layer), ...]`` for every activation layer in ``model``, in forward order.

    ``name`` is the layer's dotted path, as in the container's parameter keys: "3" is
    ``model.layers[3]``, "2.block.1" is child 1 of the block of the Residual at position 2
    (``Sequential``, ``Residual`` and any container are walked through ``children()``).
    A model that is itself an activation is named "0". (A ``Linked`` unit counts as one
    activation; its members are not listed on their own.)
    """
    if isinstance(model, Activation):          # a unit, single or linked (Linked included)
        return [(path or "0", model)]
    if looks_like_a_unit(model):
        warnings.warn(not_an_activation("diagnostics", f"layer {path or '0'} ({model.name})",
                                        "dead_units and Recorder skip it"), stacklevel=3)
    return [found for name, child in model.named_children()
            for found in activation_layers(child, f"{path}.{name}" if path else name)]


def looks_like_a_unit(layer) -> bool:
    """A layer of one's own (not linkedref's) that is not an Activation but may be a unit: one
    without children, and with an ``expansion`` > 1 or with no params and no buffers."""
    own = not type(layer).__module__.startswith("linkedref.")
    return (own and not isinstance(layer, Activation) and not layer.children()
            and (layer.expansion > 1 or not (layer.params or layer.buffers)))


@contextlib.contextmanager
def watch_activations(model, callback):
    """Within the block, every forward of an activation layer also calls ``callback(name, x, y)``.

    x is the layer's input (the pre-activation z, shape (N, C) or (N, C, H, W)), y its output.
    Each layer *instance* gets a wrapper that calls the original forward; leaving the ``with``
    block restores the class's method, so no other code is touched.
    """
    layers = activation_layers(model)
    for name, layer in layers:
        original = layer.forward

        def watched(x, training=False, _original=original, _name=name):
            y = _original(x, training=training)
            callback(_name, x, y)
            return y

        layer.forward = watched            # an instance attribute shadows the class's method
    try:
        yield layers
    finally:
        for _, layer in layers:
            del layer.forward              # back to the class's method


def _on_backend(model, X):
    """X on the active backend in the model's parameter dtype (as ``fit`` feeds it)."""
    return B.asarray(X, dtype=getattr(model, "dtype", None))


# ----------------------------------------------------------------------------------- dead units
class DeadUnits(NamedTuple):
    """One activation layer's count: ``name`` ("3:ReLU"), ``dead`` and ``total`` units."""
    name: str
    dead: int
    total: int

    @property
    def fraction(self) -> float:
        return self.dead / self.total if self.total else 0.0


def dead_units(model, X, batch_size: int = 256, atol: float = 0.0) -> list:
    """Dead (or, with ``atol`` > 0, saturated) units per activation layer of ``model`` over ``X``.

    Args:
        model: a Layer (usually a Sequential) containing activation layers (``lk.Activation``;
            a layer of one's own that is not one is skipped with a warning).
        X: inputs (N, D) or (N, C, H, W), NumPy or the active backend's arrays (cast to the
            model's dtype), run forward ``batch_size`` samples at a time (inference mode).
        atol: 0 (the default) is the paper's definition: a unit is dead when its output is
            exactly 0 for every sample and position. A unit that never outputs exactly 0
            (Softplus, Swish, ELU off z = 0, ...) cannot be dead by it: ``atol`` > 0 counts
            it as *saturated* when |y| ≤ atol for every sample and position — near-zero output,
            which fits units that flatten towards 0 (Softplus, Swish, the ReLU family), not
            ELU or SELU, which flatten towards −α and −λα.
            ``dead_definition(layer, atol)`` says in one line which applies to a layer.

    Returns:
        ``[DeadUnits(name, dead, total), ...]`` in forward order. ``total`` is the number of
        *units* (input channels C of the activation), not of outputs (d·C for a d-member link).
        A unit is alive when any member has |y| > atol for any sample and position.
    """
    alive = {}                                         # name -> (d·C,) bool: output ever non-zero

    def observe(name, x, y):
        check_expansion("dead_units", units[name], x.shape[1], y.shape[1])
        xp = B.get_array_module(y)
        nonzero = (xp.abs(y) > atol).any(axis=reduce_axes(y.ndim))   # over samples, positions: d·C
        alive[name] = nonzero if name not in alive else alive[name] | nonzero

    with watch_activations(model, observe) as layers:
        units = dict(layers)
        for start in range(0, len(X), batch_size):
            model.forward(_on_backend(model, X[start:start + batch_size]), training=False)
    counts = []
    for name, layer in layers:
        if name not in alive:
            raise ValueError(f"dead_units: activation layer {name} ({layer.name}) never ran; "
                             "is it reachable from the model's forward?")
        members, d = B.to_numpy(alive[name]), layer.expansion
        # unit c owns output channels c, C + c, ..., (d-1)·C + c: alive if any member is
        unit_alive = members.reshape(d, -1).any(axis=0)
        counts.append(DeadUnits(f"{name}:{layer.name}", int((~unit_alive).sum()), unit_alive.size))
    return counts


def dead_definition(layer, atol: float = 0.0) -> str:
    """One line saying how ``dead_units(..., atol)`` judges the units of ``layer``.

    The layer (a float64 copy) is probed on z in [−30, 30] (step 0.001, z = 0 included) to
    find where every member outputs |y| ≤ atol: on a range of z, or only at single points or
    nowhere (then it "cannot be dead by this definition"). A point is not a guarantee: a net
    that shrinks z layer by layer can bring every z of a unit near enough to it that its outputs
    round to 0 in float32, and then dead_units counts it. Where every member is flat at
    another value (ReLU6 at 6), a unit stops learning but is not counted: the line says so.
    """
    z = numpy.arange(-30000, 30001) / 1000                                # n
    y = member_outputs(layer, "dead_definition")(z)                     # n, d, C
    counted = (numpy.abs(y) <= atol).all(axis=(1, 2))                    # n
    where = z_ranges(z, counted)
    flat = (numpy.abs(numpy.diff(y, axis=0)) <= 1e-9).all(axis=(1, 2))   # n − 1: no slope
    uncounted = z_ranges(z[1:], flat & ~counted[1:] & ~counted[:-1])
    flat_note = (f"; where {' or '.join(uncounted)} every member is flat (no gradient) yet not "
                 "counted: lk.check_linkage shows it" if uncounted else "")
    kind = "exact zeros (the paper's definition)" if atol == 0 else f"saturated (|y| ≤ {atol:g})"
    if any(" ≤ " in w or " ≥ " in w for w in where):            # a range of z, not points
        return (f"{kind} — {layer.name} units count when {' or '.join(where)} "
                "for every sample and position" + flat_note)
    small = "exactly 0" if atol == 0 else f"|y| ≤ {atol:g}"
    members = " in every member" if y.shape[1] > 1 else ""
    then = "pass atol to count saturated units" if atol == 0 else "try a larger atol"
    if not where:
        return (f"{kind} — {layer.name} outputs {small}{members} for no z: it cannot be dead by "
                f"this definition; {then}{flat_note}")
    near = ("round to 0 (in float32 sooner than in this float64 probe)" if atol == 0
            else f"are within {atol:g}")
    return (f"{kind} — {layer.name} outputs {small}{members} only at {' and '.join(where)}: a "
            f"unit counts only when all its z lie there, or so near that its outputs {near}; "
            f"{then}{flat_note}")


# ---------------------------------------------------------------- statistics during training
PERCENTILES = (1, 25, 50, 75, 99)


def preactivation_stats(x, percentiles=PERCENTILES) -> dict:
    """Statistics of one layer's pre-activations x (all samples, units and positions together):
    ``{"mean", "std", "frac_pos" (share of z > 0), "p1", "p25", ...}`` as Python floats."""
    return _stats_dict(B.to_numpy(_stats_vector(x, percentiles)), percentiles)


def _stats_vector(x, percentiles):
    """[mean, std, frac_pos, percentiles...] of x as one float64 vector, left on x's device."""
    xp = B.get_array_module(x)
    flat = x.reshape(-1).astype(xp.float64)
    return xp.stack([flat.mean(), flat.std(), (flat > 0).mean(),
                     *xp.percentile(flat, list(percentiles))])


def _stats_dict(values, percentiles) -> dict:
    """A host vector from ``_stats_vector`` as {"mean": ..., "p1": ...} of Python floats."""
    keys = ["mean", "std", "frac_pos"] + [f"p{q:g}" for q in percentiles]
    return dict(zip(keys, (float(v) for v in values)))


def grad_norms(model) -> dict:
    """The L2 norm of each layer's parameter gradients, ``{"0": |dW, db|, "3": ...}``, from
    whatever the last ``backward`` left in ``model.grads`` (keys "i.W" grouped by "i")."""
    squares = {}
    for key, g in model.grads.items():
        layer = key.rsplit(".", 1)[0] if "." in key else ""
        xp = B.get_array_module(g)
        squares[layer] = squares.get(layer, 0.0) + (g.astype(xp.float64) ** 2).sum()
    if not squares:
        return {}
    xp = B.get_array_module(*squares.values())
    norms = numpy.sqrt(B.to_numpy(xp.stack([xp.asarray(v) for v in squares.values()])))  # 1 copy
    return {k: float(v) for k, v in zip(squares, norms)}


class Recorder:
    """Record pre-activation statistics on a fixed probe batch, and gradient norms, over training.

    Usage::

        rec = Recorder(model, X[:512])
        for epoch in range(E):
            fit(model, loss, opt, X, y, epochs=1, seed=epoch)
            rec.record(step=epoch + 1)            # probe forward (inference mode) + grad norms
        rec.array("p50")                          # (steps, layers): the median z

    ``rec.steps`` lists the recorded steps; ``rec.stats[name]`` one dict per step for each
    activation layer; ``rec.grads[name]`` one gradient norm per step for each parameterised layer.
    The probe forward runs in inference mode (``training=False``: BatchNorm uses its running
    statistics). With ``training=True`` it runs in training mode — BatchNorm normalises with the
    probe batch's own statistics, as during a training step — on a deep copy of the model, so
    the running statistics do not move.
    """

    def __init__(self, model, X_probe, percentiles=PERCENTILES, training: bool = False):
        self.model = model
        self.X_probe = X_probe
        self.percentiles = tuple(percentiles)
        self.training = training
        found = activation_layers(model)
        self.layers = [name for name, _ in found]
        self.labels = [f"{name}:{layer.name}" for name, layer in found]
        self.steps: list = []
        self.stats: dict = {name: [] for name in self.layers}
        self.grads: dict = {}

    def record(self, step) -> None:
        """Measure now and file the numbers under ``step`` (an int: epoch, iteration, ...)."""
        found = {}

        def observe(name, x, y):
            found[name] = _stats_vector(x, self.percentiles)      # stays on the device

        target = copy.deepcopy(self.model) if self.training else self.model
        with watch_activations(target, observe):
            target.forward(_on_backend(target, self.X_probe), training=self.training)
        self.steps.append(step)
        if self.layers:
            xp = B.get_array_module(*found.values())
            table = B.to_numpy(xp.stack([found[name] for name in self.layers]))  # one copy to host
            for name, values in zip(self.layers, table):
                self.stats[name].append(_stats_dict(values, self.percentiles))
        for name, norm in grad_norms(self.model).items():
            self.grads.setdefault(name, []).append(norm)

    def array(self, key: str):
        """One statistic ("mean", "std", "frac_pos", "p1", ...) as a (steps, layers) NumPy array."""
        return numpy.array([[self.stats[name][t][key] for name in self.layers]
                            for t in range(len(self.steps))])

    def grad_array(self):
        """Gradient norms as a (steps, parameterised layers) array; columns ordered as ``grads``."""
        return numpy.array([self.grads[name] for name in self.grads]).T
