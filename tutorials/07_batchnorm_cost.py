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
batch of 32, measured round-robin over the three nets (``--repeats`` rounds of ``--steps`` steps;
the median round counts, so a single lucky or unlucky round cannot decide the ratio), then by
training each with Adam (lr 1e-3, decay 1e-6, batch 32) and reading
off the seconds and epochs until the training accuracy, and the test accuracy, first reach
``--target``. Both are shown because they differ for BatchNorm on a small data set: the test pass
normalises with running statistics (momentum 0.99, Keras's default), which need a few hundred
steps to forget their initial values — ten epochs of the digits' 40 steps. (We checked: after one
epoch an LK-ReLU+BN net scored 0.10 on the test set with running statistics and 0.91 with batch
statistics.) On CIFAR-10's 1,563 steps per epoch this lag is invisible.

What to expect: BatchNorm's forward and backward are a handful of elementwise passes and
reductions over the activations. On a GPU those are memory-bound kernels next to fast
convolutions, so they take a large share of a step; in NumPy on a CPU the convolutions (im2col +
matmul) dominate and Python overhead is per layer, so the measured ratio can be far from 2.08.
The ratio printed is what this machine measured, nothing else. For reference, one measurement on
the 2-core development machine (NumPy, depth 10, width 16, batch 32, eight rounds of ten steps,
each net on its own): LK-ReLU 8.7 ms, LK-ReLU+BN 10.5 ms (1.21×), ReLU+BN 7.0 ms per step. When
other jobs share the cores, short runs (quick mode) scatter by ±25 %: read the ratio of a full run.

Full mode (≈ 5 min on 2 cores): 20 rounds × 20 steps of timing, 30 epochs × 3 seeds of
training. Quick mode (≤ 1 min): 10 rounds × 10 steps, 12 epochs × 1 seed.

Run:  python tutorials/07_batchnorm_cost.py [--quick] [--seeds 0 1 2] [--target 0.9]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (finish, make_parser, per_mode, print_table,  # noqa: E402
                     save_figure, seeds_text, start)
from _experiments import Variant, chance_level, load_data, run_variants, summarize  # noqa: E402

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
    of every model in turn, in a random order (so a burst of load elsewhere hits all of them).

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
    epochs = args.epochs or per_mode(args, 1, 12, 30)
    steps = args.steps or per_mode(args, 2, 10, 20)
    repeats = args.repeats or per_mode(args, 2, 10, 20)
    data = load_data(args)
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
    per_step = {k: float(np.median(v)) for k, v in times.items()}   # median over rounds: one
    # lucky round of one net (a moment when other jobs paused) does not decide the ratio

    runs = run_variants(VARIANTS, build, data, args.seeds, epochs, desc="training",
                        batch_size=args.batch_size)

    base = per_step["LK-ReLU"]
    rows, reach = [], {}
    for v in VARIANTS:
        rs = runs[v.label]
        row = [v.label, 1000 * per_step[v.label], f"{per_step[v.label] / base:.2f}×"]
        for key in ("accuracy", "val_accuracy"):
            eps = [r.epochs_to(args.target, key) for r in rs]
            secs = [r.seconds_to(args.target, key) for r in rs]
            hit = [(e, t) for e, t in zip(eps, secs) if e is not None]
            reach[v.label, key] = float(np.median([t for _, t in hit])) if hit else None
            row += [f"{np.median([e for e, _ in hit]):.0f}" if hit else "never",
                    f"{np.median([t for _, t in hit]):.1f}" if hit else "never",
                    f"{len(hit)}/{len(rs)}"]
        row += [summarize(rs, chance).median_max, f"{lr.models.count_params(models[v.label]):,}"]
        rows.append(row)
    print_table(f"BatchNorm cost: depth {depth}, width {args.width}, batch {args.batch_size}, "
                f"{args.backend}; target accuracy {args.target}; seeds {seeds_text(args.seeds)} "
                f"(medians over the seeds that reached it); paper: BN/no-BN time ratio {PAPER_RATIO} "
                f"for LK-ReLU (GPU)",
                ["net", "ms/step", "vs LK-ReLU", "train: epochs", "s", "reached",
                 "test: epochs", "s", "reached", "max test acc", "params"], rows, fmt="{:.3f}")
    ratio = per_step["LK-ReLU+BN"] / base

    # Figure: (a) ms per step, spread over rounds; (b) training and (c) test accuracy vs time.
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.4))
    colors = {"LK-ReLU": "tab:blue", "LK-ReLU+BN": "tab:purple", "ReLU+BN": "tab:green"}
    labels = list(per_step)
    ax1.boxplot([1000 * times[k] for k in labels], tick_labels=labels, widths=0.5)
    top = max(1000 * times[k].max() for k in labels)
    for i, k in enumerate(labels, start=1):
        ax1.text(i, 1000 * times[k].max() + 0.04 * top, f"{per_step[k] / base:.2f}×",
                 ha="center", va="bottom", fontsize=10, color=colors[k])
    ax1.set_ylabel("milliseconds per training step")
    ax1.set_ylim(0, 1.2 * top)
    ax1.set_title(f"(a) time per step (batch {args.batch_size}; {repeats} rounds × {steps} steps)\n"
                  f"LK-ReLU BN/no-BN = {ratio:.2f}× here; paper {PAPER_RATIO}× (GPU)", fontsize=10)
    ax1.grid(axis="y", alpha=0.3)
    for ax, key, what in ((ax2, "accuracy", "training accuracy (training mode, epoch average)"),
                          (ax3, "val_accuracy", "test accuracy (inference mode)")):
        for v in VARIANTS:
            for i, r in enumerate(runs[v.label]):
                ax.plot(np.cumsum(r.seconds), getattr(r, key), color=colors[v.label], lw=1.3,
                        alpha=0.8, label=v.label if i == 0 else None)
        ax.axhline(args.target, color="k", ls=":", lw=1, label=f"target {args.target}")
        ax.axhline(chance, color="gray", ls="--", lw=1, label="chance")
        ax.set_xlabel("wall-clock seconds of training (incl. the test pass each epoch)")
        ax.set_ylabel(what.split(" (")[0])
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3)
    ax2.set_title(f"(b) training accuracy against time\n{epochs} epochs, seeds "
                  f"{seeds_text(args.seeds)}", fontsize=10)
    ax3.set_title("(c) test accuracy against time (BatchNorm: running\nstatistics, momentum 0.99, "
                  "lag behind the first epochs)", fontsize=10)
    fig.suptitle(f"What BatchNorm costs: plain conv net {depth}×{args.width} on {args.dataset}, "
                 f"backend {args.backend}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, "07_batchnorm_cost.png", args)

    t_plain, t_bn = reach["LK-ReLU", "accuracy"], reach["LK-ReLU+BN", "accuracy"]
    v_plain, v_bn = reach["LK-ReLU", "val_accuracy"], reach["LK-ReLU+BN", "val_accuracy"]
    def pair(x, y):
        return (f"LK-ReLU {x:.1f} s vs LK-ReLU+BN {y:.1f} s (ratio {y / x:.2f})" if x and y else
                f"LK-ReLU {'%.1f s' % x if x else 'never'} vs LK-ReLU+BN "
                f"{'%.1f s' % y if y else 'never'}")

    finish(args, f"BatchNorm makes an LK-ReLU training step {ratio:.2f}× as long on this machine "
                 f"({args.backend}; paper {PAPER_RATIO}× on a GPU); ReLU+BN "
                 f"{per_step['ReLU+BN'] / base:.2f}×. Time to {args.target} training accuracy: "
                 f"{pair(t_plain, t_bn)}; to {args.target} test accuracy: {pair(v_plain, v_bn)}")
    return times, runs


if __name__ == "__main__":
    main()
