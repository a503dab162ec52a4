"""How many CPU threads linkedref may use: one setting, ``set_threads``, and the pool behind it.

    lk.set_threads(1)                 # one thread (the default of the tutorials)
    lk.set_threads(2)                 # DataParallel runs two replicas of the model at once
    lk.set_threads(None)              # every core, BLAS back to its library's own setting
    with lk.fast.using_threads(2): ...   # for a block, then back

The threads serve one caller, ``DataParallel`` (``linkedref.fast.parallel``), through ``parallel``
below; no layer knows of them, nor does ``fit``.

``set_threads(n)`` also limits BLAS (OpenBLAS, MKL, ... behind NumPy) to one thread, whatever n,
with threadpoolctl: each replica then multiplies on its own core, and OpenBLAS's own threads,
which stay awake spinning for 0.1–0.2 s after each multi-threaded call, do not take the cores the
replicas need. On CuPy the setting has no effect on the GPU.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import numbers
import os
import threading
import warnings

from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

_state = {"threads": None, "limiter": None, "pool": None, "controller": None, "warned": False}


def cpu_count() -> int:
    """The cores this process may run on (its CPU affinity, else ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                       # not on Linux
        return os.cpu_count() or 1


def set_threads(n) -> None:
    """Use ``n`` threads (an int ≥ 1) and one BLAS thread each; None: every core, and BLAS as
    its library set it. Only a model wrapped in ``lk.fast.DataParallel`` uses n > 1 threads (one
    replica each): ``fit`` of a plain model runs on one, BLAS too; so ``n > 1`` warns once."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
        raise ValueError(f"set_threads: expected an integer ≥ 1 or None (every core), got {n!r}")
    if n is not None and n > 1 and not _state["warned"]:
        _state["warned"] = True
        warnings.warn(f"set_threads({n}): a model wrapped in lk.fast.DataParallel(model) trains "
                      f"on {n} threads; a model not wrapped in it trains on one (BLAS is held to "
                      "one thread as well)", UserWarning, stacklevel=2)
    if n is None and _state["limiter"] is not None:
        _state["limiter"].restore_original_limits()
        _state["limiter"] = None
    elif n is not None and _state["limiter"] is None:
        _state["limiter"] = threadpool_limits(limits=1, user_api="blas")
    _state["threads"] = None if n is None else int(n)


def get_threads() -> int:
    """The number of threads in use: the last ``set_threads(n)``, else every core."""
    return _state["threads"] or cpu_count()


@contextlib.contextmanager
def using_threads(n):
    """``with lk.fast.using_threads(2): ...`` — set the threads for a block, then restore them."""
    previous = _state["threads"]
    set_threads(n)
    try:
        yield
    finally:
        set_threads(previous)


def blas_info() -> str:
    """One line naming the BLAS library and the threads it uses now (for benchmark output)."""
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return "BLAS: none found"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')}: {i.get('num_threads')} threads"
                     for i in blas)


def parallel(fn, items) -> None:
    """Call ``fn(item)`` for every item: the first on this thread, each other one on a thread of
    a small persistent pool, all at once; return when every call has ended. ``fn`` must write
    only what its item owns. An exception in any call is raised here once all have stopped.

    One caller uses the pool at a time: a call from inside a pool job, or while another thread's
    call holds the pool, runs its items in order on its own thread (a plain loop, as does a call
    with one item). While the pool runs, BLAS is held to one thread (``set_threads`` already
    does that; after ``set_threads(None)`` this does), so n calls do not each start n BLAS threads.
    """
    items = list(items)
    if len(items) <= 1 or getattr(_local, "busy", False) or not _lock.acquire(blocking=False):
        for item in items:
            fn(item)
        return
    try:
        _local.busy = True
        with _one_blas_thread():
            _pool(len(items) - 1).run(fn, items)
    finally:
        _local.busy = False
        _lock.release()


_lock = threading.Lock()           # held by the one call that is using the pool
_local = threading.local()         # .busy: this thread is inside a pooled call (or is a worker)


@contextlib.contextmanager
def _one_blas_thread():
    """BLAS on one thread for a block, unless ``set_threads(n)`` holds it there already."""
    if _state["limiter"] is not None:
        yield
        return
    if _state["controller"] is None:             # found once: the libraries loaded stay
        _state["controller"] = ThreadpoolController()
    with _state["controller"].limit(limits=1, user_api="blas"):
        yield


class _Pool:
    """``size`` daemon threads that sleep on a condition until ``run`` hands them a job."""

    def __init__(self, size):
        self.size, self.cond = size, threading.Condition()
        self.jobs, self.errors, self.running, self.closed = [], [], 0, False
        for i in range(size):
            threading.Thread(target=self._serve, name=f"linkedref-{i}", daemon=True).start()

    def run(self, fn, items):
        """fn(items[0]) here; fn(items[i]) for i ≥ 1 on the pool's threads."""
        with self.cond:
            self.errors = []
            self.jobs = [(fn, item) for item in items[1:]]
            self.running = len(self.jobs)
            self.cond.notify_all()
        try:
            fn(items[0])
        finally:
            with self.cond:
                self.cond.wait_for(lambda: self.running == 0)
        if self.errors:
            raise self.errors[0]

    def close(self):
        """Let the threads end (a larger pool replaces this one)."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _serve(self):
        _local.busy = True                       # a job's own parallel() calls run in order
        while True:
            with self.cond:
                self.cond.wait_for(lambda: bool(self.jobs) or self.closed)
                if self.closed:
                    return
                fn, item = self.jobs.pop(0)
            try:
                fn(item)
            except BaseException as error:      # raised again by run(), on the caller's thread
                self.errors.append(error)
            with self.cond:
                self.running -= 1
                self.cond.notify_all()


def one_malloc_arena() -> None:
    """Ask glibc's malloc for one arena for every thread (``mallopt(M_ARENA_MAX, 1)``), before the
    pool's threads first allocate. Why: by default each thread allocates from an arena of its own,
    and each arena keeps what is freed in it for its own thread's next requests; two replicas,
    each allocating its activations, then hold nearly twice the memory (benchmarks/README.md).
    Elsewhere than glibc: nothing."""
    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).mallopt(-8, 1)         # M_ARENA_MAX = -8 in glibc's malloc.h
    except (OSError, AttributeError, TypeError):
        pass


def _pool(workers):
    """The persistent pool, grown to at least ``workers`` threads when first needed."""
    if _state["pool"] is None or _state["pool"].size < workers:
        if _state["pool"] is not None:
            _state["pool"].close()
        _state["pool"] = _Pool(workers)
    return _state["pool"]


def _forget_pool():
    _state["pool"] = None                        # a forked child has none of the parent's threads


os.register_at_fork(after_in_child=_forget_pool)
