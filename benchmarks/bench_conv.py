"""Conv2D forward+backward speed, in GFLOP/s, against numpy's matmul (and PyTorch when installed).

    python benchmarks/bench_conv.py [--batch 32] [--channels 64] [--size 16] [--repeat 20]
        [--suite] [--threads N] [--save]

FLOPs counted: 2·N·O·Ho·Wo·C·kh·kw per pass, × 3 for forward, dW and dx. The "matmul" line times
numpy's matmul alone on the same three GEMM shapes Conv2D runs (contiguous operands made ahead,
so no im2col copy and no padding): the ceiling a matmul-based convolution can reach on this
machine. Issue 3's target: Conv2D ≥ 50% of it. Everything is float32 and timed in the same run.
Conv2D runs on the calling thread (``linkedref.fast.conv``); ``--threads`` limits numpy's BLAS
(and PyTorch). ``--save`` writes ``benchmarks/results/bench_conv.txt`` (replacing it) under a
provenance header.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [p for p in (os.path.dirname(HERE), HERE) if p not in sys.path]

import provenance  # noqa: E402

from linkedref import backend as B  # noqa: E402
from linkedref.conv import Conv2D  # noqa: E402
from linkedref.fast import conv as fast_conv  # noqa: E402


def best_time(fn, repeat):
    """The fastest of ``repeat`` calls (after one warm-up), in seconds: the least noisy estimate."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench(N, C, O, H, k, stride, repeat, rng):
    """Times (s) of Conv2D fwd+bwd, of numpy matmul on its GEMM shapes, and of PyTorch (or None)."""
    f32 = numpy.float32
    conv = Conv2D(C, O, k, stride=stride, padding="same", rng=rng)
    x = rng.standard_normal((N, C, H, H), dtype=f32)
    y = conv.forward(x, training=True)
    dy = rng.standard_normal(y.shape, dtype=f32)
    Ho, (top, bottom), _ = y.shape[2], *conv.pads(H, H)

    def step():
        conv.forward(x, training=True)
        conv.backward(dy)
    t_conv = best_time(step, repeat)
    t_plain = plain_positions_time(step, repeat)

    # numpy matmul on the same three GEMMs, operands contiguous and ready
    K, P, Px = C * k * k, Ho * Ho, H * H
    w2, cols = rng.standard_normal((O, K), dtype=f32), rng.standard_normal((N, K, P), dtype=f32)
    dy3 = rng.standard_normal((N, O, P), dtype=f32)
    colsT = rng.standard_normal((N, P, K), dtype=f32)
    wt2 = rng.standard_normal((C, O * k * k), dtype=f32)
    dycols = rng.standard_normal((N, O * k * k, Px), dtype=f32)

    def gemms():
        w2 @ cols                      # forward
        (dy3 @ colsT).sum(axis=0)      # dW
        wt2 @ dycols                   # dx (transposed convolution, over the input's H·W)
    t_mm = best_time(gemms, repeat)

    t_torch = None
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return t_conv, t_plain, t_mm, t_torch
    xt = torch.from_numpy(x).requires_grad_(True)
    wt = torch.from_numpy(B.to_numpy(conv.params["W"]).copy()).requires_grad_(True)
    bt = torch.zeros(O, requires_grad=True)
    dyt = torch.from_numpy(dy)
    xt_pad = (top, bottom) != (0, 0)

    def torch_step():
        xt.grad = wt.grad = bt.grad = None
        xin = F.pad(xt, (top, bottom, top, bottom)) if xt_pad else xt
        F.conv2d(xin, wt, bt, stride=stride).backward(dyt)
    t_torch = best_time(torch_step, repeat)
    return t_conv, t_plain, t_mm, t_torch


def plain_positions_time(step, repeat):
    """The time of ``step`` with linkedref.fast.conv's line positions turned off (every pass on
    the plain windows): what ``row_length``'s choice gains on this shape."""
    chooser = fast_conv.row_length
    fast_conv.row_length = lambda *args: None
    try:
        return best_time(step, repeat)
    finally:
        fast_conv.row_length = chooser


SUITE = [  # N, C, O, H, k, stride: the shapes of issue 3's networks
    (32, 3, 4, 32, 7, 2),       # depth_net, first layer
    (32, 4, 4, 16, 3, 1),       # depth_net, the 49 others
    (32, 3, 32, 32, 3, 1),      # cifar_net
    (32, 32, 32, 32, 3, 1),
    (32, 32, 64, 16, 3, 1),
    (32, 64, 64, 16, 3, 1),     # the target shape
    (32, 8, 4, 16, 3, 1),       # LK-ReLU depth_net (the activation doubles the channels)
    (32, 64, 32, 32, 3, 1),     # LK-ReLU cifar_net
    (32, 128, 64, 16, 3, 1),
]


def make_parser():
    """The command line of bench_conv.py."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--channels", type=int, default=64, help="in = out channels")
    parser.add_argument("--size", type=int, default=16, help="H = W")
    parser.add_argument("--kernel", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--suite", action="store_true",
                        help="also time the depth_net and cifar_net layer shapes")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit numpy's BLAS and PyTorch to this many threads "
                             "(default: theirs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", action="store_true",
                        help="write benchmarks/results/bench_conv.txt, replacing it")
    return parser


def limit_threads(threads):
    """numpy's BLAS and PyTorch to ``threads`` threads (None: leave them as they are)."""
    if not threads:
        return
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads)
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass


def main(argv=None):
    args = make_parser().parse_args(argv)
    limit_threads(args.threads)
    threads = f"Conv2D on 1, BLAS on {args.threads or 'its default'}"
    print(provenance.header(threads))
    out = provenance.Report()
    out("bench_conv: Conv2D forward+backward (fwd + dW + dx), float32, padding 'same'; best of "
        f"{args.repeat}. GFLOP/s = 3·2·N·O·Ho·Wo·C·kh·kw / time.")
    out(f"{'N':>3} {'C→O':>7} {'H':>3} {'k':>2} {'s':>2} {'GFLOP':>7} {'Conv2D ms':>10} "
        f"{'GFLOP/s':>8} {'matmul GFLOP/s':>15} {'Conv2D/matmul':>14} {'plain ms':>9} "
        f"{'plain/Conv2D':>13} {'torch ms':>9} {'Conv2D/torch time':>18}")
    shapes = [(args.batch, args.channels, args.channels, args.size, args.kernel, 1)]
    if args.suite:
        shapes = SUITE + [s for s in shapes if s not in SUITE]
    rng = numpy.random.default_rng(args.seed)
    for N, C, O, H, k, s in shapes:
        out(table_row(N, C, O, H, k, s, bench(N, C, O, H, k, s, args.repeat, rng)))
    out("plain ms: the same Conv2D with line positions off (fast.conv.row_length → None); "
        "torch: '-' where PyTorch is not installed")
    out("target (issue 3): Conv2D ≥ 50% of matmul GFLOP/s on 64→64, 3×3, 16×16, batch 32")
    if args.save:
        provenance.save("bench_conv", out.text(), threads=threads)


def table_row(N, C, O, H, k, s, times):
    """One row of the table from ``bench``'s times (s) of Conv2D, plain, matmul and PyTorch."""
    t_conv, t_plain, t_mm, t_torch = times
    Ho = -(-H // s)
    flops = 3 * 2 * N * O * Ho * Ho * C * k * k
    torch_cols = (f"{t_torch * 1e3:>9.2f} {t_conv / t_torch:>17.2f}×" if t_torch
                  else f"{'-':>9} {'-':>18}")
    return (f"{N:>3} {f'{C}→{O}':>7} {H:>3} {k:>2} {s:>2} {flops / 1e9:>7.3f} "
            f"{t_conv * 1e3:>10.2f} {flops / t_conv / 1e9:>8.1f} {flops / t_mm / 1e9:>15.1f} "
            f"{t_mm / t_conv:>13.0%} {t_plain * 1e3:>9.2f} {t_plain / t_conv:>12.2f}× "
            f"{torch_cols}")


if __name__ == "__main__":
    main()
