"""How many CPU threads linkedref's NumPy work may use: one setting for BLAS and the fast path.

    lk.set_threads(1)            # small nets: one BLAS thread is fastest (no thread hand-offs)
    lk.set_threads(None)         # back to every core (the BLAS library's own default)
    with lk.threads(2): ...      # for a block, then back

The limit is applied to the BLAS library behind NumPy (OpenBLAS, MKL, ...) with threadpoolctl,
so it works after NumPy was imported, without environment variables. The fast convolution's
copy passes (``linkedref.conv_fast``) split their work over ``get_threads()`` threads too.
On CuPy the setting has no effect on the GPU.
"""
from __future__ import annotations

import contextlib
import numbers
import os

from threadpoolctl import threadpool_limits

_state = {"threads": None, "limiter": None}


def cpu_count() -> int:
    """The cores this process may run on (its CPU affinity, else ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                       # not on Linux
        return os.cpu_count() or 1


def set_threads(n) -> None:
    """Use at most ``n`` threads (an int ≥ 1) for BLAS and the fast path; None: every core."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
        raise ValueError(f"set_threads: expected an integer ≥ 1 or None (every core), got {n!r}")
    if _state["limiter"] is not None:            # undo the previous limit first
        _state["limiter"].restore_original_limits()
        _state["limiter"] = None
    if n is not None:
        _state["limiter"] = threadpool_limits(limits=int(n), user_api="blas")
    _state["threads"] = None if n is None else int(n)


def get_threads() -> int:
    """The number of threads in use: the last ``set_threads(n)``, else every core."""
    return _state["threads"] or cpu_count()


@contextlib.contextmanager
def threads(n):
    """``with threads(1): ...`` — limit the threads for a block, then restore the setting."""
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
