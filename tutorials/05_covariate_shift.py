# %% [markdown]
# # Tutorial 05 — internal covariate shift: how each layer's pre-activations drift
#
# **Question.** As the early layers learn, the distribution of every later layer's input moves
# ("internal covariate shift"). How does that drift look, layer by layer, in a deep plain net —
# and what do BatchNorm and linked units do about it?
#
# **The paper's claim (claim 2).** Linked units handle internal covariate shift implicitly. A
# ReLU whose pre-activation z drifts below zero for every sample dies; BatchNorm fights the
# drift by re-normalising z with batch statistics; linked units do not fight it at all — they
# cannot die, because for every z one of (relu(z), relu(−z)) has a non-zero slope.
#
# **Method.** The same deep plain MLP (10 hidden layers of 16 units) is trained on the digits
# three times — ReLU, LK-ReLU, and ReLU with BatchNorm before the activation — with Adam (lr
# 1e-3, β1 0.9, β2 0.999, ε 1e-8, decay 1e-6; the setup line prints the optimizer as the
# library built it), batch 32. The inputs stay in [0, 1], not standardised. With
# `linkedref.diagnostics.Recorder`, after every epoch we record on a fixed probe batch of 256
# training samples the percentiles (1, 25, 50, 75, 99) of every layer's pre-activation z (for
# BatchNorm: the normalised z the ReLU sees, with the probe batch's statistics, as in a
# training step), the share of z > 0, and each layer's gradient norm.

# %%
import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

import linkedref as lk
from linkedref.diagnostics import Recorder, dead_units

import _settings as settings
from _common import (
    Story,
    finish,
    load_images,
    make_optimizer,
    mlp,
    optimizer_text,
    per_mode,
    print_table,
    save_figure,
    seeds_text,
)

NAME = "05_covariate_shift"
story = Story(globals(), notebook_args=["--quick"])   # a notebook runs --quick; a script, main()

# %% [markdown]
# ## Setup
# Full mode: 30 epochs, seeds 0–2; quick: 15 epochs, seed 0, 400 test images; smoke: depth 3,
# one epoch (`settings.covariate_shift`). `--activation MODULE:CLASS` adds a net with a unit of
# your own.

# %%
NETS = (("ReLU", "relu", False), ("LK-ReLU", "lkrelu", False), ("ReLU+BN", "relu", True))
LR, DECAY, BATCH, PROBE = 1e-3, 1e-6, 32, 256


@story.step("args", "data")
def setup(argv):
    """Parse the command line, load the data, print the setup line. -> (args, data)"""
    args = settings.covariate_shift(argv, NETS)
    data = load_images(args.dataset, n_train=per_mode(args, 128, None, None),
                       n_test=per_mode(args, 64, 400, None), flatten=True)
    print(f"MLP {args.depth}×{args.width} on {args.dataset} ({len(data[0][0])} training "
          f"samples, inputs in [0, 1], not standardised); {optimizer_text('adam', LR, DECAY)}, "
          f"batch {BATCH}, {args.epochs} epochs; statistics on a probe batch of {PROBE}")
    return args, data


# %% [markdown]
# ## The experiment
# Each net × seed: record the statistics at initialisation (epoch 0) and after every epoch;
# at the end count the dead units on the training set and measure the test accuracy.

# %%
def run_one(act, batchnorm, args, data, seed):
    """Train one net. -> {"rec": Recorder, "test": accuracy, "dead": units, "units": total}"""
    (Xtr, ytr), (Xte, yte) = data
    rng = np.random.default_rng(seed)
    model = mlp(act, Xtr.shape[1], int(ytr.max()) + 1, args.width, args.depth, rng,
                batchnorm=batchnorm)
    opt = make_optimizer("adam", model, LR, DECAY)
    rec = Recorder(model, Xtr[:PROBE], training=batchnorm)
    rec.record(step=0)
    for epoch in range(args.epochs):
        lk.fit(model, lk.SoftmaxCrossEntropy(), opt, Xtr, ytr, epochs=1, batch_size=BATCH,
               seed=seed * 10_000 + epoch, progress=False)
        rec.record(step=epoch + 1)
    test_accuracy = lk.evaluate(model, lk.SoftmaxCrossEntropy(), Xte, yte)[1]
    return {"rec": rec, "test": test_accuracy,
            "dead": sum(d.dead for d in dead_units(model, Xtr)),
            "units": sum(d.total for d in dead_units(model, Xtr[:8]))}


@story.step("runs")
def experiment(args, data):
    """Every net × seed. -> {label: [run_one result per seed]}"""
    runs = {}
    jobs = [(n, s) for n in args.nets for s in args.seeds]
    for (label, act, bn), seed in tqdm(jobs, desc="nets", unit="net"):
        runs.setdefault(label, []).append(run_one(act, bn, args, data, seed))
    return runs


# %% [markdown]
# ## The table
# Per net, means over seeds: how far each layer's median moved from initialisation, in units
# of its final standard deviation (averaged over layers); how much each layer's spread grew,
# std(T)/std(0) (smallest–largest layer); the share of z > 0 at the end; the first layer's
# gradient norm; dead units; test accuracy. Drift that shows as a growing spread rather than a
# moving median is drift all the same: it moves z out of the region the next layer was fit to.

# %%
def shift(rec):
    """Per layer: how far the median moved from initialisation to the end, in units of the
    layer's final standard deviation: |p50(T) − p50(0)| / std(T)."""
    p50, std = rec.array("p50"), rec.array("std")
    return np.abs(p50[-1] - p50[0]) / np.maximum(std[-1], 1e-12)


def scale(rec):
    """Per layer: how much the spread changed, std(T) / std(0)."""
    std = rec.array("std")
    return std[-1] / np.maximum(std[0], 1e-12)


@story.step("summary")
def table(args, runs):
    """Print the covariate-shift table. -> {label: row}"""
    rows = []
    for label, rs in runs.items():
        d = np.mean([shift(r["rec"]) for r in rs], axis=0)
        k = np.mean([scale(r["rec"]) for r in rs], axis=0)
        pos = np.mean([r["rec"].array("frac_pos")[-1] for r in rs], axis=0)
        g = np.mean([r["rec"].grad_array()[-1, 0] for r in rs])           # first layer's |grad|
        rows.append((label, float(d.mean()), f"{k.min():.2f}–{k.max():.2f}",
                     f"{pos.min():.2f}–{pos.max():.2f}", f"{g:.2e}",
                     f"{np.mean([r['dead'] for r in rs]):.1f}/{rs[0]['units']}",
                     float(np.mean([r["test"] for r in rs]))))
    print_table(f"Covariate shift after {args.epochs} epochs (MLP {args.depth}×{args.width}; "
                f"mean over seeds {seeds_text(args.seeds)})",
                ["net", "median shift / std", "std(T)/std(0) min–max", "share z>0 min–max",
                 "|grad| layer 1", "dead units", "test acc"], rows)
    return {r[0]: r for r in rows}


# %% [markdown]
# ## The figure
# Rows: the nets (first seed); columns: a few layers from the input to the output. In
# each panel, over epochs: the 1–99th percentile band (light), the 25–75th band (dark) and the
# median (red) of the layer's pre-activation; the dotted line is z = 0, below which a ReLU is
# flat. The last column: the share of z > 0 of every layer (dark: near the input, light: deep).

# %%
def draw_percentiles(ax, rec, layer):
    """The percentile bands and the median of one layer's pre-activation over epochs."""
    steps = np.array(rec.steps)
    ax.fill_between(steps, rec.array("p1")[:, layer], rec.array("p99")[:, layer],
                    color="C0", alpha=0.2, label="1–99th percentile")
    ax.fill_between(steps, rec.array("p25")[:, layer], rec.array("p75")[:, layer],
                    color="C0", alpha=0.45, label="25–75th percentile")
    ax.plot(steps, rec.array("p50")[:, layer], color="C3", lw=1.5, label="median")
    ax.axhline(0, color="k", lw=0.7, ls=":")
    ax.grid(alpha=0.3)


def draw_share(ax, rec, L):
    """The share of z > 0 of every layer over epochs."""
    steps, pos = np.array(rec.steps), rec.array("frac_pos")
    shades = plt.get_cmap("viridis")(np.linspace(0, 0.9, L))
    for layer in range(L):
        ax.plot(steps, pos[:, layer], color=shades[layer], lw=1,
                label=f"layer {layer + 1}" if layer in (0, L - 1) else None)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)


@story.step()
def figure(args, runs):
    """Draw and save the nets × layers grid of percentile panels."""
    L = args.depth
    layers = sorted({0, L // 3, (2 * L) // 3, L - 1})
    fig, axes = plt.subplots(len(runs), len(layers) + 1, squeeze=False, sharex=True,
                             figsize=(3.2 * (len(layers) + 1), 2.6 * len(runs)))
    for i, (label, rs) in enumerate(runs.items()):
        rec = rs[0]["rec"]
        for j, layer in enumerate(layers):
            draw_percentiles(axes[i, j], rec, layer)
            axes[i, j].set_title(f"{label} — layer {layer + 1}/{L}", fontsize=9)
        draw_share(axes[i, -1], rec, L)
        axes[i, -1].set_title(f"{label} — share of z > 0, all layers", fontsize=9)
        axes[i, 0].set_ylabel("BatchNorm output (ReLU input)" if "BN" in label
                              else "pre-activation z", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    axes[0, -2].legend(fontsize=7, loc="best")
    axes[0, -1].legend(fontsize=7, loc="best", title="dark → light: depth", title_fontsize=7)
    fig.suptitle(f"Pre-activation percentiles over training, MLP {L}×{args.width} on "
                 f"{args.dataset} (seed {args.seeds[0]}; probe batch of {PROBE} training "
                 "samples)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, f"{NAME}.png", args)


# %% [markdown]
# ## The verdict
# Expect the drift to show mostly as a growing spread, not a moving median; BatchNorm to pin
# the spread near 1; linked units to let it grow but lose no unit.

# %%
@story.step()
def verdict(args, summary):
    """Print the one-line verdict: shift, spread, dead units and accuracy of each net."""
    nets = [label for label, _, _ in args.nets]
    finish(args, "median shift (mean over layers, in final stds): "
                 + ", ".join(f"{n} {summary[n][1]:.2f}" for n in nets)
                 + "; spread std(T)/std(0): " + ", ".join(f"{n} {summary[n][2]}" for n in nets)
                 + "; dead units " + ", ".join(f"{n} {summary[n][5]}" for n in nets)
                 + "; test acc " + ", ".join(f"{n} {summary[n][-1]:.3f}" for n in nets))


# %%
def main(argv=None):
    """Run the tutorial on the command line ``argv`` (see --help): every step above, in order.
    -> what the steps gave, by name"""
    return story.run(argv)


if __name__ == "__main__" and not story.notebook:
    main()
