"""What tutorials 03–08 wrap around their training: run a ``train`` function for every
configuration and seed, summarise the test accuracy the way the paper's tables do, and draw
accuracy curves and escape rates.

Each of those tutorials writes its own ``train(variant, seed, ...)``: it builds the model and
the optimizer and hands them to ``train_epochs``, which runs ``lk.fit`` one epoch at a time and
returns a ``Run`` (per-epoch results); tutorial 04 ends a plain-ReLU run whose layer died
(``stop_if_dead``). A tutorial describes each configuration as a ``Variant`` (a label, an
activation name, BatchNorm or not, an initialiser, a width factor) and calls::

    runs = run_variants(train, variants, seeds, data, args)    # {label: [Run per seed]}
    s = summarize(runs["LK-ReLU"], chance)                     # Summary(max, median, ...)

``run_variants`` only maps ``train`` over variants × seeds: one by one, or ``jobs`` at a time in
worker processes (which import the learner's ``--activation`` units again), with one tqdm bar
counting the runs. It does not train anything itself.

Numbers, as in the paper: each run's test accuracy is measured after every epoch. Per run,
"max" is the best epoch's accuracy (the paper's "max accuracy") and "median" the median over
its epochs. Over seeds, a table reports the best seed's max, the median of the seeds' maxima,
and how many seeds escaped chance (max accuracy ≥ 2 × chance).
"""
from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

import linkedref as lk
import linkedref.backend as B
from linkedref.diagnostics import dead_units

from _common import SHIPPED, USER_UNITS, is_linked, load_images, load_user_units, per_mode, plt


# ---------------------------------------------------------------------------------------- data
def load_data(args):
    """The tutorial's data set: all of a shipped set, digits or mnist5k (a subset in smoke mode:
    128 train / 64 test); for the larger sets ``--n-train`` images (default 5,000) and 2,000
    test images."""
    big = args.dataset not in SHIPPED
    n_train = args.n_train or per_mode(args, 128, None, None) or (5000 if big else None)
    n_test = per_mode(args, 64, None, None) or (2000 if big else None)
    return load_images(args.dataset, n_train=n_train, n_test=n_test)


# ---------------------------------------------------------------------------- configurations
@dataclass(frozen=True)
class Variant:
    """One network configuration of an experiment.

    label: the name in tables and legends ("LK-ReLU", "ReLU+BN", "ReLU√2").
    act: activation name for ``linkedref.activation`` ("relu", "lkrelu", ...).
    batchnorm: BatchNorm between each conv/dense and its activation.
    init: weight initialiser name ("glorot_uniform", "looks_linear").
    widen: width factor of every layer (√2 for the paper's fair-parameter single nets).
    paper: the paper's number for this row (None when it has none).
    eps: the optimizer's ε for this variant (None: the tutorial's, by default the library's).
    """
    label: str
    act: str
    batchnorm: bool = False
    init: str = "glorot_uniform"
    widen: float = 1.0
    paper: float | None = None
    eps: float | None = None

    @property
    def linked(self) -> bool:
        return is_linked(self.act)

    @property
    def can_die(self) -> bool:
        """True when every unit can output exactly 0 for all inputs (plain ReLU without BN):
        only then can a whole layer die (tutorial 04 stops such a run when one has)."""
        return self.act == "relu" and not self.batchnorm


@dataclass
class Run:
    """One trained network, per epoch: test accuracy (after the epoch, inference mode), training
    accuracy and loss (averaged over the epoch's steps, training mode) and seconds.

    stopped: the epoch (1-based) after which training was stopped because a layer died, or None.
    When stopped, the remaining epochs repeat the last measured accuracy (``stop_if_dead``).
    dead: units dead on the training inputs at the end, when the tutorial counts them (06),
    else None.
    """
    label: str
    seed: int
    val_accuracy: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    n_params: int = 0
    stopped: int | None = None
    note: str = ""
    dead: int | None = None

    def add_epoch(self, history) -> None:
        """Append the results of one epoch: ``history`` is what ``lk.fit(..., epochs=1,
        validation=...)`` returned."""
        self.val_accuracy.append(history["val_accuracy"][0])
        self.accuracy.append(history["accuracy"][0])
        self.loss.append(history["loss"][0])
        self.seconds.append(history["seconds"][0])

    @property
    def max(self) -> float:
        return float(np.max(self.val_accuracy))

    @property
    def median(self) -> float:
        return float(np.median(self.val_accuracy))

    @property
    def max_train(self) -> float:
        return float(np.max(self.accuracy)) if self.accuracy else float("nan")

    @property
    def trained_epochs(self) -> int:
        return len(self.seconds)

    def epochs_to(self, target: float, key: str = "val_accuracy") -> int | None:
        """The first epoch (1-based) whose ``key`` ("val_accuracy" or "accuracy") reached
        ``target`` (None: never)."""
        hit = np.nonzero(np.asarray(getattr(self, key)[:self.trained_epochs]) >= target)[0]
        return int(hit[0]) + 1 if len(hit) else None

    def escape_epoch(self, chance: float) -> int | None:
        """The first epoch (1-based) whose test accuracy reached 2 × chance (None: never)."""
        return self.epochs_to(2 * chance)

    def seconds_to(self, target: float, key: str = "val_accuracy") -> float | None:
        """Training seconds until ``key`` first reached ``target`` (None: never)."""
        e = self.epochs_to(target, key)
        return None if e is None else float(np.sum(self.seconds[:e]))


# ------------------------------------------------------------------------------ one run
def train_epochs(model, opt, v, seed, data, epochs, batch_size):
    """Train ``model`` of variant ``v`` with ``opt`` for ``epochs`` epochs on ``data =
    ((X_train, y_train), (X_test, y_test))``: ``lk.fit`` one epoch at a time (a fresh shuffling
    seed per epoch, the same optimizer throughout). -> its ``Run``: test accuracy, training
    accuracy, loss and seconds per epoch."""
    (Xtr, ytr), (Xte, yte) = data
    loss = lk.SoftmaxCrossEntropy()
    run = Run(v.label, seed, n_params=lk.count_params(model))
    for epoch in range(epochs):
        history = lk.fit(model, loss, opt, Xtr, ytr, epochs=1, batch_size=batch_size,
                         validation=(Xte, yte), seed=seed * 100_003 + epoch, progress=False)
        run.add_epoch(history)
    return run


# ------------------------------------------------------------------- stopping a dead run
def stop_if_dead(run, model, loss, data, epoch, epochs) -> bool:
    """End ``run`` before ``epoch`` if some activation layer of ``model`` is all dead on the
    training inputs: note the layer and fill the remaining epochs with the last test accuracy
    (before the first epoch, the untrained net's). -> True when it stopped the run.

    From then on the net's output is the same for every training sample whatever the epoch, so
    training longer would only move the last layer's biases.
    """
    (Xtr, _), (Xte, yte) = data
    dead = all_dead_layer(model, Xtr)
    if dead is None:
        return False
    run.stopped, run.note = epoch, f"layer {dead} dead after epoch {epoch}"
    last = run.val_accuracy[-1] if run.val_accuracy else lk.evaluate(model, loss, Xte, yte)[1]
    run.val_accuracy += [last] * (epochs - epoch)
    return True


def all_dead_layer(model, X) -> int | None:
    """The 1-based index of the first activation layer whose units are *all* dead on ``X``
    (output zero for every sample and position), or None.

    Such a layer outputs zeros for every sample, so the network's output no longer depends on
    its input and no gradient reaches any layer before it: training cannot revive it.
    """
    for i, d in enumerate(dead_units(model, X), start=1):
        if d.total and d.dead == d.total:
            return i
    return None


# ------------------------------------------------------------------------------ the runs
def seeds_summary(variants, seeds_for) -> str:
    """"8 for LK-ReLU, ...; 3 for ReLU, ...": how many seeds each variant runs
    (``seeds_for``: {label: seeds}), for a setup line."""
    groups = {}
    for v in variants:
        groups.setdefault(len(seeds_for[v.label]), []).append(v.label)
    return "; ".join(f"{n} for {', '.join(labels)}" for n, labels in groups.items())


def run_variants(train, variants, seeds, *train_args, desc="training", seeds_for=None,
                 jobs=1) -> dict:
    """``{label: [train(v, seed, *train_args) per seed]}`` for every variant ``v``: the ``Run``
    of each variant × seed, in the order of ``seeds``.

    seeds_for(variant) overrides ``seeds`` per variant (e.g. fewer seeds for slow variants).
    ``jobs`` > 1 runs that many ``train`` calls at a time in worker processes (each on one
    thread); every run is independent of the others, so the results are the same as with
    ``jobs=1``. One tqdm bar counts the finished runs.
    """
    plan = [(v, s) for v in variants for s in (seeds_for(v) if seeds_for else seeds)]
    runs = {v.label: [] for v in variants}
    with tqdm(total=len(plan), desc=desc, unit="run") as bar:
        for (v, seed), run in zip(plan, _runs_of(plan, train, train_args, jobs)):
            runs[v.label].append(run)
            score = f": max {run.max:.3f}" if hasattr(run, "max") else ""
            bar.set_postfix_str(f"{v.label} seed {seed}{score}", refresh=False)
            bar.update(1)
    return runs


_PLAN = {}          # what forked worker processes read: {"plan", "train", "train_args"}


def _run_planned(i):
    """The plan's i-th run (in a worker process forked from the tutorial)."""
    v, seed = _PLAN["plan"][i]
    return _PLAN["train"](v, seed, *_PLAN["train_args"])


def _start_worker(specs):
    """A worker process: one thread, and the learner's units (``--activation``) imported and
    registered again, so that a worker that does not inherit them knows them too."""
    lk.set_threads(1)
    load_user_units(specs)


def _runs_of(plan, train, train_args, jobs):
    """The Runs of ``plan`` in plan order: here one by one, or ``jobs`` at a time in forked
    processes (they inherit plan, train and its arguments, so nothing but the Runs is
    pickled)."""
    if jobs <= 1:
        for v, seed in plan:
            yield train(v, seed, *train_args)
        return
    _PLAN.update(plan=plan, train=train, train_args=train_args)
    specs = [unit.spec for unit in USER_UNITS.values()]
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                             initializer=_start_worker, initargs=(specs,)) as pool:
        futures = [pool.submit(_run_planned, i) for i in range(len(plan))]
        for future in futures:
            yield future.result()
    _PLAN.clear()


# ------------------------------------------------------------------------------- step times
def step_times(models, opts, X, y, steps, repeats, rng):
    """Seconds per training step of each model: ``repeats`` rounds, in each round ``steps`` steps
    of every model in turn, in a random order (so a burst of load elsewhere hits all of them).

    One step = forward(training=True), loss, backward, an update by ``opts[label]``, on a fixed
    batch (X, y), after three warm-up steps. Returns {label: array (repeats,) of seconds per
    step} (tutorial 07).
    """
    loss = lk.SoftmaxCrossEntropy()
    xb, yb = B.asarray(X), B.asarray(y)
    xp = B.xp()

    def step(k):
        out = models[k].forward(xb, training=True)
        loss.forward(out, yb)
        models[k].backward(loss.backward())
        opts[k].step()

    times = {k: [] for k in models}
    for k in models:                                      # warm-up: caches, lazy parameters
        for _ in range(3):
            step(k)
    for _ in range(repeats):
        for k in rng.permutation(list(models)):
            t = time.perf_counter()
            for _ in range(steps):
                step(k)
            if xp is not np:
                xp.cuda.Device().synchronize()            # CuPy: wait for the GPU's queue
            times[k].append((time.perf_counter() - t) / steps)
    return {k: np.array(v) for k, v in times.items()}


# ---------------------------------------------------------------------------------- summaries
@dataclass
class Summary:
    """Over the seeds of one variant: best max, median of the maxima, median over epochs
    (median of the seeds'), median of the max training accuracy, how many seeds escaped chance
    (and the median epoch at which they did), seconds per trained epoch."""
    best: float
    median_max: float
    median: float
    median_max_train: float
    escaped: int
    seeds: int
    epoch_seconds: float
    escape_epoch: float | None = None

    @property
    def escaped_text(self) -> str:
        return f"{self.escaped}/{self.seeds}"

    @property
    def interval(self) -> tuple:
        """The 95 % Wilson score interval of the escape rate escaped / seeds."""
        return wilson_interval(self.escaped, self.seeds)

    @property
    def interval_text(self) -> str:
        low, high = self.interval
        return f"{low:.2f}–{high:.2f}"


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple:
    """The Wilson score interval of a rate k/n (95 % for the default z): (low, high).

    center = (k + z²/2) / (n + z²),  half-width = z·√(k(n − k)/n + z²/4) / (n + z²).
    Unlike k/n ± z·√(p(1 − p)/n), it stays inside [0, 1] and is not empty at k = 0 or k = n.
    """
    if n <= 0:
        return 0.0, 1.0
    center = (k + z * z / 2) / (n + z * z)
    half = z * np.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return float(max(center - half, 0.0)), float(min(center + half, 1.0))


def chance_level(y) -> float:
    """The accuracy of always predicting the most frequent class of ``y``."""
    return float(np.bincount(np.asarray(y)).max() / len(y))


def summarize(runs, chance: float) -> Summary:
    """A ``Summary`` of a list of ``Run``; a run escaped chance when its max ≥ 2 × chance."""
    maxima = [r.max for r in runs]
    secs = [s for r in runs for s in r.seconds]
    escapes = [e for e in (r.escape_epoch(chance) for r in runs) if e is not None]
    return Summary(best=float(np.max(maxima)), median_max=float(np.median(maxima)),
                   median=float(np.median([r.median for r in runs])),
                   median_max_train=float(np.median([r.max_train for r in runs])),
                   escaped=int(sum(m >= 2 * chance for m in maxima)), seeds=len(runs),
                   epoch_seconds=float(np.mean(secs)) if secs else float("nan"),
                   escape_epoch=float(np.median(escapes)) if escapes else None)


def paper_text(value) -> str:
    return "-" if value is None else f"{value:.3f}"


# ------------------------------------------------------------------------------------ figures
def plot_runs(ax, runs, color, label, ls="-"):
    """Each seed's test-accuracy curve (thin) and their median (bold) on ``ax``; stopped runs
    show their filled-in epochs dotted."""
    curves = np.array([r.val_accuracy for r in runs])              # seeds, epochs
    x = np.arange(1, curves.shape[1] + 1)
    for r in runs:
        n = r.stopped if r.stopped is not None else len(r.val_accuracy)
        ax.plot(x[:n], r.val_accuracy[:n], color=color, lw=0.7, alpha=0.45, ls=ls)
        if r.stopped is not None:
            k = max(n - 1, 0)
            ax.plot(x[k:], r.val_accuracy[k:], color=color, lw=0.7, alpha=0.45, ls=":")
            ax.plot(x[k], r.val_accuracy[k], "x", color=color, ms=6)
    ax.plot(x, np.median(curves, axis=0), color=color, lw=2, ls=ls, label=label)


def escape_rates(variants, summaries, color_of, title):
    """A figure of the share of seeds of each variant that escaped chance, with its 95 % Wilson
    interval, one bar per variant (the first on top) in ``color_of(variant)``."""
    variants = variants[::-1]                       # first variant on top
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(variants) + 1.2))
    for y, v in enumerate(variants):
        s = summaries[v.label]
        low, high = s.interval
        rate = s.escaped / s.seeds
        ax.barh(y, rate, color=color_of(v), alpha=0.75)
        ax.errorbar(rate, y, xerr=[[rate - low], [high - rate]], color="k", capsize=3, lw=1)
        ax.text(1.02, y, f"{s.escaped_text}", va="center", fontsize=8)
    ax.set_yticks(range(len(variants)), [v.label for v in variants], fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of seeds that escaped chance (max test accuracy ≥ 2 × chance)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def grouped_bars(ax, groups, series, values, colors, title, chance, ylabel="max test accuracy"):
    """Grouped bars: medians as bars (value written on each), each seed as a dot; the y axis is
    zoomed to the data (the chance line is drawn when it falls inside). values[g][s]: the
    values of series s in group g, one per seed (none: no bar) (tutorial 08)."""
    w = 0.8 / len(series)
    for j, (name, color) in enumerate(zip(series, colors)):
        x = np.arange(len(groups)) + (j - (len(series) - 1) / 2) * w
        med = [np.median(values[g][j]) if values[g][j] else 0.0 for g in range(len(groups))]
        ax.bar(x, med, w, color=color, label=name, alpha=0.85)
        for xi, m, vals in zip(x, med, (values[g][j] for g in range(len(groups)))):
            if not vals:
                continue
            ax.plot([xi] * len(vals), vals, "k.", ms=4)
            ax.annotate(f"{m:.3f}", (xi, max(m, max(vals))), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", rotation=90,
                        fontsize=7)
    lo = min(v for g in values for s in g for v in s)
    bottom = lo - 0.1 * (1.0 - lo) - 0.01
    bottom = 0.0 if bottom < 0.3 else bottom          # zoom only when every bar is high
    ax.set_ylim(bottom, 1.0 + 0.12 * (1.0 - bottom))
    if chance > bottom:
        ax.axhline(chance, color="gray", ls="--", lw=1, label="chance")
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylabel(ylabel + ("" if bottom == 0 else f" (axis from {bottom:.2f})"))
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
