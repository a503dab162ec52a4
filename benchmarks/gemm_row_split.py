"""Could two threads share a Dense layer's GEMM and keep its bits? A check of this machine's BLAS.

    PYTHONPATH=. python benchmarks/gemm_row_split.py [--trials 1500] [--seed 0]

Sharing ``x @ W`` between threads means cutting it into row blocks, ``x[:c] @ W`` and
``x[c:] @ W``, one GEMM each. linkedref promises the same bits at any number of threads, so that
is only allowed if every row of the cut product equals the same row of the whole product, bit
for bit. Nothing in BLAS promises it: a library may pick another kernel, or another order of the
sums, for another number of rows. This script measures it on random shapes (M rows 2–400,
K 1–3000, N 1–1200, either operand transposed), on one BLAS thread, for float32 and float64,
with the cut anywhere, and with both blocks above OpenBLAS's small-matrix limit
(M·N·K > 10⁶, where it switches to other kernels). It prints how many cuts changed any bit.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits


def cut_differs(rng, dtype, large_blocks):
    """One random product, cut in two row blocks: True if any bit differs, None if skipped."""
    M, K, N = int(rng.integers(4, 401)), int(rng.integers(1, 3001)), int(rng.integers(1, 1201))
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    if rng.integers(2):
        a = np.asfortranarray(a)                 # read transposed by BLAS
    if rng.integers(2):
        b = np.asfortranarray(b)
    c = int(rng.integers(2, M - 1))              # blocks of at least two rows (one row: GEMV)
    if large_blocks and min(c, M - c) * K * N <= 1e6:
        return None
    whole = a @ b
    blocks = np.concatenate([a[:c] @ b, a[c:] @ b])
    return blocks.tobytes() != whole.tobytes()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=1500, help="random products per row")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    print(f"gemm_row_split: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"numpy {np.__version__}; BLAS {', '.join(blas) or 'none found'}; one BLAS thread")
    print(f"{'dtype':<8} {'blocks':<22} {'cuts tried':>10} {'bits differ':>12}")
    with threadpool_limits(limits=1, user_api="blas"):
        for dtype in (np.float32, np.float64):
            for large in (False, True):
                rng = np.random.default_rng(args.seed)
                seen = [cut_differs(rng, dtype, large) for _ in range(args.trials)]
                tried = [s for s in seen if s is not None]
                label = "both M·N·K > 1e6" if large else "any size"
                print(f"{np.dtype(dtype).name:<8} {label:<22} {len(tried):>10} {sum(tried):>12}",
                      flush=True)


if __name__ == "__main__":
    main()
