# %% [markdown]
# # Tutorial 02 — verifying a hand-derived backward pass, step by step
#
# **Question.** linkedref has no autodiff: every layer's backward pass is derived by hand. How do
# we know such a derivation is right?
#
# **Method.**
# 1. We write a unit ourselves — LK-Swish, the paper's mirror link of swish(z) = z·σ(z) — as a
#    subclass of `lk.Activation`, and derive its backward pass on paper (`MyLKSwish.backward`).
# 2. We compare its analytic gradient with central differences, coordinate by coordinate,
#    printing both numbers.
# 3. We hand the same job to `linkedref.gradcheck` and run it on our layer, on the library's
#    LK-ReLU and on a small Dense + LK-ReLU network with a softmax cross-entropy loss.
# 4. We break the backward on purpose (the classic slip: forgetting the minus sign of the
#    mirror member) and watch the check catch it, name the mirror member and suspect the sign.
# 5. Figure: the error of the finite-difference estimate against its step ε — the "V": too large
#    an ε and the Taylor truncation error (∝ ε²) dominates, too small and float round-off
#    (∝ 1/ε) does. The wrong backward stays at an O(1) error for every ε.
#
# **The claim checked.** Not one of the paper's: this is how the library proves each backward
# pass it uses for the paper's experiments. Nothing is trained: no optimizer.

# %%
import matplotlib.pyplot as plt
import numpy as np

import linkedref as lk
import linkedref.backend as B
from linkedref.gradcheck import GradientCheckError, away_from_kinks, gradcheck

import _settings as settings
from _common import Story, finish, print_table, save_figure

NAME = "02_gradient_check"
story = Story(globals(), notebook_args=["--quick"])   # a notebook runs --quick; a script, main()

# %% [markdown]
# ## Setup
# One seed draws the inputs and the small network's weights. `--smoke` checks fewer coordinates
# and steps ε.

# %%
INDEX = (3, 1)                       # the coordinate of z whose error the figure follows


@story.step("args")
def setup(argv):
    """Parse the command line (see --help) and print the start line. -> args"""
    return settings.gradient_check(argv)


# %% [markdown]
# ## Step 1: our own unit
# A unit subclasses `lk.Activation`, the protocol every unit of the library follows (its
# docstring says what each method does): `forward` checks its input, computes y and keeps what
# backward needs with `save_for_backward(cache, output_shape=y.shape)`; `backward(dy,
# need_dx=True)` takes it back with `saved(dy)`, which checks dy's shape. σ is computed from
# e^(−|z|), which never overflows. The derivation sits beside the code: each member's
# derivative by the product rule, and the mirror member's minus sign by the chain rule.

# %%
class MyLKSwish(lk.Activation):
    """LK-Swish written out by hand: z (N, C) -> (swish(z), swish(-z)) of shape (N, 2C).

    swish(z)  = z·σ(z)
    swish'(z) = σ(z) + z·σ(z)·(1 − σ(z))        (product rule; σ' = σ(1 − σ))
    σ(z) from e = e^(−|z|) ≤ 1: 1/(1 + e) for z ≥ 0, e/(1 + e) for z < 0 (no overflow).
    """
    expansion = 2                                # two outputs per input channel

    def __init__(self, wrong: bool = False):
        super().__init__()
        self.wrong = wrong                       # True: a deliberately broken backward

    def forward(self, z, training=False):
        self.check_input(z)
        xp = B.get_array_module(z)
        e = xp.exp(-xp.abs(z))                   # e^(−|z|), never above 1     N, C
        s = xp.where(z >= 0, 1, e) / (1 + e)     # σ(z)                        N, C
        y = xp.concatenate([z * s, -z * (1 - s)], axis=1)   # σ(−z) = 1 − σ(z);  N, 2C
        self.save_for_backward((z, s), output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        z, s = self.saved(dy)                    # checks that dy has y's shape
        if not need_dx:                          # no parameters: nothing else to compute
            return None
        C = z.shape[1]
        dy_a, dy_b = dy[:, :C], dy[:, C:]        # upstream gradient of each member   N, C
        d_pos = s + z * s * (1 - s)              # swish'(z)                          N, C
        d_neg = (1 - s) - z * s * (1 - s)        # swish'(−z), using σ(−z) = 1 − σ(z)  N, C
        # y_b = swish(−z), so dy_b/dz = −swish'(−z) by the chain rule: the mirror's minus sign.
        sign = +1 if self.wrong else -1          # the bug: a plus where the chain rule has a minus
        return dy_a * d_pos + sign * dy_b * d_neg

# %% [markdown]
# ## The experiment: steps 2 to 5
# Step 2 takes L = Σ r·y with a fixed random r, so dL/dz = backward(r), and compares it with
# [L(z + ε e_i) − L(z − ε e_i)] / 2ε. Step 3 lets `gradcheck` do that for every coordinate of
# the input and of every parameter (float64, step 1e-5, tolerance 1e-6). Step 4 runs it on the
# broken layer. Step 5 repeats step 2 at one coordinate for ε from 1e-12 to 0.1, evaluating
# the forward in float64 and in float32.

# %%
def numeric_vs_analytic(layer, z, coords, eps=1e-6, seed=0):
    """For L = Σ r·y with a fixed random r: the analytic dL/dz (backward(r)) and the central
    difference [L(z + ε e_i) − L(z − ε e_i)] / 2ε for each coordinate i in ``coords``."""
    rng = np.random.default_rng(seed)
    y = layer.forward(z)
    r = rng.standard_normal(y.shape)
    analytic = layer.backward(r)
    rows = []
    for i in coords:
        zp, zm = z.copy(), z.copy()
        zp[i] += eps
        zm[i] -= eps
        numeric = (r * (layer.forward(zp) - layer.forward(zm))).sum() / (2 * eps)
        a = float(analytic[i])
        rows.append((str(i), a, float(numeric),
                     abs(a - numeric) / max(abs(a), abs(numeric), 1e-12)))
    return rows


def error_vs_eps(layer, z, index, epsilons, dtype, seed=0):
    """Relative error of the central difference at coordinate ``index`` for each ε, with the
    forward evaluated in ``dtype`` (the analytic reference is always float64)."""
    rng = np.random.default_rng(seed)
    y = layer.forward(z)
    r = rng.standard_normal(y.shape)
    a = float(layer.backward(r)[index])
    zt, rt = z.astype(dtype), r.astype(dtype)
    errors = []
    for eps in epsilons:
        zp, zm = zt.copy(), zt.copy()
        zp[index] += dtype(eps)
        zm[index] -= dtype(eps)
        step = float(zp[index]) - float(zm[index])           # the step actually taken in dtype
        diff = float((rt * (layer.forward(zp) - layer.forward(zm))).sum(dtype=np.float64))
        errors.append(abs(diff / step - a) / abs(a) if step else np.nan)
    return np.array(errors)


def library_checks(z, rng, seed):
    """Step 3: ``gradcheck`` on our layer, the library's LK-ReLU and a small net with a loss."""
    x = away_from_kinks((5, 4), rng)             # LK-ReLU has a kink at 0: stay off it
    net = lk.Sequential([lk.Dense(4, 6, rng=rng), lk.LKReLU(), lk.Dense(12, 3, rng=rng)])
    labels = rng.integers(0, 3, 5)
    return {"MyLKSwish (ours)": gradcheck(MyLKSwish(), z, seed=seed),
            "LKReLU (library)": gradcheck(lk.LKReLU(), x, seed=seed),
            "Dense+LKReLU+Dense + CE loss": gradcheck(net, x, loss=lk.SoftmaxCrossEntropy(),
                                                      labels=labels, seed=seed)}


def wrong_sign(z, seed):
    """Step 4: gradcheck of the broken layer. -> (the error's message or None, its max error)"""
    try:
        gradcheck(MyLKSwish(wrong=True), z, seed=seed)
        message = None
    except GradientCheckError as err:
        message = str(err)
    report = gradcheck(MyLKSwish(wrong=True), z, seed=seed, raise_on_fail=False)
    return message, report.max_error


@story.step("results")
def experiment(args):
    """Steps 2 to 5 in float64 (gradient checks need its round-off). -> dict of their results"""
    seed = args.seeds[0]
    rng = np.random.default_rng(seed)
    smoke = args.mode == "smoke"
    with B.default_dtype("float64"):
        z = B.asarray(rng.standard_normal((4, 3)) * 2)          # N=4 samples, C=3 units
        coords = [(0, 0), (1, 2), (3, 1)] if smoke else [(i, j) for i in range(4)
                                                         for j in range(3)][::2]
        by_hand = numeric_vs_analytic(MyLKSwish(), B.to_numpy(z), coords, seed=seed)
        checks = library_checks(z, rng, seed)
        caught, caught_error = wrong_sign(z, seed)
        epsilons = np.logspace(-12, -1, 12 if smoke else 45)
        z0 = B.to_numpy(z)
        curves = {"float64": error_vs_eps(MyLKSwish(), z0, INDEX, epsilons, np.float64, seed),
                  "float32": error_vs_eps(MyLKSwish(), z0, INDEX, epsilons, np.float32, seed),
                  "wrong backward (float64)": error_vs_eps(MyLKSwish(wrong=True), z0, INDEX,
                                                           epsilons, np.float64, seed)}
    return {"by_hand": by_hand, "checks": checks, "caught": caught,
            "caught_error": caught_error, "epsilons": epsilons, "curves": curves}


# %% [markdown]
# ## The tables
# Step 2: analytic and numeric values, side by side; they should agree to far below the 1e-6
# tolerance. Step 3: the largest relative error over every checked coordinate ("kinks":
# coordinates skipped because a kink lay within ε; a smooth layer has none). Step 4: the
# message `GradientCheckError` raises, with both numbers side by side; for a unit of expansion
# 2 it checks again with dy in one member at a time, names the failing member (the mirror) and
# reads the numbers for a hint (analytic ≈ −numeric: "sign flipped?"). Last: the best step ε
# per precision, read off the curves of step 5.

# %%
@story.step()
def table(args, results):
    """Print the tables of steps 2 to 5."""
    print_table("Step 2 — MyLKSwish, dL/dz at a few coordinates (L = Σ r·y, r fixed and random; "
                "central difference with eps 1e-6)", ["z index", "analytic", "numeric", "rel err"],
                [(i, f"{a:+.10f}", f"{n:+.10f}", f"{e:.1e}") for i, a, n, e in results["by_hand"]])
    checks = results["checks"]
    print("\nStep 3 — linkedref.gradcheck (float64, relative error tolerance 1e-6); the "
          "small net's report:")
    print(checks["Dense+LKReLU+Dense + CE loss"])
    print_table("gradcheck: every tensor of each component",
                ["component", "max rel err", "coords", "kinks", "result"],
                [(name, f"{r.max_error:.2e}", sum(w.checked for w in r.rows),
                  sum(w.skipped for w in r.rows), "ok" if r.passed else "FAIL")
                 for name, r in checks.items()])
    print("\nStep 4 — the same layer with the mirror's minus sign dropped:")
    print("NOT caught — this should never happen" if results["caught"] is None else
          f"GradientCheckError caught, as it should be:\n{results['caught']}")
    best = {k: (results["epsilons"][np.nanargmin(v)], np.nanmin(v))
            for k, v in results["curves"].items()}
    print_table("Step 5 — best step per precision", ["evaluation", "best eps", "min rel err"],
                [(k, f"{e:.1e}", f"{m:.1e}") for k, (e, m) in best.items()])


# %% [markdown]
# ## The figure
# The "V" of each precision: on the right the truncation error falls as ε², on the left
# round-off grows as 1/ε; float32's V bottoms out higher and further right. The wrong backward
# is a flat line near 1: no step makes it agree.

# %%
@story.step()
def figure(args, results):
    """Plot the relative error against ε for each curve; save the figure."""
    epsilons, seed = results["epsilons"], args.seeds[0]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for (label, errs), style in zip(results["curves"].items(), ["o-", "s-", "x--"]):
        ax.loglog(epsilons, np.maximum(errs, 1e-17), style, ms=3, label=label)
    ax.axhline(1e-6, color="gray", lw=0.8, ls=":", label="gradcheck tolerance 1e-6")
    ax.axvline(1e-5, color="gray", lw=0.8, ls="-.", label="gradcheck eps 1e-5")
    ax.set_xlabel("finite-difference step ε")
    ax.set_ylabel("relative error |numeric − analytic| / |analytic|")
    ax.set_title(f"Central differences on MyLKSwish, dL/dz{list(INDEX)} (seed {seed})\n"
                 "truncation ∝ ε² on the right, round-off ∝ 1/ε on the left", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    save_figure(fig, f"{NAME}.png", args)


# %% [markdown]
# ## The verdict

# %%
@story.step()
def verdict(args, results):
    """Print the one-line verdict: every check passed and the slip was caught?"""
    checks = results["checks"]
    ok = all(r.passed for r in checks.values()) and results["caught"] is not None
    finish(args, ("every hand-derived backward agrees with finite differences to "
                  f"{max(r.max_error for r in checks.values()):.1e} (≤ 1e-6) and the sign slip "
                  f"is caught (its max relative error {results['caught_error']:.2f})")
           if ok else "a check failed")


# %%
def main(argv=None):
    """Run the tutorial on the command line ``argv`` (see --help): every step above, in order.
    -> what the steps gave, by name"""
    return story.run(argv)


if __name__ == "__main__" and not story.notebook:
    main()
