# %% [markdown]
# # Tutorial 07 — what BatchNorm costs: time per step and time to a target accuracy
#
# **Question.** If linked units let a deep plain net train without BatchNorm, how much time
# does dropping BatchNorm save — per step, and until the net reaches a target accuracy?
#
# **The paper's claim (claim 3).** Dropping BatchNorm roughly halves the training time: the
# paper measured a BN/no-BN time ratio of 2.08 for LK-ReLU (and 2.09 in its ResNet-50 runs), on
# a GPU with Keras + TensorFlow.
#
# **Method.** Three versions of the same plain conv net (the depth experiment's architecture,
# by default 10 conv layers of width 16 on the 8×8 digits): LK-ReLU without BatchNorm, LK-ReLU
# with BatchNorm between each conv and its activation, and ReLU with BatchNorm (the usual
# recipe). First the wall-clock time of one training step (forward, loss, backward, Adam
# update) on a batch of 32, measured round-robin over the nets (`--repeats` rounds of
# `--steps` steps; the median round counts). Then each net is trained with Adam (lr 1e-3,
# β1 0.9, β2 0.999, ε 1e-8, decay 1e-6), batch 32, and we read off the seconds and epochs until
# the training accuracy, and the test accuracy, first reach `--target`. The thread count
# (`--threads`, default 1: BLAS on one thread; 0: every core) is part of the measurement.
#
# Both accuracies are shown because they differ for BatchNorm on a small data set: the test
# pass normalises with running statistics (momentum 0.99, Keras's default), which need a few
# hundred steps to forget their initial values — ten epochs of the digits' 40 steps.
#
# What to expect: BatchNorm's forward and backward are a handful of elementwise passes and
# reductions. On a GPU those are memory-bound kernels next to fast convolutions, so they take
# a large share of a step; in NumPy on a CPU the convolutions (im2col + matmul) dominate, so
# the ratio can be far from 2.08. The ratio printed is what this machine measured; when other
# jobs share the cores, short runs (quick mode) scatter: read the ratio of a full run.

# %%

import matplotlib.pyplot as plt
import numpy as np

import linkedref as lk

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
    Variant,
    chance_level,
    load_data,
    run_variants,
    step_times,
    summarize,
    train_epochs,
)

NAME = "07_batchnorm_cost"
story = Story(globals(), notebook_args=["--quick"])   # a notebook runs --quick; a script, main()

# %% [markdown]
# ## Setup
# Full mode: 20 rounds × 20 steps of timing, 30 epochs × seeds 0–2 (mnist5k: 10 × 10, 3
# epochs); quick: 10 × 10, 12 epochs × seed 0; smoke: depth 2, 2 × 2, one epoch
# (`settings.batchnorm_cost`). `--activation MODULE:CLASS` adds a net of a unit of your own.

# %%
VARIANTS = [
    Variant("LK-ReLU", "lkrelu"),
    Variant("LK-ReLU+BN", "lkrelu", batchnorm=True),
    Variant("ReLU+BN", "relu", batchnorm=True),
]
PAPER_RATIO = 2.08
LR, DECAY = 1e-3, 1e-6               # Adam, as in the depth experiment


@story.step("args", "data")
def setup(argv):
    """Parse the command line, load the data, print the setup line. -> (args, data)"""
    args = settings.batchnorm_cost(argv, VARIANTS)
    data = load_data(args)
    (Xtr, _), (Xte, yte) = data
    args.chance = chance_level(yte)
    print(f"plain conv net: {args.depth} conv layers of width {args.width}; {args.dataset} "
          f"({len(Xtr)} train / {len(Xte)} test), batch {args.batch_size}; "
          f"{optimizer_text('adam', LR, DECAY)}; backend {args.backend}, "
          f"{lk.get_threads()} thread(s); timing: {args.repeats} rounds × {args.steps} "
          f"steps per net, round-robin; training: {args.epochs} epochs")
    return args, data


# %% [markdown]
# ## One run: the training loop
# `build` makes one of the nets; `train` trains it from one seed with Adam: `train_epochs`
# (tutorials/_experiments.py) calls `lk.fit` one epoch at a time, recording the accuracies and
# the seconds of every epoch.

# %%
def build(v, seed, data, args):
    """The plain conv net of variant ``v`` (LK-ReLU, LK-ReLU+BN or ReLU+BN), seeded by ``seed``."""
    (Xtr, ytr), _ = data
    return lk.depth_net(args.depth, args.width, v.act, batchnorm=v.batchnorm,
                        in_channels=Xtr.shape[1], num_classes=int(ytr.max()) + 1,
                        input_size=Xtr.shape[2:], rng=seed)


def train(v, seed, data, args):
    """Train the net of variant ``v`` from ``seed`` for ``args.epochs`` epochs on
    ``data = ((X_train, y_train), (X_test, y_test))``.
    -> its ``Run``: test accuracy, training accuracy, loss and seconds per epoch."""
    model = build(v, seed, data, args)
    return train_epochs(model, make_optimizer("adam", model, LR, DECAY), v, seed, data,
                        args.epochs, args.batch_size)


# %% [markdown]
# ## The experiment
# First the timing rounds on one fixed batch (`step_times`: three warm-up steps per net, then
# the nets in a random order per round); then `train` for every net × seed.

# %%
@story.step("times", "runs", "params")
def experiment(args, data):
    """-> (times {label: seconds per step per round}, runs {label: [Run per seed]}, params)"""
    (Xtr, ytr), _ = data
    rng = np.random.default_rng(args.seeds[0])
    models = {v.label: build(v, args.seeds[0], data, args) for v in args.variants}
    batch = rng.choice(len(Xtr), args.batch_size, replace=False)
    opts = {k: make_optimizer("adam", m, LR, DECAY) for k, m in models.items()}
    times = step_times(models, opts, Xtr[batch], ytr[batch], args.steps, args.repeats, rng)
    runs = run_variants(train, args.variants, args.seeds, data, args, desc="training")
    params = {k: lk.count_params(m) for k, m in models.items()}
    return times, runs, params


# %% [markdown]
# ## The table
# Per net: the median milliseconds per step over the rounds, its ratio to LK-ReLU without
# BatchNorm, and for the training and the test accuracy the epochs and seconds until `--target`
# (medians over the seeds that reached it) and how many seeds did; the max test accuracy and
# the parameters.

# %%
def reach(runs, target, key):
    """Median seconds until ``key`` first reached ``target`` over the seeds that did, and the
    table cells (epochs, seconds, reached)."""
    hit = [(r.epochs_to(target, key), r.seconds_to(target, key)) for r in runs]
    hit = [(e, t) for e, t in hit if e is not None]
    if not hit:
        return None, ["never", "never", f"0/{len(runs)}"]
    seconds = float(np.median([t for _, t in hit]))
    return seconds, [f"{np.median([e for e, _ in hit]):.0f}", f"{seconds:.1f}",
                     f"{len(hit)}/{len(runs)}"]


@story.step("summary")
def table(args, times, runs, params):
    """Print the cost table. -> {"per_step": {label: s}, "reach": {(label, key): s or None}}"""
    per_step = {k: float(np.median(v)) for k, v in times.items()}
    base = per_step["LK-ReLU"]
    rows, reached = [], {}
    for v in args.variants:
        row = [v.label, 1000 * per_step[v.label], f"{per_step[v.label] / base:.2f}×"]
        for key in ("accuracy", "val_accuracy"):
            reached[v.label, key], cells = reach(runs[v.label], args.target, key)
            row += cells
        row += [summarize(runs[v.label], args.chance).median_max, f"{params[v.label]:,}"]
        rows.append(row)
    print_table(f"BatchNorm cost: depth {args.depth}, width {args.width}, batch "
                f"{args.batch_size}, {args.backend}, {lk.get_threads()} thread(s); target "
                f"accuracy {args.target}; seeds {seeds_text(args.seeds)} (medians over the "
                f"seeds that reached it; train: the epoch's average in training mode, so it can "
                f"trail test); paper: BN/no-BN time ratio {PAPER_RATIO} for LK-ReLU "
                "(GPU)", ["net", "ms/step", "vs LK-ReLU", "train: epochs", "s", "reached",
                          "test: epochs", "s", "reached", "max test acc", "params"], rows)
    return {"per_step": per_step, "reach": reached}


# %% [markdown]
# ## The figure
# (a) Milliseconds per step, one box per net over the timing rounds, with the ratio to LK-ReLU
# above it. (b) Training accuracy and (c) test accuracy against the seconds of training, each
# seed a line; the dotted line is the target. BatchNorm nets climb late in (c) while their
# running statistics catch up.

# %%
COLORS = {"LK-ReLU": "tab:blue", "LK-ReLU+BN": "tab:purple", "ReLU+BN": "tab:green"}


def color_of(label) -> str:
    return COLORS.get(label, "tab:orange")                 # orange: a unit of your own


def draw_step_times(ax, args, times, per_step):
    labels, base = list(per_step), per_step["LK-ReLU"]
    ax.boxplot([1000 * times[k] for k in labels], tick_labels=labels, widths=0.5)
    top = max(1000 * times[k].max() for k in labels)
    for i, k in enumerate(labels, start=1):
        ax.text(i, 1000 * times[k].max() + 0.04 * top, f"{per_step[k] / base:.2f}×",
                ha="center", va="bottom", fontsize=10, color=color_of(k))
    ax.set_ylabel("milliseconds per training step")
    ax.set_ylim(0, 1.2 * top)
    ax.set_title(f"(a) time per step (batch {args.batch_size}; {args.repeats} rounds × "
                 f"{args.steps} steps)\nLK-ReLU BN/no-BN = {per_step['LK-ReLU+BN'] / base:.2f}× "
                 f"here; paper {PAPER_RATIO}× (GPU)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)


def draw_accuracy(ax, args, runs, key, what):
    for v in args.variants:
        for i, r in enumerate(runs[v.label]):
            ax.plot(np.cumsum(r.seconds), getattr(r, key), color=color_of(v.label), lw=1.3,
                    alpha=0.8, label=v.label if i == 0 else None)
    ax.axhline(args.target, color="k", ls=":", lw=1, label=f"target {args.target}")
    ax.axhline(args.chance, color="gray", ls="--", lw=1, label="chance")
    ax.set_xlabel("wall-clock seconds of training (incl. the test pass each epoch)")
    ax.set_ylabel(what)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)


@story.step()
def figure(args, times, runs, summary):
    """Draw and save panels (a), (b) and (c)."""
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.4))
    draw_step_times(ax1, args, times, summary["per_step"])
    draw_accuracy(ax2, args, runs, "accuracy", "training accuracy")
    draw_accuracy(ax3, args, runs, "val_accuracy", "test accuracy")
    ax2.set_title(f"(b) training accuracy (training mode, epoch average) against time\n"
                  f"{args.epochs} epochs, seeds {seeds_text(args.seeds)}", fontsize=10)
    ax3.set_title("(c) test accuracy against time (BatchNorm: running\nstatistics, momentum "
                  "0.99, lag behind the first epochs)", fontsize=10)
    fig.suptitle(f"What BatchNorm costs: plain conv net {args.depth}×{args.width} on "
                 f"{args.dataset}, backend {args.backend}, {lk.get_threads()} thread(s)",
                 fontsize=10)
    fig.tight_layout()
    save_figure(fig, f"{NAME}.png", args)


# %% [markdown]
# ## The verdict

# %%
def pair(plain, bn) -> str:
    """"LK-ReLU 1.2 s vs LK-ReLU+BN 3.4 s (ratio 2.83)", or "never" for a net that did not."""
    if plain and bn:
        return f"LK-ReLU {plain:.1f} s vs LK-ReLU+BN {bn:.1f} s (ratio {bn / plain:.2f})"
    return (f"LK-ReLU {f'{plain:.1f} s' if plain else 'never'} vs LK-ReLU+BN "
            f"{f'{bn:.1f} s' if bn else 'never'}")


@story.step()
def verdict(args, summary):
    """Print the one-line verdict: the step-time ratio and the times to the target."""
    per_step, reached = summary["per_step"], summary["reach"]
    base = per_step["LK-ReLU"]
    train, test = (pair(reached["LK-ReLU", k], reached["LK-ReLU+BN", k])
                   for k in ("accuracy", "val_accuracy"))
    finish(args, f"BatchNorm makes an LK-ReLU training step {per_step['LK-ReLU+BN'] / base:.2f}× "
                 f"as long on this machine ({args.backend}, {lk.get_threads()} thread(s); "
                 f"paper {PAPER_RATIO}× on a GPU); ReLU+BN {per_step['ReLU+BN'] / base:.2f}×. "
                 f"Time to {args.target} training accuracy: {train}; to {args.target} test "
                 f"accuracy: {test}")


# %%
def main(argv=None):
    """Run the tutorial on the command line ``argv`` (see --help): every step above, in order.
    -> what the steps gave, by name"""
    return story.run(argv)


if __name__ == "__main__" and not story.notebook:
    main()
