"""Two checkouts of linkedref side by side: training-step time, peak memory and the bits a few
one-thread steps compute.

    git worktree add /tmp/base <commit>                                  # the code to compare with
    python benchmarks/compare_checkouts.py /tmp/base [--threads 1 2] [--batch 32 128] [--save]

Every measurement runs a net (depth_net or cifar_net, ReLU or LK-ReLU, float32, input 3×32×32)
after eight warm-up steps (forward, softmax cross-entropy, backward without dL/dx of the images,
Adam: eight, so that DataParallel has measured whether to split before the clock starts). At
n > 1 threads a checkout that has ``linkedref.fast.DataParallel`` trains through it, always
splitting the batch (``measure=False``): its own choice between whole and split, made by timing
both, flips with the load, and then the two checkouts would not run the same computation (at one
thread both run whole). Older checkouts split their passes themselves.

Time, in pairs: one fresh process (``--_child paired``) imports both checkouts' packages under
two names (their imports are relative, so each finds its own modules), builds the same net in
each, and times ``--pairs`` pairs of steps, one step of each checkout per pair, the order
alternating. On a machine shared with other work the load changes from second to second; the two
steps of a pair, a fraction of a second apart, meet the same load, so the ratio of a pair moves
far less than either time. The table gives the median of the pairs' ratios (this / base), their
quartiles, the range of the rounds' medians, the median step times, and the same ratio of the CPU
time the process spent on a step (all its threads). ``--rounds`` repeats it in new processes.

Memory: per config, one fresh process per checkout (``--_child time``, ``PYTHONPATH`` that
checkout) reports its peak resident memory above what it held after the imports (VmHWM, reset
after the imports), through the warm-up and ``--repeats`` steps.

Bits (``--bits``, at one thread): three Adam steps of each net and variant at batch 16 in each
checkout; the table gives whether losses and parameters are the same bit for bit, else how far
apart, max |Δ| / max |base| per array (the losses; the parameter tensor furthest apart). In
float32, Adam's first steps move each weight by about lr whatever its gradient's size, so a
weight whose gradient is near zero moves by however round-off tips it: summing in another order
alone gives parameter differences up to ~2e-3 of a tensor's largest weight (cifar_net, ReLU).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from provenance import save  # this folder's module; imported first, it notes the start and load

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NETS, VARIANTS = ("depth", "cifar"), ("relu", "lkrelu")
WARMUP = 8                      # untimed steps


# ------------------------------------------------------------------------ in the child
def make_step(net, variant, batch, threads, lk=None):
    """A training step of ``net`` with ``variant`` units in ``lk`` (default: the checkout on
    PYTHONPATH)."""
    if lk is None:
        import linkedref as lk
    lk.set_threads(threads)
    build = lk.cifar_net if net == "cifar" else lk.depth_net
    model = build(activation=variant, rng=0)
    parallel = getattr(getattr(lk, "fast", None), "DataParallel", None)
    if parallel is not None and threads > 1:
        model = parallel(model, measure=False)
    loss, opt = lk.SoftmaxCrossEntropy(), lk.Adam(model, lr=1e-3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, batch)

    def step():
        out = model.forward(x, training=True)
        value = loss.forward(out, y)
        if hasattr(model, "backward_params"):           # the older API
            model.backward_params(loss.backward())
        else:
            model.backward(loss.backward(), need_dx=False)
        opt.step()
        return float(value)

    return model, step


def rss(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def child_time(net, variant, batch, threads, repeats):
    """Print JSON {ms: median step ms, cpu: median CPU ms per step, peak: bytes above the
    imports, file: linkedref's path}."""
    import linkedref
    base = rss("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                     # VmHWM := the current RSS
    _, step = make_step(net, variant, batch, threads)
    for _ in range(WARMUP):
        step()
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print("JSON " + json.dumps({"ms": 1e3 * statistics.median(times),
                                "cpu": 1e3 * statistics.median(cpu),
                                "peak": rss("VmHWM") - base, "file": linkedref.__file__}))


def load_as(checkout, name):
    """``checkout``'s linkedref imported as the package ``name``."""
    root = os.path.join(checkout, "linkedref")
    spec = importlib.util.spec_from_file_location(name, os.path.join(root, "__init__.py"),
                                                  submodule_search_locations=[root])
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return package


def child_paired(base, this, net, variant, batch, threads, pairs):
    """Print JSON {base, this: step ms per pair; base_cpu, this_cpu: CPU ms per pair}."""
    warnings.simplefilter("ignore")          # set_threads(n > 1) says DataParallel is needed
    steps = {}
    for key, checkout in (("base", base), ("this", this)):
        steps[key] = make_step(net, variant, batch, threads, load_as(checkout, f"lk_{key}"))[1]
        for _ in range(WARMUP):
            steps[key]()
    if "linkedref" in sys.modules:           # a checkout imported itself by its absolute name
        raise RuntimeError("a checkout imports 'linkedref' by name: two cannot share a process")
    out = {"base": [], "this": [], "base_cpu": [], "this_cpu": []}
    for i in range(pairs):
        for key in (("base", "this") if i % 2 == 0 else ("this", "base")):
            start, start_cpu = time.perf_counter(), time.process_time()
            steps[key]()
            out[key].append(1e3 * (time.perf_counter() - start))
            out[key + "_cpu"].append(1e3 * (time.process_time() - start_cpu))
    print("JSON " + json.dumps(out))


def child_bits(net, variant, out):
    """Save the losses and parameters of three one-thread steps at batch 16 to ``out``."""
    import linkedref
    model, step = make_step(net, variant, 16, 1)
    losses = [step() for _ in range(3)]
    np.savez(out, losses=np.array(losses), **{k: np.asarray(v) for k, v in model.params.items()})
    print("JSON " + json.dumps({"file": linkedref.__file__}))


# ----------------------------------------------------------------------- in the parent
def run_child(checkout, args):
    """Run this script as a child on ``checkout``'s linkedref; return its JSON line."""
    env = dict(os.environ, PYTHONPATH=checkout)
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--_child", *args],
                          capture_output=True, text=True, env=env, cwd=checkout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("JSON ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child on {checkout} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(lines[-1][5:])
    if not result.get("file", checkout).startswith(os.path.realpath(checkout)):
        raise RuntimeError(f"child on {checkout} imported {result['file']}")
    return result


def measure(checkouts, configs, rounds, pairs, repeats, emit):
    """{config: {"mem": [base child, this child], "rounds": [paired child per round]}}."""
    results = {config: {"rounds": []} for config in configs}
    for config in configs:
        results[config]["mem"] = [run_child(c, ["time", *map(str, config), str(repeats)])
                                  for c in checkouts]
    emit(f"  memory measured, load {os.getloadavg()[0]:.2f}")
    for r in range(rounds):
        for config in configs:
            args = ["paired", *checkouts, *map(str, config), str(pairs)]
            results[config]["rounds"].append(run_child(ROOT, args))
        emit(f"  round {r + 1}/{rounds} done, load {os.getloadavg()[0]:.2f}")
    return results


def time_table(configs, results, emit):
    emit(f"{'net':<6} {'variant':<7} {'batch':>5} {'thr':>3} {'base ms':>8} {'this ms':>8} "
         f"{'this/base':>9} {'quartiles':>11} {'rounds':>11} {'cpu':>6} {'base MiB':>9} "
         f"{'this MiB':>9} {'mem':>6}")
    for config in configs:
        rounds = results[config]["rounds"]

        def ratios(r, key=""):
            return [t / b for b, t in zip(r["base" + key], r["this" + key])]

        pairs = [v for r in rounds for v in ratios(r)]
        q1, median, q3 = statistics.quantiles(pairs, n=4)
        per_round = [statistics.median(ratios(r)) for r in rounds]
        cpu = statistics.median(v for r in rounds for v in ratios(r, "_cpu"))
        b_ms, t_ms = (statistics.median(v for r in rounds for v in r[k]) for k in ("base", "this"))
        b_mem, t_mem = (x["peak"] / 2 ** 20 for x in results[config]["mem"])
        emit(f"{config[0]:<6} {config[1]:<7} {config[2]:>5} {config[3]:>3} {b_ms:8.1f} "
             f"{t_ms:8.1f} {statistics.median(pairs):8.2f}x {q1:5.2f}-{q3:4.2f}x "
             f"{min(per_round):5.2f}-{max(per_round):4.2f}x {cpu:5.2f}x {b_mem:9.1f} "
             f"{t_mem:9.1f} {t_mem / b_mem:5.2f}x")


def bits_table(checkouts, emit):
    """One line per net and variant: are three one-thread steps the same bit for bit?"""
    emit("\none thread, batch 16, three Adam steps: losses and parameters, this vs base")
    with tempfile.TemporaryDirectory() as tmp:
        for net in NETS:
            for variant in VARIANTS:
                files = []
                for i, checkout in enumerate(checkouts):
                    files.append(os.path.join(tmp, f"{net}_{variant}_{i}.npz"))
                    run_child(checkout, ["bits", net, variant, files[-1]])
                a, b = np.load(files[0]), np.load(files[1])
                same = all(np.array_equal(a[k], b[k]) for k in a.files)
                emit(f"  {net:<6} {variant:<7} " + ("bit for bit the same" if same else
                                                   "differ: " + differences(a, b)))


def differences(a, b):
    """How far two children's saved losses and parameters are apart: max |Δ| / max |base| per
    array, the losses' and the largest parameter tensor's (with its name)."""
    rel = {k: float(np.abs(a[k] - b[k]).max() / max(np.abs(a[k]).max(), 1e-30)) for k in a.files}
    worst = max((k for k in rel if k != "losses"), key=rel.get)
    return f"losses {rel['losses']:.1e}, parameters {rel[worst]:.1e} ({worst})"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base", help="the other checkout (e.g. a git worktree of an older commit)")
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--batch", nargs="+", type=int, default=[32, 128])
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--rounds", type=int, default=3, help="paired processes per config")
    p.add_argument("--pairs", type=int, default=12, help="pairs of timed steps per round")
    p.add_argument("--repeats", type=int, default=3,
                   help="steps after the warm-up in each memory child")
    p.add_argument("--bits", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--save", action="store_true", help="write benchmarks/results/"
                                                       "compare_checkouts.txt")
    args = p.parse_args(argv)
    checkouts = [os.path.realpath(args.base), ROOT]
    configs = [(n, v, b, t) for t in args.threads for b in args.batch for n in args.nets
               for v in args.variants]
    lines = []

    def emit(text=""):
        print(text, flush=True)
        lines.append(text)

    emit(f"base: {checkouts[0]} ({commit_of(checkouts[0])}); this: {checkouts[1]} "
         f"({commit_of(checkouts[1])}); {args.rounds} rounds × {args.pairs} pairs of steps")
    results = measure(checkouts, configs, args.rounds, args.pairs, args.repeats, emit)
    time_table(configs, results, emit)
    if args.bits:
        bits_table(checkouts, emit)
    if args.save:
        save("compare_checkouts", "\n".join(lines), threads=args.threads)


def commit_of(checkout):
    try:
        return subprocess.run(["git", "-C", checkout, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "no git"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--_child":
        kind, rest = sys.argv[2], sys.argv[3:]
        if kind == "time":
            child_time(rest[0], rest[1], int(rest[2]), int(rest[3]), int(rest[4]))
        elif kind == "paired":
            child_paired(*rest[:4], *map(int, rest[4:]))
        else:
            child_bits(*rest)
        sys.exit(0)
    sys.exit(main())
