"""Time a full training step (forward, softmax cross-entropy, backward, Adam) of the paper's nets,
against the same network in PyTorch on the same device in the same run; and the peak memory of
a cifar_net step against PyTorch's.

    PYTHONPATH=. python benchmarks/bench_train.py                       # NumPy vs PyTorch CPU
    PYTHONPATH=. python benchmarks/bench_train.py --backend numpy cupy --batch 32 256 \\
        --variants lkrelu --torch-device auto --out $OUT/bench_gpu.txt  # on a GPU machine

Nets: ``depth`` = depth_net(50 × width 4), ``cifar`` = cifar_net; input 3×32×32, float32.
Variants: "<activation>[_bn][_sqrt2]", e.g. relu, relu_bn (BatchNorm before each activation),
lkrelu, relu_sqrt2 (widths × √2, the paper's fair-parameter single net), lkselu_bn, ...

Timing: ``--warmup`` steps first (allocations, caches, Adam state), then ``--repeats`` timed
steps, each one read from a monotonic clock; the table shows the median (and the minimum) and
the ratio linkedref/torch of both (on a busy machine the minimum is the steadier of the two).
linkedref and PyTorch steps are interleaved (one of each per repeat), so that load from other
processes on a shared machine hits both alike. On CuPy / CUDA the device is synchronised before
each clock reading.

Memory (``--memory``, NumPy vs PyTorch CPU): each framework runs in a fresh subprocess that
imports, resets the kernel's peak-RSS counter (VmHWM, through /proc/self/clear_refs), builds
cifar_net, makes a batch (128 by default) and runs two training steps (the first creates the
gradients and the optimizer's state). Peak = VmHWM − VmRSS right after the imports: everything
the model, its optimizer and two steps ever held resident at once (parameters, gradients, Adam
moments, the batch, activations, caches, temporaries, allocator slack), with the frameworks'
own import footprint (hundreds of MiB for torch) left out. Both allocate through the C
allocator on the CPU, so RSS measures them alike. For linkedref, tracemalloc's peak of the
NumPy/Python allocations over the same span is printed as a cross-check of the RSS number.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import numpy as np  # noqa: E402  (benchmark driver, not layer code)

NETS = ("depth", "cifar")
INPUT = (3, 32, 32)


# ----------------------------------------------------------------------------- variants
def parse_variant(variant: str) -> dict:
    """"lkrelu_bn_sqrt2" → dict(activation="lkrelu", batchnorm=True, widen=√2)."""
    parts = variant.lower().split("_")
    spec = {"batchnorm": False, "widen": 1.0}
    while parts and parts[-1] in ("bn", "sqrt2"):
        tag = parts.pop()
        if tag == "bn":
            spec["batchnorm"] = True
        else:
            spec["widen"] = math.sqrt(2.0)
    if not parts:
        raise ValueError(f"bench_train: bad variant {variant!r}; expected e.g. relu, relu_bn, "
                         f"lkrelu, relu_sqrt2")
    spec["activation"] = "_".join(parts)
    return spec


def build_linkedref(net, variant, seed=0):
    from linkedref import models
    spec = parse_variant(variant)
    if net == "depth":
        return models.depth_net(50, 4, rng=seed, **spec)
    return models.cifar_net(rng=seed, **spec)


def build_torch(net, variant, device, seed=0):
    import torch
    import torch_models
    torch.manual_seed(seed)
    spec = parse_variant(variant)
    if net == "depth":
        model = torch_models.depth_net(50, 4, **spec)
    else:
        model = torch_models.cifar_net(**spec)
    return model.to(device)


# --------------------------------------------------------------------------------- steps
class LinkedrefStep:
    """One training step of a linkedref model on the active backend: forward, loss, backward,
    Adam."""

    def __init__(self, net, variant, batch, backend, seed=0):
        import linkedref.backend as B
        from linkedref.losses import SoftmaxCrossEntropy
        from linkedref.optim import Adam
        B.set_backend(backend)
        self.backend = backend
        self.model = build_linkedref(net, variant, seed)
        self.loss = SoftmaxCrossEntropy()
        self.opt = Adam(self.model, lr=1e-3, eps=1e-7)
        rng = np.random.default_rng(seed)
        xp = B.xp()
        self.x = xp.asarray(rng.standard_normal((batch, *INPUT), dtype=np.float32))
        self.y = xp.asarray(rng.integers(0, 10, size=batch))
        self.sync = _cupy_sync if backend == "cupy" else (lambda: None)

    def __call__(self):
        logits = self.model.forward(self.x, training=True)
        self.loss.forward(logits, self.y)
        self.model.backward(self.loss.backward())
        self.opt.step()

    def params(self):
        from linkedref.models import count_params
        return count_params(self.model)


class TorchStep:
    """The same step in PyTorch: zero_grad, forward, cross-entropy, backward, Adam."""

    def __init__(self, net, variant, batch, device, seed=0):
        import torch
        import torch_models
        self.torch = torch
        self.model = build_torch(net, variant, device, seed).train()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-7)
        rng = np.random.default_rng(seed)
        self.x = torch.from_numpy(rng.standard_normal((batch, *INPUT), dtype=np.float32)).to(device)
        self.y = torch.from_numpy(rng.integers(0, 10, size=batch)).to(device)
        self.sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        self.n_params = torch_models.count_params(self.model)

    def __call__(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.torch.nn.functional.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()

    def params(self):
        return self.n_params


def _cupy_sync():
    import cupy
    cupy.cuda.Device().synchronize()


def timed(step):
    """Seconds one call of ``step`` takes, with the device synchronised on both sides."""
    step.sync()
    t0 = time.perf_counter()
    step()
    step.sync()
    return time.perf_counter() - t0


def bench_one(net, variant, batch, backend, torch_device, warmup, repeats):
    """Median/min seconds per step for linkedref (and torch, when torch_device is not None)."""
    steps = {"linkedref": LinkedrefStep(net, variant, batch, backend)}
    if torch_device is not None:
        steps["torch"] = TorchStep(net, variant, batch, torch_device)
    for _ in range(warmup):
        for step in steps.values():
            step()
    times = {k: [] for k in steps}
    for _ in range(repeats):
        for k, step in steps.items():
            times[k].append(timed(step))
    out = {k: {"median": statistics.median(v), "min": min(v), "params": steps[k].params()}
           for k, v in times.items()}
    del steps
    gc.collect()
    return out


# -------------------------------------------------------------------------------- memory
def _proc_status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024          # kB → bytes
    raise KeyError(field)


def memory_child(framework, variant, batch):
    """Run in a fresh process: print JSON {peak, after, traced} in bytes (see the module doc)."""
    import resource
    if framework == "linkedref":
        import linkedref.backend as B  # noqa: F401
        from linkedref import losses, models, optim  # noqa: F401
    else:
        import torch  # noqa: F401
        import torch_models  # noqa: F401
    gc.collect()
    rss_imports = _proc_status("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")                                     # reset VmHWM to the current RSS
        method = "VmHWM reset after the imports"
    except OSError:
        method = "ru_maxrss (includes the imports' own peak)"
    if framework == "linkedref":
        import tracemalloc
        tracemalloc.start()
    step = (LinkedrefStep("cifar", variant, batch, "numpy") if framework == "linkedref"
            else TorchStep("cifar", variant, batch, "cpu"))
    step()                                                   # warm-up: grads, Adam state exist
    step()
    peak = (_proc_status("VmHWM") if method.startswith("VmHWM")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    gc.collect()
    result = {"peak": peak - rss_imports, "after": _proc_status("VmRSS") - rss_imports,
              "method": method}
    if framework == "linkedref":
        result["traced"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print("MEMJSON " + json.dumps(result))


def measure_memory(variant, batch, threads):
    """{framework: result dict} from one fresh subprocess per framework."""
    out = {}
    for framework in ("linkedref", "torch"):
        if framework == "torch" and not _have_torch():
            continue
        cmd = [sys.executable, os.path.abspath(__file__), "--_memory-child", framework,
               "--variants", variant, "--mem-batch", str(batch), "--threads", str(threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("MEMJSON ")]
        if proc.returncode != 0 or not lines:
            out[framework] = {"error": (proc.stderr or proc.stdout)[-800:]}
            continue
        out[framework] = json.loads(lines[-1][len("MEMJSON "):])
    return out


# ------------------------------------------------------------------------------ profiling
def profile(net, variant, batch, backend, steps=3):
    """Time per top-level layer (forward and backward) over ``steps`` steps, and cProfile's top."""
    import cProfile
    import io
    import pstats
    step = LinkedrefStep(net, variant, batch, backend)
    step()
    totals = {}

    def wrap(i, layer):
        fwd, bwd = layer.forward, layer.backward
        kind = f"{i:>2} {type(layer).__name__}"
        if hasattr(layer, "in_channels"):
            kind += f" {layer.in_channels}->{layer.out_channels}"

        def forward(x, training=False):
            step.sync()
            t0 = time.perf_counter()
            y = fwd(x, training=training)
            step.sync()
            key = (kind, "forward")
            totals[key] = totals.get(key, 0.0) + time.perf_counter() - t0
            return y

        def backward(dy):
            step.sync()
            t0 = time.perf_counter()
            dx = bwd(dy)
            step.sync()
            key = (kind, "backward")
            totals[key] = totals.get(key, 0.0) + time.perf_counter() - t0
            return dx
        layer.forward, layer.backward = forward, backward

    for i, layer in enumerate(step.model.layers):
        wrap(i, layer)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    step.sync()
    wall = (time.perf_counter() - t0) / steps
    lines = [f"per-layer time, {net}/{variant}, batch {batch}, {backend} "
             f"(mean of {steps} steps; step = {wall * 1e3:.1f} ms)"]
    for (kind, phase), t in sorted(totals.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {kind:<22} {phase:<8} {t / steps * 1e3:8.1f} ms  {t / steps / wall:6.1%}")
    layer_sum = sum(totals.values()) / steps
    lines.append(f"  {'(loss+Adam+rest)':<31} {(wall - layer_sum) * 1e3:8.1f} ms")
    step = LinkedrefStep(net, variant, batch, backend)
    step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
    lines.append(buf.getvalue())
    return "\n".join(lines)


# ------------------------------------------------------------------------------ reporting
def _have_torch():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def set_threads(threads):
    """Limit BLAS/OpenMP pools (threadpoolctl) and torch's intra-op pool to ``threads``."""
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=threads)
    except ImportError:
        pass
    if _have_torch():
        import torch
        torch.set_num_threads(threads)


def machine_info(threads) -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    lines = [f"date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}",
             f"machine: {platform.platform()}; {platform.processor() or platform.machine()}; "
             f"{os.cpu_count()} CPUs (usable {usable}); "
             f"load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}",
             f"python {platform.python_version()}, numpy {np.__version__}, "
             f"threads requested {threads}"]
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        lines.append(f"numpy BLAS: {blas.get('name')} {blas.get('version', '')}")
    except Exception:  # older numpy: no mode="dicts"
        pass
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            lib = os.path.basename(pool.get("filepath", ""))
            lines.append(f"  threadpool: {pool.get('internal_api')} ({lib}) "
                         f"num_threads={pool.get('num_threads')}")
    except ImportError:
        lines.append("  (threadpoolctl not installed: thread pools not listed)")
    if _have_torch():
        import torch
        lines.append(f"torch {torch.__version__}: intra-op threads {torch.get_num_threads()}, "
                     f"mkldnn {torch.backends.mkldnn.is_available()}, "
                     f"cuda {torch.cuda.is_available()}")
    else:
        lines.append("torch: not installed (no comparison)")
    try:
        import cupy
        dev = cupy.cuda.runtime.getDeviceProperties(0)
        gpu = dev["name"].decode() if isinstance(dev["name"], bytes) else dev["name"]
        lines.append(f"cupy {cupy.__version__}, "
                     f"CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, GPU {gpu}")
    except Exception:
        pass
    return "\n".join(lines)


def torch_device_for(backend, choice):
    """Which torch device to compare a linkedref backend with (None: no comparison)."""
    if choice == "none" or not _have_torch():
        return None
    import torch
    if choice == "auto":
        choice = "cuda" if backend == "cupy" else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        return None
    return choice


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", nargs="+", default=["numpy"], choices=["numpy", "cupy"],
                   help="linkedref backend(s) to time (default numpy)")
    p.add_argument("--batch", nargs="+", type=int, default=[32])
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS)
    p.add_argument("--variants", nargs="+", default=["relu", "relu_bn", "lkrelu", "relu_sqrt2"])
    p.add_argument("--repeats", type=int, default=10, help="timed steps per row (median shown)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="BLAS / torch threads (default: all CPUs)")
    p.add_argument("--torch-device", default="auto", choices=["auto", "cpu", "cuda", "none"],
                   help="auto: PyTorch CPU for numpy rows, CUDA for cupy rows")
    p.add_argument("--memory", action=argparse.BooleanOptionalAction, default=None,
                   help="measure the peak memory of a cifar_net step (NumPy vs PyTorch CPU); "
                        "default: only when NumPy rows are compared with PyTorch CPU")
    p.add_argument("--mem-batch", type=int, default=128)
    p.add_argument("--mem-variants", nargs="+", default=["lkrelu"])
    p.add_argument("--profile", metavar="NET:VARIANT", default=None,
                   help="also print a per-layer-type and cProfile breakdown, e.g. cifar:lkrelu")
    p.add_argument("--out", default=None, help="append the printed report to this file")
    p.add_argument("--_memory-child", dest="memory_child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    set_threads(args.threads)
    if args.memory_child:
        memory_child(args.memory_child, args.variants[0], args.mem_batch)
        return 0

    report = []

    def emit(text=""):
        print(text, flush=True)
        report.append(text)

    emit(f"== bench_train: training step = forward + SoftmaxCrossEntropy + backward + Adam, "
         f"float32, input {INPUT}")
    emit(machine_info(args.threads))
    emit(f"warm-up {args.warmup} steps, then median (min) of {args.repeats} interleaved steps")
    header = (f"{'net':<6} {'variant':<11} {'batch':>5} {'backend':<7} {'params':>9} "
              f"{'linkedref ms':>17} {'torch':<5} {'torch ms':>17} {'ratio':>6} {'(min)':>6}")
    emit(header)
    emit("-" * len(header))
    results = {}
    for net in args.nets:
        for variant in args.variants:
            for batch in args.batch:
                for backend in args.backend:
                    device = torch_device_for(backend, args.torch_device)
                    r = bench_one(net, variant, batch, backend, device, args.warmup, args.repeats)
                    results[(net, variant, batch, backend)] = r
                    lr = r["linkedref"]
                    row = (f"{net:<6} {variant:<11} {batch:>5} {backend:<7} {lr['params']:>9,} "
                           f"{lr['median'] * 1e3:>8.1f} ({lr['min'] * 1e3:>6.1f})")
                    if "torch" in r:
                        t = r["torch"]
                        flag = "" if t["params"] == lr["params"] else " (!params differ)"
                        row += (f" {device:<5} {t['median'] * 1e3:>8.1f} ({t['min'] * 1e3:>6.1f})"
                                f" {lr['median'] / t['median']:>5.2f}x"
                                f" {lr['min'] / t['min']:>5.2f}x{flag}")
                    emit(row)
    if "numpy" in args.backend and "cupy" in args.backend:
        emit("\nCuPy speed-up over NumPy (median step time numpy / cupy):")
        for (net, variant, batch, backend), r in results.items():
            if backend == "cupy" and (net, variant, batch, "numpy") in results:
                npt = results[(net, variant, batch, "numpy")]["linkedref"]["median"]
                speedup = npt / r["linkedref"]["median"]
                emit(f"  {net:<6} {variant:<11} batch {batch:>4}: {speedup:6.1f}x")
    bn_pairs = [(k, v) for k, v in results.items() if k[1].endswith("_bn")]
    for (net, variant, batch, backend), r in bn_pairs:
        base = results.get((net, variant[:-3], batch, backend))
        if base:
            emit(f"BatchNorm cost {net}/{variant[:-3]} batch {batch} {backend}: "
                 f"{r['linkedref']['median'] / base['linkedref']['median']:.2f}x "
                 f"the step without BN")

    if args.memory is None:
        args.memory = ("numpy" in args.backend
                       and torch_device_for("numpy", args.torch_device) == "cpu")
    if args.memory:
        for variant in args.mem_variants:
            emit(f"\npeak memory of a cifar_net/{variant} training step, batch {args.mem_batch} "
                 f"(fresh process each; MiB):")
            mem = measure_memory(variant, args.mem_batch, args.threads)
            for fw, m in mem.items():
                if "error" in m:
                    emit(f"  {fw:<9} failed: {m['error']}")
                    continue
                extra = (f"; tracemalloc peak of NumPy/Python allocations {m['traced'] / 2**20:.1f}"
                         if "traced" in m else "")
                emit(f"  {fw:<9} peak {m['peak'] / 2**20:7.1f}  (resident after the steps "
                     f"{m['after'] / 2**20:7.1f})  [{m['method']}]{extra}")
            if all(fw in mem and "error" not in mem[fw] for fw in ("linkedref", "torch")):
                emit(f"  ratio linkedref/torch (peak): "
                     f"{mem['linkedref']['peak'] / mem['torch']['peak']:.2f}x")

    if args.profile:
        net, variant = args.profile.split(":")
        emit("")
        emit(profile(net, variant, args.batch[0], args.backend[0]))

    if args.out:
        with open(args.out, "a") as f:
            f.write("\n".join(report) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
