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
median over epochs, the median max *training* accuracy (training mode, averaged over each epoch's
steps) and how many seeds escaped chance (max test accuracy ≥ 2 × chance). Training accuracy
tells "cannot fit" apart from "fits, but the test pass disagrees" — with BatchNorm the test pass
uses running statistics (momentum 0.99, Keras's), which lag behind a deep net's changing layers.

Sizing the full run (measured on 2 cores, NumPy on one thread, depth 50, digits): one epoch (40
steps of 32 plus a test pass) takes 0.4 s (ReLU) to 0.9 s (LK-PReLU). With the Glorot init,
LK-ReLU at depth 50 sits exactly at chance (loss ln 10: the signal fades over 50 layers) until,
now and then, it escapes: in one exploratory run seed 2 left chance near epoch 80 and reached
0.85 by epoch 100, but seeds 0 and 1 were still at chance after 150 epochs, and in the full run
below (same seeds, another shuffling order) none of seeds 0, 1, 2 escaped within 100 epochs.
So full mode trains 100 epochs (the order the issue names) with seeds 0 and 1 for every variant,
plus seed 2 (``--more-seeds``) for LK-ReLU and LK-PReLU, whose escape depends most on chance:
2,400 planned epochs; it took 23 minutes on the 2-core machine (shared with other jobs).
Measured there: ReLU, PReLU, Swish, LK-Swish, ReLU√2 and LK-ReLU stayed at 0.10 in every seed;
LK-PReLU escaped in 2 of 3 seeds (best 0.95); SELU 0.97, LK-SELU 0.97, LK-ReLU with the
looks-linear init 0.97 in every seed; ReLU+BN climbed slowly to 0.63.

Plain-ReLU runs (ReLU, ReLU√2) stop early when a layer has died entirely — every unit zero for
every training sample. From then on the net's output is the same for every
training image and no gradient reaches the layers below the dead one, so it provably stays at
chance; the remaining epochs repeat the last accuracy (dotted in the figure). No other run is cut
short. Batch 32 is kept (the paper's): a larger batch takes fewer steps per epoch, and escaping
chance is a matter of steps.

Quick mode (≤ 1 minute) trains a 15-layer version of five variants for 25 epochs, one seed: it
shows the trend (plain ReLU stuck, linked and normalised nets learning), not the paper's numbers.

Run:  python tutorials/04_depth.py [--quick] [--seeds 0 1] [--more-seeds 2] [--depth 50] [--epochs 100]
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (finish, make_parser, per_mode, print_table,  # noqa: E402
                     save_figure, seeds_text, start)
from _experiments import (Variant, chance_level, load_data, paper_text, plot_runs,  # noqa: E402
                          run_variants, summarize)

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

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
SLOW_ESCAPE = ("LK-ReLU", "LK-PReLU")      # --more-seeds apply to these


def main(argv=None):
    p = make_parser(__doc__, data=True)
    p.add_argument("--depth", type=int, default=None, help="conv layers (default 50; quick 15)")
    p.add_argument("--width", type=int, default=4, help="filters per conv layer")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--variants", nargs="+", default=None, metavar="LABEL",
                   help=f"a subset of: {', '.join(v.label for v in VARIANTS)}")
    p.add_argument("--more-seeds", type=int, nargs="*", default=None,
                   help="extra seeds for LK-ReLU and LK-PReLU only, whose escape from chance "
                        "varies most between seeds (default: full mode 2, else none)")
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
    data = load_data(args)
    (Xtr, ytr), (Xte, yte) = data
    chance = chance_level(yte)
    more = args.more_seeds if args.more_seeds is not None else per_mode(args, [], [], [2])
    more = [s for s in more if s not in args.seeds]
    print(f"depth net: {depth} conv layers of width {args.width} (7×7/2, then 3×3), Dense; "
          f"{args.dataset} {Xtr.shape[1:]} ({len(Xtr)} train / {len(Xte)} test); Adam lr 1e-3 "
          f"decay 1e-6, batch {args.batch_size}, {epochs} epochs, seeds {seeds_text(args.seeds)}"
          + (f" (+ {seeds_text(more)} for {', '.join(SLOW_ESCAPE)})" if more else ""))

    def build(v, seed):
        return lr.depth_net(depth, args.width, v.act, batchnorm=v.batchnorm,
                            in_channels=Xtr.shape[1], num_classes=int(ytr.max()) + 1,
                            input_size=Xtr.shape[2:], init=v.init, rng=seed, widen=v.widen)


    def seeds_for(v):
        return list(args.seeds) + (more if v.label in SLOW_ESCAPE else [])

    runs = run_variants(variants, build, data, args.seeds, epochs, desc=f"depth {depth}",
                        seeds_for=seeds_for, batch_size=args.batch_size, stop_when_dead=True)
    all_seeds = seeds_text(sorted(set(args.seeds) | set(more)))

    rows, summaries = [], {}
    for v in variants:
        s = summaries[v.label] = summarize(runs[v.label], chance)
        stopped = [r.stopped for r in runs[v.label] if r.stopped is not None]
        rows.append((v.label, s.best, s.median_max, s.median, s.median_max_train, s.escaped_text,
                     paper_text(v.paper),
                     f"{runs[v.label][0].n_params:,}", f"{s.epoch_seconds:.2f}",
                     f"stopped at {','.join(map(str, stopped))}" if stopped else ""))
    print_table(f"Depth experiment: {depth} conv layers of width {args.width} on {args.dataset}, "
                f"{epochs} epochs, seeds {all_seeds} (chance {chance:.3f}; paper: "
                f"CIFAR-10, max accuracy, one seed)",
                ["activation", "max", "median max", "median", "train max", "escaped", "paper max",
                 "params", "s/epoch", "note"], rows)

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
                     + (f"; paper {v.paper:.3f}" if v.paper is not None else ""), fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes.flat[len(variants):]:
        ax.axis("off")
    for k in range(len(variants) - cols, len(variants)):   # the lowest panel of each column
        if k >= 0:
            axes.flat[k].set_xlabel("epoch")
            axes.flat[k].xaxis.set_tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Depth {depth}, width {args.width}, no shortcuts, on {args.dataset}: test accuracy "
                 f"per epoch (thin: each of seeds {all_seeds}; bold: median; dotted: "
                 f"stopped, a layer all dead).\nRed: single units, blue: linked, green: BatchNorm. "
                 f"Paper numbers: CIFAR-10, 50 layers, one seed.",
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
    ran = {v.label for v in variants}
    stuck_names = "/".join(x for x in ("ReLU", "PReLU", "Swish") if x in ran) or "none"
    learn_names = "/".join(x for x in ("LK-ReLU", "LK-PReLU", "LK-SELU") if x in ran) or "none"
    claim = (f"for the variants run this matches the paper's pattern ({stuck_names} stuck at "
             f"chance, {learn_names} learning in every seed)" if single_stuck and linked_learn else
             f"this does NOT fully match the paper's pattern ({stuck_names} should stay at chance, "
             f"{learn_names} should learn; see the escaped column)")
    if depth != 50:
        claim += f" [depth {depth}, not the paper's 50: a trend only]"
    finish(args, f"at depth {depth} on {args.dataset}, {epochs} epochs: "
                 + "; ".join(x for x in parts if x) + f" — {claim}")
    return runs


if __name__ == "__main__":
    main()
