"""``python -m linkedref.gradcheck [--filter TEXT] [--seed N] [--backend NAME] [--module MODULE]``:
check every registered component on the active backend (LINKEDREF_BACKEND) and print a table of
relative errors; with ``--module``, import MODULE (from the current directory or PYTHONPATH) and
check only the cases it registers with ``linkedref.gradcheck.register_case``. Exit status 1 when
any check fails."""
import argparse
import importlib
import sys

from .. import backend as B
from .cases import all_cases, run_cases


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m linkedref.gradcheck", description=__doc__)
    parser.add_argument("--filter", default="", help="only cases whose name contains this text")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default=None, choices=("numpy", "cupy", "strict"),
                        help="numpy, cupy or strict (default: the active one)")
    parser.add_argument("--module", action="append", default=[], help="a module whose cases "
                        "(register_case) are checked instead of the built-in ones; repeatable")
    args = parser.parse_args(argv)
    if args.backend:
        B.set_backend(args.backend)
    cases = all_cases()
    if args.module:
        known = {c.name for c in cases}
        for name in args.module:
            try:
                importlib.import_module(name)
            except Exception as err:
                parser.error(f"cannot import module {name!r} ({type(err).__name__}: {err}); it is "
                             "imported from the current directory or PYTHONPATH")
        cases = [c for c in all_cases() if c.name not in known]
        if not cases:
            parser.error(f"{', '.join(args.module)} registered no case; call register_case(name, "
                         "make) in it (from linkedref.gradcheck import register_case)")
    cases = [c for c in cases if args.filter.lower() in c.name.lower()]
    print(f"linkedref gradient check — backend {B.get_backend()}, float64, {len(cases)} components")
    print(f"{'component':<58}{'max rel err':>12}  {'coords':>7}  {'kinks':>6}  result")
    failed = 0
    for name, result in run_cases(cases, seed=args.seed):
        if isinstance(result, Exception):
            failed += 1
            first = str(result).splitlines()[0]
            print(f"{name:<58}{'-':>12}  {'-':>7}  {'-':>6}  "
                  f"ERROR {type(result).__name__}: {first}")
            continue
        ok = result.passed
        failed += not ok
        coords = sum(r.checked for r in result.rows)
        kinks = sum(r.skipped for r in result.rows)
        print(f"{name:<58}{result.max_error:>12.2e}  {coords:>7}  {kinks:>6}  "
              f"{'ok' if ok else 'FAIL'}")
        if not ok:                          # the numbers, and the member and hint where shown
            print("\n".join("    " + line for line in str(result).splitlines()))
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
