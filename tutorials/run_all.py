"""Run every tutorial (tutorials/0*.py) in order, each in its own Python process, and report.

Each tutorial runs as ``python tutorials/NN_name.py [--quick|--smoke] --backend B --threads N
[--figdir D]`` (a fresh process, so one tutorial's backend or dtype settings cannot leak into the
next). Their output streams through; at the end a table lists each tutorial's exit status, run
time and verdict line.

    python tutorials/run_all.py --quick          # the trends; figures go to figures/quick/
    python tutorials/run_all.py                  # full mode: the README's figures in figures/
    python tutorials/run_all.py --quick --only 04 08

Exit status: 0 when every tutorial succeeded, 1 otherwise.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def tutorials(only=None) -> list:
    """The tutorial scripts tutorials/0*.py in order, optionally only those whose file name
    starts with one of ``only`` ("04", "08_width")."""
    found = sorted(HERE.glob("0*.py"))
    if only:
        found = [p for p in found if any(p.name.startswith(o) for o in only)]
    return found


def run_one(path: Path, extra) -> tuple:
    """Run one tutorial, streaming its output; -> (exit status, seconds, verdict line)."""
    print(f"\n{'=' * 100}\n>>> {path.name} {' '.join(extra)}\n{'=' * 100}", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(path), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    verdict = ""
    for line in proc.stdout:
        sys.stdout.write(line)
        if line.startswith("VERDICT:"):
            verdict = line[len("VERDICT:"):].strip()
    proc.wait()
    return proc.returncode, time.perf_counter() - start, verdict


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="every tutorial in --quick mode")
    mode.add_argument("--smoke", action="store_true", help="every tutorial in --smoke mode")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                   help="array library for every tutorial (default: numpy)")
    p.add_argument("--threads", type=int, default=1,
                   help="threads (lk.set_threads) for every tutorial, 0 for every core "
                        "(default: 1)")
    p.add_argument("--figdir", type=Path, default=None,
                   help="where figures go (default: each tutorial's own, figures/ in full mode "
                        "and figures/quick/ in quick and smoke mode)")
    p.add_argument("--only", nargs="+", default=None,
                   help="run only the tutorials whose file name starts with these (e.g. 04 08)")
    args = p.parse_args(argv)
    args.paths = tutorials(args.only)
    if not args.paths:
        p.error(f"no tutorial matches {args.only}")
    return args


def report(args, results, total) -> list:
    """Print the summary table; -> the names of the tutorials that failed."""
    width = max(len(name) for name, *_ in results)
    print(f"\n{'=' * 100}\nSummary ({'quick' if args.quick else 'smoke' if args.smoke else 'full'} "
          f"mode, backend {args.backend}, threads {args.threads})")
    print(f"{'tutorial':<{width}}  {'status':>6}  {'seconds':>8}  verdict")
    for name, rc, seconds, verdict in results:
        status = "ok" if rc == 0 else f"rc {rc}"
        print(f"{name:<{width}}  {status:>6}  {seconds:>8.1f}  {verdict[:140]}")
    failed = [name for name, rc, *_ in results if rc != 0]
    print(f"total {total:.1f} s ({total / 60:.1f} min); "
          f"{'all succeeded' if not failed else 'FAILED: ' + ', '.join(failed)}")
    return failed


def main(argv=None) -> int:
    args = parse_args(argv)
    extra = ["--quick"] if args.quick else ["--smoke"] if args.smoke else []
    extra += ["--backend", args.backend, "--threads", str(args.threads)]
    if args.figdir is not None:
        extra += ["--figdir", str(args.figdir)]
    results, start = [], time.perf_counter()
    for path in args.paths:
        results.append((path.name, *run_one(path, extra)))
    failed = report(args, results, time.perf_counter() - start)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
