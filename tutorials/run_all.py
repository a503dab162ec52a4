"""Run every tutorial (tutorials/0*.py) in order, each in its own Python process, and report.

Each tutorial runs as ``python tutorials/NN_name.py [--quick|--smoke] --backend B --threads N
[--figdir D]`` (a fresh process, so one tutorial's backend or dtype settings cannot leak into the
next). Their output streams through; at the end a table lists each tutorial's exit status, run
time and verdict line.

    python tutorials/run_all.py --quick          # the trends; figures go to figures/quick/
    python tutorials/run_all.py --jobs 2         # full mode: the README's figures in figures/
    python tutorials/run_all.py --jobs 2 --dataset mnist5k   # 03–08 on the 28×28 MNIST subset
    python tutorials/run_all.py --quick --only 04 08
    python tutorials/run_all.py --quick --activation myunits:LKSoftplus   # your unit beside ours

``--dataset`` goes to the tutorials that take one (03–08; with a data set other than the digits
only those run), ``--jobs`` to those that train runs side by side, ``--activation`` to those that
compare activations (03–09). Full mode also writes each
tutorial's output, under a provenance header (date, commit, machine, load), to
``tutorials/results/<name>.txt`` (``<name>_<dataset>.txt`` off the digits): the README quotes
those files, wall times included (not with --figdir or --activation, which are runs of your own).

Exit status: 0 when every tutorial succeeded, 1 otherwise.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent       # the tutorials; full mode's outputs go to HERE/results
PROGRESS = re.compile(r"[^\n]*: *\d+%\|")         # a tqdm line: "desc:  40%|████  | 2/5 ..."


def tutorials(only=None) -> list:
    """The tutorial scripts tutorials/0*.py in order, optionally only those whose file name
    starts with one of ``only`` ("04", "08_width")."""
    found = sorted(HERE.glob("0*.py"))
    if only:
        found = [p for p in found if any(p.name.startswith(o) for o in only)]
    return found


def options_of(path: Path) -> set:
    """The options the tutorial takes, from the usage line of its --help ("[--jobs JOBS]"; the
    help texts below it may name options of other tutorials)."""
    text = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True,
                          check=True).stdout
    usage = text.split("\n\n", 1)[0]
    return set(re.findall(r"\[(--[a-z-]+)", usage))


def run_one(path: Path, extra, results_file=None) -> tuple:
    """Run one tutorial, streaming its output; -> (exit status, seconds, verdict line).
    ``results_file``: also write the output there (progress bars left out) under a provenance
    header, with the exit status and wall time at the end."""
    print(f"\n{'=' * 100}\n>>> {path.name} {' '.join(extra)}\n{'=' * 100}", flush=True)
    started = (dt.datetime.now(dt.timezone.utc), os.getloadavg())
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(path), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    verdict, kept = "", []
    for line in proc.stdout:                          # (a progress bar's \r ends a line too)
        sys.stdout.write(line)
        if kept and PROGRESS.match(line) and PROGRESS.match(kept[-1]):
            kept.pop()                                # keep each progress bar's last state
        kept.append(line)
        if line.startswith("VERDICT:"):
            verdict = line[len("VERDICT:"):].strip()
    proc.wait()
    seconds = time.perf_counter() - start
    if results_file is not None:
        save_output(results_file, path, extra, "".join(kept), proc.returncode, seconds, started)
    return proc.returncode, seconds, verdict


def save_output(results_file: Path, path: Path, extra, output: str, rc: int, seconds: float,
                started):
    """Write one tutorial's full-mode output under the provenance header (as the benchmarks'):
    ``started`` is (UTC datetime, load average) when the tutorial's process started."""
    benchmarks = str(Path(__file__).resolve().parents[1] / "benchmarks")
    if benchmarks not in sys.path:
        sys.path.insert(0, benchmarks)
    from provenance import header
    results_file.parent.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python", f"tutorials/{path.name}", *extra])
    jobs = extra[extra.index("--jobs") + 1] if "--jobs" in extra else "1"
    threads = extra[extra.index("--threads") + 1] if "--threads" in extra else "1"
    used = f"--threads {threads} in each of {jobs} training process(es) (--jobs {jobs})"
    results_file.write_text(f"== {path.stem}: {command}\n{header(used, started)}\n\n"
                            f"{output.rstrip()}\n\nexit status {rc}; wall time {seconds:.0f} s\n",
                            encoding="utf-8")
    print(f"saved {results_file.relative_to(HERE.parent)}")


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
    p.add_argument("--dataset", choices=("digits", "mnist5k"), default=None,
                   help="data set of the tutorials that take one (03–08); with mnist5k only "
                        "those run (default: each tutorial's own, the 8×8 digits)")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs trained side by side by the tutorials that take --jobs")
    p.add_argument("--activation", action="append", default=[], metavar="MODULE:CLASS",
                   help="a unit of your own (an lk.Activation), passed to the tutorials that "
                        "compare activations; repeatable")
    args = p.parse_args(argv)
    args.paths = tutorials(args.only)
    args.options = {path: options_of(path) for path in args.paths} if (
        args.dataset or args.jobs > 1 or args.activation) else {path: set() for path in args.paths}
    if args.dataset not in (None, "digits") and not args.only:
        args.paths = [path for path in args.paths if "--dataset" in args.options[path]]
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
    full = not (args.quick or args.smoke)
    results, start = [], time.perf_counter()
    for path in args.paths:
        mine = list(extra)
        if args.dataset and "--dataset" in args.options[path]:
            mine += ["--dataset", args.dataset]
        if args.jobs > 1 and "--jobs" in args.options[path]:
            mine += ["--jobs", str(args.jobs)]
        if "--activation" in args.options[path]:
            mine += [part for spec in args.activation for part in ("--activation", spec)]
        dataset = args.dataset if "--dataset" in args.options[path] else None
        name = path.stem + (f"_{dataset}" if dataset not in (None, "digits") else "")
        mine_only = args.figdir is None and not args.activation      # the tracked results
        results_file = HERE / "results" / f"{name}.txt" if full and mine_only else None
        results.append((path.name, *run_one(path, mine, results_file)))
    failed = report(args, results, time.perf_counter() - start)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
