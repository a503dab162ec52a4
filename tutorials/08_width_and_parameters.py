# %% [markdown]
# # Tutorial 08 — width and parameters: are linked units better only because they are bigger?
#
# **Question.** A linked layer has twice the outputs of a single one, so the layer after it has
# twice the weights. Do linked nets win because they are linked, or because they are bigger?
#
# **The paper's claim (claim 5).** Linked ≥ single at equal width, and linked beats the
# √2-wide single net at (about) equal parameters. Two experiments of the paper:
#
# **(A) Width.** One 3×3 conv layer of 50 or of 400 units, its activation, and a Dense
# classifier, for ReLU, PReLU, SELU, Swish and their linked versions. The paper (CIFAR-10, 50
# epochs) reports linked ≥ single, with a gap that shrinks as the layer gets wider: ReLU 0.577,
# LK-ReLU 0.591 at 50 units; 0.615 and 0.617 at 400 (`PAPER_WIDTH` below holds all eight).
#
# **(B) Parameters (√2).** To separate "linked" from "more parameters", the paper widens the
# single net by √2 per layer (about the linked net's parameter count) and compares single,
# √2-wide and linked versions of the Keras CIFAR-10 example net (conv 32, 32, 64, 64, dense 512,
# dropout; RMSProp lr 1e-4 decay 1e-6, 200 epochs): linked beats both for every activation,
# e.g. ReLU 0.734 (single) / 0.758 (√2) / 0.770 (linked).
#
# **Method here.** The 8×8 digits, batch 32. (A) trains with Adam (lr 1e-3, decay 1e-6). (B)'s
# net needs at least 10×10 inputs, so the digits are upsampled 2× to 16×16, and the net is
# scaled by `--net-scale` (default 0.5: conv 16, 16, 32, 32, dense 256); it trains with RMSProp
# (lr 1e-4, decay 1e-6). The setup line prints both optimizers as the library built them.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import linkedref as lk
from linkedref.data import preprocess

import _settings as settings
from _common import (
    Story,
    finish,
    is_linked,
    make_optimizer,
    optimizer_text,
    pretty,
    print_table,
    save_figure,
    seeds_text,
)
from _experiments import (
    Variant,
    chance_level,
    grouped_bars,
    load_data,
    run_variants,
    summarize,
    train_epochs,
)

NAME = "08_width_and_parameters"
story = Story(globals(), notebook_args=["--quick"])   # a notebook runs --quick; a script, main()

# %% [markdown]
# ## Setup
# Full mode: (A) ReLU, PReLU, SELU, Swish families, 30 epochs × seeds 0–2; (B) the same, 40
# epochs × seeds 0–1 at scale 0.5; quick: (A) ReLU, SELU, 6 epochs, (B) ReLU, 10 epochs at scale
# 0.25, seed 0 (mnist5k and smoke: `settings`). `--activation MODULE:CLASS` adds your unit to (A).

# %%
FAMILIES = ("relu", "prelu", "selu", "swish")
PAPER_WIDTH = {   # the paper's width table, CIFAR-10: {units: {activation: accuracy}}
    units: dict(zip(("relu", "lkrelu", "prelu", "lkprelu", "selu", "lkselu", "swish",
                     "lkswish"), accuracies))
    for units, accuracies in ((50, (0.577, 0.591, 0.577, 0.591, 0.499, 0.573, 0.556, 0.549)),
                              (400, (0.615, 0.617, 0.616, 0.617, 0.523, 0.599, 0.544, 0.541)))}
PAPER_SQRT2 = {"relu": (0.734, 0.758, 0.770)}     # single, √2-wide, linked
KINDS = ("single", "√2-wide", "linked")
BATCH = 32
ADAM = dict(optimizer="adam", lr=1e-3, decay=1e-6)          # (A), as the depth experiment
RMSPROP = dict(optimizer="rmsprop", lr=1e-4, decay=1e-6)    # (B), as the paper's √2 experiment


def upsampled(data):
    """The data with images upsampled 2× when they are smaller than 10×10 (cifar_net's need)."""
    (Xtr, ytr), (Xte, yte) = data
    if Xtr.shape[-1] >= 10:
        return data
    return (preprocess.upsample2x(Xtr), ytr), (preprocess.upsample2x(Xte), yte)


@story.step("args", "data")
def setup(argv):
    """Parse the command line, load the data, print the setup line. -> (args, data)"""
    args = settings.width_and_parameters(argv, FAMILIES)
    data = load_data(args)
    args.chance = chance_level(data[1][1])
    args.b_side = upsampled(data)[0][0].shape[-1]         # (B)'s input images: side × side
    print(f"{args.dataset}: {len(data[0][0])} train / {len(data[1][0])} test images of shape "
          f"{data[0][0].shape[1:]}; chance {args.chance:.3f}; batch {BATCH}; (A) "
          f"{optimizer_text(**ADAM)}, {args.epochs_a} epochs; (B) {optimizer_text(**RMSPROP)}, "
          f"{args.epochs_b} epochs, seeds {seeds_text(args.b_seeds)}")
    return args, data


# %% [markdown]
# ## One run: the training loop
# `train_width` builds one net of (A) — one conv layer of `units` units — with Adam;
# `train_sqrt2` one cifar_net of (B), on the upsampled digits, with RMSProp. `train_epochs`
# (tutorials/_experiments.py) trains either, recording the test accuracy after every epoch.

# %%
def train_width(v, seed, units, data, args):
    """(A): one conv layer of ``units`` units with activation ``v.act`` from ``seed``, trained
    with Adam for ``args.epochs_a`` epochs. -> its ``Run``."""
    Xtr, ytr = data[0]
    model = lk.width_net(units, v.act, in_channels=Xtr.shape[1], num_classes=int(ytr.max()) + 1,
                         input_size=Xtr.shape[2:], rng=seed)
    return train_epochs(model, make_optimizer(model=model, **ADAM), v, seed, data, args.epochs_a,
                        BATCH)


def train_sqrt2(v, seed, data, args):
    """(B): cifar_net widened by ``v.widen`` with activation ``v.act`` from ``seed``, trained
    with RMSProp for ``args.epochs_b`` epochs on the upsampled ``data``. -> its ``Run``."""
    Xtr, ytr = data[0]
    model = lk.cifar_net(widen=v.widen, activation=v.act, in_channels=Xtr.shape[1],
                         num_classes=int(ytr.max()) + 1, input_size=Xtr.shape[2:], rng=seed)
    return train_epochs(model, make_optimizer(model=model, **RMSPROP), v, seed, data,
                        args.epochs_b, BATCH)


# %% [markdown]
# ## The experiment
# (A) `train_width` for every activation × width × seed; (B) `train_sqrt2` for every family ×
# {single, √2-wide, linked} × seed, on the upsampled digits.

# %%
def width_experiment(args, data):
    """(A): {units: {act: [Run]}} for one conv layer of each width."""
    variants = [Variant(pretty(a), a) for a in args.width_units]
    out = {}
    for units in args.widths:
        runs = run_variants(train_width, variants, args.seeds, units, data, args,
                            desc=f"(A) {units} units", jobs=args.jobs)
        out[units] = {v.act: runs[v.label] for v in variants}
    return out


def sqrt2_experiment(args, data):
    """(B): {family: {kind: [Run]}} for single, √2-wide and linked versions of cifar_net."""
    s = args.net_scale
    variants = []
    for f in args.families_b:
        variants += [Variant(f"{pretty(f)} single", f, widen=s),
                     Variant(f"{pretty(f)} √2-wide", f, widen=s * math.sqrt(2)),
                     Variant(f"{pretty('lk' + f)} linked", "lk" + f, widen=s)]
    runs = run_variants(train_sqrt2, variants, args.b_seeds, upsampled(data), args,
                        desc="(B) √2", jobs=args.jobs)
    return {f: dict(zip(KINDS, (runs[v.label] for v in variants[3 * i:3 * i + 3])))
            for i, f in enumerate(args.families_b)}


@story.step("results")
def experiment(args, data):
    """-> {"width": (A) or None, "sqrt2": (B) or None}, per ``--part``."""
    return {"width": width_experiment(args, data) if args.part in ("A", "both") else None,
            "sqrt2": sqrt2_experiment(args, data) if args.part in ("B", "both") else None}


# %% [markdown]
# ## The tables
# Per activation: the median over seeds of the max test accuracy (the best seed's in brackets),
# the paper's number and the parameters. In (A) compare each linked row with the single row
# above it; in (B) the three columns of a row.

# %%
def width_table(args, width):
    rows = []
    for a in args.width_units:
        row = [pretty(a)]
        for units in args.widths:
            s = summarize(width[units][a], args.chance)
            paper = PAPER_WIDTH.get(units, {}).get(a)
            row += [f"{s.median_max:.3f} ({s.best:.3f})",
                    "-" if paper is None else f"{paper:.3f}", f"{width[units][a][0].n_params:,}"]
        rows.append(row)
    header = ["activation"] + [h for u in args.widths for h in (f"{u} units", "paper", "params")]
    print_table(f"(A) Width: one conv layer, {args.epochs_a} epochs on {args.dataset}; median "
                f"over seeds {seeds_text(args.seeds)} of the max test accuracy (best seed)",
                header, rows)


def sqrt2_table(args, sqrt2):
    rows = []
    for f in args.families_b:
        row = [pretty(f)]
        for k in KINDS:
            sm = summarize(sqrt2[f][k], args.chance)
            row.append(f"{sm.median_max:.3f} ({sm.best:.3f})")
        row += [" / ".join(f"{sqrt2[f][k][0].n_params:,}" for k in KINDS),
                " / ".join(f"{v:.3f}" for v in PAPER_SQRT2[f]) if f in PAPER_SQRT2 else "-"]
        rows.append(row)
    c = [round(w * args.net_scale) for w in (32, 64, 512)]
    print_table(f"(B) Parameters: cifar_net at scale {args.net_scale} (conv {c[0]},{c[0]},"
                f"{c[1]},{c[1]}, dense {c[2]}) on {args.dataset} at {args.b_side}×{args.b_side}, "
                f"RMSProp 1e-4, {args.epochs_b} epochs; median over seeds "
                f"{seeds_text(args.b_seeds)} of the max test accuracy (best seed)",
                ["activation", *KINDS, "params single / √2 / linked",
                 "paper single / √2 / linked"], rows)


@story.step()
def table(args, results):
    """Print the tables of the parts that ran."""
    if results["width"]:
        width_table(args, results["width"])
    if results["sqrt2"]:
        sqrt2_table(args, results["sqrt2"])


# %% [markdown]
# ## The figure
# One panel per width of (A): single (red) and linked (blue) per activation; one panel for (B):
# single, √2-wide, linked. Bars: medians over seeds of the max test accuracy; dots: the seeds.
# The y axis is zoomed to the data when every bar is high: read its lower end.

# %%
def width_values(args, width, units):
    """values[family] = [single maxima, linked maxima] of (A) at ``units``; then one entry per
    unit of your own, its maxima under "single" or "linked"."""
    values = [[[r.max for r in width[units][f]], [r.max for r in width[units]["lk" + f]]]
              for f in args.families]
    for u in args.units:
        maxima = [r.max for r in width[units][u]]
        values.append([[], maxima] if is_linked(u) else [maxima, []])
    return values


def sqrt2_values(args, sqrt2):
    """values[family] = [single, √2-wide, linked maxima] of (B)."""
    return [[[r.max for r in sqrt2[f][k]] for k in KINDS] for f in args.families_b]


@story.step()
def figure(args, results):
    """Draw and save one panel per width of (A) and one for (B)."""
    width, sqrt2 = results["width"], results["sqrt2"]
    panels = (len(args.widths) if width else 0) + (1 if sqrt2 else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4.8 * panels, 4), squeeze=False)
    axes = list(axes.flat)
    if width:
        for ax, units in zip(axes, args.widths):
            grouped_bars(ax, [pretty(f) for f in [*args.families, *args.units]],
                         ["single", "linked"], width_values(args, width, units),
                         ["tab:red", "tab:blue"], f"(A) one conv layer of {units} units\nAdam, "
                         f"{args.epochs_a} epochs, seeds {seeds_text(args.seeds)}", args.chance)
    if sqrt2:
        grouped_bars(axes[-1], [pretty(f) for f in args.families_b], KINDS,
                     sqrt2_values(args, sqrt2), ["tab:red", "tab:orange", "tab:blue"],
                     f"(B) cifar_net ×{args.net_scale}: single, √2-wide, linked\n"
                     f"RMSProp, {args.epochs_b} epochs, seeds {seeds_text(args.b_seeds)}",
                     args.chance)
    for ax in axes:
        ax.legend(fontsize=8, loc="upper left", ncol=3)
    fig.suptitle(f"Width and parameters on {args.dataset}: bars = median over seeds of the max "
                 "test accuracy, dots = seeds", fontsize=10)
    fig.tight_layout()
    save_figure(fig, f"{NAME}.png", args)


# %% [markdown]
# ## The verdict
# (A): linked − single per activation and width (the paper: ≥ 0, shrinking with width).
# (B): for how many activations linked beats both single and √2-wide (the paper: all).

# %%
@story.step()
def verdict(args, results):
    """Print the one-line verdict of the parts that ran."""
    parts = []
    for units in args.widths if results["width"] else ():
        gaps = [np.median(v[1]) - np.median(v[0])
                for v in width_values(args, results["width"], units)[:len(args.families)]]
        parts.append(f"{units} units: linked − single = "
                     + ", ".join(f"{pretty(f)} {g:+.3f}" for f, g in zip(args.families, gaps)))
    if results["sqrt2"]:
        vals = sqrt2_values(args, results["sqrt2"])
        wins = sum(np.median(v[2]) > max(np.median(v[0]), np.median(v[1])) for v in vals)
        parts.append(f"√2: linked beats both single and √2-wide for {wins}/{len(vals)} "
                     "activations (paper: all)")
    finish(args, "; ".join(parts))


# %%
def main(argv=None):
    """Run the tutorial on the command line ``argv`` (see --help): every step above, in order.
    -> what the steps gave, by name"""
    return story.run(argv)


if __name__ == "__main__" and not story.notebook:
    main()
