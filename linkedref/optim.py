"""Optimizers (SGD, RMSProp, Adam) with Keras 2 semantics, and a step learning-rate schedule.

An optimizer walks ``model.params`` and ``model.grads`` (dicts with the same keys) at every step
— they are read afresh each time, because some layers (PReLU) create parameters on their first
forward — and updates each parameter **in place**: the arrays keep their identity and dtype.

The learning rate of step t (t = steps taken before this one, 0 for the first) is Keras' time
decay times the schedule's factor for the epoch that ``fit`` last gave ``set_epoch``:

    lr_t = lr · factor(epoch) / (1 + decay · t)

The paper used Keras 2, so the update rules follow Keras 2's code exactly (g = gradient):

    SGD       v ← μ v − lr_t g;   p ← p + v              (μ = momentum; μ = 0: p ← p − lr_t g)
    Nesterov  v ← μ v − lr_t g;   p ← p + μ v − lr_t g
    RMSProp   a ← ρ a + (1 − ρ) g²;   p ← p − lr_t g / (√a + ε)
    Adam      m ← β1 m + (1 − β1) g;   v ← β2 v + (1 − β2) g²
              p ← p − lr_t · √(1 − β2^(t+1)) / (1 − β1^(t+1)) · m / (√v + ε)
"""
from __future__ import annotations

import math
import numbers

from . import backend as B


class StepSchedule:
    """A step learning-rate schedule: ``{epoch: factor}``, each factor holding from its epoch on.

    ``StepSchedule({200: 0.1, 250: 0.01, 300: 0.001})`` multiplies the base lr by 1 before epoch
    200, by 0.1 from epoch 200, 0.01 from 250 and 0.001 from 300 (the All-CNN recipe the paper's
    AllCNN run follows). Factors are absolute, not cumulative. ``schedule(epoch)`` → factor.
    """

    def __init__(self, steps: dict):
        if not isinstance(steps, dict):
            raise TypeError(f"StepSchedule: expected a dict {{epoch: factor}}, "
                            f"got {type(steps).__name__}")
        for epoch, factor in steps.items():
            if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
                raise ValueError(f"StepSchedule: epochs must be integers ≥ 0, got {epoch!r}")
            if not _finite_real(factor) or factor <= 0:
                raise ValueError(f"StepSchedule: factors must be finite numbers > 0, "
                                 f"got {factor!r} at epoch {epoch}")
        self.steps = dict(sorted(steps.items()))

    def __call__(self, epoch: int) -> float:
        factor = 1.0
        for start, f in self.steps.items():
            if epoch >= start:
                factor = float(f)
        return factor

    def __repr__(self):
        return f"StepSchedule({self.steps})"


class Optimizer:
    """Base class: learning rate, time decay, schedule, per-parameter state, in-place updates.

    Subclasses implement ``_update(p, g, state, lr)`` for one parameter: p is updated in place,
    ``state`` is this key's dict of arrays (new arrays may be set in it), ``lr`` this step's
    learning rate (a Python float).
    """

    def __init__(self, model, lr: float, decay: float = 0.0, schedule=None):
        if not (hasattr(model, "params") and hasattr(model, "grads")):
            raise TypeError(f"{self.name}: pass the model itself (its .params and .grads are "
                            f"read at every step), got a {type(model).__name__}")
        _require(self.name, "lr", lr, _finite_real(lr) and lr > 0, "a finite number > 0")
        _require(self.name, "decay", decay, _finite_real(decay) and decay >= 0,
                 "a finite number ≥ 0")
        if schedule is not None and not callable(schedule):
            raise TypeError(f"{self.name}: schedule must be callable (epoch → factor), "
                            f"e.g. StepSchedule({{100: 0.1}}); got {type(schedule).__name__}")
        self.model = model
        self.lr, self.decay, self.schedule = float(lr), float(decay), schedule
        self.iterations = 0          # steps taken (Keras' `iterations`)
        self.epoch = 0
        self.state: dict = {}        # parameter key → dict of arrays

    @property
    def name(self) -> str:
        return type(self).__name__

    def set_epoch(self, epoch: int) -> None:
        """Tell the schedule which epoch starts now (``fit`` calls this every epoch)."""
        if not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"{self.name}: epoch must be an integer ≥ 0, got {epoch!r}")
        self.epoch = epoch

    @property
    def current_lr(self) -> float:
        """lr · factor(epoch) / (1 + decay · t): the learning rate of the next step."""
        factor = 1.0 if self.schedule is None else float(self.schedule(self.epoch))
        return self.lr * factor / (1.0 + self.decay * self.iterations)

    def step(self) -> None:
        """Update every parameter in place from its gradient; then count the step."""
        params, grads = self.model.params, self.model.grads
        if params.keys() != grads.keys():
            raise ValueError(f"{self.name}: model.params and model.grads have different keys: "
                             f"{sorted(set(params) ^ set(grads))}")
        lr = self.current_lr
        for key, p in params.items():
            g = grads[key]
            if tuple(g.shape) != tuple(p.shape):
                raise ValueError(f"{self.name}: gradient of '{key}' has shape {tuple(g.shape)}, "
                                 f"the parameter {tuple(p.shape)}")
            state = self.state.get(key)
            if state is None:                    # first step, or a parameter created lately
                state = self.state[key] = self._init_state(p)
            elif _shape_of(state) not in (None, tuple(p.shape)):
                raise ValueError(f"{self.name}: parameter '{key}' changed shape from "
                                 f"{_shape_of(state)} to {tuple(p.shape)} since the last step; "
                                 "make a new optimizer for a changed model")
            self._update(p, g, state, lr)
        self.iterations += 1

    # -- for subclasses -------------------------------------------------------------------
    _hyper = ("lr", "decay")            # the hyperparameters repr shows, in this order

    def _init_state(self, p) -> dict:
        return {}

    def _update(self, p, g, state, lr):
        raise NotImplementedError

    def __repr__(self):
        args = [f"{name}={getattr(self, name)}" for name in self._hyper]
        if self.schedule is not None:
            args.append(f"schedule={self.schedule!r}")
        return f"{self.name}({', '.join(args)})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, Keras 2 style.

    state per parameter: the velocity v (p's shape) when momentum > 0.
    """

    _hyper = ("lr", "momentum", "nesterov", "decay")

    def __init__(self, model, lr=0.01, momentum=0.0, nesterov=False, decay=0.0, schedule=None):
        super().__init__(model, lr, decay, schedule)
        _require(self.name, "momentum", momentum,
                 _finite_real(momentum) and 0 <= momentum < 1, "a number in [0, 1)")
        if nesterov and momentum == 0:
            raise ValueError(f"{self.name}: nesterov=True needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _init_state(self, p):
        if self.momentum == 0:
            return {}
        return {"v": B.get_array_module(p).zeros_like(p)}

    def _update(self, p, g, state, lr):
        mu = self.momentum
        if mu == 0:
            p -= lr * g                                  # p ← p − lr g
            return
        v = state["v"] = mu * state["v"] - lr * g        # v ← μ v − lr g
        if self.nesterov:
            p += mu * v - lr * g                         # p ← p + μ v − lr g
        else:
            p += v                                       # p ← p + v


class RMSProp(Optimizer):
    """RMSProp, Keras 2 style: a ← ρ a + (1 − ρ) g²;  p ← p − lr g / (√a + ε).

    state per parameter: the running mean square a (p's shape). ε = 1e-8: see ``Adam``.
    """

    _hyper = ("lr", "rho", "eps", "decay")

    def __init__(self, model, lr=0.001, rho=0.9, eps=1e-8, decay=0.0, schedule=None):
        super().__init__(model, lr, decay, schedule)
        _require(self.name, "rho", rho, _finite_real(rho) and 0 <= rho < 1, "a number in [0, 1)")
        _require(self.name, "eps", eps, _finite_real(eps) and eps > 0, "a finite number > 0")
        self.rho, self.eps = float(rho), float(eps)

    def _init_state(self, p):
        return {"a": B.get_array_module(p).zeros_like(p)}

    def _update(self, p, g, state, lr):
        xp, rho = B.get_array_module(p), self.rho
        a = state["a"] = rho * state["a"] + (1 - rho) * g * g       # a ← ρ a + (1 − ρ) g²
        p -= lr * (g / (xp.sqrt(a) + self.eps))                     # p ← p − lr g / (√a + ε)


class Adam(Optimizer):
    """Adam, Keras 2 style (bias correction folded into the step size, ε added to √v).

    state per parameter: the moment estimates m and v (p's shape).

    ε = 1e-8: Keras 2.0's default when the paper ran (and PyTorch's); Keras moved to 1e-7 after
    it (keras-team/keras PR #8710). In a 50-layer width-4 net the first gradients are ~1e-9, and
    with ε = 1e-7 ε outweighs √v: Adam does not normalise those steps (tutorial 04 measures it).
    """

    _hyper = ("lr", "beta1", "beta2", "eps", "decay")

    def __init__(self, model, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, decay=0.0,
                 schedule=None):
        super().__init__(model, lr, decay, schedule)
        for name, value in (("beta1", beta1), ("beta2", beta2)):
            _require(self.name, name, value, _finite_real(value) and 0 <= value < 1,
                     "a number in [0, 1)")
        _require(self.name, "eps", eps, _finite_real(eps) and eps > 0, "a finite number > 0")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def _init_state(self, p):
        xp = B.get_array_module(p)
        return {"m": xp.zeros_like(p), "v": xp.zeros_like(p)}

    def _update(self, p, g, state, lr):
        xp, b1, b2, t = B.get_array_module(p), self.beta1, self.beta2, self.iterations + 1
        lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        m = state["m"] = b1 * state["m"] + (1 - b1) * g             # m ← β1 m + (1 − β1) g
        v = state["v"] = b2 * state["v"] + (1 - b2) * g * g         # v ← β2 v + (1 − β2) g²
        p -= lr_t * (m / (xp.sqrt(v) + self.eps))                   # p ← p − lr_t m / (√v + ε)


# ---------------------------------------------------------------------------------- helpers
def _finite_real(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _require(owner, name, value, ok, expected):
    if not ok:
        raise ValueError(f"{owner}: {name} must be {expected}, got {value!r}")


def _shape_of(state):
    """The shape of a state's buffers (None when it has none)."""
    for buf in state.values():
        return tuple(buf.shape)
    return None
