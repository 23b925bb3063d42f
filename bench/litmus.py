"""Benchmark: the litmus catalogue on every era (seconds, interleavings and
states explored per second).  ``python -m wpdiff.bench.litmus``

The stateful search's time-to-first-find is not measured yet: the search
does not find the historical findings from scratch within its budget
(see wpdiff.diff.stateful)."""

import glob
import os
import time

from wpdiff.diff.litmus.explore import Stats, explore
from wpdiff.diff.litmus.syntax import parse
from wpdiff.spec.eras import ERAS


def main() -> None:
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "litmus")
    programs = [parse(open(f).read(), f) for f in sorted(glob.glob(os.path.join(root, "*.litmus")))]
    stats = Stats()
    t0 = time.perf_counter()
    interleavings = states = bad = 0
    for p in programs:
        for e in ERAS:
            x = explore(p, e, stats=stats)
            interleavings += x.interleavings
            states += x.states
            bad += x.as_stated is False
    dt = time.perf_counter() - t0
    print(f"catalogue: {len(programs)} programs x {len(ERAS)} eras in {dt:.2f} s; {interleavings} interleavings "
          f"({interleavings / dt:.0f}/s), {states} states ({states / dt:.0f}/s), {stats.runs} re-runs; "
          f"{bad} Result(s) not as stated")
    print("stateful search: its time to first find each historical finding is python -m bench.stateful")


if __name__ == "__main__":
    main()
