"""Tutorial 07 — what BatchNorm costs: time per step and time to a target accuracy.

The paper's claim 3: linked units train deep plain nets without BatchNorm, and dropping BatchNorm
roughly halves the training time — the paper measured a BN/no-BN time ratio of 2.08 for LK-ReLU
(and 2.09 in its ResNet-50 runs), on a GPU with Keras + TensorFlow.

Here three versions of the same plain conv net (the depth experiment's architecture, by default
10 conv layers of width 16 on the 8×8 digits) are compared:

- LK-ReLU without BatchNorm,
- LK-ReLU with BatchNorm between each conv and its activation,
- ReLU with BatchNorm (the usual recipe),

first by the wall-clock time of one training step (forward, loss, backward, Adam update) on a
batch of 32, measured round-robin over the three nets (``--repeats`` rounds of ``--steps`` steps,
median per step), then by training each with Adam (lr 1e-3, decay 1e-6, batch 32) and reading
off the seconds and epochs until the test accuracy first reaches ``--target``.

What to expect: BatchNorm's forward and backward are a handful of elementwise passes and
reductions over the activations. On a GPU those are memory-bound kernels next to fast
convolutions, so they take a large share of a step; in NumPy on a CPU the convolutions (im2col +
matmul) dominate and Python overhead is per layer, so the measured ratio can be far from 2.08.
The ratio printed is what this machine measured, nothing else.

Full mode (≈ 5 min on 2 cores): 20 rounds × 20 steps of timing, 30 epochs × 3 seeds of
training. Quick mode (≤ 1 min): 5 rounds × 10 steps, 8 epochs × 1 seed.

Run:  python tutorials/07_batchnorm_cost.py [--quick] [--seeds 0 1 2] [--target 0.9]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (finish, load_images, make_parser, per_mode, print_table,  # noqa: E402
                     save_figure, seeds_text, start)
from _experiments import Variant, chance_level, run_variants, summarize  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import linkedref as lr  # noqa: E402
import linkedref.backend as B  # noqa: E402

VARIANTS = [
    Variant("LK-ReLU", "lkrelu"),
    Variant("LK-ReLU+BN", "lkrelu", batchnorm=True),
    Variant("ReLU+BN", "relu", batchnorm=True),
]
PAPER_RATIO = 2.08


def step_times(models, X, y, steps, repeats, rng):
    """Seconds per training step of each model: ``repeats`` rounds, in each round ``steps`` steps
    of every model in turn (so a burst of load elsewhere hits all of them); median over rounds.

    One step = forward(training=True), loss, backward, Adam update, on a fixed batch (X, y).
    Returns {label: array (repeats,) of seconds per step}.
    """
    loss = lr.SoftmaxCrossEntropy()
    opts = {k: lr.Adam(m, lr=1e-3, decay=1e-6) for k, m in models.items()}
    xb, yb = B.asarray(X), B.asarray(y)
    xp = B.xp()

    def step(k):
        out = models[k].forward(xb, training=True)
        loss.forward(out, yb)
        models[k].backward(loss.backward())
        opts[k].step()

    times = {k: [] for k in models}
    for k in models:                                      # warm-up: caches, lazy parameters
        for _ in range(3):
            step(k)
    for _ in range(repeats):
        for k in rng.permutation(list(models)):
            t = time.perf_counter()
            for _ in range(steps):
                step(k)
            if xp is not np:
                xp.cuda.Device().synchronize()            # CuPy: wait for the GPU's queue
            times[k].append((time.perf_counter() - t) / steps)
    return {k: np.array(v) for k, v in times.items()}


def main(argv=None):
    p = make_parser(__doc__, data=True)
    p.add_argument("--depth", type=int, default=10, help="conv layers")
    p.add_argument("--width", type=int, default=16, help="filters per conv layer")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--target", type=float, default=0.9, help="test accuracy to reach")
    p.add_argument("--steps", type=int, default=None, help="steps per timing round")
    p.add_argument("--repeats", type=int, default=None, help="timing rounds")
    p.add_argument("--n-train", type=int, default=None,
                   help="training images to keep (default: all of digits; 5000 for larger sets)")
    args = start(p, argv, seeds=([0], [0], [0, 1, 2]))
    depth = per_mode(args, 2, args.depth, args.depth)
    epochs = args.epochs or per_mode(args, 1, 8, 30)
    steps = args.steps or per_mode(args, 2, 10, 20)
    repeats = args.repeats or per_mode(args, 2, 5, 20)
    big = args.dataset != "digits"
    data = load_images(args.dataset, n_train=args.n_train or per_mode(args, 128, None, None) or (5000 if big else None),
                       n_test=per_mode(args, 64, None, None) or (2000 if big else None))
    (Xtr, ytr), (Xte, yte) = data
    chance = chance_level(yte)

    def build(v, seed):
        return lr.depth_net(depth, args.width, v.act, batchnorm=v.batchnorm,
                            in_channels=Xtr.shape[1], num_classes=int(ytr.max()) + 1,
                            input_size=Xtr.shape[2:], rng=seed)

    print(f"plain conv net: {depth} conv layers of width {args.width}; {args.dataset} "
          f"({len(Xtr)} train / {len(Xte)} test), batch {args.batch_size}; backend {args.backend}")
    rng = np.random.default_rng(args.seeds[0])
    models = {v.label: build(v, args.seeds[0]) for v in VARIANTS}
    batch = rng.choice(len(Xtr), args.batch_size, replace=False)
    print(f"timing: {repeats} rounds × {steps} steps per net, round-robin")
    times = step_times(models, Xtr[batch], ytr[batch], steps, repeats, rng)
    per_step = {k: float(np.median(v)) for k, v in times.items()}

    runs = run_variants(VARIANTS, build, data, args.seeds, epochs, desc="training",
                        batch_size=args.batch_size)

    base = per_step["LK-ReLU"]
    rows = []
    reach = {}
    for v in VARIANTS:
        rs = runs[v.label]
        s = summarize(rs, chance)
        secs = [r.seconds_to(args.target) for r in rs]
        eps = [int(np.argmax(np.asarray(r.val_accuracy) >= args.target)) + 1
               if r.seconds_to(args.target) is not None else None for r in rs]
        hit = [x for x in secs if x is not None]
        reach[v.label] = (float(np.median(hit)) if hit else None, len(hit))
        rows.append((v.label, 1000 * per_step[v.label], f"{per_step[v.label] / base:.2f}×",
                     f"{np.median([e for e in eps if e is not None]):.0f}" if hit else "never",
                     f"{np.median(hit):.1f}" if hit else "never", f"{len(hit)}/{len(rs)}",
                     s.median_max, f"{lr.models.count_params(models[v.label]):,}"))
    print_table(f"BatchNorm cost: depth {depth}, width {args.width}, batch {args.batch_size}, "
                f"{args.backend}; target test accuracy {args.target}; seeds {seeds_text(args.seeds)} "
                f"(medians over seeds); paper: BN/no-BN time ratio {PAPER_RATIO} for LK-ReLU (GPU)",
                ["net", "ms/step", "vs LK-ReLU", "epochs to target", "s to target", "reached",
                 "max acc", "params"], rows, fmt="{:.3f}")
    ratio = per_step["LK-ReLU+BN"] / base
    t_bn, t_plain = reach["LK-ReLU+BN"][0], reach["LK-ReLU"][0]

    # Figure: (a) ms per step with the spread over rounds; (b) accuracy against wall-clock time.
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.4))
    colors = {"LK-ReLU": "tab:blue", "LK-ReLU+BN": "tab:purple", "ReLU+BN": "tab:green"}
    labels = list(per_step)
    ax1.boxplot([1000 * times[k] for k in labels], tick_labels=labels, widths=0.5)
    for i, k in enumerate(labels, start=1):
        ax1.annotate(f"{per_step[k] / base:.2f}×", (i, 1000 * per_step[k]), xytext=(22, 0),
                     textcoords="offset points", va="center", fontsize=9, color=colors[k])
    ax1.set_ylabel("milliseconds per training step")
    ax1.set_ylim(bottom=0)
    ax1.set_title(f"(a) time per step (batch {args.batch_size}; {repeats} rounds × {steps} steps)\n"
                  f"LK-ReLU BN/no-BN = {ratio:.2f}× here; paper {PAPER_RATIO}× (GPU)", fontsize=10)
    ax1.grid(axis="y", alpha=0.3)
    for v in VARIANTS:
        for i, r in enumerate(runs[v.label]):
            ax2.plot(np.cumsum(r.seconds), r.val_accuracy, color=colors[v.label], lw=1.3,
                     alpha=0.8, label=v.label if i == 0 else None)
    ax2.axhline(args.target, color="k", ls=":", lw=1, label=f"target {args.target}")
    ax2.axhline(chance, color="gray", ls="--", lw=1, label="chance")
    ax2.set_xlabel("wall-clock seconds of training (incl. the test pass each epoch)")
    ax2.set_ylabel("test accuracy")
    ax2.set_ylim(0, 1.02)
    ax2.set_title(f"(b) test accuracy against time, {epochs} epochs, seeds {seeds_text(args.seeds)}",
                  fontsize=10)
    ax2.legend(fontsize=8, loc="lower right")
    ax2.grid(alpha=0.3)
    fig.suptitle(f"What BatchNorm costs: plain conv net {depth}×{args.width} on {args.dataset}, "
                 f"backend {args.backend}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, "07_batchnorm_cost.png", args)

    to_target = (f"time to {args.target}: LK-ReLU {t_plain:.1f} s, LK-ReLU+BN {t_bn:.1f} s "
                 f"(ratio {t_bn / t_plain:.2f})" if t_bn and t_plain else
                 f"time to {args.target}: not reached by both LK-ReLU nets "
                 f"(LK-ReLU {reach['LK-ReLU'][1]}/{len(args.seeds)}, "
                 f"LK-ReLU+BN {reach['LK-ReLU+BN'][1]}/{len(args.seeds)} seeds)")
    finish(args, f"BatchNorm makes an LK-ReLU training step {ratio:.2f}× as long on this machine "
                 f"({args.backend}; paper {PAPER_RATIO}× on a GPU); ReLU+BN "
                 f"{per_step['ReLU+BN'] / base:.2f}×; {to_target}")
    return times, runs


if __name__ == "__main__":
    main()
