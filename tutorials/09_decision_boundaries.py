# %% [markdown]
# # Tutorial 09 — decision regions and dead units of ReLU vs LK-ReLU MLPs on toy 2D problems
#
# **Question.** What does a dead unit cost a narrow deep net — can we *see* it in the decision
# regions? And does a linked net win because it is linked, or because it has more parameters?
#
# **The paper's claims (1 and 5).** Linked units do not die; at equal parameters (the √2-wide
# single net) linked nets stay competitive.
#
# **Method.** Four toy problems (spirals, moons, circles, XOR), three deep, narrow MLPs each:
#
# - ReLU, width w — the single unit;
# - LK-ReLU, width w — the *same width*: each layer has w units but 2w outputs, so the next
#   layer's fan-in doubles and the net has about twice the parameters;
# - ReLU, width ≈ √2·w — the paper's fair comparison: about the same parameters as LK-ReLU.
#
# We train each with Adam (lr 3e-3, β1 0.9, β2 0.999, ε 1e-8, no decay; the setup line prints
# the optimizer as the library built it), batch 32, draw its decision regions over the plane,
# and count its dead units (a unit whose output is zero for every training point; a linked unit
# is dead only when both of its members are). Narrow deep ReLU nets lose units and, with them,
# parts of the boundary.

# %%
import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

import linkedref as lk
import linkedref.backend as B
from linkedref.diagnostics import dead_units

import _settings as settings
from _common import (
    Story,
    finish,
    make_optimizer,
    mlp,
    optimizer_text,
    per_mode,
    print_table,
    save_figure,
    seeds_text,
)

NAME = "09_decision_boundaries"
story = Story(globals(), notebook_args=["--quick"])   # a notebook runs --quick; a script, main()

# %% [markdown]
# ## Setup
# Full mode: 8 hidden layers of width 8 (√2-wide: 11), 1,000 training points, 100 epochs,
# seeds 0–2; quick: 6 layers, 500 points, 25 epochs, seeds 0–1; smoke: 2 layers, two problems
# (`settings.decision_boundaries`). `--activation MODULE:CLASS` adds a net of your own unit.

# %%
PROBLEMS = ("spirals", "moons", "circles", "xor")
WIDTH = 8
LR, BATCH = 3e-3, 32                 # Adam, no decay


NETS = (("ReLU", "relu", 1.0), ("LK-ReLU", "lkrelu", 1.0),      # (label, unit, width factor)
        ("ReLU √2-wide", "relu", np.sqrt(2)))


@story.step("args")
def setup(argv):
    """Parse the command line (see --help), fill in the per-mode settings, print the setup.
    -> args"""
    args = settings.decision_boundaries(argv, PROBLEMS, NETS)
    args.nets = [(label, act, int(round(WIDTH * f))) for label, act, f in args.nets]
    print(f"MLPs of {args.depth} hidden layers; widths: same width {WIDTH} for ReLU and "
          f"LK-ReLU, {args.nets[2][2]} for ReLU √2-wide; {optimizer_text('adam', LR)}, "
          f"batch {BATCH}, {args.epochs} epochs, {args.n} training points")
    return args


# %% [markdown]
# ## The experiment
# Every problem × net × seed; each seed draws its own points. The first seed's nets are kept for
# the figure.

# %%
def make_problem(name, n, seed):
    """Train and test points of a toy problem, as float32 (N, 2) and int64 labels."""
    from linkedref.data import toy
    rng = np.random.default_rng(seed)
    X, y = getattr(toy, name)(2 * n, rng=rng)
    X, y = B.to_numpy(X).astype(np.float32), B.to_numpy(y).astype(np.int64)
    return (X[:n], y[:n]), (X[n:], y[n:])


def train_one(act, width, depth, data, epochs, seed):
    """Train one MLP. -> (model, {"params", "train", "test", "dead", "units"})"""
    (Xtr, ytr), (Xte, yte) = data
    rng = np.random.default_rng(seed)
    model = mlp(act, 2, int(ytr.max()) + 1, width, depth, rng)
    loss = lk.SoftmaxCrossEntropy()
    lk.fit(model, loss, make_optimizer("adam", model, LR), Xtr, ytr,
           epochs=epochs, batch_size=BATCH, seed=seed, progress=False)
    dead = dead_units(model, Xtr)
    return model, {"params": lk.count_params(model),
                   "train": lk.evaluate(model, loss, Xtr, ytr)[1],
                   "test": lk.evaluate(model, loss, Xte, yte)[1],
                   "dead": sum(d.dead for d in dead), "units": sum(d.total for d in dead)}


@story.step("results", "shown")
def experiment(args):
    """-> (results {(problem, label): [stats per seed]}, shown {(problem, label): (model, data,
    stats)} of the first seed)"""
    results, shown = {}, {}
    jobs = [(p, v, s) for p in args.problems for v in args.nets for s in args.seeds]
    for problem, (label, act, w), seed in tqdm(jobs, desc="training", unit="net"):
        data = make_problem(problem, args.n, seed)
        model, stats = train_one(act, w, args.depth, data, args.epochs, seed)
        results.setdefault((problem, label), []).append(stats)
        if seed == args.seeds[0]:
            shown[(problem, label)] = (model, data, stats)
    return results, shown


# %% [markdown]
# ## The table
# Per problem and net, means over seeds: parameters, training and test accuracy, dead units
# (of all units).

# %%
@story.step()
def table(args, results):
    """Print the toy-problem table (means over seeds)."""
    rows = []
    for (problem, label), runs in results.items():
        mean = {k: np.mean([r[k] for r in runs]) for k in runs[0]}
        rows.append((problem, label, int(mean["params"]), mean["train"], mean["test"],
                     f"{mean['dead']:.1f}/{int(mean['units'])}"))
    print_table(f"Toy problems, {args.depth}×{WIDTH} MLPs, mean over seeds "
                f"{seeds_text(args.seeds)}",
                ["problem", "net", "params", "train acc", "test acc", "dead units"], rows)


# %% [markdown]
# ## The figure
# Rows: problems; columns: the nets (first seed). Colours: the predicted class over the
# plane; dots: the training points. Each title gives the test accuracy, the dead units and the
# parameters; look for ReLU boundaries that are straighter or coarser than the data asks for.

# %%
def regions(model, X, steps):
    """The predicted class on a steps × steps grid covering the points X (with a margin)."""
    lo, hi = X.min(axis=0) - 0.3, X.max(axis=0) + 0.3
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    out = B.to_numpy(model.forward(B.asarray(grid), training=False))
    return gx, gy, out.argmax(axis=1).reshape(gx.shape)


def draw_regions(ax, model, data, steps):
    (Xtr, ytr), _ = data
    gx, gy, cls = regions(model, Xtr, steps)
    ax.contourf(gx, gy, cls, levels=np.arange(cls.max() + 2) - 0.5, cmap="coolwarm", alpha=0.35)
    ax.scatter(Xtr[:, 0], Xtr[:, 1], c=ytr, cmap="coolwarm", s=6, edgecolors="none")
    ax.set_xticks([])
    ax.set_yticks([])


@story.step()
def figure(args, shown):
    """Draw and save the problems × nets grid of decision regions."""
    labels = [v[0] for v in args.nets]
    fig, axes = plt.subplots(len(args.problems), len(labels), squeeze=False,
                             figsize=(10 * len(labels) / 3, 3.2 * len(args.problems)))
    steps = per_mode(args, 40, 150, 200)
    for i, problem in enumerate(args.problems):
        for j, label in enumerate(labels):
            model, data, stats = shown[(problem, label)]
            draw_regions(axes[i, j], model, data, steps)
            axes[i, j].set_title(f"{problem} — {label}\ntest acc {stats['test']:.2f}, dead "
                                 f"{stats['dead']}/{stats['units']}, {stats['params']} params",
                                 fontsize=9)
        axes[i, 0].set_ylabel(problem)
    fig.suptitle(f"Decision regions of {args.depth}-hidden-layer MLPs after {args.epochs} epochs "
                 f"(seed {args.seeds[0]}; colours: predicted class, dots: training points)",
                 fontsize=11)
    fig.tight_layout()
    save_figure(fig, f"{NAME}.png", args)


# %% [markdown]
# ## The verdict

# %%
@story.step()
def verdict(args, results):
    """Print the one-line verdict: dead units and mean test accuracy of each net."""
    labels = [v[0] for v in args.nets]

    def mean_over_problems(label, key):
        return [np.mean([r[key] for r in results[(p, label)]]) for p in args.problems]

    dead = {label: sum(mean_over_problems(label, "dead")) for label in labels}
    acc = {label: np.mean(mean_over_problems(label, "test")) for label in labels}
    finish(args, "dead units summed over problems: "
                 + ", ".join(f"{label} {dead[label]:.1f}" for label in labels)
                 + "; mean test acc " + ", ".join(f"{label} {acc[label]:.3f}" for label in labels))


# %%
def main(argv=None):
    """Run the tutorial on the command line ``argv`` (see --help): every step above, in order.
    -> what the steps gave, by name"""
    return story.run(argv)


if __name__ == "__main__" and not story.notebook:
    main()
