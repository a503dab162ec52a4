"""linkedref's own speed-up from threads: training steps at 1 and at n threads, interleaved in one
process (no PyTorch beside them), so that a busy spell of a shared machine hits both alike.

    python benchmarks/thread_speedup.py [--threads 2] [--batch 32 128]
        [--nets depth:lkrelu cifar:lkrelu] [--rounds 8] [--save]

A step is what ``bench_train.py`` times (forward, softmax cross-entropy, ``backward(dy,
need_dx=False)``, Adam; float32, input 3×32×32). At 1 thread the step runs the model itself; at
n threads (``lk.set_threads(n)``) it runs ``lk.fast.DataParallel(model)``, which cuts the batch
into n pieces, one per replica of the model: two models built from the same seed, one for each.
Each round runs one step at 1 thread, then one at n threads; the table gives the median and the
minimum over the rounds, and the speed-up median(1 thread) / median(n threads). ``--save``
writes ``benchmarks/results/thread_speedup.txt`` (replacing it) under a provenance header.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [p for p in (os.path.dirname(HERE), HERE) if p not in sys.path]

import provenance  # noqa: E402

import linkedref as lk  # noqa: E402
from linkedref.fast.threads import cpu_count  # noqa: E402


def make_step(net, variant, batch, threads, seed=0):
    """A training step (a function of no arguments) of depth_net 50×4 or cifar_net, on
    ``lk.fast.DataParallel`` when ``threads`` > 1."""
    build = lk.models.depth_net if net == "depth" else lk.models.cifar_net
    model = build(activation=variant, rng=seed)
    model = lk.fast.DataParallel(model) if threads > 1 else model
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    loss, opt = lk.SoftmaxCrossEntropy(), lk.Adam(model, lr=1e-3)

    def step():
        loss.forward(model.forward(x, training=True), y)
        model.backward(loss.backward(), need_dx=False)
        opt.step()
    return step


def time_rounds(steps, rounds):
    """{n: [seconds]} for each thread count n of ``steps`` ({n: step}), taking turns each round."""
    times = {n: [] for n in steps}
    for n, step in steps.items():                  # warm-up: DataParallel's trials, buffers
        lk.set_threads(n)
        for _ in range(8):
            step()
    for _ in range(rounds):
        for n, step in steps.items():
            lk.set_threads(n)
            start = time.perf_counter()
            step()
            times[n].append(time.perf_counter() - start)
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=cpu_count(), help="n (default: every core)")
    p.add_argument("--batch", type=int, nargs="+", default=[32, 128])
    p.add_argument("--nets", nargs="+", default=["depth:relu", "depth:lkrelu", "cifar:relu",
                                                 "cifar:lkrelu"], help="NET:VARIANT")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--save", action="store_true",
                   help="write benchmarks/results/thread_speedup.txt, replacing it")
    args = p.parse_args(argv)
    lk.set_threads(args.threads)                   # BLAS on one thread before the header reads it
    print(provenance.header([1, args.threads]))
    out = provenance.Report()
    out(f"thread_speedup: 1 vs {args.threads} threads (DataParallel), {args.rounds} interleaved "
        "rounds; ms median (min)")
    out(f"{'net':<14} {'batch':>5} {'1 thread ms':>16} {f'{args.threads} threads ms':>16} "
        f"{'speed-up':>9}")
    for spec in args.nets:
        net, variant = spec.split(":")
        for batch in args.batch:
            steps = {n: make_step(net, variant, batch, n) for n in (1, args.threads)}
            times = time_rounds(steps, args.rounds)
            one, many = (np.array(times[n]) * 1e3 for n in (1, args.threads))
            out(f"{spec:<14} {batch:>5} {np.median(one):>8.1f} ({one.min():>5.1f}) "
                f"{np.median(many):>8.1f} ({many.min():>5.1f}) "
                f"{np.median(one) / np.median(many):>8.2f}×")
    if args.save:
        provenance.save("thread_speedup", out.text(), threads=[1, args.threads])
    lk.set_threads(None)


if __name__ == "__main__":
    main()
