"""Check an exercise: ``python exercises/check.py N`` (1–11), ``all``, ``--backend strict``,
``--hints`` (every hint of N).

Each backward pass is checked twice, on random float64 inputs steered away from kinks and ties:
against central differences (``lk.gradcheck``, which names the wrong tensor and member and says
what the numbers show: a flipped sign, a missing term, a scale factor) and against the library's
own layer on the same input and dy. Some mistakes are looked for on purpose: max-pool ties,
overlapping windows, a convolution kernel flipped the wrong way, BatchNorm's mean terms. The
linking condition is checked over a grid of z (``lk.check_linkage``), and Adam by its trajectory
against ``lk.Adam``. A blank exercise is "not attempted yet". Exit status 1 when an attempted
exercise is wrong.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import pathlib
import re
import sys
import traceback
import types

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]    # linkedref from this checkout; the exercise files

import numpy  # noqa: E402

import linkedref as lk  # noqa: E402
import linkedref.backend as B  # noqa: E402
from linkedref.gradcheck import GradientCheckError, away_from_kinks, distinct_values  # noqa: E402
from linkedref.gradcheck.check import hint  # noqa: E402

EXERCISES = {1: "ex01_lk_relu", 2: "ex02_lk_leaky_relu", 3: "ex03_lk_prelu", 4: "ex04_linking",
             5: "ex05_linked", 6: "ex06_dense", 7: "ex07_maxpool", 8: "ex08_conv2d",
             9: "ex09_batchnorm", 10: "ex10_softmax_ce", 11: "ex11_adam"}


class NotAttempted(Exception):
    """The exercise still raises its NotImplementedError."""


def load(n):
    """The module of exercise ``n`` (imported once; tests patch its classes)."""
    return importlib.import_module(EXERCISES[n])


def parts(n) -> dict:
    """Exercise n's docstring, read from its file: title, text (question, shapes), hints, answer."""
    doc = (HERE / f"{EXERCISES[n]}.py").read_text(encoding="utf-8").split('"""')[1].strip()
    title, rest = doc.split("\n", 1)
    text, rest = rest.split("\nHints:\n")
    hints, rest = rest.split("\n\n", 1)
    return {"title": title.split(" — ", 1)[1].rstrip("."), "text": text.strip(),
            "hints": [" ".join(h.split()[1:]) for h in re.split(r"\n(?=\d\. )", hints)],
            "answer": re.search(r"Answer \(read it after trying\): (\S+)", rest).group(1)}


# ------------------------------------------------------------------------ the checks, in words
def gradient_problems(layer, x, **kwargs) -> list:
    """What ``lk.gradcheck`` finds wrong, in words; [] when it passes."""
    try:
        report = lk.gradcheck(layer, x, raise_on_fail=False, **kwargs)
    except GradientCheckError as err:                # no gradient, or one of the wrong shape
        return [str(err).split(": ", 1)[1]]
    if report.passed:
        return []
    d = len(report.members)
    failing = [(i, r) for i, rows in report.members.items() for r in rows] if d else \
        [(None, r) for r in report.rows]
    lines = []
    for i, r in failing:
        if r.max_error <= report.rtol:
            continue
        role = (" (the mirror)" if i else " (the unit)") if d == 2 else ""
        where = "" if i is None else f" in member {i}{role}"
        said = r.hint or "no one sign, term or scale; see the numbers"
        lines.append(f"{r.what} is wrong{where}: {said}\n"
                     f"      worst at {r.worst_index}: yours (analytic) {r.analytic:+.6e}, "
                     f"central differences (numeric) {r.numeric:+.6e}")
    return lines


def backward_pair(layer, library, x, dy_rng, training=True):
    """{"x": dx, key: grad} of ``layer`` and of ``library`` (given layer's params), one dy."""
    mine = copy.deepcopy(layer).astype("float64")
    library.astype("float64")
    for key, value in mine.params.items():
        library.params[key] = value.copy()
    x = B.asarray(x, dtype="float64")
    y = mine.forward(x, training=training)
    library.forward(x, training=training)
    dy = B.asarray(dy_rng.standard_normal(tuple(y.shape)))
    return ({"x": mine.backward(dy), **mine.grads}, {"x": library.backward(dy), **library.grads})


def differences(got, want, who) -> list:
    """Each gradient of ``got`` that differs from ``want`` (the library's), in words."""
    lines = []
    for key, w in want.items():
        what = "dL/dx" if key == "x" else f"parameter '{key}'"
        a, n = B.to_numpy(got[key]), B.to_numpy(w)
        if a.shape != n.shape:
            lines.append(f"{what} has shape {a.shape}, expected {n.shape}")
            continue
        bad = ~numpy.isclose(a, n, rtol=1e-7, atol=1e-9 * max(numpy.abs(n).max(), 1.0))
        if bad.any():
            said = hint(a[bad], n[bad]).replace("analytic", "yours").replace("numeric", "the "
                                                                             "library's")
            lines.append(f"{what} differs from {who}'s at {bad.sum()} of {bad.size} entries"
                         + (f": {said}" if said else ""))
    return lines


def layer_problems(layer, library, x, rng, training=True) -> list:
    """Central differences first; if they pass, the library's layer on the same x and dy."""
    problems = gradient_problems(layer, x, training=training)
    if problems:
        return problems
    got, want = backward_pair(layer, library, x, rng, training)
    return differences(got, want, "lk." + type(library).__name__)


def with_params(layer, rng, low=-1.0, high=1.0):
    """``layer`` with every parameter drawn uniformly from [low, high) (non-trivial values)."""
    for key, value in layer.params.items():
        layer.params[key] = B.asarray(rng.uniform(low, high, value.shape), dtype=value.dtype)
    return layer


# ---------------------------------------------------------------------------------- exercises
def check_1(m, rng):
    return layer_problems(m.LKReLU(), lk.LKReLU(), away_from_kinks((2, 3, 2, 2), rng), rng)


def check_2(m, rng):
    return layer_problems(m.LKLeakyReLU(alpha=0.1), lk.LKLeakyReLU(alpha=0.1),
                          away_from_kinks((2, 3, 2, 2), rng), rng)


def check_3(m, rng):
    return layer_problems(with_params(m.LKPReLU(channels=3), rng, -0.5, 1.5),
                          lk.LKPReLU(channels=3), away_from_kinks((2, 3, 4, 5), rng), rng)


def check_4(m, rng):
    truths = {name: lk.check_linkage(members) for name, members in m.CANDIDATES.items()}
    z = next(iter(truths.values())).z            # check_linkage's default grid: both tails
    verdicts = [m.IS_LINKAGE.get(name) for name in m.CANDIDATES]
    try:
        answers = {name: m.is_linkage(g, z) for name, g in m.CANDIDATES.items()}
    except NotImplementedError:
        if all(v is None for v in verdicts):
            raise NotAttempted from None
        answers = None
    problems = [] if answers is not None else ["is_linkage is not written yet"]
    for name, truth in truths.items():
        why = ("at every z some member has a slope ≠ 0" if truth else
               f"at z = {truth.failures[0]:.3g} (and {truth.failures.size - 1} more points) "
               "every member's slope is 0")
        said = m.IS_LINKAGE.get(name)
        if said is None:
            problems.append(f"IS_LINKAGE[{name!r}] is still None: True or False?")
        elif bool(said) != bool(truth):
            problems.append(f"IS_LINKAGE[{name!r}] is {said}, but {why}")
        if answers is not None and bool(answers[name]) != bool(truth):
            problems.append(f"is_linkage({name}) returns {answers[name]}, but {why}")
    return problems


def check_5(m, rng):
    return layer_problems(m.MinMaxTanh(), lk.Linked(lk.ReLU(), (lk.ReLU(), -1, -1), lk.Tanh()),
                          away_from_kinks((2, 3, 2, 2), rng), rng)


def check_6(m, rng):
    return layer_problems(with_params(m.Dense(5, 3), rng), lk.Dense(5, 3),
                          rng.standard_normal((4, 5)), rng)


def check_7(m, rng):
    problems = layer_problems(m.MaxPool2D(3, stride=2), lk.MaxPool2D(3, stride=2),
                              distinct_values((2, 2, 7, 7), rng), rng)
    ties = rng.integers(0, 3, (2, 2, 7, 7)).astype(numpy.float64)     # many tied maxima
    got, want = backward_pair(m.MaxPool2D(3, stride=2), lk.MaxPool2D(3, stride=2), ties, rng)
    if problems or differences(got, want, ""):
        windows = 2 * 2 * 3 * 3                                    # N, C, Ho, Wo
        sent = float(B.to_numpy(_dx_for_ones(m.MaxPool2D(3, stride=2), ties)).sum())
        if sent > windows:
            problems.append("on an input with tied maxima, a window's gradient went to more than "
                            "one pixel: send it to the first maximum only (forward's arg)")
        elif sent < windows:
            problems.append("some windows' gradient is lost: a pixel in overlapping windows "
                            "collects from each (+=, not =)")
        elif not problems:
            problems.append("dL/dx differs from lk.MaxPool2D's on an input with tied maxima")
    return problems


def _dx_for_ones(layer, x):
    """dx for dy = 1 everywhere: its sum counts how many pixels each window's gradient reached."""
    layer = copy.deepcopy(layer).astype("float64")
    y = layer.forward(B.asarray(x, dtype="float64"), training=True)
    return layer.backward(B.xp().ones(y.shape))


def check_8(m, rng):
    def conv(cls):
        return cls(2, 3, 3, stride=2, padding=1)
    layer = with_params(conv(m.Conv2D), rng)
    x = rng.standard_normal((2, 2, 5, 6))
    problems = layer_problems(layer, conv(lk.Conv2D), x, rng)
    flipped = copy.deepcopy(layer)
    flipped.params["W"] = flipped.params["W"][:, :, ::-1, ::-1].copy()
    got, _ = backward_pair(layer, conv(lk.Conv2D), x, numpy.random.default_rng(1))
    _, want = backward_pair(flipped, conv(lk.Conv2D), x, numpy.random.default_rng(1))
    if problems and not differences({"x": got["x"]}, {"x": want["x"]}, ""):
        problems.append("your dL/dx is the one of the kernel rotated by 180°: the flip is the "
                        "wrong way round (patch pixel (p, q) meets W[o, c, p, q]; as one "
                        "convolution of dy, dx uses W[:, :, ::-1, ::-1])")
    return problems


def check_9(m, rng):
    layer = with_params(m.BatchNorm(3), rng, 0.5, 2.0)
    x = 1.0 + 2.0 * rng.standard_normal((2, 3, 3, 3))
    problems = layer_problems(layer, lk.BatchNorm(3), x, rng)
    got, _ = backward_pair(layer, lk.BatchNorm(3), x, rng)
    sums = numpy.abs(B.to_numpy(got["x"]).sum(axis=(0, 2, 3)))
    if problems and sums.max() > 1e-9 * numpy.abs(B.to_numpy(got["x"])).sum():
        problems.append("Σ dx over a channel is not 0 (shifting all of a channel's x by one "
                        "amount leaves y unchanged, so it must be): the terms from μ and σ², "
                        "which depend on x in training, are missing?")
    return problems


def check_10(m, rng):
    logits, labels = 2.0 * rng.standard_normal((6, 4)), rng.permutation(6) % 4
    problems = gradient_problems(None, logits, loss=m.SoftmaxCrossEntropy(), labels=labels)
    if problems:
        return problems
    x = B.asarray(logits)
    mine, library = m.SoftmaxCrossEntropy(), lk.SoftmaxCrossEntropy()
    mine.forward(x, labels)
    library.forward(x, labels)
    return differences({"x": mine.backward()}, {"x": library.backward()}, "lk.SoftmaxCrossEntropy")


def check_11(m, rng):
    kw = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    scale = B.asarray([[1.0, 1e-3, 1e-7, 1e-9]])     # small gradients show where ε is added
    target, p = B.asarray(rng.standard_normal((3, 4))), B.asarray(rng.standard_normal((3, 4)))
    model = types.SimpleNamespace(params={"p": p.copy()}, grads={})
    adam = lk.Adam(model, **kw)
    m_, v_ = p * 0, p * 0
    for t in range(1, 21):
        model.grads = {"p": scale * (model.params["p"] - target)}
        adam.step()
        g = scale * (p - target)
        before = [a.copy() for a in (p, g, m_, v_)]
        p_new, m_new, v_new = m.adam_update(p, g, m_, v_, t, **kw)
        if any(not numpy.array_equal(B.to_numpy(a), B.to_numpy(b))
               for a, b in zip((p, g, m_, v_), before)):
            return ["adam_update changed an input array in place: return new arrays"]
        want = model.params["p"]
        if not numpy.allclose(B.to_numpy(p_new), B.to_numpy(want), rtol=1e-9, atol=1e-12):
            return [f"p differs from lk.Adam's at step t = {t}: " + _adam_hint(p, g, m_, v_, t,
                                                                            p_new, kw)]
        p, m_, v_ = p_new, m_new, v_new
    return []


def _adam_hint(p, g, m, v, t, p_new, kw):
    """Which known variant the learner's step matches, in words."""
    b1, b2, lr, eps = kw["beta1"], kw["beta2"], kw["lr"], kw["eps"]
    m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    variants = {
        "ε is added to √v̂ (PyTorch's form); Keras 2 adds it to √v and folds the bias correction "
        "into lr_t": p - lr * (m / (1 - b1 ** t)) / ((v / (1 - b2 ** t)) ** 0.5 + eps),
        "the bias correction is missing: lr_t = lr·√(1 − β2^t) / (1 − β1^t)":
            p - lr * m / (v ** 0.5 + eps),
    }
    for words, variant in variants.items():
        if numpy.allclose(B.to_numpy(p_new), B.to_numpy(variant), rtol=1e-9, atol=1e-12):
            return words
    return "compare your four lines with the formulas in the docstring"


# ------------------------------------------------------------------------------ running them
def run(n, seed=0):
    """(status, lines) for exercise ``n``: "passed", "wrong" or "not attempted yet"."""
    try:
        problems = globals()[f"check_{n}"](load(n), numpy.random.default_rng(seed))
    except NotAttempted:
        return "not attempted yet", []
    except NotImplementedError as err:
        if str(err).startswith(f"Exercise {n}:"):
            return "not attempted yet", []
        raise
    except Exception as err:      # the learner's code raised: say where, as the learner wrote it
        frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.startswith(
            str(HERE)) and not f.filename.endswith("check.py")]
        where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
        problems = [f"your code raised {type(err).__name__}: {err}{where}"]
    return ("wrong" if problems else "passed"), problems


# A diagnosis in the problems → a word of the hint that speaks to that mistake.
MATCHING = {"sign flipped?": "sign", "a scale factor": "mean", "transposed axes?": "shape",
            "wrong axes?": "sum"}
SITE_NOTE = " (build the reading site first: README.md's command under 'Run it')"


def matching_hint(hints, problems):
    """(i, hint): the first hint that speaks to a diagnosed sign, scale or axis mistake; else 1."""
    said = " ".join(problems)
    return next(((i, h) for i, h in hints for d, w in MATCHING.items() if d in said and w in h),
                hints[0])


def report(n, status, problems, all_hints=False, site_note=True) -> str:
    info = parts(n)
    lines = [f"Exercise {n} — {info['title']} ({EXERCISES[n]}.py): {status}"]
    lines += [f"  - {p}" for p in problems]
    hints = list(enumerate(info["hints"], 1))
    if not all_hints:
        hints = [matching_hint(hints, problems)] if status == "wrong" else []
    lines += [f"  Hint {i}: {h}" for i, h in hints]
    if status == "wrong" and not all_hints:
        lines.append(f"  (python exercises/check.py {n} --hints shows all {len(info['hints'])} "
                     "hints)")
    if status == "passed" or all_hints:
        lines.append(f"  The library's answer, annotated: {info['answer']}"
                     + (SITE_NOTE if site_note else ""))
    return "\n".join(lines)


def markdown() -> str:
    """The reading site's Exercises page (docs/exercises.md), from the exercises' docstrings."""
    out = ["# Exercises", "", "Derive each backward pass yourself: edit the file in `exercises/`, "
           "then run `python exercises/check.py N` (or `all`; add `--backend strict` to also "
           "check the CuPy rules). The checker compares your code with central differences and "
           "with the library's own layer, and says what is wrong and where.", ""]
    for n, name in EXERCISES.items():
        info = parts(n)
        out += [f"## {n}. {info['title']}", "", f"File: `exercises/{name}.py`", "",
                info["text"], ""]
        for i, h in enumerate(info["hints"], 1):
            out += [f"<details><summary>Hint {i}</summary>", "", h, "", "</details>", ""]
        page = info["answer"].removeprefix("site/")
        out += [f'The library\'s answer, annotated: <a href="{page}">{page}</a>', ""]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python exercises/check.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="?", default="all", help="an exercise number, or all")
    parser.add_argument("--backend", choices=("numpy", "cupy", "strict"), default=None)
    parser.add_argument("--hints", action="store_true", help="print every hint")
    parser.add_argument("--markdown", action="store_true", help="print the site's page")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown())
        return 0
    if args.backend:
        B.set_backend(args.backend)
    if args.which != "all" and not (args.which.isdigit() and int(args.which) in EXERCISES):
        parser.error(f"expected an exercise number 1–{len(EXERCISES)} or all, got {args.which!r}")
    numbers = list(EXERCISES) if args.which == "all" else [int(args.which)]
    counts = {"passed": 0, "wrong": 0, "not attempted yet": 0}
    noted = False                                    # the site note goes on the first link only
    for n in numbers:
        status, problems = run(n)
        counts[status] += 1
        print(report(n, status, problems, args.hints, site_note=not noted))
        noted = noted or status == "passed" or args.hints
    if len(numbers) > 1:
        print(", ".join(f"{v} {k}" for k, v in counts.items()))
    return 1 if counts["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
