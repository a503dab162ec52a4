"""Conv2D forward+backward speed, in GFLOP/s, against numpy's matmul (and PyTorch when installed).

    python benchmarks/bench_conv.py [--batch 32] [--channels 64] [--size 16] [--repeat 20]

FLOPs counted: 2·N·O·Ho·Wo·C·kh·kw per pass, × 3 for forward, dW and dx. The "matmul" line times
numpy's matmul alone on the same three GEMM shapes Conv2D runs (contiguous operands made ahead,
so no im2col copy and no padding): the ceiling a matmul-based convolution can reach on this
machine. Issue 3's target: Conv2D ≥ 50% of it. Everything is float32 and timed in the same run.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from linkedref import backend as B  # noqa: E402
from linkedref.conv import Conv2D  # noqa: E402


def best_time(fn, repeat):
    """The fastest of ``repeat`` calls (after one warm-up), in seconds: the least noisy estimate."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def blas_threads():
    """Threads numpy's BLAS uses (via threadpoolctl when installed), as text."""
    try:
        from threadpoolctl import threadpool_info
        return ", ".join(f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info()
                         if i["user_api"] == "blas") or "unknown"
    except ImportError:
        return "unknown (threadpoolctl not installed)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--channels", type=int, default=64, help="in = out channels")
    parser.add_argument("--size", type=int, default=16, help="H = W")
    parser.add_argument("--kernel", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    N, C, H, k = args.batch, args.channels, args.size, args.kernel
    O, P = C, H * H                                   # "same" padding, stride 1: Ho·Wo = H·W
    rng = numpy.random.default_rng(args.seed)
    f32 = numpy.float32
    flops = 3 * 2 * N * O * P * C * k * k

    print(f"bench_conv — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}")
    print(f"machine: {platform.machine()} {platform.processor() or ''} {platform.system()}, "
          f"{os.cpu_count()} CPUs; numpy {numpy.__version__}, BLAS threads: {blas_threads()}")
    print(f"Conv2D {C}→{O} channels, {k}×{k}, {H}×{H}, batch {N}, padding 'same', float32; "
          f"{flops / 1e9:.3f} GFLOP per forward+backward (fwd + dW + dx)")

    # linkedref
    conv = Conv2D(C, O, k, padding="same", rng=rng)
    x = rng.standard_normal((N, C, H, H), dtype=f32)
    dy = rng.standard_normal((N, O, H, H), dtype=f32)

    def step():
        conv.forward(x, training=True)
        conv.backward(dy)
    t_conv = best_time(step, args.repeat)

    # numpy matmul on the same three GEMMs, operands contiguous and ready
    K = C * k * k
    w2, cols = rng.standard_normal((O, K), dtype=f32), rng.standard_normal((N, K, P), dtype=f32)
    dy3 = rng.standard_normal((N, O, P), dtype=f32)
    wt2, dycols = rng.standard_normal((C, O * k * k), dtype=f32), rng.standard_normal((N, O * k * k, P), dtype=f32)
    colsT = numpy.ascontiguousarray(cols.transpose(0, 2, 1))

    def gemms():
        w2 @ cols                      # forward
        (dy3 @ colsT).sum(axis=0)      # dW
        wt2 @ dycols                   # dx (transposed convolution)
    t_mm = best_time(gemms, args.repeat)

    rows = [("linkedref Conv2D", t_conv), ("numpy matmul, same GEMMs", t_mm)]

    try:
        import torch
        import torch.nn.functional as F
        xt = torch.from_numpy(x).requires_grad_(True)
        wt = torch.from_numpy(rng.standard_normal((O, C, k, k), dtype=f32)).requires_grad_(True)
        bt = torch.zeros(O, requires_grad=True)
        dyt = torch.from_numpy(dy)

        def torch_step():
            xt.grad = wt.grad = bt.grad = None
            F.conv2d(xt, wt, bt, padding=k // 2).backward(dyt)
        t_torch = best_time(torch_step, args.repeat)
        rows.append((f"PyTorch {torch.__version__} conv2d ({torch.get_num_threads()} threads)", t_torch))
    except ImportError:
        t_torch = None
        print("(PyTorch not installed: no PyTorch comparison)")

    print(f"{'':<44}{'ms':>9}{'GFLOP/s':>10}")
    for name, t in rows:
        print(f"{name:<44}{t * 1e3:>9.2f}{flops / t / 1e9:>10.1f}")
    print(f"Conv2D / numpy matmul GFLOP/s: {t_mm / t_conv:.0%}  (target ≥ 50%)")
    if t_torch is not None:
        print(f"Conv2D time / PyTorch time:    {t_conv / t_torch:.2f}×")


if __name__ == "__main__":
    main()
