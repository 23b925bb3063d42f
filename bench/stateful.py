"""Benchmark: the stateful search's time to first find each historical
data-level finding.  ``python -m bench.stateful [--runs N] [--era E]`` (from the repository root)

For every era the catalogue says breaks something at the data level
(``wpdiff.diff.stateful.history()``), and every guarantee it breaks there:
ten fresh searches (seeds 0..9; no database, no ``@example``, nothing
shrunk), each timed from its start to the first program that breaks the
guarantee.  Printed: the median and the worst, how many of the runs found
it, and the goal (a median under 5 s).  Then the eras that must stay
clean, searched once with the ``ci`` profile (``thorough`` with
``--thorough``), with the programs and rules it ran.
"""

import argparse
import statistics
import time

from wpdiff.diff import stateful as S
from wpdiff.spec.eras import ERAS

GOAL = 5.0  # seconds: the median time to first find, per finding


def main(argv=None) -> None:  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser(prog="python -m bench.stateful", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--era", action="append", help="only this era (repeatable)")
    parser.add_argument("--thorough", action="store_true", help="the clean eras with the thorough profile")
    args = parser.parse_args(argv)
    eras = args.era or list(ERAS)
    print(f"stateful search: time to first find, {args.runs} runs each (seeds 0..{args.runs - 1}), "
          f"profile thorough's budget, nothing shrunk")
    medians = []
    for era_id in eras:
        gids = sorted(S.expected(era_id))
        if not gids:
            continue
        times = {g: [] for g in gids}
        start = time.perf_counter()
        for seed in range(args.runs):
            found = S.time_to_find(era_id, gids, seed)
            for g in gids:
                times[g].append(found.get(g, float("inf")))
        for g in gids:
            ts = times[g]
            hits = [t for t in ts if t != float("inf")]
            med = statistics.median(ts)
            medians.append(med)
            print(f"   {era_id:9s} {g:26s} median {med:6.2f} s  worst {max(ts):6.2f} s  found {len(hits)}/{len(ts)}"
                  + ("" if med < GOAL else "  OVER THE GOAL"))
        print(f"   {era_id:9s} ({time.perf_counter() - start:.1f} s for the {args.runs} runs)")
    profile = "thorough" if args.thorough else "ci"
    for era_id in eras:
        if S.expected(era_id):
            continue
        s = S.search(era_id, profile, seed=0)
        found = ", ".join(f.guarantee for f in s.findings) or "nothing"
        print(f"   {era_id:9s} clean era, {profile}: {found} in {s.cases} programs, {s.rules} rules "
              f"({s.dropped} dropped), {s.seconds:.1f} s")
    if medians:
        print(f"stateful time-to-first-find: median of medians {statistics.median(medians):.2f} s, "
              f"worst median {max(medians):.2f} s (goal < {GOAL:.0f} s)")


if __name__ == "__main__":
    main()
