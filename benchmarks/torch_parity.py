"""Train linkedref and its PyTorch twin side by side in float64 and report how far they drift.

Each model is built in linkedref, its twin in PyTorch (``torch_models.py``) gets a copy of
linkedref's initial weights (Dense W (in, out) is PyTorch's weight transposed), and both take
the same batches of the 8×8 digits (16×16 for cifar_net), standardised, for ``--steps`` steps of
SGD (momentum 0.9) and of Adam, each with time decay lr / (1 + decay·t). The PyTorch update is
written out by hand with linkedref's Keras-2 semantics (see ``linkedref/optim.py``), so both
sides run the same arithmetic and any difference is round-off. Per model and optimizer it prints
the largest relative loss difference |L − L_torch| / |L_torch| over the run and the largest
relative parameter difference max|p − p_torch| / max|p_torch| (per tensor, buffers included),
with the gradients beside them. Mode ``run``: the two trainings run freely from the same start.
Mode ``resync``, for nets where round-off grows chaotically (SELU, deep nets): before each step
linkedref's parameters, buffers and optimizer state are copied into the twin, so each row
measures one step from identical states; it adds the relative difference of the update itself.
The exit code is 1 when any row exceeds ``--tol`` (1e-12), or an Adam update 10 × that: Adam
divides each gradient element by its own running RMS, so an element whose gradient is ~1e-3 of
its tensor's largest gets an update as large as any, carrying its own relative round-off, up to
~1e3 × the tensor-relative one (measured: depth_selu's worst update element differs by 1.1e-12
of itself, its tensor's gradients by 6e-14). torch is optional for linkedref;
this script needs it.

    python benchmarks/torch_parity.py                       # every model, 200 steps
    python benchmarks/torch_parity.py --steps 20 --models depth_relu cifar_lkrelu_bn

``--save`` writes ``benchmarks/results/torch_parity.txt`` (replacing it) under a provenance header.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _path in (ROOT, HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import numpy as np  # noqa: E402  (after the path set-up: a script run from anywhere)

TOL = 1e-12
ADAM_UPDATE_FACTOR = 10         # Adam's one-step update: its tolerance is 10 × TOL (docstring)
BATCH = 32
SGD_HYPER = {"lr": 0.01, "momentum": 0.9, "decay": 1e-3}
ADAM_HYPER = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "decay": 1e-3}

# name → (builder, kwargs for both frameworks, image size, default mode)
MODELS = {
    "depth_relu": ("depth_net", {"depth": 10, "width": 4, "activation": "relu"}, 8, "run"),
    "depth_lkrelu": ("depth_net", {"depth": 10, "width": 4, "activation": "lkrelu"}, 8, "run"),
    "depth_lkrelu_ll": ("depth_net", {"depth": 10, "width": 4, "activation": "lkrelu",
                                      "init": "looks_linear"}, 8, "run"),
    "depth_selu": ("depth_net", {"depth": 10, "width": 4, "activation": "selu"}, 8, "resync"),
    "width_lkrelu": ("width_net", {"units": 16, "activation": "lkrelu"}, 8, "run"),
    "cifar_lkrelu_bn": ("cifar_net", {"widen": 0.25, "activation": "lkrelu", "batchnorm": True,
                                      "dropout": False}, 16, "run"),
    # twice as wide: its 3×3 layers past the first take the Winograd path (≥ 32 channels)
    "cifar_lkrelu_w": ("cifar_net", {"widen": 0.5, "activation": "lkrelu", "dropout": False},
                       16, "resync"),
}
# Models checked with SGD only, and why. Winograd's float64 round-off is ~1e-14 of a tensor's
# largest value (as im2col's), but not of each element: Adam's per-element division turns it into
# update differences above its 1e-11 on elements with tiny gradients (measured 1.3e-11; im2col on
# the same net 3.8e-12). SGD's update is the gradient itself, so its row checks the path.
SGD_ONLY = {"cifar_lkrelu_w"}


@dataclass
class Row:
    model: str
    optimizer: str
    mode: str
    steps: int
    loss: float          # max over steps of |L − L_torch| / |L_torch|
    param: float         # max over steps and tensors of max|p − p_torch| / max|p_torch|
    grad: float          # the same for the gradients
    update: float = float("nan")   # resync only: the same for the one-step update Δp

    def worst(self) -> float:
        """The loss and parameter difference, held against the tolerance (the gradient column
        is for reading)."""
        return max(self.loss, self.param)

    def ok(self, tol) -> bool:
        """Losses and parameters within tol; in resync mode the update within tol (10 × tol for
        Adam's, see the module docstring). A NaN anywhere fails."""
        update_tol = tol * (ADAM_UPDATE_FACTOR if self.optimizer == "adam" else 1)
        update_ok = self.mode != "resync" or self.update <= update_tol
        return self.loss <= tol and self.param <= tol and update_ok


# ----------------------------------------------------------------------------- building
def build(name, seed=0):
    """(linkedref model, torch twin with linkedref's weights, X (N, 1, S, S), y (N,)), float64."""
    import torch
    import torch_models

    from linkedref import data, models
    builder, kwargs, size, _ = MODELS[name]
    common = {"in_channels": 1, "num_classes": 10, "input_size": (size, size)}
    ours = getattr(models, builder)(**kwargs, **common, rng=seed)
    theirs_kwargs = {k: v for k, v in kwargs.items() if k != "init"}
    if builder == "depth_net":
        theirs_kwargs["padding"] = "keras"
    theirs = getattr(torch_models, builder)(**theirs_kwargs, **common).to(torch.float64)
    (X, y), _ = data.load("digits")
    X = X.astype(np.float64)
    if size == 16:
        X = data.upsample2x(X)
    X = (X - X.mean()) / X.std()
    pairs = pair_tensors(ours, theirs)
    copy_into_torch(pairs)
    return ours, theirs, pairs, X, y


def pair_tensors(ours, theirs):
    """[(key, linkedref layer, store, name, torch tensor, transpose)] for every parameter and
    buffer, matched layer by layer in order (Conv2D–Conv2d, Dense–Linear, BatchNorm–BatchNorm).

    store is "params", "buffers" or "null": the bias of a layer that feeds a BatchNorm, whose
    exact gradient is 0 (BatchNorm subtracts the mean), so each framework moves it by its own
    round-off (Adam even scales that noise up to full steps). It changes nothing but the running
    mean, so ``run`` copies it from linkedref into the twin after every step, never compares it."""
    from torch import nn

    from linkedref import BatchNorm, Conv2D, Dense
    W, b = ("params", "W", "weight", False), ("params", "b", "bias", False)
    names = {Conv2D: (nn.Conv2d, [W, b]),
             Dense: (nn.Linear, [("params", "W", "weight", True), b]),
             BatchNorm: ((nn.BatchNorm1d, nn.BatchNorm2d),
                         [("params", "gamma", "weight", False), ("params", "beta", "bias", False),
                          ("buffers", "running_mean", "running_mean", False),
                          ("buffers", "running_var", "running_var", False)])}
    ours_layers = [(i, la) for i, la in enumerate(ours.layers) if la.params or la.buffers]
    theirs_layers = [m for m in theirs.children()
                     if any(True for _ in m.parameters()) or any(True for _ in m.buffers())]
    if len(ours_layers) != len(theirs_layers):
        raise ValueError(f"torch_parity: {len(ours_layers)} linkedref layers with parameters, "
                         f"{len(theirs_layers)} torch modules")
    pairs = []
    for (i, layer), module in zip(ours_layers, theirs_layers):
        torch_type, entries = names[type(layer)]
        if not isinstance(module, torch_type):
            raise TypeError(f"torch_parity: layer {i} is a {type(layer).__name__}, its twin a "
                            f"{type(module).__name__}")
        feeds_bn = i + 1 < len(ours.layers) and isinstance(ours.layers[i + 1], BatchNorm)
        for store, key, tname, transpose in entries:
            if feeds_bn and key == "b":
                store = "null"
            pairs.append((f"{i}.{key}", layer, store, key, getattr(module, tname), transpose))
    return pairs


def _ours(layer, store, key):
    return (layer.buffers if store == "buffers" else layer.params)[key]


def _theirs(tensor, transpose):
    t = tensor.detach().numpy()
    return t.T if transpose else t


def copy_into_torch(pairs):
    """Overwrite every torch parameter and buffer with linkedref's value."""
    import torch
    with torch.no_grad():
        for _, layer, store, key, tensor, transpose in pairs:
            value = np.asarray(_ours(layer, store, key))
            tensor.copy_(torch.from_numpy(np.ascontiguousarray(value.T if transpose else value)))


def rel(a, b) -> float:
    """max|a − b| / max|b| (b the torch value; a zero tensor compares absolutely)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    return float(np.max(np.abs(a - b))) / (scale if scale > 0 else 1.0)


# -------------------------------------------------------------------------- PyTorch side
class TorchOptimizer:
    """linkedref's SGD (momentum) or Adam, Keras 2 semantics, written out on torch tensors.

    SGD:  lr_t = lr / (1 + decay·(t − 1));  v ← μ v − lr_t g;  p ← p + v
    Adam: lr_t = lr / (1 + decay·(t − 1)) · √(1 − β2^t) / (1 − β1^t);
          m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;  p ← p − lr_t m / (√v + ε)
    (t counts steps from 1.) The operations run in linkedref's order, so the same floats come out.
    """

    def __init__(self, kind, tensors, hyper):
        import torch
        self.kind, self.hyper, self.t = kind, hyper, 0
        self.state = {id(p): {k: torch.zeros_like(p) for k in self._buffers()} for p in tensors}

    def _buffers(self):
        return ("v",) if self.kind == "sgd" else ("m", "v")

    def step(self, tensors):
        import torch
        h = self.hyper
        self.t += 1
        lr = h["lr"] / (1.0 + h["decay"] * (self.t - 1))
        with torch.no_grad():
            for p in tensors:
                g, s = p.grad, self.state[id(p)]
                if self.kind == "sgd":
                    v = s["v"]
                    v.mul_(h["momentum"]).sub_(g * lr)          # v ← μ v − lr g
                    p.add_(v)                                   # p ← p + v
                    continue
                b1, b2 = h["beta1"], h["beta2"]
                lr_t = lr * np.sqrt(1.0 - b2 ** self.t) / (1.0 - b1 ** self.t)
                m, v = s["m"], s["v"]
                m.mul_(b1).add_(g * (1.0 - b1))                 # m ← β1 m + (1 − β1) g
                v.mul_(b2).add_(g * g * (1.0 - b2))             # v ← β2 v + (1 − β2) g²
                p.sub_(m / (v.sqrt() + h["eps"]) * lr_t)        # p ← p − lr_t m / (√v + ε)


# ---------------------------------------------------------------------------------- run
def run(name, optimizer, steps, mode=None, seed=0, batch=BATCH, threads=1) -> Row:
    """Train ``name`` with ``optimizer`` ("sgd" or "adam") in both frameworks; one Row.

    Both run on ``threads`` threads (one: these nets are tiny, and extra threads only wait)."""
    import torch

    import linkedref as lk
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with lk.fast.using_threads(threads):
            return _run(name, optimizer, steps, mode, seed, batch)
    finally:
        torch.set_num_threads(previous)


def _run(name, optimizer, steps, mode, seed, batch) -> Row:
    import torch
    import torch.nn.functional as F

    import linkedref.backend as B
    from linkedref import SGD, Adam, SoftmaxCrossEntropy
    mode = mode or MODELS[name][3]
    backend, dtype = B.get_backend(), B.get_default_dtype()
    B.set_backend("numpy")
    B.set_default_dtype("float64")
    try:
        ours, theirs, pairs, X, y = build(name, seed)
    finally:
        B.set_backend(backend)
        B.set_default_dtype(dtype)
    theirs.train()
    loss = SoftmaxCrossEntropy()
    if optimizer == "sgd":
        opt = SGD(ours, **SGD_HYPER)
        hyper = SGD_HYPER
    else:
        opt = Adam(ours, **ADAM_HYPER)
        hyper = ADAM_HYPER
    trainable = [p for (_, _, store, _, p, _) in pairs if store != "buffers"]
    compared = [pair for pair in pairs if pair[2] != "null"]
    torch_opt = TorchOptimizer(optimizer, trainable, hyper)
    rng = np.random.default_rng(seed)
    row = Row(name, optimizer, mode, steps, 0.0, 0.0, 0.0, 0.0 if mode == "resync" else np.nan)
    for _ in range(steps):
        idx = rng.integers(0, len(X), size=batch)
        xb, yb = X[idx], y[idx]
        if mode == "resync":
            copy_into_torch(pairs)
            _copy_optimizer_state(opt, torch_opt, pairs)
            before = [np.array(_ours(la, st, k)) for (_, la, st, k, _, _) in compared]
        # linkedref: forward, loss, backward, update
        ours_loss = float(loss.forward(ours.forward(xb, training=True), yb))
        ours.backward(loss.backward())
        # torch: the same
        theirs.zero_grad(set_to_none=True)
        theirs_loss = F.cross_entropy(theirs(torch.from_numpy(xb)), torch.from_numpy(yb))
        theirs_loss.backward()
        row.loss = max(row.loss, abs(ours_loss - theirs_loss.item()) / abs(theirs_loss.item()))
        for _, layer, store, key, tensor, transpose in compared:
            if store == "params":
                row.grad = max(row.grad, rel(layer.grads[key], _theirs(tensor.grad, transpose)))
        opt.step()
        torch_opt.step(trainable)
        copy_into_torch([pair for pair in pairs if pair[2] == "null"])
        for j, (_, layer, store, key, tensor, transpose) in enumerate(compared):
            ours_now, theirs_now = _ours(layer, store, key), _theirs(tensor, transpose)
            row.param = max(row.param, rel(ours_now, theirs_now))
            if mode == "resync":
                row.update = max(row.update, rel(ours_now - before[j], theirs_now - before[j]))
    return row


def _copy_optimizer_state(opt, torch_opt, pairs):
    """Resync: linkedref's step count and moment buffers into the hand-written torch optimizer."""
    import torch
    torch_opt.t = opt.iterations
    for key, _, store, _, tensor, transpose in pairs:
        if store == "buffers" or key not in opt.state:
            continue
        for name, buf in torch_opt.state[id(tensor)].items():
            value = np.asarray(opt.state[key][name])
            buf.copy_(torch.from_numpy(np.ascontiguousarray(value.T if transpose else value)))


# ----------------------------------------------------------------------------- report
HEADER = (f"{'model':<16} {'optimizer':<9} {'mode':<7} {'steps':>5} {'loss rel':>9} "
          f"{'param rel':>9} {'update rel':>10} {'grad rel':>9}  verdict")


def format_row(r: Row, tol=TOL) -> str:
    update = "-" if r.update != r.update else f"{r.update:.1e}"
    verdict = "ok" if r.ok(tol) else "EXCEEDS its tolerance"
    return (f"{r.model:<16} {r.optimizer:<9} {r.mode:<7} {r.steps:>5} {r.loss:>9.1e} "
            f"{r.param:>9.1e} {update:>10} {r.grad:>9.1e}  {verdict}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=200, help="training steps per row (default 200)")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--optimizers", nargs="+", default=["sgd", "adam"], choices=["sgd", "adam"])
    p.add_argument("--mode", default="auto", choices=["auto", "run", "resync"],
                   help="auto: each model's own (resync for SELU), or force one for all")
    p.add_argument("--tol", type=float, default=TOL, help="largest allowed relative difference")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", action="store_true",
                   help="write benchmarks/results/torch_parity.txt, replacing it")
    args = p.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch_parity: PyTorch is not installed (pip install torch); nothing to compare")
        return 2
    import provenance
    print(provenance.header(1))
    out = provenance.Report()
    out(f"torch_parity: linkedref vs PyTorch, float64, one thread each, batch {BATCH} of the "
        f"digits, seed {args.seed}, tolerance {args.tol:.0e}")
    out(f"SGD {SGD_HYPER}; Adam {ADAM_HYPER}")
    out(HEADER)
    out("-" * len(HEADER))
    rows = []
    for name in args.models:
        for optimizer in args.optimizers:
            if optimizer != "sgd" and name in SGD_ONLY:
                out(f"{name:<16} {optimizer:<9} not run: SGD only (SGD_ONLY says why)")
                continue
            mode = None if args.mode == "auto" else args.mode
            rows.append(run(name, optimizer, args.steps, mode, seed=args.seed))
            out(format_row(rows[-1], args.tol))
    worst, ok = max(r.worst() for r in rows), all(r.ok(args.tol) for r in rows)
    updates = [r.update for r in rows if r.update == r.update]
    out(f"largest relative difference of losses and parameters {worst:.1e} (tolerance "
        f"{args.tol:.0e}); of one-step updates {max(updates, default=0.0):.1e} (tolerance "
        f"{args.tol:.0e}, Adam's {args.tol * ADAM_UPDATE_FACTOR:.0e}): "
        f"{'ok' if ok else 'FAILED'}")
    if args.save:
        provenance.save("torch_parity", out.text(), threads=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
