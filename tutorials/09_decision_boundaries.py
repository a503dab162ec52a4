"""Tutorial 09 — decision regions and dead units of ReLU vs LK-ReLU MLPs on toy 2D problems.

Four toy problems (spirals, moons, circles, XOR), three deep, narrow MLPs each:

- ReLU, width w          — the single unit;
- LK-ReLU, width w       — the *same width*: each layer has w units but 2w outputs, so the next
                           layer's fan-in doubles and the net has about twice the parameters;
- ReLU, width ≈ √2·w     — the paper's fair comparison: about the same parameters as LK-ReLU.

We train each with Adam, draw its decision regions over the plane, and count its dead units
(a unit whose output is zero for every training point; a linked unit is dead only when both of
its members are). Narrow deep ReLU nets lose units and, with them, parts of the boundary.

Run:  python tutorials/09_decision_boundaries.py [--quick] [--seeds 0 1 2]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (accuracy, finish, make_parser, mlp, n_params, per_mode, print_table,  # noqa: E402
                     save_figure, seeds_text, start)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import linkedref as lr  # noqa: E402
import linkedref.backend as B  # noqa: E402
from linkedref.diagnostics import dead_units  # noqa: E402

PROBLEMS = ("spirals", "moons", "circles", "xor")


def variants(width):
    """(label, activation, width) of the three nets compared."""
    return [("ReLU", "relu", width),
            ("LK-ReLU", "lkrelu", width),
            ("ReLU √2-wide", "relu", int(round(width * np.sqrt(2))))]


def make_problem(name, n, seed):
    """Train and test points of a toy problem, as float32 (N, 2) and int64 labels."""
    from linkedref.data import toy
    rng = np.random.default_rng(seed)
    X, y = getattr(toy, name)(2 * n, rng=rng)
    X, y = B.to_numpy(X).astype(np.float32), B.to_numpy(y).astype(np.int64)
    return (X[:n], y[:n]), (X[n:], y[n:])


def train_one(name, act, width, depth, data, epochs, seed):
    (Xtr, ytr), (Xte, yte) = data
    rng = np.random.default_rng(seed)
    model = mlp(act, 2, int(ytr.max()) + 1, width, depth, rng)
    lr.fit(model, lr.SoftmaxCrossEntropy(), lr.Adam(model, lr=3e-3), Xtr, ytr, epochs=epochs,
           batch_size=32, seed=seed, progress=False)
    dead = dead_units(model, Xtr)
    return model, {"params": n_params(model), "train": accuracy(model, Xtr, ytr),
                   "test": accuracy(model, Xte, yte), "dead": sum(d.dead for d in dead),
                   "units": sum(d.total for d in dead)}


def regions(model, X, steps):
    """The predicted class on a steps × steps grid covering the points X (with a margin)."""
    lo, hi = X.min(axis=0) - 0.3, X.max(axis=0) + 0.3
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    out = B.to_numpy(model.forward(B.asarray(grid), training=False))
    return gx, gy, out.argmax(axis=1).reshape(gx.shape)


def main(argv=None):
    args = start(make_parser(__doc__), argv, seeds=([0], [0, 1], [0, 1, 2]))
    n = per_mode(args, 100, 500, 1000)
    epochs = args.epochs or per_mode(args, 2, 25, 100)
    depth, width = per_mode(args, 2, 6, 8), 8
    problems = PROBLEMS[:2] if args.mode == "smoke" else PROBLEMS
    print(f"MLPs of {depth} hidden layers; widths: same width {width} for ReLU and LK-ReLU, "
          f"{variants(width)[2][2]} for ReLU √2-wide; {epochs} epochs, {n} training points")

    results, shown = {}, {}
    jobs = [(p, v, s) for p in problems for v in variants(width) for s in args.seeds]
    for problem, (label, act, w), seed in tqdm(jobs, desc="training", unit="net"):
        data = make_problem(problem, n, seed)
        model, stats = train_one(problem, act, w, depth, data, epochs, seed)
        results.setdefault((problem, label), []).append(stats)
        if seed == args.seeds[0]:
            shown[(problem, label)] = (model, data, stats)

    # Table: mean over seeds.
    rows = []
    for (problem, label), runs in results.items():
        mean = {k: np.mean([r[k] for r in runs]) for k in runs[0]}
        rows.append((problem, label, int(mean["params"]), mean["train"], mean["test"],
                     f"{mean['dead']:.1f}/{int(mean['units'])}"))
    print_table(f"Toy problems, {depth}×{width} MLPs, mean over seeds {seeds_text(args.seeds)}",
                ["problem", "net", "params", "train acc", "test acc", "dead units"], rows)

    # Figure: problems × nets, decision regions of the first seed.
    labels = [v[0] for v in variants(width)]
    fig, axes = plt.subplots(len(problems), 3, figsize=(10, 3.2 * len(problems)), squeeze=False)
    steps = per_mode(args, 40, 150, 200)
    for i, problem in enumerate(problems):
        for j, label in enumerate(labels):
            model, ((Xtr, ytr), _), stats = shown[(problem, label)]
            gx, gy, cls = regions(model, Xtr, steps)
            ax = axes[i, j]
            ax.contourf(gx, gy, cls, levels=np.arange(cls.max() + 2) - 0.5, cmap="coolwarm", alpha=0.35)
            ax.scatter(Xtr[:, 0], Xtr[:, 1], c=ytr, cmap="coolwarm", s=6, edgecolors="none")
            ax.set_title(f"{problem} — {label}\ntest acc {stats['test']:.2f}, "
                         f"dead {stats['dead']}/{stats['units']}, {stats['params']} params", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(problem)
    fig.suptitle(f"Decision regions of {depth}-hidden-layer MLPs after {epochs} epochs "
                 f"(seed {args.seeds[0]}; colours: predicted class, dots: training points)",
                 fontsize=11)
    fig.tight_layout()
    save_figure(fig, "09_decision_boundaries.png", args)

    by = {label: [np.mean([r["dead"] for r in results[(p, label)]]) for p in problems] for label in labels}
    acc = {label: np.mean([np.mean([r["test"] for r in results[(p, label)]]) for p in problems])
           for label in labels}
    finish(args, f"dead units summed over problems: ReLU {sum(by['ReLU']):.1f}, "
                 f"LK-ReLU {sum(by['LK-ReLU']):.1f}, ReLU √2 {sum(by['ReLU √2-wide']):.1f}; "
                 f"mean test acc ReLU {acc['ReLU']:.3f}, LK-ReLU {acc['LK-ReLU']:.3f}, "
                 f"ReLU √2 {acc['ReLU √2-wide']:.3f}")
    return {"results": results}


if __name__ == "__main__":
    main()
