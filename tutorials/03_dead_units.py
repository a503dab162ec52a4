# %% [markdown]
# # Tutorial 03 — dead units, layer by layer, over training, in a deep plain net
#
# **Question.** Do linked units keep every unit of a deep, narrow plain net alive, where plain
# ReLU units die? And where in the net do units die, and when?
#
# **The paper's claim (claim 1).** Linked units have no dead neurons, while deep plain ReLU and
# PReLU nets show dead units from about layer 7 on.
#
# **Method.** A deep, narrow plain net — no BatchNorm, no shortcuts; by default an MLP of 12
# (full mode: 16) hidden layers of 16 units on the 8×8 digits; `--arch conv` gives 3×3 'same'
# conv layers of width 4, `--arch depth` tutorial 04's depth net itself (a 7×7/2 conv, then
# 3×3 convs of width 4; full mode on mnist5k runs it at depth 50) — is trained with each of
# ReLU, PReLU, SELU, Swish and their linked versions, with Adam (lr 1e-3, β1 0.9, β2 0.999, ε 1e-8,
# decay 1e-6; the setup line prints the optimizer as the library built it), batch 32. Before
# training and after every epoch, `linkedref.diagnostics.dead_units` counts, per layer, the
# units whose output is zero for every training sample at every position (a linked unit counts
# as dead only when both of its members are).
#
# Mind the definition: it is the paper's, "zero for all samples". SELU, Swish and PReLU
# (slope ≠ 0) are zero only at z = 0 exactly, so they cannot die by it even when their
# gradients vanish. The column "near-dead" also counts units whose |output| stays below
# 1e-3 × (the layer's largest |output|) for every sample: saturated SELU/Swish units, nearly
# flat PReLU units.

# %%
import matplotlib.pyplot as plt
import numpy as np

import linkedref as lk
import linkedref.backend as B
from linkedref.diagnostics import dead_definition, dead_units, watch_activations

import _settings as settings
from _common import (
    Story,
    finish,
    is_linked,
    load_images,
    make_optimizer,
    mlp,
    optimizer_text,
    per_mode,
    pretty,
    print_table,
    save_figure,
    seeds_text,
)
from _experiments import Variant, run_variants

NAME = "03_dead_units"
story = Story(globals(), notebook_args=["--quick"])   # a notebook runs --quick; a script, main()

# %% [markdown]
# ## Setup
# Full mode: depth 16, 40 epochs, seeds 0–2, every activation; on mnist5k the depth net of
# tutorial 04 (depth 50, width 4) for 10 epochs; quick mode: depth 12, 15 epochs, seeds 0–1 on
# 500 test images; smoke: depth 3, one epoch, ReLU and LK-ReLU. Dead units are counted on all
# training samples (smoke: 64); `--jobs 2` trains two nets at a time (same results);
# `--activation MODULE:CLASS` adds a unit of your own. The command line and these settings are
# `settings.dead_units` (tutorials/_settings.py). The setup prints, per activation, what
# `dead_definition` says about judging its units by the paper's definition.

# %%
ARCH_NAMES = {"mlp": "MLP", "conv": "conv net", "depth": "depth net (7×7/2 conv, then 3×3)"}
ACTIVATIONS = ("relu", "lkrelu", "prelu", "lkprelu", "selu", "lkselu", "swish", "lkswish")
LR, DECAY, BATCH = 1e-3, 1e-6, 32    # the paper's depth-experiment optimizer: Adam


@story.step("args", "data")
def setup(argv):
    """Parse the command line, load the data, print the setup and the dead-unit definitions."""
    args = settings.dead_units(argv, ACTIVATIONS)
    data = load_images(args.dataset, n_train=per_mode(args, 128, None, None),
                       n_test=per_mode(args, 64, 500, None), flatten=args.arch == "mlp")
    n = len(data[0][0])
    print(f"{ARCH_NAMES[args.arch]}, {args.depth} layers of width "
          f"{args.width}, {args.dataset} ({n} training samples); "
          f"{optimizer_text('adam', LR, DECAY)}, batch {BATCH}, {args.epochs} epochs; dead "
          f"units counted on {min(args.probe or n, n)} training samples")
    for act in args.activations:                             # how its units count as dead
        print(f"  {pretty(act)}: {dead_definition(lk.activation(act))}")
    return args, data


# %% [markdown]
# ## The experiment
# One net per activation and seed. After every epoch, the dead units per layer on the probe
# samples; at the end also the near-dead units and the test accuracy.

# %%
def plain_convnet(act, depth, width, in_channels, n_classes, side, rng):
    """``depth`` × [Conv2D(width, 3×3, same) + act], then Flatten + Dense: no BatchNorm, no
    shortcuts. Input (N, in_channels, side, side); a linked act doubles the next layer's fan-in."""
    layers, fan_in = [], in_channels
    for _ in range(depth):
        layers.append(lk.Conv2D(fan_in, width, 3, padding="same", rng=rng))
        unit = lk.activation(act)
        layers.append(unit)
        fan_in = width * unit.expansion
    layers += [lk.Flatten(), lk.Dense(fan_in * side * side, n_classes, rng=rng)]
    return lk.Sequential(layers)


def near_dead(model, X, rel=1e-3):
    """Per activation layer: units whose |output| stays below rel × (the layer's max |output|)
    for every sample and position (all members, for linked units)."""
    peak, top = {}, {}

    def observe(name, x, y):
        a = B.to_numpy(abs(y))
        axes = (0,) + tuple(range(2, a.ndim))
        top[name] = np.maximum(top.get(name, 0), a.max(axis=axes))
        peak[name] = max(peak.get(name, 0.0), float(a.max()))

    with watch_activations(model, observe) as layers:
        model.forward(B.asarray(X), training=False)
    counts = []
    for name, layer in layers:
        alive = (top[name] > rel * peak[name]).reshape(layer.expansion, -1).any(axis=0)
        counts.append(int((~alive).sum()))
    return counts


def run_one(v, seed, args, data):
    """Train one net of activation ``v.act``; -> {"dead": (epochs + 1, layers) counts, "near":
    per layer, "units": per layer, "test": accuracy}."""
    (Xtr, ytr), (Xte, yte) = data
    act, rng = v.act, np.random.default_rng(seed)
    n_classes = int(ytr.max()) + 1
    if args.arch == "conv":
        model = plain_convnet(act, args.depth, args.width, Xtr.shape[1], n_classes,
                              Xtr.shape[-1], rng)
    elif args.arch == "depth":
        model = lk.depth_net(args.depth, args.width, act, in_channels=Xtr.shape[1],
                             num_classes=n_classes, input_size=Xtr.shape[2:], rng=rng)
    else:
        model = mlp(act, Xtr.shape[1], n_classes, args.width, args.depth, rng)
    opt = make_optimizer("adam", model, LR, DECAY)
    probe = Xtr[:args.probe]
    dead = [[d.dead for d in dead_units(model, probe)]]    # epoch 0: at initialisation
    for epoch in range(args.epochs):
        lk.fit(model, lk.SoftmaxCrossEntropy(), opt, Xtr, ytr, epochs=1, batch_size=BATCH,
               seed=seed * 10_000 + epoch, progress=False)
        dead.append([d.dead for d in dead_units(model, probe)])
    return {"dead": np.array(dead), "near": np.array(near_dead(model, probe)),
            "units": np.array([d.total for d in dead_units(model, probe[:8])]),
            "test": lk.evaluate(model, lk.SoftmaxCrossEntropy(), Xte, yte)[1]}


@story.step("runs")
def experiment(args, data):
    """Every activation × seed. -> {act: [run_one result per seed]}"""
    variants = [Variant(act, act) for act in args.activations]
    return run_variants(run_one, variants, args.seeds, args, data, desc="nets", jobs=args.jobs)


# %% [markdown]
# ## The table
# Per activation, means over seeds: dead units at the end (of all units), near-dead units, dead
# units already at initialisation, the first layer (1 = nearest the input) with a dead unit, the
# dead units of each layer, and the test accuracy. The paper expects 0 for every linked net and
# dead ReLU units from about layer 7 on.

# %%
@story.step()
def table(args, runs):
    """Print the dead-unit table (means over seeds)."""
    rows = []
    for act, rs in runs.items():
        final = np.mean([r["dead"][-1] for r in rs], axis=0)          # (layers,)
        hit = np.nonzero(final > 0)[0]
        rows.append((pretty(act), f"{final.sum():.1f}/{rs[0]['units'].sum()}",
                     f"{np.mean([r['near'].sum() for r in rs]):.1f}",
                     f"{np.mean([r['dead'][0].sum() for r in rs]):.1f}",
                     str(hit[0] + 1) if len(hit) else "-",
                     " ".join(f"{v:.0f}" if v == int(v) else f"{v:.1f}" for v in final),
                     float(np.mean([r["test"] for r in rs]))))
    print_table(f"Dead units after {args.epochs} epochs ({args.arch}, depth {args.depth}, width "
                f"{args.width}; mean over seeds {seeds_text(args.seeds)})",
                ["activation", "dead", "near-dead", "dead at init", "first dead layer",
                 "dead per layer", "test acc"], rows)


# %% [markdown]
# ## The figure
# (a) The fraction of each layer's units that are dead at the end; (b) the fraction of the
# whole net's units dead over training, epoch 0 being the initialisation. Solid lines: linked,
# dashed: single; one colour per activation family. Lines of nets that never lose a unit lie on
# top of each other at 0; the box in (a) names them.

# %%
@story.step()
def figure(args, runs):
    """Draw and save panels (a) and (b)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = plt.get_cmap("tab10")
    for k, (act, rs) in enumerate(runs.items()):
        units = rs[0]["units"]
        linked = is_linked(act)
        style = dict(color=colors(k // 2), ls="-" if linked else "--",
                     marker="o" if linked else "s", ms=4, label=pretty(act))
        final = np.mean([r["dead"][-1] / units for r in rs], axis=0)
        ax1.plot(np.arange(1, len(units) + 1), final, **style)
        curve = np.mean([r["dead"].sum(axis=1) / units.sum() for r in rs], axis=0)
        ax2.plot(np.arange(len(curve)), curve, **style)
    ax1.set_xlabel("activation layer (1 = nearest the input)")
    ax1.set_ylabel("fraction of units dead")
    ax1.set_title(f"(a) dead units per layer after {args.epochs} epochs")
    ax2.set_xlabel("epoch (0 = initialisation)")
    ax2.set_ylabel("fraction of the net's units dead")
    ax2.set_title("(b) dead units over training")
    for ax in (ax1, ax2):
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=8, ncol=2)
    never = [pretty(a) for a, rs in runs.items() if all(r["dead"].sum() == 0 for r in rs)]
    if never:
        ax1.text(0.02, 0.97, "no dead unit at any epoch:\n" + ", ".join(never),
                 transform=ax1.transAxes, va="top", fontsize=8,
                 bbox=dict(facecolor="white", alpha=0.8, edgecolor="0.8"))
    fig.suptitle(f"Deep plain {ARCH_NAMES[args.arch]} ({args.depth}×"
                 f"{args.width}, no BatchNorm) on {args.dataset}; mean over seeds "
                 f"{seeds_text(args.seeds)}; dead = output 0 for every sample (linked: both "
                 "members)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, f"{NAME}.png", args)


# %% [markdown]
# ## The verdict

# %%
def relu_text(runs):
    """Where and when plain ReLU units died, for the verdict."""
    relu = runs.get("relu", [])
    if not relu:
        return "ReLU not run"
    final, init = (np.mean([r["dead"][k].sum() for r in relu]) for k in (-1, 0))
    layers = np.nonzero(np.mean([r["dead"][-1] for r in relu], axis=0) > 0)[0]
    return (f"ReLU {final:.1f}/{relu[0]['units'].sum()} dead ({init:.1f} already at "
            f"initialisation), first in layer {layers[0] + 1 if len(layers) else '-'} "
            "(paper: from about layer 7 on)")


@story.step()
def verdict(args, runs):
    """Print the one-line verdict: dead units of linked and single nets, and ReLU's pattern."""
    def mean_dead(linked):
        dead = [r["dead"][-1].sum() for a, rs in runs.items() for r in rs
                if is_linked(a) == linked]
        return np.mean(dead) if dead else float("nan")

    finish(args, f"linked nets: {mean_dead(True):.1f} dead units on average (paper: none); "
                 f"single nets: {mean_dead(False):.1f}; " + relu_text(runs))


# %%
def main(argv=None):
    """Run the tutorial on the command line ``argv`` (see --help): every step above, in order.
    -> what the steps gave, by name"""
    return story.run(argv)


if __name__ == "__main__" and not story.notebook:
    main()
