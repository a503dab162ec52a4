"""What every tutorial shares: its command line, data loading, figure saving and table printing.

A tutorial does::

    from _common import make_parser, start, save_figure, print_table
    parser = make_parser(__doc__, data=True)
    args = start(parser, argv)           # parses, picks the backend, makes the figure folder
    ...
    save_figure(fig, "03_dead_units.png", args)

Figures go to the repository's ``figures/`` folder (a path built from this file, not from the
current directory), or to ``--figdir``. Matplotlib runs on the Agg backend, so no window opens.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "figures"
if str(ROOT) not in sys.path:               # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import linkedref.backend as B  # noqa: E402

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")


# ------------------------------------------------------------------------------ command line
def make_parser(description: str, *, data: bool = False) -> argparse.ArgumentParser:
    """The options every tutorial takes: --quick, --smoke, --seed/--seeds, --backend, --epochs,
    --figdir and, for tutorials that use a data set, --dataset."""
    p = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="a short run (well under a minute on 2 cores): the trend, not final numbers")
    p.add_argument("--smoke", action="store_true",
                   help="a tiny run that only exercises the code (for the test suite)")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="random seeds to run (default: per mode, see the tutorial)")
    p.add_argument("--seed", type=int, default=None, help="a single seed (overrides --seeds)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: per mode)")
    p.add_argument("--figdir", type=Path, default=FIGURES, help="where figures are written")
    if data:
        p.add_argument("--dataset", choices=DATASETS, default="digits")
    return p


def start(parser: argparse.ArgumentParser, argv=None, seeds=((0,), (0,), (0,))) -> argparse.Namespace:
    """Parse ``argv``, set the backend, create the figure folder; ``args.mode`` is one of
    "smoke", "quick", "full". ``seeds``: the default seeds in (smoke, quick, full) mode, used
    when neither --seed nor --seeds is given."""
    args = parser.parse_args(argv)
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    if args.seed is not None:
        args.seeds = [args.seed]
    elif args.seeds is None:
        args.seeds = list(per_mode(args, *seeds))
    B.set_backend(args.backend)
    args.figdir = Path(args.figdir)
    args.figdir.mkdir(parents=True, exist_ok=True)
    args.started = time.perf_counter()
    print(f"[{parser.prog}] mode {args.mode}, backend {args.backend}, seeds {seeds_text(args.seeds)}")
    return args


def per_mode(args, smoke, quick, full):
    """Pick a setting by mode: ``per_mode(args, 1, 5, 30)`` epochs."""
    return {"smoke": smoke, "quick": quick, "full": full}[args.mode]


def seeds_text(seeds) -> str:
    return ", ".join(str(s) for s in seeds)


# ------------------------------------------------------------------------------------- data
def load_images(name: str, n_train=None, n_test=None, flatten=False, seed=0):
    """``((X_train, y_train), (X_test, y_test))`` of data set ``name`` as float32 NCHW images
    (or (N, D) with ``flatten``), keeping a random ``n_train``/``n_test`` of each split."""
    from linkedref import data
    (Xtr, ytr), (Xte, yte) = data.load(name)
    rng = np.random.default_rng(seed)

    def subset(X, y, n):
        X, y = B.to_numpy(X), B.to_numpy(y)
        if n is not None and n < len(X):
            keep = np.sort(rng.choice(len(X), n, replace=False))
            X, y = X[keep], y[keep]
        X = X.astype(np.float32)
        return (X.reshape(len(X), -1) if flatten else X), y.astype(np.int64)

    return subset(Xtr, ytr, n_train), subset(Xte, yte, n_test)


# ---------------------------------------------------------------------------------- output
def save_figure(fig, name: str, args) -> Path:
    """Save ``fig`` as ``args.figdir / name`` (PNG, 120 dpi), close it, print the path."""
    path = Path(args.figdir) / name
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {path}")
    return path


def print_table(title: str, header, rows, fmt: str = "{:.3f}") -> None:
    """Print a table as the paper lays them out: a title, a rule, one row per activation.
    Floats use ``fmt``; other values are printed as they are."""
    cells = [[fmt.format(v) if isinstance(v, (float, np.floating)) else str(v) for v in row]
             for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    line = "  ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(header, widths)))
    print(f"\n{title}\n{'-' * len(line)}\n{line}\n{'-' * len(line)}")
    for r in cells:
        print("  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(r, widths))))
    print("-" * len(line))


def finish(args, verdict: str) -> None:
    """Print the one-line verdict and the run time."""
    print(f"\nVERDICT: {verdict}")
    print(f"done in {time.perf_counter() - args.started:.1f} s")


# ----------------------------------------------------------------------------------- models
def mlp(act: str, n_in: int, n_out: int, width: int, depth: int, rng, batchnorm: bool = False):
    """A plain MLP: ``depth`` × [Dense(width) (+ BatchNorm) + activation ``act``], then
    Dense(n_out). A linked activation doubles its outputs, so the next Dense's fan-in doubles
    (the linked net has ~2× the parameters of a single one of the same width)."""
    import linkedref as lr
    from linkedref.diagnostics import expansion
    layers, fan_in = [], n_in
    for _ in range(depth):
        layers.append(lr.Dense(fan_in, width, rng=rng))
        if batchnorm:
            layers.append(lr.BatchNorm(width))
        unit = lr.activation(act)
        layers.append(unit)
        fan_in = width * expansion(unit)
    layers.append(lr.Dense(fan_in, n_out, rng=rng))
    return lr.Sequential(layers)


def n_params(model) -> int:
    return int(sum(v.size for v in model.params.values()))


def accuracy(model, X, y, batch_size: int = 1024) -> float:
    """Share of samples whose arg-max output equals the label (inference mode)."""
    hits = 0
    for s in range(0, len(X), batch_size):
        out = B.to_numpy(model.forward(B.asarray(X[s:s + batch_size]), training=False))
        hits += int((out.argmax(axis=1) == B.to_numpy(y[s:s + batch_size])).sum())
    return hits / len(X)


LABELS = {"relu": "ReLU", "prelu": "PReLU", "selu": "SELU", "swish": "Swish", "elu": "ELU",
          "leaky_relu": "LeakyReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def pretty(act: str) -> str:
    """"lkrelu" -> "LK-ReLU", "relu" -> "ReLU"."""
    return "LK-" + LABELS[act[2:]] if act.startswith("lk") else LABELS.get(act, act)
