"""Time a full training step (forward, softmax cross-entropy, backward, Adam) of the paper's nets,
against the same network in PyTorch on the same device in the same run; and the peak memory of
a cifar_net step against PyTorch's.

    python benchmarks/bench_train.py                       # NumPy vs PyTorch CPU
    python benchmarks/bench_train.py --backend numpy cupy --batch 32 256 \\
        --variants lkrelu --torch-device auto                # on a GPU machine
    python benchmarks/bench_train.py --profile --nets cifar --variants lkrelu \\
        --threads 1                                         # where a step's time goes

``--save`` writes the report to ``benchmarks/results/bench_train.txt`` (with ``--profile``:
``bench_train_profile.txt``), replacing it, under a provenance header (``provenance.py``).

Nets: ``depth`` = depth_net(50 × width 4), ``cifar`` = cifar_net; input 3×32×32, float32.
Variants: "<activation>[_bn][_sqrt2]", e.g. relu, relu_bn (BatchNorm before each activation),
lkrelu, relu_sqrt2 (widths × √2, the paper's fair-parameter single net), lkselu_bn, ...

Timing: ``--warmup`` steps first (allocations, caches, Adam state), then ``--repeats`` timed
steps, each one read from a monotonic clock; the table shows the median (and the minimum) and
the ratio linkedref/torch of both (on a busy machine the minimum is the steadier of the two).
linkedref and PyTorch steps are interleaved (one of each per repeat), so that load from other
processes on a shared machine hits both alike. On CuPy / CUDA the device is synchronised before
each clock reading.

Threads: ``--threads N [M ...]`` goes to ``lk.set_threads`` (BLAS on one thread) and
``torch.set_num_threads``, one timing table per count; the header prints what each framework
reports. At N > 1 the NumPy model runs inside ``lk.fast.DataParallel``, which cuts each batch into
N pieces, one per replica of the model (a model with BatchNorm runs whole: its statistics need the
batch), once its trials have measured that splitting pays (the eight warm-up steps cover them);
CuPy models are never wrapped.

Profile (``--profile``, batch 128 unless ``--batch``): per top-level layer, the forward and
backward time of a step and the part of it in numpy's GEMM functions; with Linux ``perf``, the
CPU time of each layer by operation class (GEMM, BLAS sync, copy, elementwise, reduce, kernel,
Python) from native samples. See the comment above ``_StepProfiler`` for how. Under
DataParallel the layer clocks are those of piece 0 (the calling thread's copy of the model); the
other pieces run beside it. Then, where PyTorch is installed, its twin's step by operator and
input shape (``torch.profiler``).

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
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import numpy as np  # noqa: E402  (benchmark driver, not layer code)
import provenance  # noqa: E402

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
    Adam — as ``lk.fit`` runs it: ``backward(dy, need_dx=False)``, no gradient for the input
    images (PyTorch computes none either: its input does not require grad).

    ``net`` is the model; ``model`` is what the step runs: at more than one thread on NumPy,
    ``lk.fast.DataParallel(net)`` (the optimizer sees the same params either way)."""

    def __init__(self, net, variant, batch, backend, seed=0):
        import linkedref as lk
        import linkedref.backend as B
        from linkedref.losses import SoftmaxCrossEntropy
        from linkedref.optim import Adam
        B.set_backend(backend)
        self.backend = backend
        self.net = build_linkedref(net, variant, seed)
        wrap = backend == "numpy" and lk.get_threads() > 1
        self.model = lk.fast.DataParallel(self.net) if wrap else self.net
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
        self.model.backward(self.loss.backward(), need_dx=False)
        self.opt.step()

    def params(self):
        from linkedref.models import count_params
        return count_params(self.net)


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
# --profile: where one training step spends its time, per layer and per operation class, from
# outside the library (no private names): each top-level layer's forward/backward is wrapped
# with a clock, numpy's GEMM entry points (numpy.matmul, dot, einsum, tensordot — what
# ``xp.matmul`` resolves to at call time) are wrapped with another, and, where Linux ``perf``
# runs, the same steps are sampled natively, each sample put in the layer running at its time
# stamp and in an operation class by its symbol (this also sees what Python cannot: the ``@``
# operator, slice-assignment copies, ufunc loops, the BLAS threads and page faults).
GEMM_FUNCS = ("matmul", "dot", "einsum", "tensordot", "inner", "vdot")
OP_CLASSES = ("GEMM", "BLAS sync", "copy", "elementwise", "reduce", "kernel", "Python", "other")


def _layer_label(layer, x):
    """'Conv2D 16→32 3×3/1' and the input shape, to group identical layers."""
    name = type(layer).__name__
    if hasattr(layer, "in_channels") and hasattr(layer, "kernel_size"):
        (kh, kw), (sh, _) = layer.kernel_size, layer.stride
        name += f" {layer.in_channels}→{layer.out_channels} {kh}×{kw}/{sh}"
    elif name == "Dense" and "W" in layer.params:
        name += " {}→{}".format(*layer.params["W"].shape)
    return name, "×".join(str(v) for v in getattr(x, "shape", ()))


class _StepProfiler:
    """Wraps a model's top-level layers and numpy's GEMM functions with clocks while active.

    steps: one dict per ``new_step()``, {(label, shape, phase): [wall s, GEMM s, GEMM calls]};
    members[key]: the layers in that group; intervals: (t0, t1, key) of every layer call, for
    placing perf samples.
    """

    def __init__(self, model):
        self.model, self.steps, self.members, self.intervals = model, [], {}, []
        self.key, self._saved = None, []
        self._local, self._lock = threading.local(), threading.Lock()   # re-entry guard per thread

    def new_step(self):
        self.steps.append({})

    def __enter__(self):
        for layer in self.model.layers:
            self._saved.append((layer, layer.forward, layer.backward))
            self._wrap_layer(layer)
        for name in GEMM_FUNCS:
            fn = getattr(np, name)
            self._saved.append((np, name, fn))
            setattr(np, name, self._wrap_gemm(fn))
        return self

    def __exit__(self, *exc):
        for owner, a, b in reversed(self._saved):
            if owner is np:
                setattr(np, a, b)
            else:
                owner.forward, owner.backward = a, b
        self._saved.clear()

    def _wrap_gemm(self, fn):
        """fn, timed into the layer running now; calls from worker threads are summed, so the
        GEMM column can exceed the layer's wall time when the library runs GEMMs in parallel."""
        def timed(*args, **kwargs):
            key = self.key
            if key is None or getattr(self._local, "busy", False):
                return fn(*args, **kwargs)
            self._local.busy = True
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                with self._lock:
                    entry = self.steps[-1][key]
                    entry[1] += elapsed
                    entry[2] += 1
                self._local.busy = False
        return timed

    def _wrap_layer(self, layer):
        fwd, bwd, label = layer.forward, layer.backward, {}

        def run(phase, fn, arg, **kwargs):
            if phase == "forward":
                label["name"] = _layer_label(layer, arg)
            key = (*label["name"], phase)
            entry = self.steps[-1].setdefault(key, [0.0, 0.0, 0])
            self.members.setdefault(key, set()).add(id(layer))
            self.key = key
            t0 = time.perf_counter()
            try:
                return fn(arg, **kwargs)
            finally:
                t1 = time.perf_counter()
                self.key = None
                entry[0] += t1 - t0
                self.intervals.append((t0, t1, key))

        layer.forward = lambda x, training=False: run("forward", fwd, x, training=training)
        from linkedref.layer import takes_need_dx
        if takes_need_dx(layer):                 # keep the layer's signature: Sequential reads it
            layer.backward = lambda dy, need_dx=True: run("backward", bwd, dy, need_dx=need_dx)
        else:
            layer.backward = lambda dy: run("backward", bwd, dy)


class _PerfSampler:
    """``perf record`` attached to this process (CPU clock, CLOCK_MONOTONIC time stamps, which
    is what time.perf_counter reads on Linux); ``samples()`` → [(tid, t, ns, class)]."""

    def __init__(self, hz=1999):
        import shutil
        import tempfile
        self.available = shutil.which("perf") is not None and sys.platform.startswith("linux")
        self.hz, self.proc = hz, None
        self.path = os.path.join(tempfile.mkdtemp(prefix="bench_perf_"), "perf.data")

    def start(self):
        cmd = ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(self.hz), "-k", "mono",
               "-o", self.path, "-p", str(os.getpid())]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)                                  # let perf attach to every thread
        if self.proc.poll() is not None:
            self.available = False
            self.error = self.proc.stderr.read().decode(errors="replace")[-300:]

    def stop(self):
        import signal
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=60)

    def samples(self):
        import re
        import shutil
        fields = "tid,time,period,ip,sym,dso"
        out = subprocess.run(["perf", "script", "-i", self.path, "-F", fields],
                             capture_output=True, text=True).stdout
        shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)
        pattern = re.compile(r"^\s*(\d+)\s+([\d.]+):\s+(\d+)\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")
        result = []
        for line in out.splitlines():
            m = pattern.match(line)
            if m:
                tid, t, ns, sym, dso = m.groups()
                result.append((int(tid), float(t), int(ns), _op_class(sym, dso)))
        return result


def _op_class(sym, dso):
    """The operation class of a native sample, from its symbol and shared object."""
    dso, low = os.path.basename(dso).lower(), sym.lower()
    if "yield" in low or "thread_server" in low or low in ("inner_thread", "exec_blas"):
        return "BLAS sync"                               # BLAS threads waiting for each other
    if "blas" in dso or "mkl" in dso:
        return "GEMM"                                    # kernels and operand packing
    if "kernel" in dso:
        return "kernel"                                  # page faults (zeroing new pages), ...
    if "mem" in low and ("cpy" in low or "move" in low or "set" in low):
        return "copy"                                    # libc memcpy / memmove / memset
    if "multiarray_umath" in dso or "_umath" in dso:
        if any(k in low for k in ("copy", "cast", "strided_to", "contig_to", "assign", "swap")):
            return "copy"                                # numpy copy / cast loops
        if "pairwise" in low or "reduce" in low:
            return "reduce"
        return "elementwise"                             # ufunc inner loops
    if "python" in dso:
        return "Python"
    return "other"


def profile(net, variant, batch, backend, repeats=10, warmup=2, use_perf=None):
    """The per-layer, per-operation profile of a training step, as text (see the note above).

    Three passes of ``repeats`` steps each: plain (the step time), clocked (the layer table),
    and, where perf runs, clocked and sampled (the native table; perf's own work on a small
    machine would otherwise slow the clocked pass)."""
    step = LinkedrefStep(net, variant, batch, backend)
    for _ in range(max(2, warmup)):          # DataParallel makes its replicas in the second step,
        step()                               # before the clocks go on piece 0's layers
    load = os.getloadavg()[0]
    plain = [timed(step) for _ in range(repeats)]

    def clocked_steps(prof):
        bounds = []
        with prof:
            for _ in range(repeats):
                prof.new_step()
                t0 = time.perf_counter()
                step()
                bounds.append((t0, time.perf_counter()))
        return bounds

    prof = _StepProfiler(step.net)
    bounds = clocked_steps(prof)
    sampler = _PerfSampler() if use_perf is not False else None
    native = []
    if sampler is not None and sampler.available:
        sampled = _StepProfiler(step.net)
        sampler.start()
        if sampler.available:
            sampled_bounds = clocked_steps(sampled)
            sampler.stop()
            native = _native_table(sampler.samples(), sampled.intervals, sampled_bounds,
                                   repeats, sum(t1 - t0 for t0, t1 in sampled_bounds) / repeats)
    walls = [t1 - t0 for t0, t1 in bounds]
    lines = [f"== profile {net}/{variant}, batch {batch}, {backend}{split_note(step.model)}: "
             "one training step (forward, SoftmaxCrossEntropy, backward, Adam)",
             f"step {statistics.median(plain) * 1e3:.1f} ms (median of {repeats}, no clocks; "
             f"min {min(plain) * 1e3:.1f}); {statistics.median(walls) * 1e3:.1f} ms with the "
             f"clocks below; load average {load:.2f} before, {os.getloadavg()[0]:.2f} after",
             "per layer, ms per step (median over the clocked steps, robust to a busy "
             "machine); GEMM = calls of numpy.matmul/dot/einsum/tensordot, summed over threads "
             "(an `@` operator is not seen: it counts as rest)"]
    lines += _layer_table(prof, statistics.median(walls) * 1e3)
    if sampler is None:
        lines.append("native profile: off (--no-perf)")
    elif not sampler.available:
        why = getattr(sampler, "error", "").strip() or "not found"
        lines.append(f"native profile: Linux perf not available ({why})")
    else:
        lines += native
    return "\n".join(lines)


def split_note(model) -> str:
    """How the last step ran: whole, or cut by DataParallel (whose layer clocks are piece 0's)."""
    pieces = getattr(model, "pieces", False)
    if pieces is False:
        return ""
    if pieces is None:
        return ", DataParallel running whole (batch statistics or one thread)"
    return f", DataParallel in {len(pieces)} pieces (layer clocks: piece 0)"


def _layer_table(prof, step_ms):
    """The clocked pass as lines: ms per step of each layer and phase, GEMM and the rest."""
    lines = []
    head = (f"  {'layer':<26} {'input':<16} {'n':>3} {'phase':<8} {'ms':>8} {'GEMM':>8} "
            f"{'rest':>8} {'calls':>5} {'%step':>6}")
    lines += [head, "  " + "-" * (len(head) - 2)]
    rows = []
    for key in prof.members:
        per_step = [st.get(key, [0.0, 0.0, 0]) for st in prof.steps]
        wall, g, calls = (statistics.median(e[i] for e in per_step) * m
                          for i, m in ((0, 1e3), (1, 1e3), (2, 1)))
        rows.append((wall, g, calls, key))
    gemm = rest = 0.0
    for wall, g, calls, (name, shape, phase) in sorted(rows, key=lambda r: -r[0]):
        gemm, rest = gemm + g, rest + wall - g
        lines.append(f"  {name:<26} {shape:<16} {len(prof.members[(name, shape, phase)]):>3} "
                     f"{phase:<8} {wall:8.2f} {g:8.2f} {wall - g:8.2f} {calls:>5.0f} "
                     f"{wall / step_ms:6.1%}")
    outside = step_ms - gemm - rest
    lines.append(f"  {'(loss, Adam, glue)':<26} {'':<16} {'':>3} {'':<8} {outside:8.2f} "
                 f"{'':>8} {outside:8.2f} {'':>5} {outside / step_ms:6.1%}")
    lines.append(f"  {'step (median)':<26} {'':<16} {'':>3} {'':<8} {step_ms:8.2f} "
                 f"{gemm:8.2f} {step_ms - gemm:8.2f}")
    return lines


def _native_table(samples, intervals, bounds, repeats, step_s):
    """CPU ms per step by layer group × operation class, from perf samples placed by time."""
    import bisect
    intervals = sorted(intervals)
    starts = [iv[0] for iv in intervals]
    main_tid = os.getpid()
    cpu, threads = {}, {}
    for tid, t, ns, cls in samples:
        if not any(t0 <= t <= t1 for t0, t1 in bounds):
            continue
        i = bisect.bisect_right(starts, t) - 1
        key = intervals[i][2] if i >= 0 and t <= intervals[i][1] else ("(loss, Adam, glue)", "", "")
        row = cpu.setdefault(key, dict.fromkeys(OP_CLASSES, 0.0))
        row[cls] += ns / 1e6 / repeats
        who = "main" if tid == main_tid else "other threads"
        threads[who] = threads.get(who, 0.0) + ns / 1e6 / repeats
    lines = ["", f"native samples (perf, CPU clock, {len(samples)} samples): CPU ms per step, "
             "every thread; a row can exceed its wall time when BLAS runs on several threads",
             "  " + f"{'layer':<26} {'input':<16} {'phase':<8} {'CPU ms':>7} "
             + " ".join(f"{c:>11}" for c in OP_CLASSES)]
    total = dict.fromkeys(OP_CLASSES, 0.0)
    for (name, shape, phase), row in sorted(cpu.items(), key=lambda kv: -sum(kv[1].values())):
        for c in OP_CLASSES:
            total[c] += row[c]
        lines.append(f"  {name:<26} {shape:<16} {phase:<8} {sum(row.values()):7.2f} "
                     + " ".join(f"{row[c]:11.2f}" for c in OP_CLASSES))
    cpu_ms = sum(total.values())
    lines.append(f"  {'total':<26} {'':<16} {'':<8} {cpu_ms:7.2f} "
                 + " ".join(f"{total[c]:11.2f}" for c in OP_CLASSES))
    lines.append(f"  {'share':<26} {'':<16} {'':<8} {'':>7} "
                 + " ".join(f"{total[c] / max(cpu_ms, 1e-12):11.1%}" for c in OP_CLASSES))
    lines.append(f"  CPU per step {cpu_ms:.1f} ms for a {step_s * 1e3:.1f} ms step (mean of the "
                 f"sampled steps); by thread: "
                 + ", ".join(f"{k} {v:.1f} ms" for k, v in sorted(threads.items())))
    lines.append("  classes: GEMM = BLAS kernels and packing; BLAS sync = BLAS threads waiting "
                 "(thread server, yield); copy = memcpy/memset and numpy copy/cast loops; "
                 "elementwise / reduce = numpy ufunc loops; kernel = the OS (mostly page faults "
                 "of fresh arrays); Python = the interpreter")
    return lines


# ------------------------------------------------------------------------------ reporting
def _have_torch():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def set_threads(threads):
    """linkedref's threads (``lk.set_threads``: DataParallel's replicas; BLAS on one thread) and
    torch's intra-op pool, both to ``threads``."""
    import linkedref as lk
    lk.set_threads(threads)
    if _have_torch():
        import torch
        torch.set_num_threads(threads)


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


def make_parser():
    """The command line of bench_train.py."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", nargs="+", default=["numpy"], choices=["numpy", "cupy"],
                   help="linkedref backend(s) to time (default numpy)")
    p.add_argument("--batch", nargs="+", type=int, default=None,
                   help="batch size(s) (default 32; 128 with --profile)")
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS)
    p.add_argument("--variants", nargs="+", default=["relu", "relu_bn", "lkrelu", "relu_sqrt2"])
    p.add_argument("--repeats", type=int, default=10, help="timed steps per row (median shown)")
    p.add_argument("--warmup", type=int, default=8,
                   help="untimed steps first (eight: past DataParallel's trials)")
    p.add_argument("--threads", type=int, nargs="+", default=[os.cpu_count()],
                   help="linkedref (lk.set_threads) and torch threads, one timing table each "
                        "(default: all CPUs)")
    p.add_argument("--torch-device", default="auto", choices=["auto", "cpu", "cuda", "none"],
                   help="auto: PyTorch CPU for numpy rows, CUDA for cupy rows")
    p.add_argument("--memory", action=argparse.BooleanOptionalAction, default=None,
                   help="measure the peak memory of a cifar_net step (NumPy vs PyTorch CPU); "
                        "default: only when NumPy rows are compared with PyTorch CPU")
    p.add_argument("--mem-batch", type=int, default=128)
    p.add_argument("--mem-variants", nargs="+", default=["lkrelu"])
    p.add_argument("--profile", metavar="NET:VARIANT", nargs="?", const="", default=None,
                   help="profile mode: per-layer and per-operation time of a training step of "
                        "each --nets × --variants (or of NET:VARIANT, e.g. cifar:lkrelu) "
                        "instead of the timing table")
    p.add_argument("--perf", action=argparse.BooleanOptionalAction, default=None,
                   help="with --profile: sample natively with Linux perf (default: if found)")
    p.add_argument("--save", action="store_true",
                   help="write the report to benchmarks/results/bench_train.txt (with --profile: "
                        "bench_train_profile.txt), replacing it")
    p.add_argument("--_memory-child", dest="memory_child", default=None, help=argparse.SUPPRESS)
    return p


def main(argv=None):
    args = make_parser().parse_args(argv)
    set_threads(args.threads[0])
    if args.memory_child:
        memory_child(args.memory_child, args.variants[0], args.mem_batch)
        return 0
    if args.batch is None:
        args.batch = [128] if args.profile is not None else [32]
    print(provenance.header(args.threads))
    emit = provenance.Report()
    emit(f"== bench_train: training step = forward + SoftmaxCrossEntropy + backward + Adam, "
         f"float32, input {INPUT}")
    if args.profile is not None:
        run_profiles(args, emit)
    else:
        for threads in args.threads:
            set_threads(threads)
            results = run_timings(args, threads, emit)
            report_ratios(results, emit)
        set_threads(args.threads[0])
        if args.memory is None:
            args.memory = ("numpy" in args.backend
                           and torch_device_for("numpy", args.torch_device) == "cpu")
        if args.memory:
            run_memory(args, emit)
    if args.save:
        name = "bench_train_profile" if args.profile is not None else "bench_train"
        provenance.save(name, emit.text(), threads=args.threads)
    return 0


def run_profiles(args, emit):
    """--profile: the per-layer, per-operation profile of each chosen net and variant."""
    pairs = ([tuple(args.profile.split(":"))] if args.profile
             else [(n, v) for n in args.nets for v in args.variants])
    for net, variant in pairs:
        for batch in args.batch:
            emit("")
            emit(profile(net, variant, batch, args.backend[0], args.repeats, args.warmup,
                         args.perf))
            device = torch_device_for(args.backend[0], args.torch_device)
            if device is not None:
                emit(torch_profile(net, variant, batch, device, args.repeats, args.warmup))


def torch_profile(net, variant, batch, device, repeats=10, warmup=2, rows=12):
    """The PyTorch twin's step by operator and input shape (torch.profiler, self time per step),
    to set beside linkedref's layer table: which layers PyTorch runs faster, which slower."""
    import torch
    from torch.profiler import ProfilerActivity
    step = TorchStep(net, variant, batch, device)
    for _ in range(max(1, warmup)):
        step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with torch.profiler.profile(activities=activities, record_shapes=True) as prof:
        for _ in range(repeats):
            step()
    where = "device" if device == "cuda" else "cpu"           # on a GPU: the kernels' own time

    def self_us(event):
        return getattr(event, f"self_{where}_time_total", 0.0)

    events = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -self_us(e))
    total = sum(self_us(e) for e in events) / repeats / 1e3
    lines = [f"== PyTorch twin {net}/{variant}, batch {batch}, {device}: {total:.1f} ms of "
             f"operator self {where} time per step (torch.profiler, mean of {repeats} steps, its "
             "own overhead included); the largest operators, by input shapes",
             f"  {'operator':<42} {'ms/step':>8} {'calls':>6}  input shapes"]
    for e in events[:rows]:
        shapes = ", ".join(str(tuple(s)) for s in e.input_shapes if s)
        lines.append(f"  {e.key[:42]:<42} {self_us(e) / repeats / 1e3:8.2f} "
                     f"{e.count // repeats:6d}  {shapes[:90]}")
    return "\n".join(lines)


def run_timings(args, threads, emit) -> dict:
    """The timing table at ``threads`` threads: one row per net × variant × batch × backend,
    beside PyTorch."""
    emit(f"\n{threads} thread(s) (linkedref and torch): warm-up {args.warmup} steps, then median "
         f"(min) of {args.repeats} interleaved steps")
    if threads > 1:
        emit(f"NumPy rows at {threads} threads run in lk.fast.DataParallel ({threads} "
             "pieces of the batch; _bn variants run whole: BatchNorm needs the batch)")
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
                    emit(timing_row(net, variant, batch, backend, device, r))
    return results


def timing_row(net, variant, batch, backend, device, r) -> str:
    """One row of the timing table."""
    lr = r["linkedref"]
    row = (f"{net:<6} {variant:<11} {batch:>5} {backend:<7} {lr['params']:>9,} "
           f"{lr['median'] * 1e3:>8.1f} ({lr['min'] * 1e3:>6.1f})")
    if "torch" in r:
        t = r["torch"]
        flag = "" if t["params"] == lr["params"] else " (!params differ)"
        row += (f" {device:<5} {t['median'] * 1e3:>8.1f} ({t['min'] * 1e3:>6.1f})"
                f" {lr['median'] / t['median']:>5.2f}x"
                f" {lr['min'] / t['min']:>5.2f}x{flag}")
    return row


def report_ratios(results, emit):
    """CuPy's speed-up over NumPy, and what BatchNorm costs, from the timing table."""
    backends = {k[3] for k in results}
    if {"numpy", "cupy"} <= backends:
        emit("\nCuPy speed-up over NumPy (median step time numpy / cupy):")
        for (net, variant, batch, backend), r in results.items():
            if backend == "cupy" and (net, variant, batch, "numpy") in results:
                npt = results[(net, variant, batch, "numpy")]["linkedref"]["median"]
                speedup = npt / r["linkedref"]["median"]
                emit(f"  {net:<6} {variant:<11} batch {batch:>4}: {speedup:6.1f}x")
    for (net, variant, batch, backend), r in results.items():
        base = results.get((net, variant[:-3], batch, backend)) if variant.endswith("_bn") else None
        if base:
            emit(f"BatchNorm cost {net}/{variant[:-3]} batch {batch} {backend}: "
                 f"{r['linkedref']['median'] / base['linkedref']['median']:.2f}x "
                 f"the step without BN")


def run_memory(args, emit):
    """Peak memory of a cifar_net step, linkedref (NumPy) against PyTorch CPU."""
    for variant in args.mem_variants:
        emit(f"\npeak memory of a cifar_net/{variant} training step, batch {args.mem_batch} "
             f"(fresh process each; MiB):")
        mem = measure_memory(variant, args.mem_batch, args.threads[0])
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


if __name__ == "__main__":
    sys.exit(main())
