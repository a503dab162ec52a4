"""Where a benchmark's numbers came from: the header every script prints, and ``save``, which
writes the script's one current results file, ``benchmarks/results/<script>.txt``, with the header
on top. Older results live in git history, not in more files.

    from provenance import Report, header, save
    out = Report()                      # print() that keeps the lines
    print(header(threads=2))
    out("a table row")
    if args.save:
        save("bench_train", out.text(), threads=2)

The header: date (UTC), commit (and whether linkedref/ has uncommitted changes), CPU model and
count, load average (when this module was imported, i.e. before the run, and at save time),
python and numpy versions, linkedref's threads, the BLAS library and its threads (threadpoolctl),
torch and cupy versions when importable.
"""
from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
START = dt.datetime.now(dt.timezone.utc)   # the run's start (scripts import this first) ...
START_LOAD = os.getloadavg()               # ... and the load before the run adds its own


def git_state() -> str:
    """The commit the code ran at, and whether linkedref/ had uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "linkedref"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"commit {head}" + (" + uncommitted changes in linkedref/" if dirty else " (clean)")


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def blas_lines() -> list:
    """numpy's BLAS as built, and every thread pool threadpoolctl sees now (with its threads)."""
    lines = []
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        lines.append(f"numpy BLAS: {blas.get('name')} {blas.get('version', '')}".rstrip())
    except Exception:  # older numpy: no mode="dicts"
        pass
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return lines + ["  (threadpoolctl not installed: thread pools not listed)"]
    for pool in threadpool_info():
        lines.append(f"  threadpool: {pool.get('internal_api')} {pool.get('version') or ''} "
                     f"({os.path.basename(pool.get('filepath', ''))}) "
                     f"num_threads={pool.get('num_threads')}")
    return lines


def framework_lines() -> list:
    """torch's and cupy's versions (and the GPU), where importable."""
    lines = []
    try:
        import torch
        lines.append(f"torch {torch.__version__}: intra-op threads {torch.get_num_threads()}, "
                     f"cuda {torch.cuda.is_available()}")
    except ImportError:
        lines.append("torch: not installed")
    try:
        import cupy
        dev = cupy.cuda.runtime.getDeviceProperties(0)
        gpu = dev["name"].decode() if isinstance(dev["name"], bytes) else dev["name"]
        lines.append(f"cupy {cupy.__version__}, CUDA runtime "
                     f"{cupy.cuda.runtime.runtimeGetVersion()}, GPU {gpu}")
    except Exception:  # not installed, or no GPU
        pass
    return lines


def header(threads=None, started=None) -> str:
    """The provenance lines of a run at ``threads`` (an int, a list of the counts it compares,
    None: not set by the script, or a sentence saying how the run used them), as text.
    ``started``: (UTC datetime, load average) of the run's start, when it was not this module's
    import (``tutorials/run_all.py`` starts one process per tutorial)."""
    import linkedref as lk
    start, start_load = started or (START, START_LOAD)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    if isinstance(threads, (list, tuple)):
        threads = " and ".join(str(t) for t in threads)
    threads = (threads if isinstance(threads, str) else
               f"{threads if threads is not None else 'not set'} (lk.get_threads() now "
               f"{lk.get_threads()}; work is split only by lk.fast.DataParallel)")
    lines = [f"date: {start:%Y-%m-%d %H:%M} UTC (run started)",
             f"code: {git_state()}",
             f"machine: {cpu_model()}, {os.cpu_count()} CPUs (usable {usable}); "
             f"{platform.platform()}",
             f"load average: {_load(start_load)} before the run, {_load(os.getloadavg())} now",
             f"python {platform.python_version()}, numpy {np.__version__}",
             f"threads: {threads}"]
    return "\n".join(lines + blas_lines() + framework_lines())


def save(script_name, text, threads=None) -> str:
    """Write ``benchmarks/results/<script_name>.txt``: the header, a blank line, ``text``
    (replacing the file). Returns the path."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{script_name}.txt")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(f"== {script_name}\n{header(threads)}\n\n{text.rstrip()}\n")
    os.replace(path + ".tmp", path)
    print(f"saved {os.path.relpath(path, ROOT)}")
    return path


class Report:
    """``print`` that keeps what it printed, for ``save``."""

    def __init__(self):
        self.lines = []

    def __call__(self, text=""):
        print(text, flush=True)
        self.lines.append(str(text))

    def text(self) -> str:
        return "\n".join(self.lines)
