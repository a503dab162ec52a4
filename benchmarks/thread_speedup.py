"""linkedref's own speed-up from threads: training steps at 1 and at n threads, interleaved in one
process (no PyTorch beside them), so that a busy spell of a shared machine hits both alike.

    PYTHONPATH=. python benchmarks/thread_speedup.py [--threads 2] [--batch 32 128]
        [--nets depth:lkrelu cifar:lkrelu] [--rounds 8]

A step is what ``bench_train.py`` times (forward, softmax cross-entropy, ``backward_params``,
Adam; float32, input 3×32×32). Each round runs one step at 1 thread, then one at n threads
(``lk.set_threads``); the table gives the median and the minimum over the rounds, and the
speed-up median(1 thread) / median(n threads).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import linkedref as lk  # noqa: E402
from linkedref.threads import cpu_count  # noqa: E402


def make_step(net, variant, batch, seed=0):
    """A training step (a function of no arguments) of depth_net 50×4 or cifar_net."""
    build = lk.models.depth_net if net == "depth" else lk.models.cifar_net
    model = build(activation=variant, rng=seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    loss, opt = lk.SoftmaxCrossEntropy(), lk.Adam(model, lr=1e-3)

    def step():
        loss.forward(model.forward(x, training=True), y)
        model.backward_params(loss.backward())
        opt.step()
    return step


def time_rounds(step, threads, rounds):
    """{n: [seconds]} for each thread count n, the counts taking turns each round."""
    times = {n: [] for n in threads}
    for n in threads:                                  # warm-up: buffers, pool, caches
        lk.set_threads(n)
        step()
        step()
    for _ in range(rounds):
        for n in threads:
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
    args = p.parse_args(argv)
    print(f"thread_speedup: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"{cpu_count()} CPUs usable, load average {os.getloadavg()[0]:.2f}; "
          f"1 vs {args.threads} threads, {args.rounds} interleaved rounds")
    print(f"{'net':<14} {'batch':>5} {'1 thread ms':>16} {f'{args.threads} threads ms':>16} "
          f"{'speed-up':>9}")
    for spec in args.nets:
        net, variant = spec.split(":")
        for batch in args.batch:
            times = time_rounds(make_step(net, variant, batch), (1, args.threads), args.rounds)
            one, many = (np.array(times[n]) * 1e3 for n in (1, args.threads))
            print(f"{spec:<14} {batch:>5} {np.median(one):>8.1f} ({one.min():>5.1f}) "
                  f"{np.median(many):>8.1f} ({many.min():>5.1f}) "
                  f"{np.median(one) / np.median(many):>8.2f}×", flush=True)
    lk.set_threads(None)


if __name__ == "__main__":
    main()
