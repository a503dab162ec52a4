"""Two checkouts of linkedref side by side: training-step time, peak memory and the bits a few
one-thread steps compute.

    git worktree add /tmp/base <commit>                                  # the code to compare with
    python benchmarks/compare_checkouts.py /tmp/base [--threads 1 2] [--batch 32 128] [--save]

Each measurement runs in a fresh process (``--_child``) whose ``PYTHONPATH`` is one checkout, so
each imports its own ``linkedref``; the parent alternates the two checkouts (base first in even
rounds, this one first in odd ones), so the load of a shared machine hits both alike. A child
builds the net (depth_net or cifar_net, ReLU or LK-ReLU, float32, input 3×32×32), runs eight
warm-up steps (forward, softmax cross-entropy, backward without dL/dx of the images, Adam: eight,
so that DataParallel has measured whether to split before the clock starts), then
``--repeats`` timed steps, and reports their median, the median of the CPU time the process
spent on a step (all its threads; on a machine shared with other work this moves less than the
wall-clock time, which waits for a core), and its peak resident memory above what it held after
the imports (VmHWM, reset after the imports). At n > 1 threads a checkout that has
``linkedref.fast.DataParallel`` trains through it; older checkouts split their passes themselves.

Bits (``--bits``, at one thread): three Adam steps of each net and variant at batch 16 in each
checkout; the table gives whether losses and parameters are the same bit for bit, else how far
apart, max |Δ| / max |base| per array (the losses; the parameter tensor furthest apart). In
float32, Adam's first steps move each weight by about lr whatever its gradient's size, so a
weight whose gradient is near zero moves by however round-off tips it: summing in another order
alone gives parameter differences up to ~2e-3 of a tensor's largest weight (cifar_net, ReLU).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from provenance import save  # this folder's module; imported first, it notes the start and load

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NETS, VARIANTS = ("depth", "cifar"), ("relu", "lkrelu")
WARMUP = 8                      # untimed steps: DataParallel's trials (1 + 2 × 3) and one more


# ------------------------------------------------------------------------ in the child
def make_step(net, variant, batch, threads):
    """A training step of ``net`` with ``variant`` units in the checkout on PYTHONPATH."""
    import linkedref as lk
    lk.set_threads(threads)
    build = lk.cifar_net if net == "cifar" else lk.depth_net
    model = build(activation=variant, rng=0)
    parallel = getattr(getattr(lk, "fast", None), "DataParallel", None)
    if parallel is not None and threads > 1:
        model = parallel(model)
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


def time_both(checkouts, configs, rounds, repeats, emit):
    """{(config, checkout index): [result per round]}, the checkouts alternating each round."""
    results = {}
    for r in range(rounds):
        for config in configs:
            order = (0, 1) if r % 2 == 0 else (1, 0)
            for i in order:
                args = ["time", *map(str, config), str(repeats)]
                results.setdefault((config, i), []).append(run_child(checkouts[i], args))
        emit(f"  round {r + 1}/{rounds} done, load {os.getloadavg()[0]:.2f}")
    return results


def time_table(configs, results, emit):
    emit(f"{'net':<6} {'variant':<7} {'batch':>5} {'thr':>3} {'base ms':>9} {'this ms':>9} "
         f"{'this/base':>9} {'per round':>12} {'cpu':>6} {'base MiB':>9} {'this MiB':>9} "
         f"{'mem':>6}")
    for config in configs:
        base, this = results[(config, 0)], results[(config, 1)]
        b_ms, t_ms = (statistics.median(x["ms"] for x in runs) for runs in (base, this))
        per_round = [t["ms"] / b["ms"] for b, t in zip(base, this)]
        cpu = ratio_of_medians(base, this, "cpu")
        b_mem = max(x["peak"] for x in base) / 2 ** 20
        t_mem = max(x["peak"] for x in this) / 2 ** 20
        emit(f"{config[0]:<6} {config[1]:<7} {config[2]:>5} {config[3]:>3} {b_ms:9.1f} "
             f"{t_ms:9.1f} {t_ms / b_ms:8.2f}x {min(per_round):5.2f}-{max(per_round):4.2f}x "
             f"{cpu:>6} {b_mem:9.1f} {t_mem:9.1f} {t_mem / b_mem:5.2f}x")


def ratio_of_medians(base, this, key):
    """"0.98x": this checkout's median of ``key`` over the base's ("-" where a child of an older
    version of this script did not report it)."""
    if not all(key in x for x in base + this):
        return "-"
    b, t = (statistics.median(x[key] for x in runs) for runs in (base, this))
    return f"{t / b:5.2f}x"


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
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5, help="timed steps per child (median)")
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
         f"({commit_of(checkouts[1])}); {args.rounds} rounds × {args.repeats} timed steps")
    results = time_both(checkouts, configs, args.rounds, args.repeats, emit)
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
        else:
            child_bits(*rest)
        sys.exit(0)
    sys.exit(main())
