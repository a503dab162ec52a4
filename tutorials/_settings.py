"""Each tutorial's command line and per-mode settings, out of the story's way.

``settings.depth(argv, VARIANTS)`` parses tutorial 04's command line (``--help`` lists every
option) and fills in what the mode decides: smoke (a tiny run that only exercises the code),
quick (the trend in minutes) or full (the numbers RESULTS.md quotes). Every tutorial's options
start from ``_common.make_parser``; ``_common.start`` then sets the backend, the threads, the
figure folder and the learner's ``--activation`` units.
"""
from __future__ import annotations

from _common import make_parser, per_mode, pretty, start
from _experiments import Variant


def linked_units(argv):
    """Tutorial 01: no options of its own."""
    return start(make_parser("Tutorial 01 — linked units: g, g', the linked pair, and the linking "
                             "condition (Figure 1).", "01_linked_units", seeds=False,
                             epochs=False), argv)


def gradient_check(argv):
    """Tutorial 02: no options of its own."""
    return start(make_parser("Tutorial 02 — verifying a hand-derived backward pass, step by "
                             "step.", "02_gradient_check", epochs=False), argv)


def dead_units(argv, activations):
    """Tutorial 03: the plain net (--arch, --depth, --width) and the activations; smoke trains
    ReLU and LK-ReLU only. ``args.activations`` ends with the learner's units."""
    p = make_parser("Tutorial 03 — dead units, layer by layer, over training, in a deep plain "
                    "net (claim 1).", "03_dead_units", data=True, jobs=True, units=True)
    p.add_argument("--arch", choices=("conv", "mlp", "depth"), default=None,
                   help="the plain net: an MLP, a conv net (3×3, 'same') or tutorial 04's depth "
                        "net (default: mlp; full mode on mnist5k: depth)")
    p.add_argument("--depth", type=int, default=None,
                   help="activation layers (default: 16, the depth net 50; quick 12, smoke 3)")
    p.add_argument("--width", type=int, default=None,
                   help="units per layer (default: conv 4, mlp 16)")
    p.add_argument("--activations", nargs="+", default=list(activations), metavar="ACT",
                   help=f"built-in activations to train, of: {', '.join(activations)} "
                        "(default: all; smoke: relu, lkrelu; case, '-', '_' and spaces ignored, "
                        "so tutorial 04's labels work: ReLU LK-ReLU)")
    args = start(p, argv, seeds=([0], [0, 1], [0, 1, 2]))
    by_key = {label_key(a): a for a in activations}
    unknown = [a for a in args.activations if label_key(a) not in by_key]
    if unknown:
        p.error(f"unknown activations {unknown}; choose from {list(activations)} ({OWN})")
    args.activations = [by_key[label_key(a)] for a in args.activations]
    args.arch = args.arch or per_mode(args, "mlp", "mlp", "mlp", full_mnist5k="depth")
    args.depth = args.depth or per_mode(args, 3, 12, 50 if args.arch == "depth" else 16)
    args.width = args.width or (16 if args.arch == "mlp" else 4)
    args.probe = per_mode(args, 64, None, None)        # None: all training samples
    args.epochs = args.epochs or per_mode(args, 1, 15, 40, full_mnist5k=10)
    if args.mode == "smoke":
        args.activations = ["relu", "lkrelu"]
    args.activations += [unit.name for unit in args.activation]
    return args


OWN = "a unit of your own comes in with --activation MODULE:CLASS"
DEPTH_QUICK = ("ReLU", "LK-ReLU", "SELU", "ReLU+BN", "LK-ReLU (looks-linear)")
DEPTH_SMOKE = ("ReLU", "LK-ReLU")
DEPTH_STUCK = ("ReLU", "PReLU", "Swish", "LK-Swish", "ReLU√2")   # at chance: fewer seeds suffice


def label_key(label):
    """A variant's label as matched on the command line: "LK-ReLU", "lk_relu", "lkrelu" alike."""
    return label.lower().replace("-", "").replace("_", "").replace(" ", "")


def depth(argv, variants):
    """Tutorial 04: the net (--depth, --width), the optimizer's ε, the variants and how many
    seeds each runs (full: 8 where the escape rate is in question, 3 for those at chance);
    the learner's units join ``args.variants`` with the seeds of the variants in question.
    ``variants``: the tutorial's ``Variant`` list; ``args.variants`` the ones to train."""
    p = make_parser("Tutorial 04 — the depth experiment: 50 conv layers of width 4, no "
                    "BatchNorm, no shortcuts.", "04_depth", data=True, jobs=True, units=True,
                    n_train=True)
    p.add_argument("--depth", type=int, default=None,
                   help="conv layers (default: 50; quick 15, smoke 3)")
    p.add_argument("--width", type=int, default=4, help="filters per conv layer")
    p.add_argument("--batch-size", type=int, default=32, help="training batch size")
    p.add_argument("--eps", type=float, default=None,
                   help="Adam's ε (default: the library's, printed in the setup line)")
    p.add_argument("--variants", "--activations", nargs="+", default=None, metavar="LABEL",
                   help=f"variants to train (default: per mode), of: "
                        f"{', '.join(v.label for v in variants)} (case, '-', '_' and spaces "
                        "ignored, so tutorial 03's names work: relu lkrelu)")
    p.add_argument("--n-seeds", type=int, default=None,
                   help="seeds 0..N-1 for the variants whose escape rate is in question "
                        "(default: full mode 8, else 1; --seeds overrides)")
    p.add_argument("--n-seeds-stuck", type=int, default=None,
                   help=f"seeds 0..N-1 for {', '.join(DEPTH_STUCK)}, which stay at chance "
                        "(default: full mode 3, else 1; --seeds overrides)")
    args = start(p, argv, seeds=([0], [0], [0]))
    args.depth = args.depth or per_mode(args, 3, 15, 50)
    args.epochs = args.epochs or per_mode(args, 2, 25, 100, full_mnist5k=15)
    wanted = args.variants or per_mode(args, DEPTH_SMOKE, DEPTH_QUICK,
                                       [v.label for v in variants])
    known, chosen = {label_key(v.label) for v in variants}, {label_key(w) for w in wanted}
    unknown = sorted(w for w in wanted if label_key(w) not in known)
    if unknown:
        p.error(f"unknown variants {unknown}; choose from {[v.label for v in variants]} ({OWN})")
    args.variants = [v for v in variants if label_key(v.label) in chosen]
    args.variants += [Variant(unit.label, unit.name) for unit in args.activation]
    many = args.n_seeds or per_mode(args, 1, 1, 8)
    few = args.n_seeds_stuck or per_mode(args, 1, 1, 3)
    args.seeds_for = {v.label: list(args.seeds) if args.seeds_given else
                      list(range(few if v.label in DEPTH_STUCK else many))
                      for v in args.variants}
    return args


def covariate_shift(argv, nets):
    """Tutorial 05: the MLP (--depth, --width). ``nets``: (label, activation, BatchNorm) of the
    nets compared; ``args.nets`` adds the learner's units, without BatchNorm."""
    p = make_parser("Tutorial 05 — internal covariate shift: how each layer's pre-activations "
                    "drift in training.", "05_covariate_shift", data=True, units=True)
    p.add_argument("--depth", type=int, default=None,
                   help="hidden layers (default: 10; smoke 3)")
    p.add_argument("--width", type=int, default=16, help="units per hidden layer")
    args = start(p, argv, seeds=([0], [0], [0, 1, 2]))
    args.depth = args.depth or per_mode(args, 3, 10, 10)
    args.epochs = args.epochs or per_mode(args, 1, 15, 30)
    args.nets = list(nets) + [(unit.label, unit.name, False) for unit in args.activation]
    return args


def unnormalized_inputs(argv, activations):
    """Tutorial 06: the conv net (--depth, --width) and the shifted inputs (--shift, --scale);
    the activations per mode (smoke: ReLU, LK-ReLU; quick: and SELU, LK-SELU), then the
    learner's units, as ``args.variants``."""
    p = make_parser("Tutorial 06 — unnormalised inputs: do linked units make input "
                    "standardisation unnecessary?", "06_unnormalized_inputs", data=True,
                    jobs=True, units=True, n_train=True)
    p.add_argument("--depth", type=int, default=None, help="conv layers (default: 20; smoke 2)")
    p.add_argument("--width", type=int, default=4, help="filters per conv layer")
    p.add_argument("--shift", type=float, default=None,
                   help="offset of the shifted inputs, x·scale + shift (default: 10; mnist5k 0)")
    p.add_argument("--scale", type=float, default=None,
                   help="factor of the shifted inputs, x·scale + shift (default: 50; mnist5k "
                        "255, MNIST's own 0–255)")
    args = start(p, argv, seeds=([0], [0], [0, 1, 2]))
    args.depth = args.depth or per_mode(args, 2, 20, 20)
    args.epochs = args.epochs or per_mode(args, 1, 8, 30, full_mnist5k=10)
    mnist = args.dataset == "mnist5k"
    args.shift = args.shift if args.shift is not None else (0.0 if mnist else 10.0)
    args.scale = args.scale if args.scale is not None else (255.0 if mnist else 50.0)
    acts = per_mode(args, ("relu", "lkrelu"), ("relu", "lkrelu", "selu", "lkselu"), activations)
    acts = list(acts) + [unit.name for unit in args.activation]
    args.variants = [Variant(pretty(a), a) for a in acts]
    return args


def batchnorm_cost(argv, variants):
    """Tutorial 07: the conv net, the batch, the accuracy target and the timing rounds;
    ``args.variants`` adds the learner's units (without BatchNorm) to ``variants``."""
    p = make_parser("Tutorial 07 — what BatchNorm costs: time per step and time to a target "
                    "accuracy.", "07_batchnorm_cost", data=True, units=True, n_train=True)
    p.add_argument("--depth", type=int, default=10, help="conv layers (default: 10; smoke 2)")
    p.add_argument("--width", type=int, default=16, help="filters per conv layer")
    p.add_argument("--batch-size", type=int, default=32, help="batch size of timing and training")
    p.add_argument("--target", type=float, default=0.9,
                   help="the training and test accuracy whose first epoch is timed")
    p.add_argument("--steps", type=int, default=None,
                   help="steps per timing round (default: 20; quick 10, smoke 2)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timing rounds (default: 20; quick 10, smoke 2)")
    args = start(p, argv, seeds=([0], [0], [0, 1, 2]))
    args.depth = per_mode(args, 2, args.depth, args.depth)
    args.epochs = args.epochs or per_mode(args, 1, 12, 30, full_mnist5k=3)
    args.steps = args.steps or per_mode(args, 2, 10, 20, full_mnist5k=10)
    args.repeats = args.repeats or per_mode(args, 2, 10, 20, full_mnist5k=10)
    args.variants = list(variants) + [Variant(unit.label, unit.name)
                                      for unit in args.activation]
    return args


def width_and_parameters(argv, families):
    """Tutorial 08: which parts run, (A)'s widths, (B)'s net scale; the activation families and
    epochs per mode; (B) runs two seeds in the digits' full mode. ``args.units``: the learner's
    units; ``args.width_units``: (A)'s, each family's single and linked unit, then those."""
    p = make_parser("Tutorial 08 — width and parameters: are linked units better only because "
                    "they are bigger?", "08_width_and_parameters", data=True, jobs=True,
                    units=True, n_train=True)
    p.add_argument("--part", choices=("A", "B", "both"), default="both",
                   help="(A) width, (B) parameters (√2), or both")
    p.add_argument("--widths", type=int, nargs="+", default=[50, 400],
                   help="(A) units of the conv layer, one run per width")
    p.add_argument("--net-scale", type=float, default=None,
                   help="(B) width factor of cifar_net (default: 0.5, on mnist5k 1.0; quick "
                        "0.25, smoke 0.125)")
    args = start(p, argv, seeds=([0], [0], [0, 1, 2]))
    args.families = per_mode(args, ("relu",), ("relu", "selu"), families,
                             full_mnist5k=("relu", "selu"))
    args.families_b = per_mode(args, ("relu",), ("relu",), families, full_mnist5k=("relu",))
    args.units = [unit.name for unit in args.activation]
    args.width_units = [a for f in args.families for a in (f, "lk" + f)] + args.units   # (A)
    args.epochs_a = args.epochs or per_mode(args, 1, 6, 30, full_mnist5k=4)
    args.epochs_b = args.epochs or per_mode(args, 1, 10, 40, full_mnist5k=6)
    args.net_scale = args.net_scale or per_mode(args, 0.125, 0.25, 0.5, full_mnist5k=1.0)
    full_default = args.mode == "full" and args.seed is None and len(args.seeds) == 3
    two = full_default and args.dataset != "mnist5k"    # the digits' 40-epoch (B): two seeds
    args.b_seeds = args.seeds[:2] if two else args.seeds
    return args


def decision_boundaries(argv, problems, nets):
    """Tutorial 09: points, epochs and depth per mode (smoke: two problems); ``nets``: (label,
    activation, width factor) of the MLPs compared, to which ``args.nets`` adds the learner's
    units at the same width."""
    args = start(make_parser("Tutorial 09 — decision regions and dead units of ReLU vs LK-ReLU "
                             "MLPs on toy 2D problems.", "09_decision_boundaries", units=True),
                 argv, seeds=([0], [0, 1], [0, 1, 2]))
    args.n = per_mode(args, 100, 500, 1000)
    args.epochs = args.epochs or per_mode(args, 2, 25, 100)
    args.depth = per_mode(args, 2, 6, 8)
    args.problems = problems[:2] if args.mode == "smoke" else problems
    args.nets = list(nets) + [(unit.label, unit.name, 1.0) for unit in args.activation]
    return args
