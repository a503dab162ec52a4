"""Tutorial 01 — linked units: g, g', the linked pair, and the linking condition (paper's Figure 1).

A linked unit applies several activations g_1..g_d to the *same* pre-activation z. The linking
condition asks that for every z at least one member has a non-zero derivative — then the unit's
weights always receive a gradient and the unit cannot die.

The top row draws g(z) and g'(z) for ReLU, PReLU (slope 0.25), SELU, Swish; the bottom row the
mirror-linked pair (g(z), g(−z)) and the two members' derivatives, plus the paper's min-max link
(max(0, z), min(0, z)) and a non-link, (relu(z), relu(z)), whose derivatives are both zero for
z < 0 (shaded). Every derivative comes from the library's hand-written backward pass (backward of
a one-hot dy), not from a formula repeated here. Then ``linkedref.check_linkage`` tests the
condition numerically on each (from forward values only, by central differences).

Run:  python tutorials/01_linked_units.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import finish, make_parser, per_mode, print_table, save_figure, start  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import linkedref as lr  # noqa: E402
import linkedref.backend as B  # noqa: E402


def single_units():
    return {"ReLU": lr.ReLU(), "PReLU (a = 0.25)": lr.PReLU(), "SELU": lr.SELU(), "Swish": lr.Swish()}


def linked_units():
    return {"LK-ReLU": lr.LKReLU(), "LK-PReLU (a = b = 0.25)": lr.LKPReLU(), "LK-SELU": lr.LKSELU(),
            "LK-Swish": lr.LKSwish(), "min-max link": lr.Linked.min_max(),
            "non-link (relu, relu): a = b": lr.Linked(lr.ReLU(), lr.ReLU())}


def members_and_slopes(layer, z):
    """Member outputs (d, n) and their derivatives (d, n) at the points z (n,), from the layer's
    forward and backward (dy = 1 on member i, 0 on the others: backward gives dg_i/dz)."""
    x = B.asarray(z[:, None])                                   # n, C=1
    y = B.to_numpy(layer.forward(x))                            # n, d
    d = y.shape[1]
    slopes = []
    for i in range(d):
        dy = np.zeros_like(y)
        dy[:, i] = 1.0
        layer.forward(x)
        slopes.append(B.to_numpy(layer.backward(B.asarray(dy)))[:, 0])
    return y.T, np.array(slopes)


def main(argv=None):
    args = start(make_parser(__doc__), argv)
    with B.default_dtype("float64"):            # exact curves; the checker works in float64
        return run(args)


def run(args):
    z = np.linspace(-4, 4, per_mode(args, 200, 800, 800))      # even count: z = 0 (the kink) is not on the grid
    singles, links = single_units(), linked_units()
    cols = 6
    fig, axes = plt.subplots(2, cols, figsize=(3.0 * cols, 6.0))
    for ax, (name, layer) in zip(axes[0], singles.items()):
        (g,), (dg,) = members_and_slopes(layer, z)
        ax.plot(z, g, color="C0", lw=2, label="g(z)")
        ax.plot(z, dg, color="C0", lw=1.2, ls="--", label="g'(z)")
        ax.set_title(name, fontsize=10)
    axes[0, 4].axis("off")
    axes[0, 5].axis("off")
    axes[0, 4].text(0.0, 0.5, "Top: single units g and g'.\n\nBottom: the linked pair\n"
                    "(member a: g(z), blue;\n member b: g(−z), orange),\nsolid = output, "
                    "dashed = slope d/dz.\n\nRed shading: z where every\nmember's slope is 0 —\n"
                    "the unit would get no\ngradient there.", fontsize=9, va="center",
                    transform=axes[0, 4].transAxes)
    for ax, (name, layer) in zip(axes[1], links.items()):
        ys, ds = members_and_slopes(layer, z)
        for i, (y, dy) in enumerate(zip(ys, ds)):
            ax.plot(z, y, color=f"C{i}", lw=2, label=f"member {'ab'[i]}")
            ax.plot(z, dy, color=f"C{i}", lw=1.2, ls="--", label=f"member {'ab'[i]} slope")
        dead = (np.abs(ds) <= 1e-6).all(axis=0)
        if dead.any():
            ax.fill_between(z, -2, 4, where=dead, color="red", alpha=0.15, label="no slope")
        ax.set_title(name, fontsize=10, color="red" if dead.any() else "black")
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
    save_figure(fig, "01_linked_units.png", args)

    # The linking condition, checked numerically over a wide range of z.
    z_range = (-20.0, 20.0)
    rows, verdicts = [], {}
    candidates = {**{f"{k} alone": v for k, v in single_units().items()}, **linked_units()}
    for name, layer in candidates.items():
        result = lr.check_linkage(layer, z_range=z_range, num=per_mode(args, 801, 4001, 4001))
        verdicts[name] = bool(result)
        where = "-" if result else f"[{result.failures.min():g}, {result.failures.max():g}]"
        rows.append((name, getattr(layer, "expansion", 1), "yes" if result else "no", where))
    print_table(f"Linking condition: some member has |g'(z)| > 1e-6 for every z in {list(z_range)}",
                ["activation", "members d", "satisfied", "z where it fails"], rows)

    mirror_ok = all(verdicts[k] for k in links if not k.startswith("non-link"))
    finish(args, ("every mirror link and the min-max link satisfy the linking condition; "
                  "(relu, relu) fails for z < 0, and so do ReLU alone and, numerically, "
                  "SELU/Swish alone far out on the negative side (saturation)")
           if mirror_ok and not verdicts["non-link (relu, relu): a = b"] else
           f"unexpected linkage results: {verdicts}")
    return verdicts


if __name__ == "__main__":
    main()
