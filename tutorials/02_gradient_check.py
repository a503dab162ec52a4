"""Tutorial 02 — verifying a hand-derived backward pass, step by step.

linkedref has no autodiff: every layer's backward is derived by hand. This tutorial shows how we
know such a derivation is right.

1. We write a layer ourselves — LK-Swish, the paper's mirror link of swish(z) = z·σ(z) — and
   derive its backward pass on paper (see ``MyLKSwish.backward``).
2. We compare its analytic gradient with central differences, coordinate by coordinate, printing
   both numbers.
3. We hand the same job to ``linkedref.gradcheck`` and run it on our layer, on the library's
   LK-ReLU and on a small Dense + LK-ReLU network with a softmax cross-entropy loss.
4. We break the backward on purpose (the classic slip: forgetting the minus sign of the mirror
   member) and watch the check catch it.
5. Figure: the error of the finite-difference estimate against its step ε — the "V": too large an
   ε and the Taylor truncation error (∝ ε²) dominates, too small and float round-off (∝ 1/ε) does.
   The wrong backward stays at an O(1) error for every ε.

Run:  python tutorials/02_gradient_check.py [--quick]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import finish, make_parser, print_table, save_figure, start  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import linkedref.backend as B  # noqa: E402
from linkedref.gradcheck import GradientCheckError, away_from_kinks, gradcheck  # noqa: E402
from linkedref.layer import Layer  # noqa: E402


# ----------------------------------------------------------------------------- our own layer
class MyLKSwish(Layer):
    """LK-Swish written out by hand: z (N, C) -> (swish(z), swish(-z)) of shape (N, 2C).

    swish(z)  = z·σ(z)
    swish'(z) = σ(z) + z·σ(z)·(1 − σ(z))        (product rule; σ' = σ(1 − σ))
    """
    expansion = 2

    def __init__(self, wrong: bool = False):
        super().__init__()
        self.wrong = wrong                       # True: a deliberately broken backward

    def forward(self, z, training=False):
        self.check_input(z)
        xp = B.get_array_module(z)
        s = 1 / (1 + xp.exp(-z))                 # σ(z)          N, C
        self.cache = (z, s)
        return xp.concatenate([z * s, -z * (1 - s)], axis=1)   # σ(−z) = 1 − σ(z);  N, 2C

    def backward(self, dy):
        z, s = self.saved()
        C = z.shape[1]
        dy_a, dy_b = dy[:, :C], dy[:, C:]        # upstream gradient of each member   N, C
        d_pos = s + z * s * (1 - s)              # swish'(z)                          N, C
        d_neg = (1 - s) - z * s * (1 - s)        # swish'(−z), using σ(−z) = 1 − σ(z)  N, C
        # y_b = swish(−z), so dy_b/dz = −swish'(−z) by the chain rule: the mirror's minus sign.
        sign = +1 if self.wrong else -1          # the bug: a plus where the chain rule has a minus
        return dy_a * d_pos + sign * dy_b * d_neg


# -------------------------------------------------------------------------- step 2: by hand
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
        rows.append((str(i), a, float(numeric), abs(a - numeric) / max(abs(a), abs(numeric), 1e-12)))
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
        numeric = float((rt * (layer.forward(zp) - layer.forward(zm))).sum(dtype=np.float64)) / step \
            if step else np.nan
        errors.append(abs(numeric - a) / abs(a))
    return np.array(errors)


def main(argv=None):
    args = start(make_parser(__doc__), argv)
    seed = args.seeds[0]
    rng = np.random.default_rng(seed)
    with B.default_dtype("float64"):             # gradient checks need float64 round-off
        return run(args, rng, seed)


def run(args, rng, seed):
    z = B.asarray(rng.standard_normal((4, 3)) * 2)          # N=4 samples, C=3 units

    # Step 2: a few coordinates by hand.
    print("\nStep 2 — MyLKSwish: analytic (backward) vs numeric (central difference, eps 1e-6)")
    coords = [(0, 0), (1, 2), (3, 1)] if args.mode == "smoke" else [(i, j) for i in range(4) for j in range(3)][::2]
    rows = numeric_vs_analytic(MyLKSwish(), B.to_numpy(z), coords, seed=seed)
    print_table("dL/dz at a few coordinates (L = Σ r·y, r fixed and random)",
                ["z index", "analytic", "numeric", "rel err"],
                [(i, f"{a:+.10f}", f"{n:+.10f}", f"{e:.1e}") for i, a, n, e in rows])

    # Step 3: the library's checker — every coordinate of the input and of every parameter.
    import linkedref as lr
    print("\nStep 3 — linkedref.gradcheck (float64, relative error tolerance 1e-6)")
    checks = []
    report = gradcheck(MyLKSwish(), z, seed=seed)
    checks.append(("MyLKSwish (ours)", report))
    x = away_from_kinks((5, 4), rng)             # LK-ReLU has a kink at 0: stay off it
    checks.append(("LKReLU (library)", gradcheck(lr.LKReLU(), x, seed=seed)))
    mlp = lr.Sequential([lr.Dense(4, 6, rng=rng), lr.LKReLU(), lr.Dense(12, 3, rng=rng)])
    labels = rng.integers(0, 3, 5)
    checks.append(("Dense+LKReLU+Dense + CE loss",
                   gradcheck(mlp, x, loss=lr.SoftmaxCrossEntropy(), labels=labels, seed=seed)))
    print(checks[-1][1])
    print_table("gradcheck: every tensor of each component",
                ["component", "max rel err", "coords", "kinks", "result"],
                [(name, f"{r.max_error:.2e}", sum(w.checked for w in r.rows),
                  sum(w.skipped for w in r.rows), "ok" if r.passed else "FAIL") for name, r in checks])

    # Step 4: a wrong backward is caught, with the numbers that show why.
    print("\nStep 4 — the same layer with the mirror's minus sign dropped:")
    try:
        gradcheck(MyLKSwish(wrong=True), z, seed=seed)
        caught = None
        print("NOT caught — this should never happen")
    except GradientCheckError as err:
        caught = err
        caught_error = gradcheck(MyLKSwish(wrong=True), z, seed=seed, raise_on_fail=False).max_error
        print(f"GradientCheckError caught, as it should be:\n{err}")

    # Step 5: the V — error of the central difference against eps.
    epsilons = np.logspace(-12, -1, 12 if args.mode == "smoke" else 45)
    z0 = B.to_numpy(z)
    index = (3, 1)
    curves = {"float64": error_vs_eps(MyLKSwish(), z0, index, epsilons, np.float64, seed),
              "float32": error_vs_eps(MyLKSwish(), z0, index, epsilons, np.float32, seed),
              "wrong backward (float64)": error_vs_eps(MyLKSwish(wrong=True), z0, index, epsilons,
                                                       np.float64, seed)}
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for (label, errs), style in zip(curves.items(), ["o-", "s-", "x--"]):
        ax.loglog(epsilons, np.maximum(errs, 1e-17), style, ms=3, label=label)
    ax.axhline(1e-6, color="gray", lw=0.8, ls=":", label="gradcheck tolerance 1e-6")
    ax.axvline(1e-5, color="gray", lw=0.8, ls="-.", label="gradcheck eps 1e-5")
    ax.set_xlabel("finite-difference step ε")
    ax.set_ylabel("relative error |numeric − analytic| / |analytic|")
    ax.set_title(f"Central differences on MyLKSwish, dL/dz{list(index)} (seed {seed})\n"
                 "truncation ∝ ε² on the right, round-off ∝ 1/ε on the left", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    save_figure(fig, "02_gradient_check.png", args)

    best = {k: (epsilons[np.nanargmin(v)], np.nanmin(v)) for k, v in curves.items()}
    print_table("best step per precision", ["evaluation", "best eps", "min rel err"],
                [(k, f"{e:.1e}", f"{m:.1e}") for k, (e, m) in best.items()])
    ok = all(r.passed for _, r in checks) and caught is not None
    finish(args, ("every hand-derived backward agrees with finite differences to "
                  f"{max(r.max_error for _, r in checks):.1e} (≤ 1e-6) and the sign slip is caught "
                  f"(its max relative error {caught_error:.2f})") if ok else "a check failed")
    return {"checks": {n: r.max_error for n, r in checks}, "caught": caught is not None}


if __name__ == "__main__":
    main()
