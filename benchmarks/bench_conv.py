"""Each conv layer of depth_net and cifar_net: forward, dW and dx in GFLOP/s beside the machine's
sgemm, and beside PyTorch's forward + backward of the same layer when it is installed.

    python benchmarks/bench_conv.py [--batch 32 128] [--repeats 9] [--threads 1] [--plain]
        [--im2col] [--save]

The layer shapes come from the models themselves: ``lk.depth_net`` and ``lk.cifar_net`` with
ReLU and LK-ReLU (whose doubled channels change the next layer's input), 3×32×32, float32; one
forward of a single sample records each Conv2D's input size, and layers of the same shape share
a row ("×49": how many layers of that net have it). Per layer and batch size, timed interleaved
(a slice of load from other processes hits every column alike), median of ``--repeats``:

- fwd: ``numpy.pad`` as Conv2D pads, then ``fast.correlate``; dW: ``fast.weight_grad``; dx:
  ``fast.input_grad`` (each on the path ``fast.conv`` picks: Winograd for wide stride-1 3×3
  layers, ``use_winograd``; im2col else). No bias. GFLOP/s = 2·N·O·Ho·Wo·C·kh·kw
  (direct-convolution FLOPs, the same for each of the three) / time.
- f+b: the three together, 3·2·N·O·Ho·Wo·C·kh·kw / (sum of the times), and that as a share of
  sgemm: numpy's matmul of two 1024 × 1024 float32 matrices on one BLAS thread, median, measured
  before the layers (and again after them, to show drift). Issue 22's target: ≥ 75% for 3×3.
- torch: ``F.conv2d`` (padding as the layer's; an uneven "same" pads with ``F.pad`` first) and
  its backward to input and weight (no bias), torch threads = ``--threads``; lk/torch = f+b time
  over torch's. ``--plain``: f+b again with line positions off (``fast.conv.row_length`` → None).
  ``--im2col``: fwd and dx again with Winograd off (im2col), and their time over the chosen path's.
- at sgemm: the f+b FLOPs at the sgemm rate, 3·2·N·O·Ho·Wo·C·kh·kw / sgemm: what a kernel doing
  the direct convolution's products at numpy's best GEMM speed would take, copies free; and that
  over torch's time. Where it is above 0.8, no such kernel reaches issue 22's step target on that
  layer (≤ 0.8× PyTorch); only an algorithm with fewer products (Winograd) could.

``--threads N`` sets ``lk.set_threads(N)`` and ``torch.set_num_threads(N)``. linkedref's kernels
run on the calling thread with BLAS on one thread whatever N (its threads split a batch only in
``lk.fast.DataParallel``, which one layer's kernels do not use); at N > 1 the sgemm at N BLAS
threads is printed too. ``--save`` writes ``benchmarks/results/bench_conv.txt`` (replacing it)
under a provenance header.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [p for p in (os.path.dirname(HERE), HERE) if p not in sys.path]

import numpy  # noqa: E402
import provenance  # noqa: E402  (first: its header's date and load are the run's start)
from threadpoolctl import threadpool_limits  # noqa: E402

import linkedref as lk  # noqa: E402
from linkedref.fast import conv as fast_conv  # noqa: E402

NETS = {"depth": lk.depth_net, "cifar": lk.cifar_net}
VARIANTS = ("relu", "lkrelu")
MIN_SAMPLE_S = 0.01        # one timed sample repeats a call until it takes about this long
TARGET = 0.75              # issue 22: each 3×3 layer's f+b at ≥ 75% of sgemm


def layer_shapes():
    """The distinct Conv2D shapes of NETS × VARIANTS on a 3×32×32 input, in order of appearance:
    a list of dicts conv (one such layer, float32), H, W (its input size) and where (a list of
    "net variant ×count")."""
    shapes = {}
    for net, build in NETS.items():
        for variant in VARIANTS:
            x = numpy.zeros((1, 3, 32, 32), dtype=numpy.float32)
            for layer in build(activation=variant, rng=0).layers:
                if isinstance(layer, lk.Conv2D):
                    H, W = x.shape[2:]
                    key = (layer.in_channels, layer.out_channels, layer.kernel_size,
                           layer.stride, H, W, layer.pads(H, W))
                    entry = shapes.setdefault(key, dict(conv=layer, H=H, W=W, where=Counter()))
                    entry["where"][f"{net} {variant}"] += 1
                x = layer.forward(x)
    for entry in shapes.values():
        entry["where"] = [name + (f" ×{n}" if n > 1 else "") for name, n in entry["where"].items()]
    return list(shapes.values())


def calls_per_sample(fn):
    """How many calls of ``fn`` make one sample of about MIN_SAMPLE_S (after one warm-up call)."""
    fn()
    t0 = time.perf_counter()
    fn()
    return max(1, math.ceil(MIN_SAMPLE_S / max(time.perf_counter() - t0, 1e-9)))


def median_times(fns, repeats):
    """{name: median seconds per call} of the callables ``fns`` ({name: fn}), timed in turn within
    each of ``repeats`` rounds, so that load from other processes hits them alike."""
    calls = {name: calls_per_sample(fn) for name, fn in fns.items()}
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls[name]):
                fn()
            samples[name].append((time.perf_counter() - t0) / calls[name])
    return {name: float(numpy.median(s)) for name, s in samples.items()}


def sgemm_gflops(threads, repeats, rng):
    """GFLOP/s of numpy's float32 matmul of two 1024 × 1024 matrices on ``threads`` BLAS
    threads: 2·1024³ / median time."""
    a, b = (rng.standard_normal((1024, 1024), dtype=numpy.float32) for _ in range(2))
    c = numpy.empty_like(a)
    with threadpool_limits(limits=threads, user_api="blas"):
        t = median_times({"sgemm": lambda: numpy.matmul(a, b, out=c)}, max(repeats, 5))["sgemm"]
    return 2 * 1024 ** 3 / t / 1e9


def linkedref_passes(conv, x, dy):
    """{fwd, dW, dx}: callables running linkedref's three passes of Conv2D ``conv`` on x, dy."""
    pads, W, stride = conv.pads(*x.shape[2:]), conv.params["W"], conv.stride
    xpad = numpy.pad(x, ((0, 0), (0, 0)) + pads)

    def forward():
        return fast_conv.correlate(numpy.pad(x, ((0, 0), (0, 0)) + pads), W, stride)
    return {"fwd": forward,
            "dW": lambda: fast_conv.weight_grad(xpad, dy, conv.kernel_size, stride),
            "dx": lambda: fast_conv.input_grad(dy, W, stride, x.shape, pads)}


def torch_pass(conv, x, dy):
    """A callable running PyTorch's forward + backward (to input and weight) of the same layer,
    or None where torch is not installed."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    (top, bottom), (left, right) = conv.pads(*x.shape[2:])
    even = top == bottom and left == right
    xt = torch.from_numpy(x).requires_grad_(True)
    wt = torch.from_numpy(numpy.array(conv.params["W"])).requires_grad_(True)
    dyt = torch.from_numpy(dy)

    def step():
        xt.grad = wt.grad = None
        xin = xt if even else F.pad(xt, (left, right, top, bottom))
        F.conv2d(xin, wt, None, stride=conv.stride,
                 padding=(top, left) if even else 0).backward(dyt)
    return step


def without_winograd(fn):
    """``fn`` run with Winograd off (``fast.conv.use_winograd``'s channel minimum out of reach)."""
    def run():
        saved, fast_conv.WINOGRAD_MIN_CHANNELS = fast_conv.WINOGRAD_MIN_CHANNELS, 1 << 30
        try:
            return fn()
        finally:
            fast_conv.WINOGRAD_MIN_CHANNELS = saved
    return run


def time_layer(entry, N, repeats, plain, rng, im2col=False):
    """Median seconds per call of fwd, dW, dx, torch (None without torch), with ``im2col``
    im2col_fwd and im2col_dx (Winograd off) and, with ``plain``, plain (f+b with line positions
    off), for the layer ``entry`` (``layer_shapes``) at batch N."""
    conv = entry["conv"]
    x = rng.standard_normal((N, conv.in_channels, entry["H"], entry["W"]), dtype=numpy.float32)
    y = linkedref_passes(conv, x, None)["fwd"]()
    dy = rng.standard_normal(y.shape, dtype=numpy.float32)
    fns = linkedref_passes(conv, x, dy)
    step = torch_pass(conv, x, dy)
    if step is not None:
        fns["torch"] = step
    if im2col:
        fns["im2col_fwd"], fns["im2col_dx"] = (without_winograd(fns[k]) for k in ("fwd", "dx"))
    times = median_times(fns, repeats)
    times.setdefault("torch", None)
    if plain:
        chooser, fast_conv.row_length = fast_conv.row_length, (lambda *args: None)
        try:
            times["plain"] = sum(median_times(linkedref_passes(conv, x, dy), repeats).values())
        finally:
            fast_conv.row_length = chooser
    return times, y.shape[2:]


COLUMNS = (f"{'N':>4} {'C→O':>7} {'H×W':>5} {'k':>2} {'s':>2} {'pad':>5} {'fwd ms':>7} {'GF/s':>5} "
           f"{'dW ms':>7} {'GF/s':>5} {'dx ms':>7} {'GF/s':>5} {'f+b ms':>7} {'GF/s':>5} "
           f"{'%sgemm':>6} {'torch ms':>8} {'lk/torch':>8} {'at sgemm':>8} {'/torch':>6}  layers")


def table_row(entry, N, times, out_hw, sgemm, plain):
    """One row of the table: the layer, its passes' ms and GFLOP/s, f+b against sgemm and torch
    (and the plain f+b time, with ``plain``)."""
    conv, (Ho, Wo) = entry["conv"], out_hw
    (kh, kw), C, O = conv.kernel_size, conv.in_channels, conv.out_channels
    flops = 2 * N * O * Ho * Wo * C * kh * kw                 # one pass
    total = times["fwd"] + times["dW"] + times["dx"]
    rate = 3 * flops / total / 1e9
    size = f"{entry['H']}×{entry['W']}"
    cells = [f"{N:>4} {f'{C}→{O}':>7} {size:>5} {kh:>2} {conv.stride[0]:>2} {conv.padding:>5}"]
    cells += [f"{times[k] * 1e3:>7.3f} {flops / times[k] / 1e9:>5.1f}" for k in ("fwd", "dW", "dx")]
    mark = "*" if kh == kw == 3 and rate < TARGET * sgemm else " "
    cells.append(f"{total * 1e3:>7.3f} {rate:>5.1f} {rate / sgemm:>5.0%}{mark}")
    t_torch = times["torch"]
    cells.append(f"{t_torch * 1e3:>8.3f} {total / t_torch:>7.2f}×" if t_torch
                 else f"{'-':>8} {'-':>8}")
    ideal = 3 * flops / (sgemm * 1e9)                         # f+b at the sgemm rate, seconds
    cells.append(f"{ideal * 1e3:>8.3f} " + (f"{ideal / t_torch:>5.2f}×" if t_torch
                                            else f"{'-':>6}"))
    where = ", ".join(entry["where"])
    if "im2col_fwd" in times:
        where += (f"; im2col fwd {times['im2col_fwd'] * 1e3:.3f} ms "
                  f"({times['im2col_fwd'] / times['fwd']:.2f}×), dx "
                  f"{times['im2col_dx'] * 1e3:.3f} ms ({times['im2col_dx'] / times['dx']:.2f}×)")
    return " ".join(cells) + (f"  {where}" if not plain
                              else f"  {where}; plain f+b {times['plain'] * 1e3:.3f} ms")


def make_parser():
    """The command line of bench_conv.py."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--repeats", type=int, default=9,
                        help="timed rounds per layer (median); each sample ≥ ~10 ms of calls")
    parser.add_argument("--threads", type=int, default=1,
                        help="lk.set_threads and torch.set_num_threads (default 1)")
    parser.add_argument("--plain", action="store_true",
                        help="also time f+b with line positions off (fast.conv.row_length)")
    parser.add_argument("--im2col", action="store_true",
                        help="also time fwd and dx with Winograd off (im2col for every layer)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", action="store_true",
                        help="write benchmarks/results/bench_conv.txt, replacing it")
    return parser


def set_threads(threads):
    """linkedref's threads (BLAS on one thread) and torch's intra-op threads, both ``threads``."""
    lk.set_threads(threads)
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass


def main(argv=None):
    args = make_parser().parse_args(argv)
    lk.set_default_dtype("float32")
    set_threads(args.threads)
    threads = f"{args.threads} (linkedref's kernels and sgemm on one BLAS thread)"
    print(provenance.header(threads))
    out, rng = provenance.Report(), numpy.random.default_rng(args.seed)
    sgemm = sgemm_gflops(1, args.repeats, rng)
    out(f"bench_conv: each conv layer shape of depth_net and cifar_net (ReLU, LK-ReLU), float32, "
        f"3×32×32 input; median of {args.repeats}; GF/s = 2·N·O·Ho·Wo·C·kh·kw per pass / time")
    out(f"sgemm 1024³ float32, numpy matmul, 1 BLAS thread: {sgemm:.1f} GFLOP/s (before)")
    if args.threads > 1:
        out(f"sgemm on {args.threads} BLAS threads: "
            f"{sgemm_gflops(args.threads, args.repeats, rng):.1f} GFLOP/s")
    out(COLUMNS)
    shapes = layer_shapes()
    for N in args.batch:
        for entry in shapes:
            times, out_hw = time_layer(entry, N, args.repeats, args.plain, rng, args.im2col)
            out(table_row(entry, N, times, out_hw, sgemm, args.plain))
    out(f"sgemm again after the layers: {sgemm_gflops(1, args.repeats, rng):.1f} GFLOP/s")
    out(f"f+b = fwd + dW + dx; %sgemm = f+b GF/s over the sgemm before; * a 3×3 layer below "
        f"{TARGET:.0%} (issue 22's target); torch: F.conv2d forward + backward to x and W, "
        f"{args.threads} thread(s), '-' where not installed; at sgemm: f+b's FLOPs at the sgemm "
        f"rate above, and that over torch's time")
    if args.save:
        provenance.save("bench_conv", out.text(), threads=threads)


if __name__ == "__main__":
    main()
