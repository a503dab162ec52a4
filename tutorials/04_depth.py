# %% [markdown]
# # Tutorial 04 — depth: 50 conv layers of width 4, no BatchNorm, no shortcuts
#
# **Question.** Does a very deep, very narrow plain net train with linked units where it stays
# at chance with single units?
#
# **The paper's claim (claim 2).** The depth net — a first conv 7×7 stride 2, then 3×3 convs,
# all of width 4, 50 conv layers, then one Dense — trains with linked units, while ReLU, PReLU
# and Swish stay at chance; BatchNorm rescues ReLU. The paper (CIFAR-10, Adam lr 1e-3 decay
# 1e-6, batch 32, one fixed seed) reports max test accuracy: ReLU, PReLU, Swish, LK-Swish 0.10;
# LK-ReLU 0.567, LK-PReLU 0.546, SELU 0.565, LK-SELU 0.588, ReLU+BN 0.520.
#
# **Method.** The same net and optimizer on the 8×8 digits (1,257 training / 540 test images):
# Adam with lr 1e-3, β1 0.9, β2 0.999, ε 1e-8 (the library's default, Keras 2.0's — the value
# the paper most likely ran with; `--eps` changes it) and time decay 1e-6, batch 32; the setup
# line prints the optimizer as the library built it. Variants: ReLU, LK-ReLU, PReLU, LK-PReLU,
# SELU, LK-SELU, Swish, LK-Swish, ReLU√2 (every layer √2 wider: 6 filters, the fair-parameter
# single net), ReLU+BN, and LK-ReLU with the looks-linear initialisation (Balduzzi et al.,
# 2017).
#
# Escaping chance at depth 50 is luck as much as the unit, so one seed says little: full mode
# runs 8 seeds for the variants whose rate is in question and 3 for those that stay at chance,
# and reports the share of seeds that escaped (max test accuracy ≥ 2 × chance) with its 95 %
# Wilson interval, the median max accuracy and the median epoch of escape.
#
# **The ε panel** (a result the paper does not have): LK-ReLU and SELU also run with Adam's
# ε = 1e-7, the default Keras adopted in December 2017 (after the paper) and linkedref used
# before. In this net the first gradients of the early convolutions are far below 1e-7, and
# with the larger ε Adam stops normalising their steps.
#
# Plain-ReLU runs (ReLU, ReLU√2) stop early when a layer has died entirely — every unit zero
# for every training sample. From then on the net's output is the same for every training
# image and no gradient reaches the layers below the dead one, so it provably stays at chance;
# the remaining epochs repeat the last accuracy (dotted in the figure). No other run is cut
# short. Batch 32 is kept (the paper's): a larger batch takes fewer steps per epoch, and
# escaping chance is a matter of steps.
#
# **How long LK-ReLU takes.** At depth 50 LK-ReLU leaves chance late, and not from every seed:
# on the digits 5 of 8 seeds escaped within 100 epochs, at a median epoch of 35 (the full run
# takes about 48 minutes with `--jobs 2`); on mnist5k (125 steps per epoch on 28×28 images)
# 7 of 8 escaped within 15 epochs, at a median epoch of 3 (tutorials/RESULTS.md). To watch it
# leave chance in a few minutes:
#
#     python tutorials/04_depth.py --dataset mnist5k --variants ReLU LK-ReLU --seeds 0 --epochs 10
#
# `--quick` trains a 15-layer version of five variants for 25 epochs, one seed: the trend, not
# the paper's numbers. `--jobs 2` trains two runs at a time (same results); `--activation
# MODULE:CLASS` adds a unit of your own beside the built-ins.

# %%
import math

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

import linkedref as lk
from linkedref.diagnostics import dead_definition

import _settings as settings
from _common import (
    Story,
    finish,
    is_linked,
    make_optimizer,
    optimizer_text,
    print_table,
    save_figure,
)
from _experiments import (
    Run,
    Variant,
    chance_level,
    escape_rates,
    load_data,
    paper_text,
    plot_runs,
    run_variants,
    seeds_summary,
    stop_if_dead,
    summarize,
)

NAME = "04_depth"
story = Story(globals(), notebook_args=["--quick"])   # a notebook runs --quick; a script, main()

# %% [markdown]
# ## Setup
# The variants, the data, and what runs. The per-mode settings (full: depth 50, 100 epochs,
# mnist5k 15; quick: depth 15, 25 epochs, seed 0; smoke: depth 3, 2 epochs) live in
# `settings.depth` (tutorials/_settings.py). `dead_definition` says by which definition each
# variant's units count as dead: ReLU's output can be exactly 0; most others', only at z = 0.

# %%
LR, DECAY = 1e-3, 1e-6               # Adam, as in the paper
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
    Variant("LK-ReLU ε=1e-7", "lkrelu", eps=1e-7),          # the ε panel
    Variant("SELU ε=1e-7", "selu", eps=1e-7),
]


@story.step("args", "data")
def setup(argv):
    """Parse the command line, load the data, print the setup and the dead-unit definitions."""
    args = settings.depth(argv, VARIANTS)
    data = load_data(args)
    (Xtr, _), (Xte, yte) = data
    args.chance = chance_level(yte)
    print(f"depth net: {args.depth} conv layers of width {args.width} (7×7/2, then 3×3), "
          f"Dense; {args.dataset} {Xtr.shape[1:]} ({len(Xtr)} train / {len(Xte)} test); "
          f"{optimizer_text('adam', LR, DECAY, args.eps)}, batch {args.batch_size}, "
          f"{args.epochs} epochs; seeds: {seeds_summary(args.variants, args.seeds_for)}; "
          f"{args.jobs} job(s)")
    for v in args.variants:                                  # how its units count as dead
        print(f"  {v.label}: {dead_definition(lk.activation(v.act))}")
    return args, data


# %% [markdown]
# ## One run: the training loop
# `train` builds the depth net and Adam for one variant and seed, then calls `lk.fit` one epoch
# at a time (a fresh shuffling seed per epoch), so the test accuracy after every epoch lands in
# the run's record. A plain-ReLU run is checked every `CHECK_EVERY` epochs, from the start:
# once a layer is all dead, `stop_if_dead` ends it.

# %%
CHECK_EVERY = 5                      # epochs between the checks for an all-dead layer


def train(v, seed, data, args):
    """Train one depth net of variant ``v`` (a ``Variant``) from ``seed`` for ``args.epochs``
    epochs on ``data = ((X_train, y_train), (X_test, y_test))``.
    -> its ``Run``: test accuracy, training accuracy, loss and seconds per epoch."""
    (Xtr, ytr), (Xte, yte) = data
    model = lk.depth_net(args.depth, args.width, v.act, batchnorm=v.batchnorm,
                         in_channels=Xtr.shape[1], num_classes=int(ytr.max()) + 1,
                         input_size=Xtr.shape[2:], init=v.init, rng=seed, widen=v.widen)
    opt = make_optimizer("adam", model, LR, DECAY, args.eps if v.eps is None else v.eps)
    loss = lk.SoftmaxCrossEntropy()
    run = Run(v.label, seed, n_params=lk.count_params(model))
    for epoch in range(args.epochs):
        check = v.can_die and epoch % CHECK_EVERY == 0     # plain ReLU: has a layer died?
        if check and stop_if_dead(run, model, loss, data, epoch, args.epochs):
            break
        history = lk.fit(model, loss, opt, Xtr, ytr, epochs=1, batch_size=args.batch_size,
                         validation=(Xte, yte), seed=seed * 100_003 + epoch, progress=False)
        run.add_epoch(history)
    return run


# %% [markdown]
# ## The experiment
# `train` for every variant × seed (`--jobs` of them at a time); one progress bar counts the
# runs.

# %%
@story.step("runs")
def experiment(args, data):
    """Train every variant for every seed. -> {label: [Run per seed]}"""
    return run_variants(train, args.variants, args.seeds, data, args, desc=f"depth {args.depth}",
                        seeds_for=lambda v: args.seeds_for[v.label], jobs=args.jobs)


# %% [markdown]
# ## The table
# Per variant: seeds that escaped chance with the 95 % Wilson interval of that rate, the median
# max test accuracy, the median epoch of escape, the best seed's max beside the paper's number,
# the median max *training* accuracy, parameters, seconds per epoch, and where a dead run
# stopped. Training accuracy tells "cannot fit" from "fits, but the test pass disagrees": with
# BatchNorm the test pass uses running statistics, which lag behind a deep net's layers.

# %%
@story.step("summaries")
def table(args, runs):
    """Print the depth table. -> {label: Summary}"""
    rows, summaries = [], {}
    for v in args.variants:
        s = summaries[v.label] = summarize(runs[v.label], args.chance)
        stopped = [r.stopped for r in runs[v.label] if r.stopped is not None]
        rows.append((v.label, s.escaped_text, s.interval_text, s.median_max,
                     "-" if s.escape_epoch is None else f"{s.escape_epoch:.0f}", s.best,
                     paper_text(v.paper), s.median_max_train, f"{runs[v.label][0].n_params:,}",
                     f"{s.epoch_seconds:.2f}",
                     f"stopped at {','.join(map(str, stopped))}" if stopped else ""))
    print_table(f"Depth experiment: {args.depth} conv layers of width {args.width} on "
                f"{args.dataset}, {args.epochs} epochs (chance {args.chance:.3f}; escaped: max "
                f"test accuracy ≥ {2 * args.chance:.3f}; paper: CIFAR-10, one seed)",
                ["activation", "escaped", "95% CI", "median max", "escape epoch", "best max",
                 "paper max", "train max", "params", "s/epoch", "note"], rows)
    return summaries


# %% [markdown]
# ## The figures
# Curves: one panel per variant, each seed's test accuracy per epoch (thin), their median
# (bold), chance (dashed); a run stopped because a layer died continues dotted from its ×.
# Red: single units, blue: linked, green: BatchNorm; ε = 1e-7 runs in grey.
# Rates: the share of seeds that escaped chance, with its 95 % Wilson interval, per variant.

# %%
def color_of(v) -> str:
    if v.eps is not None:
        return "tab:gray"
    return "tab:blue" if is_linked(v.act) else ("tab:green" if v.batchnorm else "tab:red")


@story.step()
def figure(args, runs, summaries):
    """Draw and save one panel per variant."""
    variants = args.variants
    cols = min(4, len(variants))
    nrows = math.ceil(len(variants) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.4 * cols, 2.7 * nrows), sharex=True,
                             sharey=True, squeeze=False)
    for ax, v in zip(axes.flat, variants):
        plot_runs(ax, runs[v.label], color_of(v), "median over seeds")
        ax.axhline(args.chance, color="gray", ls="--", lw=1, label="chance")
        s = summaries[v.label]
        ax.set_title(f"{v.label}\nescaped {s.escaped_text}, max {s.best:.3f}"
                     + (f"; paper {v.paper:.3f}" if v.paper is not None else ""), fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes.flat[len(variants):]:
        ax.axis("off")
    for k in range(max(len(variants) - cols, 0), len(variants)):   # each column's lowest panel
        axes.flat[k].set_xlabel("epoch")
        axes.flat[k].xaxis.set_tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Depth {args.depth}, width {args.width}, no shortcuts, on {args.dataset}: "
                 f"test accuracy per epoch (thin: each seed; bold: median; dotted: stopped, a "
                 "layer all dead).\nRed: single units, blue: linked, green: BatchNorm, grey: "
                 "Adam ε = 1e-7. Paper numbers: CIFAR-10, 50 layers, one seed.", fontsize=10)
    fig.tight_layout()
    save_figure(fig, f"{NAME}.png", args)


@story.step()
def rates_figure(args, summaries):
    """Draw and save the escape rate of every variant with its 95 % Wilson interval."""
    fig = escape_rates(args.variants, summaries, color_of, f"Depth {args.depth}, width "
                       f"{args.width}, {args.epochs} epochs on {args.dataset}: escape rate "
                       "with 95 % Wilson interval")
    save_figure(fig, f"{NAME}_escape.png", args)


# %% [markdown]
# ## The verdict
# The paper's pattern holds when the single units that ran (ReLU, PReLU, Swish) escaped chance
# in no seed and the linked ones that ran (LK-ReLU, LK-PReLU, LK-SELU) in most seeds. With
# rates from a few seeds, read the intervals, not the point estimates.

# %%
@story.step()
def verdict(args, summaries):
    """Print the one-line verdict: does the paper's stuck/learning pattern hold?"""
    def part(label):
        s = summaries[label]
        return (f"{label} escaped {s.escaped_text} (95% CI {s.interval_text}), median max "
                f"{s.median_max:.2f}")

    stuck = [x for x in ("ReLU", "PReLU", "Swish") if x in summaries]
    learn = [x for x in ("LK-ReLU", "LK-PReLU", "LK-SELU") if x in summaries]
    holds = (all(summaries[x].escaped == 0 for x in stuck)
             and all(2 * summaries[x].escaped > summaries[x].seeds for x in learn))
    names = ("/".join(stuck) or "none", "/".join(learn) or "none")
    claim = (f"for the variants run this matches the paper's pattern ({names[0]} stuck at "
             f"chance, {names[1]} learning in most seeds)" if holds else
             f"this does NOT fully match the paper's pattern ({names[0]} should stay at chance, "
             f"{names[1]} should learn; see the escaped column)")
    if args.depth != 50:
        claim += f" [depth {args.depth}, not the paper's 50: a trend only]"
    finish(args, f"at depth {args.depth} on {args.dataset}, {args.epochs} epochs: "
                 + "; ".join(map(part, summaries)) + f" — {claim}")


# %%
def main(argv=None):
    """Run the tutorial on the command line ``argv`` (see --help): every step above, in order.
    -> what the steps gave, by name (``args``, ``data``, ``runs``, ``summaries``)"""
    return story.run(argv)


if __name__ == "__main__" and not story.notebook:
    main()
