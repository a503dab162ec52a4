"""Tutorial 08 — width and parameters: are linked units better only because they are bigger?

Two experiments of the paper.

(A) Width. One 3×3 conv layer of 50 or of 400 units, its activation, and a Dense classifier,
trained with Adam (lr 1e-3, decay 1e-6, batch 32), for the eight activations ReLU, LK-ReLU,
PReLU, LK-PReLU, SELU, LK-SELU, Swish, LK-Swish. The paper (CIFAR-10, 50 epochs) reports linked
≥ single, with a gap that shrinks as the layer gets wider:

    50 units:  ReLU 0.577  LK-ReLU 0.591  PReLU 0.577  LK-PReLU 0.591  SELU 0.499  LK-SELU 0.573
               Swish 0.556  LK-Swish 0.549
    400 units: 0.615  0.617  0.616  0.617  0.523  0.599  0.544  0.541

A linked layer has twice the outputs, so the Dense after it has twice the weights.

(B) Parameters (√2). To separate "linked" from "more parameters", the paper widens the single
net by √2 per layer, which gives about the linked net's parameter count, and compares single,
√2-wide single and linked versions of the Keras CIFAR-10 example net (conv 32, 32, 64, 64,
dense 512, dropout; RMSProp lr 1e-4 decay 1e-6, 200 epochs). The paper: linked beats both for
every activation, e.g. ReLU 0.734 (single) / 0.758 (√2) / 0.770 (linked).

Here both run on the 8×8 digits. (B)'s net needs at least 10×10 inputs, so the digits are
upsampled 2× (nearest neighbour) to 16×16, and the net is scaled by ``--net-scale`` (default 0.5:
conv 16, 16, 32, 32, dense 256) so it runs on a laptop. The tables report, per activation, the
median over seeds of each run's max test accuracy (the best seed's in brackets); the parameter
counts are printed beside them.

Full mode (≈ 20 min on 2 cores): (A) 30 epochs × 3 seeds, (B) 40 epochs × 2 seeds for ReLU,
PReLU, SELU and Swish. Quick mode (≤ 1 min): (A) 6 epochs × 1 seed for ReLU, LK-ReLU, SELU,
LK-SELU; (B) ReLU only, 10 epochs at scale 0.25 — the trend, not final numbers.

Run:  python tutorials/08_width_and_parameters.py [--quick] [--seeds 0 1 2] [--part A|B|both]
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (finish, make_parser, per_mode, pretty, print_table,  # noqa: E402
                     save_figure, seeds_text, start)
from _experiments import Variant, chance_level, load_data, run_variants, summarize  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import linkedref as lr  # noqa: E402
from linkedref.data import preprocess  # noqa: E402

FAMILIES = ("relu", "prelu", "selu", "swish")
PAPER_WIDTH = {   # the paper's width table, CIFAR-10: {units: {activation: accuracy}}
    50: dict(zip(("relu", "lkrelu", "prelu", "lkprelu", "selu", "lkselu", "swish", "lkswish"),
                 (0.577, 0.591, 0.577, 0.591, 0.499, 0.573, 0.556, 0.549))),
    400: dict(zip(("relu", "lkrelu", "prelu", "lkprelu", "selu", "lkselu", "swish", "lkswish"),
                  (0.615, 0.617, 0.616, 0.617, 0.523, 0.599, 0.544, 0.541))),
}
PAPER_SQRT2 = {"relu": (0.734, 0.758, 0.770)}     # single, √2-wide, linked
KINDS = ("single", "√2-wide", "linked")


def width_part(args, data, chance):
    """(A): {units: {act: [Run]}} for one conv layer of each width."""
    (Xtr, ytr), _ = data
    acts = [a for f in args.families for a in (f, "lk" + f)]
    out = {}
    for units in args.widths:
        def build(v, seed, units=units):
            return lr.width_net(units, v.act, in_channels=Xtr.shape[1],
                                num_classes=int(ytr.max()) + 1, input_size=Xtr.shape[2:], rng=seed)
        variants = [Variant(pretty(a), a) for a in acts]
        runs = run_variants(variants, build, data, args.seeds, args.epochs_a,
                            desc=f"(A) {units} units")
        out[units] = {v.act: runs[v.label] for v in variants}
    rows = []
    for a in acts:
        row = [pretty(a)]
        for units in args.widths:
            s = summarize(out[units][a], chance)
            paper = PAPER_WIDTH.get(units, {}).get(a)
            row += [f"{s.median_max:.3f} ({s.best:.3f})", "-" if paper is None else f"{paper:.3f}",
                    f"{out[units][a][0].n_params:,}"]
        rows.append(row)
    header = ["activation"] + [h for u in args.widths for h in (f"{u} units", "paper", "params")]
    print_table(f"(A) Width: one conv layer, {args.epochs_a} epochs on {args.dataset}; median over "
                f"seeds {seeds_text(args.seeds)} of the max test accuracy (best seed)", header, rows)
    return out


def sqrt2_part(args, data, chance):
    """(B): {act: {kind: [Run]}} for single, √2-wide and linked versions of the scaled cifar_net."""
    (Xtr, ytr), (Xte, yte) = data
    up = ((preprocess.upsample2x(Xtr), ytr), (preprocess.upsample2x(Xte), yte)) \
        if Xtr.shape[-1] < 10 else data
    s = args.net_scale
    variants = []
    for f in args.families_b:
        variants += [Variant(f"{pretty(f)} single", f, widen=s),
                     Variant(f"{pretty(f)} √2-wide", f, widen=s * math.sqrt(2)),
                     Variant(f"{pretty('lk' + f)} linked", "lk" + f, widen=s)]

    def build(v, seed):
        X = up[0][0]
        return lr.cifar_net(widen=v.widen, activation=v.act, in_channels=X.shape[1],
                            num_classes=int(ytr.max()) + 1, input_size=X.shape[2:], rng=seed)

    runs = run_variants(variants, build, up, args.seeds, args.epochs_b, desc="(B) √2",
                        optimizer="rmsprop", lr_=1e-4, decay=1e-6)
    out = {f: dict(zip(KINDS, (runs[v.label] for v in variants[3 * i:3 * i + 3])))
           for i, f in enumerate(args.families_b)}
    rows = []
    for f in args.families_b:
        row = [pretty(f)]
        for k in KINDS:
            sm = summarize(out[f][k], chance)
            row.append(f"{sm.median_max:.3f} ({sm.best:.3f})")
        row += [" / ".join(f"{out[f][k][0].n_params:,}" for k in KINDS),
                " / ".join(f"{v:.3f}" for v in PAPER_SQRT2[f]) if f in PAPER_SQRT2 else "-"]
        rows.append(row)
    c = [round(w * s) for w in (32, 64, 512)]
    print_table(f"(B) Parameters: cifar_net at scale {s} (conv {c[0]},{c[0]},{c[1]},{c[1]}, dense "
                f"{c[2]}) on {args.dataset} upsampled to {up[0][0].shape[-1]}×{up[0][0].shape[-1]}, "
                f"RMSProp 1e-4, {args.epochs_b} epochs; median over seeds {seeds_text(args.seeds)} "
                f"of the max test accuracy (best seed)",
                ["activation", *KINDS, "params single / √2 / linked", "paper single / √2 / linked"],
                rows)
    return out


def bars(ax, groups, series, values, colors, title, chance, ylabel="max test accuracy"):
    """Grouped bars: medians as bars (value written on each), each seed as a dot; the y axis is
    zoomed to the data (the chance line is drawn when it falls inside). values[g][s]: seeds."""
    w = 0.8 / len(series)
    for j, (name, color) in enumerate(zip(series, colors)):
        x = np.arange(len(groups)) + (j - (len(series) - 1) / 2) * w
        med = [np.median(values[g][j]) for g in range(len(groups))]
        ax.bar(x, med, w, color=color, label=name, alpha=0.85)
        for xi, m, vals in zip(x, med, (values[g][j] for g in range(len(groups)))):
            ax.plot([xi] * len(vals), vals, "k.", ms=4)
            ax.annotate(f"{m:.3f}", (xi, max(m, max(vals))), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", rotation=90,
                        fontsize=7)
    lo = min(v for g in values for s in g for v in s)
    bottom = lo - 0.1 * (1.0 - lo) - 0.01
    bottom = 0.0 if bottom < 0.3 else bottom          # zoom only when every bar is high
    ax.set_ylim(bottom, 1.0 + 0.12 * (1.0 - bottom))
    if chance > bottom:
        ax.axhline(chance, color="gray", ls="--", lw=1, label="chance")
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylabel(ylabel + ("" if bottom == 0 else f" (axis from {bottom:.2f})"))
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)


def main(argv=None):
    p = make_parser(__doc__, data=True)
    p.add_argument("--part", choices=("A", "B", "both"), default="both")
    p.add_argument("--widths", type=int, nargs="+", default=[50, 400])
    p.add_argument("--net-scale", type=float, default=None,
                   help="(B) width factor of cifar_net (default 0.5; quick 0.25)")
    p.add_argument("--n-train", type=int, default=None,
                   help="training images to keep (default: all of digits; 5000 for larger sets)")
    args = start(p, argv, seeds=([0], [0], [0, 1, 2]))
    args.families = per_mode(args, ("relu",), ("relu", "selu"), FAMILIES)
    args.families_b = per_mode(args, ("relu",), ("relu",), FAMILIES)
    args.epochs_a = args.epochs or per_mode(args, 1, 6, 30)
    args.epochs_b = args.epochs or per_mode(args, 1, 10, 40)
    args.net_scale = args.net_scale or per_mode(args, 0.125, 0.25, 0.5)
    if args.mode == "full" and args.seed is None and len(args.seeds) == 3:
        b_seeds = args.seeds[:2]                  # (B) is the slow part: two seeds
    else:
        b_seeds = args.seeds
    data = load_data(args)
    chance = chance_level(data[1][1])
    print(f"{args.dataset}: {len(data[0][0])} train / {len(data[1][0])} test images of shape "
          f"{data[0][0].shape[1:]}; chance {chance:.3f}")

    width = sqrt2 = None
    if args.part in ("A", "both"):
        width = width_part(args, data, chance)
    if args.part in ("B", "both"):
        all_seeds, args.seeds = args.seeds, b_seeds
        sqrt2 = sqrt2_part(args, data, chance)
        args.seeds = all_seeds

    # Figure: (A) one panel per width, single vs linked per activation; (B) single/√2/linked.
    panels = (len(args.widths) if width else 0) + (1 if sqrt2 else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4.8 * panels, 4), squeeze=False)
    axes = list(axes.flat)
    verdict = []
    if width:
        for ax, units in zip(axes, args.widths):
            vals = [[[r.max for r in width[units][f]], [r.max for r in width[units]["lk" + f]]]
                    for f in args.families]
            bars(ax, [pretty(f) for f in args.families], ["single", "linked"], vals,
                 ["tab:red", "tab:blue"], f"(A) one conv layer of {units} units\n"
                 f"Adam, {args.epochs_a} epochs, seeds {seeds_text(args.seeds)}", chance)
            gaps = [np.median(v[1]) - np.median(v[0]) for v in vals]
            verdict.append(f"{units} units: linked − single = "
                           + ", ".join(f"{pretty(f)} {g:+.3f}" for f, g in zip(args.families, gaps)))
    if sqrt2:
        ax = axes[-1]
        vals = [[[r.max for r in sqrt2[f][k]] for k in KINDS] for f in args.families_b]
        bars(ax, [pretty(f) for f in args.families_b], KINDS, vals,
             ["tab:red", "tab:orange", "tab:blue"],
             f"(B) cifar_net ×{args.net_scale}: single, √2-wide, linked\n"
             f"RMSProp, {args.epochs_b} epochs, seeds {seeds_text(b_seeds)}", chance)
        wins = sum(np.median(v[2]) > max(np.median(v[0]), np.median(v[1])) for v in vals)
        verdict.append(f"√2: linked beats both single and √2-wide for {wins}/{len(vals)} "
                       f"activations (paper: all)")
    for ax in axes:
        ax.legend(fontsize=8, loc="upper left", ncol=3)
    fig.suptitle(f"Width and parameters on {args.dataset}: bars = median over seeds of the max test "
                 "accuracy, dots = seeds", fontsize=10)
    fig.tight_layout()
    save_figure(fig, "08_width_and_parameters.png", args)
    finish(args, "; ".join(verdict))
    return width, sqrt2


if __name__ == "__main__":
    main()
