# %% [markdown]
# # Tutorial 01 — linked units and the linking condition (the paper's Figure 1)
#
# **Question.** What does a linked unit compute, and for which pre-activations z does it still
# pass a gradient back to its weights?
#
# **Method.** A linked unit applies several activations g_1 … g_d to the *same* pre-activation
# z and concatenates their outputs. The figure's top row draws g(z) and g'(z) for ReLU, PReLU
# (slope 0.25), SELU and Swish; the bottom row draws the mirror-linked pairs (g(z), g(−z)) and
# both members' slopes, the paper's min-max link (max(0, z), min(0, z)) and a non-link,
# (relu(z), relu(z)). Every slope comes from the library's hand-written backward pass
# (backward of a one-hot dy), not from a formula repeated here. Then
# `linkedref.check_linkage` tests the condition numerically over z ∈ [−20, 20], from forward
# values only (central differences).
#
# **The paper's claim.** A *linkage* has, for every z, some member with g_i'(z) ≠ 0. Then the
# unit's weights always receive a gradient and the unit cannot die. Mirroring, (g(z), g(−z)),
# is a linkage for ReLU, PReLU, SELU and Swish; two copies of the same ReLU are not.
#
# Nothing is trained and nothing is random here: no optimizer, no seed.

# %%
import matplotlib.pyplot as plt
import numpy as np

import linkedref as lk
import linkedref.backend as B

import _settings as settings
from _common import Story, finish, per_mode, print_table, save_figure

NAME = "01_linked_units"
story = Story(globals(), notebook_args=["--quick"])   # a notebook runs --quick; a script, main()

# %% [markdown]
# ## Setup
# `--quick` and the full mode draw the curves on 800 points and check the condition on 4,001;
# `--smoke` uses fewer.

# %%
Z_RANGE = (-20.0, 20.0)              # where check_linkage looks for a z with no slope
NO_SLOPE = 1e-6                      # |g'(z)| at or below this counts as no gradient


@story.step("args")
def setup(argv):
    """Parse the command line (see --help) and print the start line. -> args"""
    return settings.linked_units(argv)


# %% [markdown]
# ## The experiment
# For each unit: its members' outputs and slopes on a grid of z (float64, so the curves are
# exact), and the linkage check over [−20, 20].

# %%
def single_units():
    return {"ReLU": lk.ReLU(), "PReLU (a = 0.25)": lk.PReLU(), "SELU": lk.SELU(),
            "Swish": lk.Swish()}


def linked_units():
    return {"LK-ReLU": lk.LKReLU(), "LK-PReLU (a = b = 0.25)": lk.LKPReLU(),
            "LK-SELU": lk.LKSELU(), "LK-Swish": lk.LKSwish(), "min-max link": lk.Linked.min_max(),
            "non-link (relu, relu): a = b": lk.Linked(lk.ReLU(), lk.ReLU())}


def members_and_slopes(layer, z):
    """Member outputs (d, n) and their derivatives (d, n) at the points z (n,), from the layer's
    forward and backward (dy = 1 on member i, 0 on the others: backward gives dg_i/dz)."""
    x = B.asarray(z[:, None])                                   # n, C=1
    y = B.to_numpy(layer.forward(x))                            # n, d
    slopes = []
    for i in range(y.shape[1]):
        dy = np.zeros_like(y)
        dy[:, i] = 1.0
        layer.forward(x)
        slopes.append(B.to_numpy(layer.backward(B.asarray(dy)))[:, 0])
    return y.T, np.array(slopes)


@story.step("results")
def experiment(args):
    """-> {"z": grid, "curves": {name: (outputs, slopes)}, "checks": {name: (d, LinkageCheck)}}"""
    z = np.linspace(-4, 4, per_mode(args, 200, 800, 800))  # even count: the kink z = 0 is off it
    candidates = {**{f"{k} alone": v for k, v in single_units().items()}, **linked_units()}
    with B.default_dtype("float64"):            # exact curves; the checker works in float64
        curves = {name: members_and_slopes(layer, z)
                  for name, layer in {**single_units(), **linked_units()}.items()}
        checks = {name: (layer.expansion,
                         lk.check_linkage(layer, z_range=Z_RANGE,
                                          num=per_mode(args, 801, 4001, 4001)))
                  for name, layer in candidates.items()}
    return {"z": z, "curves": curves, "checks": checks}


# %% [markdown]
# ## The table
# One row per unit: its number of members d, whether some member has |g'(z)| > 1e-6 at every z
# of the range, and where it fails. Expect the mirror links and the min-max link to pass, and
# ReLU alone and (relu, relu) to fail for every z < 0.

# %%
@story.step("verdicts")
def table(args, results):
    """Print the linkage table. -> {name: satisfied}"""
    rows, verdicts = [], {}
    for name, (d, result) in results["checks"].items():
        verdicts[name] = bool(result)
        where = "-" if result else result.failing_ranges
        rows.append((name, d, "yes" if result else "no", where))
    print_table(f"Linking condition: some member has |g'(z)| > {NO_SLOPE:g} for every z in "
                f"{list(Z_RANGE)}", ["activation", "members d", "satisfied", "z where it fails"],
                rows)
    return verdicts


# %% [markdown]
# ## The figure
# Top: the single units, g solid and g' dashed. Bottom: the linked pairs, member a = g(z) in
# blue, member b = g(−z) in orange. Red shading marks the z where every member's slope is 0:
# there the unit would get no gradient. Only the non-link has such a region.

# %%
def draw_singles(axes, results):
    z = results["z"]
    for ax, name in zip(axes, single_units()):
        (g,), (dg,) = results["curves"][name]
        ax.plot(z, g, color="C0", lw=2, label="g(z)")
        ax.plot(z, dg, color="C0", lw=1.2, ls="--", label="g'(z)")
        ax.set_title(name, fontsize=10)


def draw_links(axes, results):
    z = results["z"]
    for ax, name in zip(axes, linked_units()):
        ys, ds = results["curves"][name]
        for i, (y, dy) in enumerate(zip(ys, ds)):
            ax.plot(z, y, color=f"C{i}", lw=2, label=f"member {'ab'[i]}")
            ax.plot(z, dy, color=f"C{i}", lw=1.2, ls="--", label=f"member {'ab'[i]} slope")
        dead = (np.abs(ds) <= NO_SLOPE).all(axis=0)
        if dead.any():
            ax.fill_between(z, -2, 4, where=dead, color="red", alpha=0.15, label="no slope")
        ax.set_title(name, fontsize=10, color="red" if dead.any() else "black")


@story.step()
def figure(args, results):
    """Draw and save the 2 × 6 panel figure."""
    fig, axes = plt.subplots(2, 6, figsize=(18.0, 6.0))
    draw_singles(axes[0], results)
    draw_links(axes[1], results)
    axes[0, 4].axis("off")
    axes[0, 5].axis("off")
    axes[0, 4].text(0.0, 0.5, "Top: single units g and g'.\n\nBottom: the linked pair\n"
                    "(member a: g(z), blue;\n member b: g(−z), orange),\nsolid = output, "
                    "dashed = slope d/dz.\n\nRed shading: z where every\nmember's slope is 0 —\n"
                    "the unit would get no\ngradient there.", fontsize=9, va="center",
                    transform=axes[0, 4].transAxes)
    for ax in list(axes[0, :4]) + list(axes[1]):
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_ylim(-2, 4)
        ax.set_xlabel("z")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("single unit")
    axes[1, 0].set_ylabel("linked pair")
    axes[0, 0].legend(fontsize=8, loc="upper left")
    axes[1, 0].legend(fontsize=7, loc="upper center")
    axes[1, 5].legend(fontsize=7, loc="upper left")
    fig.suptitle("Single and linked activations and their derivatives (paper's Figure 1; no "
                 "randomness, so no seed)", fontsize=11)
    fig.tight_layout()
    save_figure(fig, f"{NAME}.png", args)


# %% [markdown]
# ## The verdict

# %%
@story.step()
def verdict(args, results, verdicts):
    """Print the one-line verdict: do the links pass, and which units fail, where?"""
    links_ok = all(verdicts[k] for k in linked_units() if not k.startswith("non-link"))
    fails = [f"{name} ({r.failing_ranges})"
             for name, (_, r) in results["checks"].items() if not r]
    finish(args, ("every mirror link and the min-max link satisfy the linking condition"
                  if links_ok else "some link FAILS the linking condition")
           + "; it fails for " + (", ".join(fails) if fails else "no unit"))


# %%
def main(argv=None):
    """Run the tutorial on the command line ``argv`` (see --help): every step above, in order.
    -> what the steps gave, by name"""
    return story.run(argv)


if __name__ == "__main__" and not story.notebook:
    main()
