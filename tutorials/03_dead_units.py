"""Tutorial 03 — dead units, layer by layer, over training, in a deep plain net.

The paper's claim 1: linked units have no dead neurons, while deep plain ReLU/PReLU nets show dead
units from about layer 7 on. Here a deep, narrow plain net (no BatchNorm, no shortcuts) — by
default an MLP of 12 (full mode: 16) hidden layers of 16 units on the 8×8 digits; ``--arch conv``
gives conv layers of width 4 (3×3, 'same'), like the paper's depth net — is trained with each of ReLU, PReLU, SELU, Swish and their linked versions, and after every epoch
``linkedref.diagnostics.dead_units`` counts, per layer, the units whose output is zero for every
training sample at every position (a linked unit counts as dead only when both members are).

Mind the definition: it is the paper's, "zero for all samples". SELU, Swish and PReLU (slope ≠ 0)
are zero only at z = 0 exactly, so they cannot die by it even when their gradients vanish; the
column "near-dead" also counts units whose |output| stays below 1e-3·(the layer's largest |output|)
for every sample (saturated SELU/Swish units, nearly flat PReLU units).

Run:  python tutorials/03_dead_units.py [--quick] [--seeds 0 1 2] [--arch conv|mlp] [--depth 12]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (accuracy, finish, load_images, make_parser, mlp, per_mode, pretty,  # noqa: E402
                     print_table, save_figure, seeds_text, start)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import linkedref as lr  # noqa: E402
import linkedref.backend as B  # noqa: E402
from linkedref.diagnostics import dead_units, expansion, watch_activations  # noqa: E402

ACTIVATIONS = ("relu", "lkrelu", "prelu", "lkprelu", "selu", "lkselu", "swish", "lkswish")


def plain_convnet(act, depth, width, in_channels, n_classes, side, rng):
    """``depth`` × [Conv2D(width, 3×3, same) + act], then Flatten + Dense: no BatchNorm, no
    shortcuts. Input (N, in_channels, side, side); a linked act doubles the next layer's fan-in."""
    layers, fan_in = [], in_channels
    for _ in range(depth):
        layers.append(lr.Conv2D(fan_in, width, 3, padding="same", rng=rng))
        unit = lr.activation(act)
        layers.append(unit)
        fan_in = width * expansion(unit)
    layers += [lr.Flatten(), lr.Dense(fan_in * side * side, n_classes, rng=rng)]
    return lr.Sequential(layers)


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
        alive = (top[name] > rel * peak[name]).reshape(expansion(layer), -1).any(axis=0)
        counts.append(int((~alive).sum()))
    return counts


def run_one(act, args, data, seed, epochs):
    (Xtr, ytr), (Xte, yte) = data
    rng = np.random.default_rng(seed)
    n_classes = int(ytr.max()) + 1
    if args.arch == "conv":
        model = plain_convnet(act, args.depth, args.width, Xtr.shape[1], n_classes, Xtr.shape[-1], rng)
    else:
        model = mlp(act, Xtr.shape[1], n_classes, args.width, args.depth, rng)
    opt = lr.Adam(model, lr=1e-3, decay=1e-6)             # the paper's depth-experiment optimizer
    probe = Xtr[:args.probe]
    dead = [[d.dead for d in dead_units(model, probe)]]    # epoch 0: at initialisation
    for epoch in range(epochs):
        lr.fit(model, lr.SoftmaxCrossEntropy(), opt, Xtr, ytr, epochs=1, batch_size=32,
               seed=seed * 10_000 + epoch, progress=False)
        dead.append([d.dead for d in dead_units(model, probe)])
    return {"dead": np.array(dead),                        # (epochs + 1, layers)
            "near": np.array(near_dead(model, probe)),
            "units": np.array([d.total for d in dead_units(model, probe[:8])]),
            "test": accuracy(model, Xte, yte)}


def main(argv=None):
    p = make_parser(__doc__, data=True)
    p.add_argument("--arch", choices=("conv", "mlp"), default="mlp")
    p.add_argument("--depth", type=int, default=None, help="activation layers (default 12, full 16)")
    p.add_argument("--width", type=int, default=None, help="units per layer (default: conv 4, mlp 16)")
    p.add_argument("--activations", nargs="+", default=list(ACTIVATIONS), choices=ACTIVATIONS)
    args = start(p, argv, seeds=([0], [0, 1], [0, 1, 2]))
    args.depth = args.depth or per_mode(args, 3, 12, 16)
    args.width = args.width or (4 if args.arch == "conv" else 16)
    args.probe = per_mode(args, 64, 1257, 1257)
    epochs = args.epochs or per_mode(args, 1, 15, 40)
    n_train = per_mode(args, 128, None, None)
    acts = args.activations if args.mode != "smoke" else ["relu", "lkrelu"]
    data = load_images(args.dataset, n_train=n_train, n_test=per_mode(args, 64, 500, None),
                       flatten=args.arch == "mlp")
    print(f"{'MLP' if args.arch == 'mlp' else 'conv net'}, {args.depth} layers of width {args.width}, {args.dataset} "
          f"({len(data[0][0])} training samples), Adam 1e-3, {epochs} epochs; dead units counted on "
          f"{min(args.probe, len(data[0][0]))} training samples")

    runs = {}
    for act, seed in tqdm([(a, s) for a in acts for s in args.seeds], desc="nets", unit="net"):
        runs.setdefault(act, []).append(run_one(act, args, data, seed, epochs))

    # Table: per activation, mean over seeds.
    rows = []
    for act, rs in runs.items():
        final = np.mean([r["dead"][-1] for r in rs], axis=0)          # (layers,)
        units = rs[0]["units"]
        hit = np.nonzero(final > 0)[0]
        rows.append((pretty(act), f"{final.sum():.1f}/{units.sum()}",
                     f"{np.mean([r['near'].sum() for r in rs]):.1f}",
                     f"{np.mean([r['dead'][0].sum() for r in rs]):.1f}",
                     str(hit[0] + 1) if len(hit) else "-",
                     " ".join(f"{v:.0f}" if v == int(v) else f"{v:.1f}" for v in final),
                     float(np.mean([r["test"] for r in rs]))))
    print_table(f"Dead units after {epochs} epochs ({args.arch}, depth {args.depth}, width {args.width}; "
                f"mean over seeds {seeds_text(args.seeds)})",
                ["activation", "dead", "near-dead", "dead at init", "first dead layer",
                 "dead per layer", "test acc"], rows)

    # Figure: (a) dead fraction per layer at the end, (b) dead fraction of the net over epochs.
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = plt.get_cmap("tab10")
    for k, (act, rs) in enumerate(runs.items()):
        units = rs[0]["units"]
        style = dict(color=colors(k // 2), ls="-" if act.startswith("lk") else "--",
                     marker="o" if act.startswith("lk") else "s", ms=4, label=pretty(act))
        final = np.mean([r["dead"][-1] / units for r in rs], axis=0)
        ax1.plot(np.arange(1, len(units) + 1), final, **style)
        curve = np.mean([r["dead"].sum(axis=1) / units.sum() for r in rs], axis=0)
        ax2.plot(np.arange(len(curve)), curve, **style)
    ax1.set_xlabel("activation layer (1 = nearest the input)")
    ax1.set_ylabel("fraction of units dead")
    ax1.set_title(f"(a) dead units per layer after {epochs} epochs")
    ax2.set_xlabel("epoch (0 = initialisation)")
    ax2.set_ylabel("fraction of the net's units dead")
    ax2.set_title("(b) dead units over training")
    for ax in (ax1, ax2):
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=8, ncol=2)
    never = [pretty(a) for a, rs in runs.items() if all(r["dead"].sum() == 0 for r in rs)]
    if never:                                   # their lines lie on top of each other at 0
        ax1.text(0.02, 0.97, "no dead unit at any epoch:\n" + ", ".join(never), transform=ax1.transAxes,
                 va="top", fontsize=8, bbox=dict(facecolor="white", alpha=0.8, edgecolor="0.8"))
    fig.suptitle(f"Deep plain {'MLP' if args.arch == 'mlp' else 'conv net'} ({args.depth}×{args.width}, no BatchNorm) on "
                 f"{args.dataset}; mean over seeds {seeds_text(args.seeds)}; "
                 "dead = output 0 for every sample (linked: both members)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, "03_dead_units.png", args)

    single = [r for a in runs if not a.startswith("lk") for r in runs[a]]
    linked = [r for a in runs if a.startswith("lk") for r in runs[a]]
    relu = runs.get("relu", [])
    if relu:
        final, init = (np.mean([r["dead"][k].sum() for r in relu]) for k in (-1, 0))
        layers = np.nonzero(np.mean([r["dead"][-1] for r in relu], axis=0) > 0)[0]
        relu_text = (f"ReLU {final:.1f}/{relu[0]['units'].sum()} dead ({init:.1f} already at "
                     f"initialisation), first in layer {layers[0] + 1 if len(layers) else '-'} "
                     "(paper: from about layer 7 on)")
    else:
        relu_text = "ReLU not run"
    finish(args, f"linked nets: {np.mean([r['dead'][-1].sum() for r in linked]) if linked else float('nan'):.1f} "
                 f"dead units on average (paper: none); single nets: "
                 f"{np.mean([r['dead'][-1].sum() for r in single]) if single else float('nan'):.1f}; "
                 + relu_text)
    return runs


if __name__ == "__main__":
    main()
