# %% [markdown]
# # Tutorial 06 — unnormalised inputs: do linked units make standardisation unnecessary?
#
# **Question.** Do linked nets train as well on raw, shifted and scaled inputs as on
# standardised ones — and do single-unit nets not?
#
# **The paper's claim (claim 4).** Since a linked unit always has a member with a non-zero
# gradient, whatever the shift or scale of its input, linked nets need no input
# standardisation, while single units can be pushed into their flat regions and die. The paper
# gives no table for this claim; it states it.
#
# **Method.** The same plain conv net — the depth experiment's architecture, shallower: by
# default 20 conv layers of width 4, no BatchNorm, deep and narrow enough for plain ReLU nets
# to die now and then — is trained on three versions of the digits:
#
# - raw: pixel values in [0, 1], as loaded;
# - standardised: each channel to mean 0, std 1 with the training set's statistics;
# - ×50+10: x · 50 + 10 (`preprocess.shift_scale`), values in [10, 60] — far from zero-centred,
#   with a large scale, as an unnormalised sensor or 0–255 image would be; on mnist5k ×255, the
#   bytes as MNIST stores them (0–255);
#
# for single and linked versions of each activation, with Adam (lr 1e-3, β1 0.9, β2 0.999,
# ε 1e-8, decay 1e-6; the setup line prints the optimizer as the library built it), batch 32.
# One thing to keep in mind when reading the results: Adam's per-weight step sizes absorb much
# of the input's scale in the first layer, which an optimizer without them (plain SGD) would not.

# %%
import matplotlib.pyplot as plt
import numpy as np

import linkedref as lk
from linkedref.data import preprocess
from linkedref.diagnostics import dead_units

import _settings as settings
from _common import (
    Story,
    finish,
    make_optimizer,
    optimizer_text,
    print_table,
    save_figure,
    seeds_text,
)
from _experiments import (
    chance_level,
    load_data,
    plot_runs,
    run_variants,
    summarize,
    train_epochs,
)

NAME = "06_unnormalized_inputs"
story = Story(globals(), notebook_args=["--quick"])   # a notebook runs --quick; a script, main()

# %% [markdown]
# ## Setup
# Full mode: ReLU, PReLU, SELU, Swish and their linked versions, 30 epochs (mnist5k: 10, and
# ×255 in place of ×50+10), seeds 0–2; `--jobs 2` trains two nets at a time; quick:
# ReLU, LK-ReLU, SELU, LK-SELU, 8 epochs, seed 0; smoke: ReLU, LK-ReLU, depth 2, one epoch
# (`settings.unnormalized_inputs`); `--activation MODULE:CLASS` adds a unit of your own. The
# setup prints each input version's mean, std and range.

# %%
ACTS = ("relu", "lkrelu", "prelu", "lkprelu", "selu", "lkselu", "swish", "lkswish")
LR, DECAY, BATCH = 1e-3, 1e-6, 32    # Adam, as in the depth experiment


def input_versions(data, shift, scale):
    """{name: ((X_train, y_train), (X_test, y_test))} for the raw, standardised and shifted data."""
    (Xtr, ytr), (Xte, yte) = data
    Str, Ste, _ = preprocess.standardize(Xtr, Xte)
    return {"raw [0,1]": data,
            "standardised": ((Str, ytr), (Ste, yte)),
            f"×{scale:g}" + (f"+{shift:g}" if shift else ""): (
                (preprocess.shift_scale(Xtr, shift, scale), ytr),
                (preprocess.shift_scale(Xte, shift, scale), yte))}


@story.step("args", "versions")
def setup(argv):
    """Parse the command line, load the data in its three versions, print the setup.
    -> (args, {version name: data})"""
    args = settings.unnormalized_inputs(argv, ACTS)
    data = load_data(args)
    (Xtr, _), (Xte, yte) = data
    args.chance = chance_level(yte)
    versions = input_versions(data, args.shift, args.scale)
    args.shifted = list(versions)[-1]
    print(f"plain conv net: {args.depth} conv layers of width {args.width}, Dense; "
          f"{args.dataset} ({len(Xtr)} train / {len(Xte)} test); "
          f"{optimizer_text('adam', LR, DECAY)}, batch {BATCH}, {args.epochs} epochs, seeds "
          f"{seeds_text(args.seeds)}")
    for name, ((X, _), _) in versions.items():
        print(f"  {name:>13}: training inputs mean {X.mean():7.3f}, std {X.std():7.3f}, "
              f"range [{X.min():.2f}, {X.max():.2f}]")
    return args, versions


# %% [markdown]
# ## One run: the training loop
# `train` trains one net of one activation from one seed on one version of the inputs: it
# builds the conv net and Adam, and `train_epochs` (tutorials/_experiments.py) calls `lk.fit`
# one epoch at a time, recording the test accuracy after every epoch; at the end `train`
# counts the net's dead units on its own training inputs.

# %%
def train(v, seed, data, args):
    """Train one plain conv net of variant ``v`` from ``seed`` for ``args.epochs`` epochs on
    ``data = ((X_train, y_train), (X_test, y_test))``.
    -> its ``Run`` (per epoch: test accuracy, training accuracy, loss, seconds), with ``dead``
    the units dead on X_train at the end."""
    Xtr, ytr = data[0]
    model = lk.depth_net(args.depth, args.width, v.act, in_channels=Xtr.shape[1],
                         num_classes=int(ytr.max()) + 1, input_size=Xtr.shape[2:], rng=seed)
    run = train_epochs(model, make_optimizer("adam", model, LR, DECAY), v, seed, data,
                       args.epochs, BATCH)
    run.dead = sum(u.dead for u in dead_units(model, Xtr))
    return run


# %% [markdown]
# ## The experiment
# For each input version, `train` for every activation × seed; then the dead units of each
# trained net, gathered per version.

# %%
@story.step("runs", "dead")
def experiment(args, versions):
    """-> (runs {version: {label: [Run]}}, dead {version: {label: [dead units per seed]}})"""
    runs = {name: run_variants(train, args.variants, args.seeds, d, args, desc=name,
                               jobs=args.jobs)
            for name, d in versions.items()}
    dead = {name: {label: [r.dead for r in rs] for label, rs in by_label.items()}
            for name, by_label in runs.items()}
    return runs, dead


# %% [markdown]
# ## The table
# Per activation and input version: the median over seeds of each run's max test accuracy (the
# best seed's in brackets), and the dead units at the end (output zero for every training
# sample; median over seeds) for each input. The claim holds for a linked net when its
# ×50+10 column is close to its standardised one.

# %%
def median_max(runs, name, label) -> float:
    return float(np.median([r.max for r in runs[name][label]]))


@story.step()
def table(args, runs, dead):
    """Print the accuracy and dead-unit table."""
    versions = list(runs)
    rows = []
    for v in args.variants:
        row = [v.label]
        for name in versions:
            s = summarize(runs[name][v.label], args.chance)
            row.append(f"{s.median_max:.3f} ({s.best:.3f})")
        row.append(" / ".join(f"{np.median(dead[name][v.label]):.0f}" for name in versions)
                   + f" of {args.depth * args.width}")
        rows.append(row)
    print_table(f"Unnormalised inputs: median over seeds {seeds_text(args.seeds)} of the max "
                f"test accuracy (best seed), {args.epochs} epochs, depth {args.depth}, width "
                f"{args.width}; chance {args.chance:.3f}",
                ["activation", *versions, "dead units (raw / std / shifted)"], rows)


# %% [markdown]
# ## The figure
# (a) Bars: per activation, the median max test accuracy on each input version; dots: the
# seeds. (b) Test accuracy per epoch on the shifted inputs (solid: linked, dashed: single;
# thin: seeds, bold: median).

# %%
def draw_bars(ax, args, runs):
    colors = ["tab:gray", "tab:green", "tab:purple"]
    w = 0.8 / len(runs)
    for j, (name, color) in enumerate(zip(runs, colors)):
        x = np.arange(len(args.variants)) + (j - (len(runs) - 1) / 2) * w
        vals = [[r.max for r in runs[name][v.label]] for v in args.variants]
        ax.bar(x, [np.median(v) for v in vals], w, color=color, label=name, alpha=0.85)
        for xi, v in zip(x, vals):
            ax.plot([xi] * len(v), v, "k.", ms=4)
    ax.set_xticks(np.arange(len(args.variants)), [v.label for v in args.variants], fontsize=9)
    ax.set_ylabel("max test accuracy")
    ax.set_title("(a) per activation and input (bars: median over seeds; dots: seeds)",
                 fontsize=10)
    ax.axhline(args.chance, color="gray", ls="--", lw=1, label="chance")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, ncol=2, loc="upper left")
    ax.grid(axis="y", alpha=0.3)


def draw_curves(ax, args, runs):
    cmap = plt.get_cmap("tab10")
    for k, v in enumerate(args.variants):
        plot_runs(ax, runs[args.shifted][v.label], cmap(k // 2), v.label,
                  ls="-" if v.linked else "--")
    ax.axhline(args.chance, color="gray", ls="--", lw=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"(b) training on inputs {args.shifted} (solid: linked, dashed: single)",
                 fontsize=10)
    ax.legend(fontsize=8, ncol=2, loc="lower right")
    ax.grid(alpha=0.3)


@story.step()
def figure(args, runs):
    """Draw and save panels (a) and (b)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.6),
                                   gridspec_kw={"width_ratios": [1.3, 1]})
    draw_bars(ax1, args, runs)
    draw_curves(ax2, args, runs)
    fig.suptitle(f"Plain conv net ({args.depth}×{args.width}, no BatchNorm) on {args.dataset} "
                 f"with raw, standardised and shifted/scaled inputs; seeds "
                 f"{seeds_text(args.seeds)}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, f"{NAME}.png", args)


# %% [markdown]
# ## The verdict
# A net "loses" when its median max accuracy on the shifted inputs is 0.05 or more below the
# one on standardised inputs. The claim holds when no linked net loses; its contrast shows
# when single nets do.

# %%
@story.step()
def verdict(args, runs, dead):
    """Print the one-line verdict: which nets lose ≥ 0.05 on the shifted inputs?"""
    def loss(v):
        return median_max(runs, "standardised", v.label) - median_max(runs, args.shifted, v.label)

    parts = [f"{v.label} {median_max(runs, args.shifted, v.label):.2f} ({-loss(v):+.2f} vs "
             f"{median_max(runs, 'standardised', v.label):.2f} standardised)"
             for v in args.variants]
    linked_ok = all(loss(v) < 0.05 for v in args.variants if v.linked)
    single_hurt = [v.label for v in args.variants if not v.linked and loss(v) >= 0.05]

    def dead_sum(linked):
        return sum(np.median(dead[n][v.label]) for n in runs for v in args.variants
                   if v.linked == linked)

    finish(args, f"on {args.shifted} inputs: " + "; ".join(parts) + ". "
           + ("Linked nets lose < 0.05 against standardised inputs" if linked_ok else
              "Some linked nets lose ≥ 0.05 against standardised inputs (claim not confirmed)")
           + (f"; single nets that lose ≥ 0.05: {', '.join(single_hurt)}" if single_hurt
              else "; no single net loses ≥ 0.05 either (the claim's contrast does not show)")
           + f". Dead units at the end (each net's median over seeds, summed over the nets "
             f"and every input): single {dead_sum(False):.0f}, linked {dead_sum(True):.0f}")


# %%
def main(argv=None):
    """Run the tutorial on the command line ``argv`` (see --help): every step above, in order.
    -> what the steps gave, by name"""
    return story.run(argv)


if __name__ == "__main__" and not story.notebook:
    main()
