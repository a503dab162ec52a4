"""Tutorial 06 — unnormalised inputs: do linked units make input standardisation unnecessary?

The paper's claim 4: since a linked unit always has a member with a non-zero gradient, whatever
the shift or scale of its input, linked nets should train on raw, unnormalised data, where
single units can be pushed into their flat regions and die.

The same plain conv net (the depth experiment's architecture, shallower: by default 20 conv
layers of width 4, no BatchNorm — deep and narrow enough for plain ReLU nets to die now and then)
is trained on three versions of the digits:

- raw: pixel values in [0, 1], as loaded;
- standardised: each channel to mean 0, std 1 with the training set's statistics;
- ×50+10: x · 50 + 10 (``preprocess.shift_scale``), values in [10, 60] — far from zero-centred,
  with a large scale, as an unnormalised sensor or 0-255 image would be;

for single and linked versions of each activation, with Adam (lr 1e-3, decay 1e-6, batch 32).
The table reports, per activation and input, the median over seeds of each run's max test
accuracy (the best seed's in brackets), and the dead units at the end (output zero for every
training sample; median over seeds) for each input. The paper gives no table for this claim; it
states it. What we saw while sizing this (digits, Adam, 4 seeds, 8 epochs): the ×50+10 inputs did
not hurt any activation — Adam's per-weight step sizes absorb the input scale in the first layer —
and plain ReLU nets of depth 20 died about as often on standardised as on shifted inputs.

Full mode (≈ 10 min on 2 cores): ReLU, PReLU, SELU, Swish and their linked versions, 30 epochs,
3 seeds. Quick mode (≤ 1 min): ReLU, LK-ReLU, SELU, LK-SELU, 8 epochs, 1 seed.

Run:  python tutorials/06_unnormalized_inputs.py [--quick] [--seeds 0 1 2] [--shift 10 --scale 50]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (finish, make_parser, per_mode, pretty, print_table,  # noqa: E402
                     save_figure, seeds_text, start)
from _experiments import (Variant, chance_level, load_data, plot_runs, run_variants,  # noqa: E402
                          summarize)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import linkedref as lr  # noqa: E402
from linkedref.data import preprocess  # noqa: E402
from linkedref.diagnostics import dead_units  # noqa: E402

ACTS = ("relu", "lkrelu", "prelu", "lkprelu", "selu", "lkselu", "swish", "lkswish")


def input_versions(data, shift, scale):
    """{name: ((X_train, y_train), (X_test, y_test))} for the raw, standardised and shifted data."""
    (Xtr, ytr), (Xte, yte) = data
    Str, Ste, _ = preprocess.standardize(Xtr, Xte)
    shifted = f"×{scale:g}+{shift:g}"
    return {"raw [0,1]": data,
            "standardised": ((Str, ytr), (Ste, yte)),
            shifted: ((preprocess.shift_scale(Xtr, shift, scale), ytr),
                      (preprocess.shift_scale(Xte, shift, scale), yte))}


def main(argv=None):
    p = make_parser(__doc__, data=True)
    p.add_argument("--depth", type=int, default=None, help="conv layers (default 20)")
    p.add_argument("--width", type=int, default=4, help="filters per conv layer")
    p.add_argument("--shift", type=float, default=10.0)
    p.add_argument("--scale", type=float, default=50.0)
    p.add_argument("--n-train", type=int, default=None,
                   help="training images to keep (default: all of digits; 5000 for larger sets)")
    args = start(p, argv, seeds=([0], [0], [0, 1, 2]))
    depth = args.depth or per_mode(args, 2, 20, 20)
    epochs = args.epochs or per_mode(args, 1, 8, 30)
    acts = per_mode(args, ("relu", "lkrelu"), ("relu", "lkrelu", "selu", "lkselu"), ACTS)
    data = load_data(args)
    versions = input_versions(data, args.shift, args.scale)
    shifted = list(versions)[-1]
    (Xtr, ytr), (Xte, yte) = data
    chance = chance_level(yte)
    print(f"plain conv net: {depth} conv layers of width {args.width}, Dense; {args.dataset} "
          f"({len(Xtr)} train / {len(Xte)} test); Adam lr 1e-3 decay 1e-6, batch 32, {epochs} "
          f"epochs, seeds {seeds_text(args.seeds)}")
    for name, ((X, _), _) in versions.items():
        print(f"  {name:>13}: training inputs mean {X.mean():7.3f}, std {X.std():7.3f}, "
              f"range [{X.min():.2f}, {X.max():.2f}]")

    variants = [Variant(pretty(a), a) for a in acts]
    runs, dead = {}, {}
    for name, d in versions.items():
        models = {}

        def build(v, seed, _models=models):
            m = lr.depth_net(depth, args.width, v.act, in_channels=Xtr.shape[1],
                             num_classes=int(ytr.max()) + 1, input_size=Xtr.shape[2:], rng=seed)
            _models.setdefault(v.label, []).append(m)
            return m

        runs[name] = run_variants(variants, build, d, args.seeds, epochs, desc=name)
        dead[name] = {label: [sum(u.dead for u in dead_units(m, d[0][0])) for m in ms]
                      for label, ms in models.items()}

    total_units = depth * round(args.width)
    rows = []
    for v in variants:
        row = [v.label]
        for name in versions:
            s = summarize(runs[name][v.label], chance)
            row.append(f"{s.median_max:.3f} ({s.best:.3f})")
        row.append(" / ".join(f"{np.median(dead[name][v.label]):.0f}" for name in versions)
                   + f" of {total_units}")
        rows.append(row)
    print_table(f"Unnormalised inputs: median over seeds {seeds_text(args.seeds)} of the max test "
                f"accuracy (best seed), {epochs} epochs, depth {depth}, width {args.width}; chance "
                f"{chance:.3f}", ["activation", *versions, "dead units (raw / std / shifted)"], rows)

    # Figure: (a) grouped bars per activation and input; (b) curves on the shifted inputs.
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1.3, 1]})
    colors = ["tab:gray", "tab:green", "tab:purple"]
    w = 0.8 / len(versions)
    for j, (name, color) in enumerate(zip(versions, colors)):
        x = np.arange(len(variants)) + (j - (len(versions) - 1) / 2) * w
        vals = [[r.max for r in runs[name][v.label]] for v in variants]
        ax1.bar(x, [np.median(v) for v in vals], w, color=color, label=name, alpha=0.85)
        for xi, v in zip(x, vals):
            ax1.plot([xi] * len(v), v, "k.", ms=4)
    ax1.set_xticks(np.arange(len(variants)), [v.label for v in variants], fontsize=9)
    ax1.set_ylabel("max test accuracy")
    ax1.set_title("(a) per activation and input (bars: median over seeds; dots: seeds)", fontsize=10)
    ax1.axhline(chance, color="gray", ls="--", lw=1, label="chance")
    ax1.set_ylim(0, 1.05)
    ax1.legend(fontsize=8, ncol=2, loc="upper left")
    ax1.grid(axis="y", alpha=0.3)
    cmap = plt.get_cmap("tab10")
    for k, v in enumerate(variants):
        plot_runs(ax2, runs[shifted][v.label], cmap(k // 2), v.label, ls="-" if v.linked else "--")
    ax2.axhline(chance, color="gray", ls="--", lw=1)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("test accuracy")
    ax2.set_ylim(0, 1.05)
    ax2.set_title(f"(b) training on inputs {shifted} (solid: linked, dashed: single)", fontsize=10)
    ax2.legend(fontsize=8, ncol=2, loc="lower right")
    ax2.grid(alpha=0.3)
    fig.suptitle(f"Plain conv net ({depth}×{args.width}, no BatchNorm) on {args.dataset} with raw, "
                 f"standardised and shifted/scaled inputs; seeds {seeds_text(args.seeds)}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, "06_unnormalized_inputs.png", args)

    def med(name, label):
        return float(np.median([r.max for r in runs[name][label]]))

    std_name = "standardised"
    parts = []
    for v in variants:
        drop = med(std_name, v.label) - med(shifted, v.label)
        parts.append(f"{v.label} {med(shifted, v.label):.2f} ({-drop:+.2f} vs standardised)")
    linked_ok = all(med(std_name, v.label) - med(shifted, v.label) < 0.05 for v in variants if v.linked)
    single_hurt = [v.label for v in variants
                   if not v.linked and med(std_name, v.label) - med(shifted, v.label) >= 0.05]
    dead_single = sum(np.median(dead[n][v.label]) for n in versions for v in variants if not v.linked)
    dead_linked = sum(np.median(dead[n][v.label]) for n in versions for v in variants if v.linked)
    finish(args, f"on {shifted} inputs: " + "; ".join(parts) + ". "
           + ("Linked nets lose < 0.05 against standardised inputs" if linked_ok
              else "Some linked nets lose ≥ 0.05 against standardised inputs (claim not confirmed here)")
           + (f"; single nets that lose ≥ 0.05: {', '.join(single_hurt)}" if single_hurt
              else "; no single net loses ≥ 0.05 either (the claim's contrast does not show here)")
           + f". Dead units at the end (medians, all inputs): single {dead_single:.0f}, linked "
             f"{dead_linked:.0f}")
    return runs


if __name__ == "__main__":
    main()
