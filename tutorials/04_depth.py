"""Tutorial 04 — the depth experiment: 50 conv layers of width 4, no BatchNorm, no shortcuts.

The paper's claim 2: a very deep, very narrow plain net (first conv 7×7 stride 2, then 3×3 convs,
all of width 4, then one Dense) trains with linked units, while ReLU, PReLU and Swish stay at
chance; BatchNorm rescues ReLU. The paper (CIFAR-10, Adam lr 1e-3 decay 1e-6, batch 32, one fixed
seed) reports max test accuracy: ReLU, PReLU, Swish, LK-Swish 0.10; LK-ReLU 0.567, LK-PReLU 0.546,
SELU 0.565, LK-SELU 0.588, ReLU+BN 0.520.

Here the same net and optimizer run on the 8×8 digits (1,257 training / 540 test images) with
ReLU, LK-ReLU, PReLU, LK-PReLU, SELU, LK-SELU, Swish, LK-Swish, ReLU√2 (every layer √2 wider:
6 filters, the fair-parameter single net), ReLU+BN, and LK-ReLU with the looks-linear
initialisation (Balduzzi et al., 2017) — several seeds each. The table gives, per variant, the
best seed's max test accuracy (the paper's number), the median over seeds of the max, the
median over epochs, and how many seeds escaped chance (max ≥ 2 × chance).

Sizing the full run (measured on 2 cores, NumPy, depth 50, digits): one epoch (40 steps of 32
plus a test pass) takes about 0.6 s for single nets and 0.8-1 s for linked ones (1-2 s when
other jobs share the cores). LK-ReLU at depth 50 needs on the order of a hundred epochs to leave
chance on digits, so full mode trains 100 epochs, 2 seeds per variant, with the paper's batch 32
(~22 variant-seed runs ≈ 2,200 epochs). To stay within ~25 minutes, plain-ReLU runs (ReLU,
ReLU√2) stop early when a layer has died entirely — every unit zero for every training sample.
From then on the net's output is the same for every training image and no gradient reaches the
layers below the dead one, so it provably stays at chance; the remaining epochs repeat the last
accuracy (dotted in the figure). No other run is cut short.

Quick mode (≤ 1 minute) trains a 15-layer version of five variants for 25 epochs, one seed: it
shows the trend (plain ReLU stuck, linked and normalised nets learning), not the paper's numbers.

Run:  python tutorials/04_depth.py [--quick] [--seeds 0 1] [--depth 50] [--epochs 100]
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (finish, load_images, make_parser, per_mode, print_table,  # noqa: E402
                     save_figure, seeds_text, start)
from _experiments import Variant, chance_level, paper_text, plot_runs, run_variants, summarize  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402

import linkedref as lr  # noqa: E402

VARIANTS = [
    Variant("ReLU", "relu", paper=0.10),
    Variant("LK-ReLU", "lkrelu", paper=0.567),
    Variant("PReLU", "prelu", paper=0.10),
    Variant("LK-PReLU", "lkprelu", paper=0.546),
    Variant("SELU", "selu", paper=0.565),
    Variant("LK-SELU", "lkselu", paper=0.588),
    Variant("Swish", "swish", paper=0.10),
    Variant("LK-Swish", "lkswish", paper=0.10),
    Variant("ReLU√2", "relu", widen=math.sqrt(2)),
    Variant("ReLU+BN", "relu", batchnorm=True, paper=0.520),
    Variant("LK-ReLU (looks-linear)", "lkrelu", init="looks_linear"),
]
QUICK = ("ReLU", "LK-ReLU", "SELU", "ReLU+BN", "LK-ReLU (looks-linear)")
SMOKE = ("ReLU", "LK-ReLU")


def main(argv=None):
    p = make_parser(__doc__, data=True)
    p.add_argument("--depth", type=int, default=None, help="conv layers (default 50; quick 15)")
    p.add_argument("--width", type=int, default=4, help="filters per conv layer")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--variants", nargs="+", default=None, metavar="LABEL",
                   help=f"a subset of: {', '.join(v.label for v in VARIANTS)}")
    p.add_argument("--n-train", type=int, default=None,
                   help="training images to keep (default: all of digits; 5000 for larger sets)")
    args = start(p, argv, seeds=([0], [0], [0, 1]))
    depth = args.depth or per_mode(args, 3, 15, 50)
    epochs = args.epochs or per_mode(args, 2, 25, 100)
    wanted = args.variants or per_mode(args, SMOKE, QUICK, [v.label for v in VARIANTS])
    unknown = set(wanted) - {v.label for v in VARIANTS}
    if unknown:
        p.error(f"unknown variants {sorted(unknown)}; choose from {[v.label for v in VARIANTS]}")
    variants = [v for v in VARIANTS if v.label in wanted]
    big = args.dataset != "digits"
    data = load_images(args.dataset, n_train=args.n_train or per_mode(args, 128, None, None) or (5000 if big else None),
                       n_test=per_mode(args, 64, None, None) or (2000 if big else None))
    (Xtr, ytr), (Xte, yte) = data
    chance = chance_level(yte)
    print(f"depth net: {depth} conv layers of width {args.width} (7×7/2, then 3×3), Dense; "
          f"{args.dataset} {Xtr.shape[1:]} ({len(Xtr)} train / {len(Xte)} test); Adam lr 1e-3 "
          f"decay 1e-6, batch {args.batch_size}, {epochs} epochs, seeds {seeds_text(args.seeds)}")

    def build(v, seed):
        return lr.depth_net(depth, args.width, v.act, batchnorm=v.batchnorm,
                            in_channels=Xtr.shape[1], num_classes=int(ytr.max()) + 1,
                            input_size=Xtr.shape[2:], init=v.init, rng=seed, widen=v.widen)

    runs = run_variants(variants, build, data, args.seeds, epochs, desc=f"depth {depth}",
                        batch_size=args.batch_size, stop_when_dead=True)

    rows, summaries = [], {}
    for v in variants:
        s = summaries[v.label] = summarize(runs[v.label], chance)
        stopped = [r.stopped for r in runs[v.label] if r.stopped is not None]
        rows.append((v.label, s.best, s.median_max, s.median, s.escaped_text, paper_text(v.paper),
                     f"{runs[v.label][0].n_params:,}", f"{s.epoch_seconds:.2f}",
                     f"stopped at {','.join(map(str, stopped))}" if stopped else ""))
    print_table(f"Depth experiment: {depth} conv layers of width {args.width} on {args.dataset}, "
                f"{epochs} epochs, seeds {seeds_text(args.seeds)} (chance {chance:.3f}; paper: "
                f"CIFAR-10, max accuracy, one seed)",
                ["activation", "max", "median max", "median", "escaped", "paper max", "params",
                 "s/epoch", "note"], rows)

    # Figure: one panel per variant, each seed thin, the median bold, chance dashed.
    cols = min(4, len(variants))
    nrows = math.ceil(len(variants) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.4 * cols, 2.7 * nrows), sharex=True,
                             sharey=True, squeeze=False)
    for ax, v in zip(axes.flat, variants):
        color = "tab:blue" if v.linked else ("tab:green" if v.batchnorm else "tab:red")
        plot_runs(ax, runs[v.label], color, "median over seeds")
        ax.axhline(chance, color="gray", ls="--", lw=1, label="chance")
        s = summaries[v.label]
        ax.set_title(f"{v.label}\nmax {s.best:.3f}, escaped {s.escaped_text}"
                     + (f" (paper {v.paper:.3f})" if v.paper is not None else ""), fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 1)
    for ax in axes.flat[len(variants):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Depth {depth}, width {args.width}, no shortcuts, on {args.dataset}: test accuracy "
                 f"per epoch (thin: each of seeds {seeds_text(args.seeds)}; bold: median; dotted: "
                 f"stopped, a layer all dead). Red single, blue linked, green BatchNorm.",
                 fontsize=10)
    fig.tight_layout()
    save_figure(fig, "04_depth.png", args)

    def verdict_part(label):
        s = summaries.get(label)
        return f"{label} {s.best:.2f} ({s.escaped_text} seeds escaped)" if s else None

    parts = [verdict_part(lab) for lab in ("ReLU", "PReLU", "Swish", "LK-ReLU", "LK-SELU", "SELU",
                                            "ReLU+BN", "LK-ReLU (looks-linear)")]
    single_stuck = all(summaries[v.label].escaped == 0 for v in variants
                       if v.label in ("ReLU", "PReLU", "Swish"))
    linked_learn = all(summaries[v.label].escaped == summaries[v.label].seeds for v in variants
                       if v.label in ("LK-ReLU", "LK-PReLU", "LK-SELU"))
    claim = ("matches the paper's pattern (plain ReLU/PReLU/Swish stuck at chance, LK-ReLU/LK-PReLU/"
             "LK-SELU learning)" if single_stuck and linked_learn else
             "does NOT fully match the paper's pattern (see the escaped column)")
    finish(args, f"at depth {depth} on {args.dataset}, {epochs} epochs: "
                 + "; ".join(x for x in parts if x) + f" — {claim}")
    return runs


if __name__ == "__main__":
    main()
