"""What every tutorial shares: its story, command line, threads, data, optimizers, figures,
tables, and the learner's own units (``--activation MODULE:CLASS``).

A tutorial is a story of steps, each written once (``Story``)::

    story = Story(globals(), notebook_args=["--quick"])

    @story.step("args", "data")
    def setup(argv):
        args = settings.depth(argv, VARIANTS)       # tutorials/_settings.py: the command line
        ...

    @story.step("runs")
    def experiment(args, data): ...

    def main(argv=None):
        return story.run(argv)

Figures: full mode writes the repository's ``figures/`` (the README's gallery); quick and smoke
modes write ``figures/quick/`` (git-ignored), so a quick run never changes a tracked file;
``--figdir`` overrides both. The paths are built from this file, not the current directory.
Matplotlib runs on the Agg backend, so no window opens; in a notebook ``save_figure`` also shows
the saved PNG under its cell.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "figures"                  # full mode: the README's figures (tracked)
QUICK_FIGURES = FIGURES / "quick"           # quick and smoke mode (git-ignored)
if str(ROOT) not in sys.path:               # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import linkedref as lk  # noqa: E402
import linkedref.backend as B  # noqa: E402

DATASETS = ("digits", "mnist5k", "mnist", "fashion_mnist", "cifar10")
SHIPPED = ("digits", "mnist5k")             # in the package: no download, used whole


# ------------------------------------------------------------------------------------ story
class Story:
    """A tutorial's steps, each written once and run the same way by a script and a notebook.

    A step is a function whose parameters name what earlier steps gave (``argv`` at first, then
    ``args``, ``data``, ``runs``, ...); ``@story.step("runs")`` names what it gives, in order.
    A script's ``main(argv)`` calls ``story.run(argv)``: every step in order. In a notebook (a
    namespace with no ``__file__``) the decorator runs the step at once on the notebook's
    variables and stores what it gives there, so each step's output shows under its own cell;
    there ``argv`` is ``notebook_args``.
    """

    def __init__(self, namespace: dict, notebook_args):
        self.notebook = "__file__" not in namespace      # Jupyter runs the cells without a file
        self.namespace = namespace
        self.steps = []
        if self.notebook:
            namespace["argv"] = list(notebook_args)

    def step(self, *gives):
        """Decorator: add the function as the next step; in a notebook, run it now."""
        def add(function):
            self.steps.append((function, gives))
            if self.notebook:
                self._run(function, gives, self.namespace)
            return function
        return add

    def run(self, argv=None) -> dict:
        """Every step in order on the command line ``argv``. -> what the steps gave, by name"""
        values = {"argv": argv}
        for function, gives in self.steps:
            self._run(function, gives, values)
        return values

    @staticmethod
    def _run(function, gives, values):
        result = function(*(values[name] for name in inspect.signature(function).parameters))
        values.update(zip(gives, result if len(gives) > 1 else (result,)))


# ------------------------------------------------------------------------------ command line
class HelpFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" to an option's help once: not for flags and options whose default is
    None (their help says what happens then), nor when the help already names its default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return text + " (default: %(default)s)"


def make_parser(description: str, name: str, *, data: bool = False, seeds: bool = True,
                epochs: bool = True, jobs: bool = False, units: bool = False,
                n_train: bool = False) -> argparse.ArgumentParser:
    """The options every tutorial takes: --quick, --smoke, --backend, --threads, --figdir; with
    ``seeds`` --seed/--seeds, with ``epochs`` --epochs, with ``data`` --dataset, with ``jobs``
    --jobs (runs trained at a time, ``_experiments.run_variants``), with ``units`` --activation
    (the learner's own units, ``UserUnit``), with ``n_train`` --n-train (``load_data``).
    ``description``: one line for --help; ``name`` (the file's name without .py) is the program
    name in --help and the start line."""
    p = argparse.ArgumentParser(prog=f"{name}.py", formatter_class=HelpFormatter,
                                description=description)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help="a short run that shows the trend, not final numbers")
    mode.add_argument("--smoke", action="store_true",
                      help="a tiny run that only exercises the code (the test suite uses it)")
    if seeds:
        p.add_argument("--seeds", type=int, nargs="+", default=None,
                       help="random seeds to run (default: per mode, printed in the start line)")
        p.add_argument("--seed", type=int, default=None,
                       help="a single random seed; overrides --seeds")
    p.add_argument("--backend", choices=("numpy", "cupy", "strict"), default="numpy",
                   help="array library: numpy (CPU) or cupy (GPU, needs CuPy installed)")
    p.add_argument("--threads", type=int, default=1,
                   help="lk.set_threads: N ≥ 1 holds BLAS to one thread (more only serve models "
                        "wrapped in lk.fast.DataParallel; these tutorials train one run per "
                        "process: --jobs trains runs side by side); 0: BLAS on every core")
    if epochs:
        p.add_argument("--epochs", type=int, default=None,
                       help="training epochs (default: per mode, printed in the setup line)")
    p.add_argument("--figdir", type=Path, default=None,
                   help="folder for the figures (default: figures/ in full mode, figures/quick/ "
                        "in quick and smoke mode)")
    if jobs:
        p.add_argument("--jobs", type=int, default=1,
                       help="runs trained at a time, in worker processes of one thread each "
                            "(the results do not change)")
    if units:
        p.add_argument("--activation", type=user_unit, action="append", default=[],
                       metavar="MODULE:CLASS",
                       help="your own unit, trained beside the built-ins: class CLASS (an "
                            "lk.Activation) of module MODULE, imported from the current "
                            "directory or PYTHONPATH; refused unless CLASS() passes "
                            "lk.gradcheck; counted as linked only when lk.check_linkage holds; "
                            "repeatable")
    if data:
        p.add_argument("--dataset", choices=DATASETS, default="digits",
                       help="data set: digits (8×8) and mnist5k (5,000 MNIST 28×28) are "
                            "bundled; the others are downloaded on first use")
    if n_train:
        p.add_argument("--n-train", type=int, default=None,
                       help="training images to keep (default: all of digits and mnist5k; 5000 "
                            "for larger sets)")
    return p


def start(parser: argparse.ArgumentParser, argv=None, seeds=((0,), (0,), (0,))):
    """Parse ``argv``; set the backend and the threads; pick and create the figure folder;
    print the start line. ``args.mode`` is "smoke", "quick" or "full". ``seeds``: the default
    seeds in (smoke, quick, full) mode, used when neither --seed nor --seeds is given."""
    args = parser.parse_args(argv)
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    if hasattr(args, "seeds"):
        args.seeds_given = args.seed is not None or args.seeds is not None
        args.seeds = [args.seed] if args.seed is not None else list(
            args.seeds or per_mode(args, *seeds))
    for unit in getattr(args, "activation", ()):
        unit.register()
    B.set_backend(args.backend)
    lk.set_threads(args.threads or None)
    if args.figdir is None:
        args.figdir = FIGURES if args.mode == "full" else QUICK_FIGURES
    args.figdir = Path(args.figdir)
    args.figdir.mkdir(parents=True, exist_ok=True)
    args.started = time.perf_counter()
    seeds_part = f", seeds {seeds_text(args.seeds)}" if hasattr(args, "seeds") else ""
    print(f"[{parser.prog}] mode {args.mode}, backend {args.backend}, threads "
          f"{lk.get_threads()}{seeds_part}; figures go to {shown_path(args.figdir)}/")
    for unit in getattr(args, "activation", ()):
        print(unit_note(unit))
    return args


def per_mode(args, smoke, quick, full, full_mnist5k=None):
    """Pick a setting by mode: ``per_mode(args, 1, 5, 30)`` epochs. ``full_mnist5k``, when given,
    replaces ``full`` in full mode on mnist5k (its 28×28 images take 10–40× the 8×8 digits' time
    per epoch, so the full runs there are shorter; the setup comment of each tutorial says how)."""
    on_mnist5k = getattr(args, "dataset", None) == "mnist5k"
    if args.mode == "full" and on_mnist5k and full_mnist5k is not None:
        return full_mnist5k
    return {"smoke": smoke, "quick": quick, "full": full}[args.mode]


def seeds_text(seeds) -> str:
    return ", ".join(str(s) for s in seeds)


def shown_path(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it ("figures/quick")."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


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


# ------------------------------------------------------------------------------- optimizers
def make_optimizer(optimizer: str, model, lr: float, decay: float = 0.0,
                   eps: float | None = None):
    """The paper's optimizers, Keras-2 style: ``optimizer`` "adam" (depth, width, dead-unit and
    toy experiments) or "rmsprop" (the √2 experiment). β1, β2 and ρ are the library's defaults
    (Keras's); ``eps`` None keeps the library's default ε too."""
    kinds = {"adam": lk.Adam, "rmsprop": lk.RMSProp}
    if optimizer not in kinds:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {sorted(kinds)}")
    return kinds[optimizer](model, lr=lr, decay=decay, **({} if eps is None else {"eps": eps}))


def optimizer_text(optimizer: str, lr: float, decay: float = 0.0,
                   eps: float | None = None) -> str:
    """Every hyper-parameter of that optimizer, for a setup line, as the library reports it:
    "Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, decay=1e-06)"."""
    return repr(make_optimizer(optimizer, lk.Sequential([]), lr, decay, eps))


# ---------------------------------------------------------------------------------- output
def save_figure(fig, name: str, args) -> Path:
    """Save ``fig`` as ``args.figdir / name`` (PNG, 120 dpi; on a data set other than the digits
    ``name_<dataset>.png``), close it, print the path; in a notebook, show the PNG too."""
    dataset = getattr(args, "dataset", "digits")
    if dataset != "digits":                    # the digits' figures keep their names
        name = f"{Path(name).stem}_{dataset}{Path(name).suffix}"
    path = Path(args.figdir) / name
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {shown_path(path)}")
    if "ipykernel" in sys.modules:              # a Jupyter kernel: show it under the cell
        from IPython.display import Image, display
        display(Image(filename=str(path)))
    return path


def print_table(title: str, header, rows, fmt: str = "{:.3f}") -> None:
    """Print a table as the paper lays them out: a title, a rule, one row per activation.
    Floats use ``fmt``; other values are printed as they are. The first column is left-aligned,
    the others right-aligned."""
    cells = [[fmt.format(v) if isinstance(v, (float, np.floating)) else str(v) for v in row]
             for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]

    def line(values):
        return "  ".join(f"{v:<{w}}" if i == 0 else f"{v:>{w}}"
                         for i, (v, w) in enumerate(zip(values, widths)))

    head = line(header)
    print(f"\n{title}\n{'-' * len(head)}\n{head}\n{'-' * len(head)}")
    for r in cells:
        print(line(r))
    print("-" * len(head))


def finish(args, verdict: str) -> None:
    """Print the one-line verdict and the run time."""
    print(f"\nVERDICT: {verdict}")
    print(f"done in {time.perf_counter() - args.started:.1f} s")


# ----------------------------------------------------------------------------------- models
def mlp(act: str, n_in: int, n_out: int, width: int, depth: int, rng, batchnorm: bool = False):
    """A plain MLP: ``depth`` × [Dense(width) (+ BatchNorm) + activation ``act``], then
    Dense(n_out). A linked activation doubles its outputs, so the next Dense's fan-in doubles
    (the linked net has ~2× the parameters of a single one of the same width)."""
    layers, fan_in = [], n_in
    for _ in range(depth):
        layers.append(lk.Dense(fan_in, width, rng=rng))
        if batchnorm:
            layers.append(lk.BatchNorm(width))
        unit = lk.activation(act)
        layers.append(unit)
        fan_in = width * unit.expansion
    layers.append(lk.Dense(fan_in, n_out, rng=rng))
    return lk.Sequential(layers)


LABELS = {"relu": "ReLU", "prelu": "PReLU", "selu": "SELU", "swish": "Swish", "elu": "ELU",
          "leaky_relu": "LeakyReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def pretty(act: str) -> str:
    """"lkrelu" -> "LK-ReLU", "relu" -> "ReLU"; a learner's unit by its class name."""
    if act in USER_UNITS:
        return USER_UNITS[act].label
    return "LK-" + LABELS[act[2:]] if act.startswith("lk") else LABELS.get(act, act)


def is_linked(act: str) -> bool:
    """Whether the unit named ``act`` is linked as the paper means it: more than one member
    (``expansion`` > 1) and the linking condition holds (``lk.check_linkage``: some member has
    a non-zero slope at every z checked). A unit of two members that fails it, such as
    (relu(z), relu(z)), counts with the single units."""
    check = linkage(act)
    return check is not None and bool(check)


_LINKAGE = {}             # (name, registered class) -> LinkageCheck, or None for a single unit


def linkage(act: str):
    """``lk.check_linkage`` of the unit named ``act`` (None when it has one member), computed
    once per name and class: the tables and figures ask again and again."""
    key = (act, registered_class(act))
    if key not in _LINKAGE:
        unit = lk.activation(act)
        _LINKAGE[key] = lk.check_linkage(unit) if unit.expansion > 1 else None
    return _LINKAGE[key]


def unit_note(unit) -> str:
    """The setup line for a learner's unit: its gradient check, and whether it counts as linked
    (a unit of several members that fails the linking condition counts with the single units)."""
    check, d = linkage(unit.name), lk.activation(unit.name).expansion
    kind = ("a single unit" if check is None else
            f"a linked unit of {d} members (lk.check_linkage holds)" if check else
            f"{d} members, but it counts as a single unit here, not a linked one: "
            f"lk.check_linkage fails, {check!r}")
    return f"your unit {unit.label} ({unit.spec}): {unit.checked}; {kind}"


# ------------------------------------------------------------------------ the learner's units
USER_UNITS = {}           # registry name -> UserUnit, for the units --activation brought in


@dataclass(frozen=True)
class UserUnit:
    """A unit of the learner's own, given as ``--activation MODULE:CLASS``.

    spec: "MODULE:CLASS" as given (what a worker process re-imports); label: the class name, as
    tables and legends show it; name: its ``lk.register_activation`` name (the label in lower
    case, without "_"), which the tutorials pass to the model builders like a built-in's name.
    """
    spec: str
    label: str
    name: str
    checked: str = "not gradient-checked in this process"

    def register(self) -> None:
        """Make the unit known to ``lk.activation`` and the builders under ``self.name``."""
        cls = load_unit_class(self.spec)
        if self.name in USER_UNITS or self.name not in lk.activation_names():
            lk.register_activation(self.name, cls, replace=self.name in USER_UNITS)
        USER_UNITS[self.name] = self


def user_unit(spec: str, check: bool = True) -> UserUnit:
    """``--activation``'s type: import the class that ``spec`` ("MODULE:CLASS") names and check
    that it is an ``lk.Activation`` whose name is not another unit's and, with ``check``, whose
    backward passes ``gradcheck_unit``. -> its ``UserUnit`` (``start`` registers it)."""
    cls = load_unit_class(spec)
    name = cls.__name__.lower().replace("_", "")      # LK_Softplus -> "lksoftplus"
    if name in lk.activation_names() and name not in USER_UNITS \
            and registered_class(name) is not cls:
        raise argparse.ArgumentTypeError(f"{spec}: the name {name!r} is taken by another unit "
                                          f"({registered_class(name)}); rename the class")
    if not check:
        return UserUnit(spec, cls.__name__, name)
    error = gradcheck_unit(spec, cls)
    return UserUnit(spec, cls.__name__, name, f"its backward agrees with finite differences "
                                              f"(lk.gradcheck: max relative error {error:.1e})")


def gradcheck_unit(spec: str, cls) -> float:
    """Refuse (``argparse.ArgumentTypeError``) a unit that cannot be built with ``cls()``, fails
    on a float64 input (4, 3), or whose backward disagrees with ``lk.gradcheck``'s finite
    differences: the report names the failing tensor (and member) with a hint. -> the largest
    relative error of the check it passed."""
    from linkedref.gradcheck import GradientCheckError
    x = 3 * np.random.default_rng(0).standard_normal((4, 3))
    how = (f"check it alone as you change it: lk.gradcheck({cls.__name__}(), x) on a float64 x "
           f"(tutorial 02 shows how), or python -m linkedref.gradcheck --module "
           f"{spec.partition(':')[0]} with a case registered by "
           f"register_case (from linkedref.gradcheck import register_case)")
    try:
        with B.default_dtype("float64"):
            unit = cls()
            shape = tuple(unit.forward(B.asarray(x)).shape)
            if shape == (4, 3 * unit.expansion):
                error = lk.gradcheck(unit, x).max_error
    except GradientCheckError as err:
        raise argparse.ArgumentTypeError(
            f"{spec}: {cls.__name__} fails the gradient check (its backward disagrees with "
            f"finite differences of its forward, so it would train on wrong gradients):\n{err}"
            f"\nFix its backward; {how}") from err
    except Exception as err:                              # the learner's code: any error at all
        raise argparse.ArgumentTypeError(
            f"{spec}: {cls.__name__}() cannot be gradient-checked on a float64 input of shape "
            f"(4, 3) ({type(err).__name__}: {err}); {how}") from err
    if shape != (4, 3 * unit.expansion):
        raise argparse.ArgumentTypeError(
            f"{spec}: {cls.__name__} outputs shape {shape} for an input of shape (4, 3), but its "
            f"expansion is {unit.expansion}: its output should be (4, 3 × expansion), the "
            f"members concatenated on axis 1; set expansion = its outputs per input channel")
    return error


def registered_class(name: str):
    """The class (or factory) registered as ``name``."""
    return lk.registry.lookup(name)


def load_unit_class(spec: str):
    """The class ``spec`` ("MODULE:CLASS") names, imported from the current directory or
    PYTHONPATH; an ``argparse.ArgumentTypeError`` naming the module and why when it cannot be
    imported, has no such class, or the class is not an ``lk.Activation``."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise argparse.ArgumentTypeError(f"expected MODULE:CLASS (e.g. myunits:LKSoftplus), "
                                          f"got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as err:                              # the learner's code: any error at all
        raise argparse.ArgumentTypeError(
            f"{spec}: cannot import module {module_name!r} ({type(err).__name__}: {err}); it is "
            f"looked up in the current directory ({os.getcwd()}) and on PYTHONPATH") from err
    cls = getattr(module, class_name, None)
    if cls is None:
        raise argparse.ArgumentTypeError(f"{spec}: module {module_name!r} ({module.__file__}) "
                                          f"has no {class_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, lk.Activation)):
        raise argparse.ArgumentTypeError(lk.linkage.not_an_activation(
            spec, class_name, "the tutorials cannot run it as a unit"))
    return cls


def load_user_units(specs) -> None:
    """Import and register the units of ``specs`` again (in a worker process)."""
    for spec in specs:
        user_unit(spec, check=False).register()     # the main process checked it
