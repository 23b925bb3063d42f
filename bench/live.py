"""Live runs per second, per program: the helper's wall-clock time for
`--runs` runs, median of `--repeat` invocations; then the median over the
fork-based programs (goal: at least 2,000 runs/s).

    .venv/bin/python bench/live.py [--runs 1000] [--repeat 3]

Needs root and /proc/kpageflags; says why and exits 2 otherwise.
"""

import argparse
import statistics
import sys
from typing import List

from wpdiff.oracle import live
from wpdiff.oracle.live import LiveProgram, Mapping, Skipped, Step, Term
from wpdiff.oracle.live import program as examples


def programs() -> List[LiveProgram]:
    a = (Mapping("P0", "a", 1),)
    return [
        examples.cve_2020_29374(),
        examples.iouring_pin_mprotect(),
        LiveProgram("fork-child-exited", a, (Step("P0", "fork", 0, child="P1"), Step("P1", "exit", 1),
                                             Step("P0", "write", 2, var="a", value=2)), (Term("copied", "P0", "a"),)),
        LiveProgram("fork-child-alive", a, (Step("P0", "fork", 0, child="P1"), Step("P0", "write", 1, var="a", value=2),
                                            Step("P1", "read", 2, var="a", reg="r0")), (Term("reg", "P1", "r0", 2),)),
        LiveProgram("vmsplice-parent-unmap", a, (Step("P0", "vmsplice", 0, var="a", obj="pipe0"),
                                                 Step("P0", "fork", 1, child="P1"), Step("P0", "munmap", 2, var="a"),
                                                 Step("P1", "write", 3, var="a", value=2),
                                                 Step("P0", "pipe-read", 4, obj="pipe0", reg="r0")),
                    (Term("reg", "P0", "r0", 2),)),
        LiveProgram("odirect-pin-shared", a, (Step("P0", "fork", 0, child="P1"),
                                              Step("P0", "pin", 1, var="a", obj="pin0", access="ro", duration="short"),
                                              Step("P1", "read", 2, var="a", reg="r0")), ()),
        LiveProgram("large-fork-alive", (Mapping("P0", "a", 1, large=True),),
                    (Step("P0", "fork", 0, child="P1"), Step("P0", "write", 1, var="a[1]", value=2),
                     Step("P1", "read", 2, var="a[1]", reg="r0")), (Term("reg", "P1", "r0", 2),)),
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench/live.py", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    reason = live.machine_skip()
    if reason:
        print(f"bench.live: skipped: {reason}", file=sys.stderr)
        return 2
    live.helper()  # built before anything is timed
    print(f"kernel {live.kernel_release()}, {args.runs} runs per invocation, median of {args.repeat}")
    forked = []
    for p in programs():
        rates = []
        for _ in range(args.repeat):
            got = live.run(p, runs=args.runs)
            if isinstance(got, Skipped):
                break
            rates.append(got.runs_per_second)
        if not rates:
            print(f"  {p.name:<24} skipped: {got.reason}")
            continue
        rate = statistics.median(rates)
        is_fork = any(s.op == "fork" for s in p.steps)
        if is_fork:
            forked.append(rate)
        print(f"  {p.name:<24} {rate:>8.0f} runs/s  ({'fork' if is_fork else 'no fork'}; verdict {got.verdict.value})")
    if forked:
        median = statistics.median(forked)
        print(f"median over {len(forked)} fork-based programs: {median:.0f} runs/s (goal >= 2,000): "
              f"{'met' if median >= 2000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
