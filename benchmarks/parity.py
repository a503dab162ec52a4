"""Backend parity: every registered component gives the same forward output and gradients on two
backends (NumPy vs CuPy on a GPU machine; NumPy vs NumPy as a self-test on the CPU).

For each gradient-check case (``linkedref.gradcheck.all_cases()``) the layer and its input are
built once, copied to each backend, run forward and backward with the same upstream gradient, and
the output, dL/dx and every dL/dparam compared with a relative max-norm error:
float64 must agree to 1e-10, float32 to 1e-5.

    python benchmarks/parity.py --a numpy --b cupy

``--save`` writes ``benchmarks/results/parity.txt`` (replacing it) under a provenance header.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [p for p in (os.path.dirname(HERE), HERE) if p not in sys.path]

import linkedref.backend as B  # noqa: E402
from linkedref.gradcheck import all_cases  # noqa: E402

TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


def _uses_randomness(layer) -> bool:
    """Layers that draw random numbers during forward (Dropout) cannot match across devices."""
    if hasattr(layer, "rng") and type(layer).__name__ == "Dropout":
        return True
    return any(_uses_randomness(c) for c in layer.children())


def _run(case_kwargs, backend, dtype):
    """Forward + backward of the case on ``backend`` in ``dtype``; returns {name: numpy array}."""
    module = B.module_for(backend)
    layer, loss = case_kwargs.get("layer"), case_kwargs.get("loss")
    training = case_kwargs.get("training", True)
    if layer is not None and _uses_randomness(layer):
        training = False
    x = module.asarray(B.to_numpy(case_kwargs["x"]).astype(dtype))
    out = {}
    if layer is not None:
        layer = copy.deepcopy(layer).astype(dtype).to(backend)
        y = layer.forward(x, training=training)
    else:
        y = x
    out["y"] = B.to_numpy(y)
    if loss is not None:
        crit = copy.deepcopy(loss)
        out["loss"] = np.asarray(B.to_float(crit.forward(y, case_kwargs.get("labels"))))
        dy = crit.backward()
    else:
        r = np.random.default_rng(0).standard_normal(tuple(y.shape)).astype(dtype)
        dy = module.asarray(r)
    if layer is not None:
        out["dx"] = B.to_numpy(layer.backward(dy))
        out.update({f"d{k}": B.to_numpy(v) for k, v in layer.grads.items()})
    else:
        out["dx"] = B.to_numpy(dy)
    return out


def compare(a="numpy", b="cupy", dtypes=("float64", "float32"), seed=0):
    """Rows (case, dtype, worst tensor, relative error, ok) for every registered case."""
    rows = []
    for case in all_cases():
        for dtype in dtypes:
            kwargs = case.make(np.random.default_rng(seed))
            try:
                ra, rb = _run(kwargs, a, dtype), _run(kwargs, b, dtype)
            except Exception as err:   # a crash on one backend is a parity failure, reported
                message = f"{type(err).__name__}: {err}".splitlines()[0]
                rows.append((case.name, dtype, message, np.inf, False))
                continue
            worst, err = "", 0.0
            for k in ra:
                scale = max(np.abs(ra[k]).max(initial=0.0), 1e-30)
                e = float(np.abs(ra[k].astype(np.float64) - rb[k]).max(initial=0.0) / scale)
                if e >= err:
                    worst, err = k, e
            rows.append((case.name, dtype, worst, err, err <= TOLERANCE[dtype]))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", default="numpy")
    parser.add_argument("--b", default="cupy")
    parser.add_argument("--save", action="store_true",
                        help="write benchmarks/results/parity.txt, replacing it")
    args = parser.parse_args(argv)
    import provenance
    print(provenance.header(1))
    out = provenance.Report()
    rows = compare(args.a, args.b)
    out(f"parity {args.a} vs {args.b}: relative max-norm error (float64 ≤ 1e-10, float32 ≤ 1e-5)")
    out(f"{'component':<40}{'dtype':>8}  {'worst':>14}  {'rel err':>9}  result")
    for name, dtype, worst, err, ok in rows:
        out(f"{name:<40}{dtype:>8}  {worst[:40]:>14}  {err:>9.1e}  {'ok' if ok else 'FAIL'}")
    failed = sum(not r[4] for r in rows)
    out(f"{len(rows) - failed} passed, {failed} failed")
    if args.save:
        provenance.save("parity", out.text(), threads=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
