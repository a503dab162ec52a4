"""How many CPU threads linkedref's NumPy work may use: one setting, ``set_threads``.

    lk.set_threads(1)            # one thread: the plain, in-order code path
    lk.set_threads(2)            # the fast path's passes shared by two threads
    lk.set_threads(None)         # every core, BLAS back to its library's own setting
    with lk.using_threads(2): ...   # for a block, then back

The fast path (``linkedref.conv_fast``; the pooling layers, LK-ReLU and the optimizers'
updates through ``batchwise``) cuts the batch into cache-sized pieces and runs them with
``parallel``: in order on the calling thread at one thread, else on the caller and
``get_threads() − 1`` threads of a small persistent pool, each piece's GEMMs on one BLAS thread.
A pass too small to pay for the hand-off (``conv_fast.shared_pass``, ``MIN_SHARE_BYTES`` here)
keeps its pieces on the calling thread at any n. Results are the same bit for bit at any number
of threads. (Dense's GEMM is not cut: row blocks of a GEMM need not round as the whole does,
``benchmarks/gemm_row_split.py``.)

``set_threads(n)`` limits BLAS (OpenBLAS, MKL, ... behind NumPy) to one thread, whatever n,
with threadpoolctl (it works after NumPy was imported, without environment variables). Why:
OpenBLAS's own threads stay awake, spinning, for 0.1–0.2 s after each multi-threaded call, and
on a small machine they take the cores the pool needs (benchmarks/README.md, "Using every
core"). The price: a GEMM outside the fast path (Dense) runs on one core. ``set_threads(None)``,
like a fresh process, leaves BLAS as its library set it (every core, and those spinning
threads) and lets the pool use every core too.
On CuPy the setting has no effect on the GPU.
"""
from __future__ import annotations

import contextlib
import numbers
import os
import threading

from threadpoolctl import ThreadpoolController, threadpool_limits

_state = {"threads": None, "limiter": None, "pool": None, "workers": 0, "blas": None}
_local = threading.local()                       # .worker is True on the pool's threads


def cpu_count() -> int:
    """The cores this process may run on (its CPU affinity, else ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                       # not on Linux
        return os.cpu_count() or 1


def set_threads(n) -> None:
    """Use ``n`` threads (an int ≥ 1) for the fast path and one for BLAS (see above); None:
    every core for the fast path, BLAS as its library set it."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
        raise ValueError(f"set_threads: expected an integer ≥ 1 or None (every core), got {n!r}")
    if n is None and _state["limiter"] is not None:
        _state["limiter"].restore_original_limits()
        _state["limiter"] = None
    elif n is not None and _state["limiter"] is None:
        _state["limiter"] = threadpool_limits(limits=1, user_api="blas")
    _state["threads"] = None if n is None else int(n)
    if _state["pool"] is not None and _state["workers"] != get_threads() - 1:
        _state["pool"].close()                   # re-created at its new size when next needed
        _state["pool"] = None


def get_threads() -> int:
    """The number of threads in use: the last ``set_threads(n)``, else every core."""
    return _state["threads"] or cpu_count()


@contextlib.contextmanager
def threads(n):
    """``with lk.using_threads(1): ...`` — set the threads for a block, then restore the setting."""
    previous = _state["threads"]
    set_threads(n)
    try:
        yield
    finally:
        set_threads(previous)


def blas_info() -> str:
    """One line naming the BLAS library and the threads it uses now (for benchmark output)."""
    from threadpoolctl import threadpool_info
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return "BLAS: none found"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')}: {i.get('num_threads')} threads"
                     for i in blas)


# ----------------------------------------------------------------------------- the pool
def in_worker() -> bool:
    """True on the threads of the pool behind ``parallel`` (each keeps its own scratch)."""
    return getattr(_local, "worker", False)


class _Pool:
    """``size`` daemon threads that join each job ``run`` starts; between jobs they sleep on a
    condition. (They used to spin awake for 2 ms after each job, to be handed the next one
    sooner; but a spinning Python thread takes the GIL again and again, and the caller's serial
    work in between paid more for it than the hand-offs saved: benchmarks/README.md.)"""

    def __init__(self, size):
        self.size, self.cond = size, threading.Condition()
        self.job, self.generation, self.open, self.running, self.errors = None, 0, False, 0, []
        self.closed = False
        for i in range(size):
            threading.Thread(target=self._serve, name=f"linkedref-{i}", daemon=True).start()

    def run(self, drain):
        """drain() on this thread and on every pool thread that joins before this one is done."""
        with self.cond:
            self.job, self.open, self.errors = drain, True, []
            self.generation += 1
            self.cond.notify_all()
        try:
            drain()
        finally:
            with self.cond:
                self.open = False                # a thread that has not joined yet skips it
                self.cond.wait_for(lambda: not self.running)
        if self.errors:
            raise self.errors[0]

    def close(self):
        """Let the threads end (after the job they are in)."""
        with self.cond:
            self.closed, self.open = True, False
            self.generation += 1
            self.cond.notify_all()

    def _serve(self):
        _local.worker = True
        seen = 0
        while True:
            with self.cond:
                self.cond.wait_for(lambda seen=seen: self.generation != seen)
                seen, drain = self.generation, self.job
                if self.closed:
                    return
                if not self.open:
                    continue
                self.running += 1
            try:
                drain()
            except BaseException as error:      # raised again by run(), on the caller's thread
                self.errors.append(error)
            with self.cond:
                self.running -= 1
                self.cond.notify_all()


def _pool():
    """The persistent pool of ``get_threads() − 1`` threads, created when first needed."""
    if _state["pool"] is None:
        _state["workers"] = get_threads() - 1
        _state["pool"] = _Pool(_state["workers"])
    return _state["pool"]


def _forget_pool():
    _state["pool"] = None                        # a forked child has none of the parent's threads


os.register_at_fork(after_in_child=_forget_pool)


@contextlib.contextmanager
def _one_blas_thread():
    """BLAS on one thread for a block (each pool thread runs its own GEMMs), then as it was."""
    if _state["blas"] is None:                   # found once: cheap get/set calls afterwards
        _state["blas"] = [c for c in ThreadpoolController().lib_controllers
                          if c.user_api == "blas"]
    before = [c.get_num_threads() for c in _state["blas"]]
    if all(n == 1 for n in before):              # as after set_threads(n): nothing to change
        yield
        return
    for c in _state["blas"]:
        c.set_num_threads(1)
    try:
        yield
    finally:
        for c, n in zip(_state["blas"], before):
            c.set_num_threads(n)


def parallel(fn, items) -> None:
    """Call ``fn(item)`` for every item, on ``get_threads()`` threads.

    One thread: a plain loop, in order, on the calling thread (nothing else changes). More: the
    caller and ``get_threads() − 1`` pool threads take items in turn until none is left, with
    BLAS limited to one thread meanwhile, so that a GEMM computes exactly what it computes at one
    thread (OpenBLAS sums some products in another order on several threads) and the threads do
    not compete with BLAS's own. ``fn`` must write only what its item owns; an exception in any
    item is raised here once every thread has stopped. On a pool thread: a plain loop.
    """
    items = list(items)
    if get_threads() == 1 or in_worker():
        for item in items:
            fn(item)
        return
    queue = iter(items)                          # next() on a list iterator is atomic

    def drain():
        for item in queue:
            fn(item)

    with _one_blas_thread():
        if len(items) == 1:
            drain()                              # nothing to share: no hand-off
        else:
            _pool().run(drain)


MIN_SHARE_BYTES = 2 ** 21        # a pass shared by batchwise holds ≥ 2× this in its first array
PASS_BYTES = 2 ** 19             # a slice of an elementwise pass: this much of its largest array


def batch_slices(arrays):
    """Slices of the batch (axis 0) of ``arrays`` that take about ``PASS_BYTES`` of the largest
    array each (at least one sample). Why: a pass of several operations (compare, multiply, add,
    …) then finds each slice's operands in the CPU cache, where the previous operation left them;
    on the whole batch each operation reads its operands from memory again (measured:
    benchmarks/README.md, "Using every core")."""
    N = len(arrays[0])
    per_sample = max(a.nbytes for a in arrays) // max(N, 1)
    step = max(1, PASS_BYTES // max(per_sample, 1))
    return [slice(start, min(start + step, N)) for start in range(0, N, step)]


def batchwise(fn, *arrays, like=None):
    """``fn(*arrays)`` computed on slices of the batch (axis 0): for an ``fn`` that treats each
    sample alone (an elementwise pass), so the result is the same bit for bit however the batch is
    cut. ``fn`` either writes into ``arrays`` (returns None), or returns its result, an array of
    ``like``'s shape (then each slice's result is written into one new array, of the dtype the
    first slice's result has, as the whole batch's would).

    The slices are cache-sized (``batch_slices``); at one thread they run in order on the calling
    thread; at n threads ``parallel`` shares them when the first array holds at least two pieces'
    worth, 2 × ``MIN_SHARE_BYTES``. Arrays off the CPU: just ``fn(*arrays)``, once (a GPU has no
    such cache to fit).
    """
    first = arrays[0]
    if type(first).__module__ != "numpy" or len(first) < 2:
        return fn(*arrays)
    slices = batch_slices(arrays)
    if len(slices) == 1:
        return fn(*arrays)
    out = None
    if like is not None:                         # the first slice here: it sets out's dtype
        import numpy
        head = fn(*(a[slices[0]] for a in arrays))
        out = numpy.empty(like.shape, dtype=head.dtype)
        out[slices[0]], slices = head, slices[1:]

    def piece(batch):
        result = fn(*(a[batch] for a in arrays))
        if out is not None:
            out[batch] = result

    if get_threads() > 1 and first.nbytes >= 2 * MIN_SHARE_BYTES:
        parallel(piece, slices)
    else:
        for batch in slices:                     # in order, on this thread
            piece(batch)
    return out
