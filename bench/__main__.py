"""wpdiff benchmarks: ``python -m bench`` (from the repository root).

Everything is measured side by side in one run on this machine:

1. fastpath-vs-spec: per fault, each era's scalar fast path on the word
   against its reference model on the abstract state, on the same states
   (the small space);
2. batch: the v6.15 fast path compiled by Numba over NumPy arrays, in
   states per second on one core, against the same fast path in C built
   with the machine's cc (the physical reference; checked bit for bit
   first), and the memory the batch needs for every era over both
   exhaustive spaces;
3. the default ``wpdiff check`` end to end;
4. engine power: each engine against the mutants of ``impl.mutants`` --
   the share it catches within its default budget and the median time to
   catch one;
5. the Hypothesis engine's time to first find each historical finding,
   with no examples given and no database;
6. the CrossHair engine as ``wpdiff check --engine crosshair`` runs it:
   each proof's and search's verdict and time, the history it reproduces,
   and the whole job's time;
7. power as a user meets it (``bench.power``): per engine, the worst run's
   catch rate over the broken mutants, several seeds, counting what the
   user-facing ``--fastpath`` check flags;
8. the litmus catalogue on every era (``bench.litmus``): seconds,
   interleavings and states per second;
9. the stateful search (``bench.stateful``): median time to first find
   each historical data-level finding, 10 runs each;
10. live runs per second per program on this machine's kernel
    (``bench.live``; skipped, saying why, where it cannot run);
11. the kernel's own C (``bench.ktree``): extraction and build, cold and
    cached, and states per second beside the Numba batch path and
    ``bench/cpath.py``'s C.

The last line sums up:
``fastpath-vs-spec: N.Nx  batch: N Mstates/s  C-vs-batch: N.Nx  batch-mem: N MiB``.
Options: ``--quick`` skips the CrossHair parts (4, 6, and CrossHair in 7)
and runs the stateful search 3 times per finding instead of 10.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from wpdiff.diff import exhaustive
from wpdiff.diff.hypo import search, time_to_find
from wpdiff.diff.check import missing_history
from wpdiff.diff.report import SEARCH_RUN, Report
from wpdiff.diff.symbolic import check_faithfulness, run_crosshair
from wpdiff.diff.targets import Target, builtin
from wpdiff.impl import batch
from wpdiff.impl.concretize import concretize
from wpdiff.impl.fastpath import FASTPATHS
from wpdiff.impl.mutants import MUTANTS
from wpdiff.spec import ERAS
from wpdiff.spec.history import FINDINGS

from .cpath import build

CORES = os.cpu_count() or 1


def per_call(fn, args, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for a in args:
            fn(a)
        best = min(best, (time.perf_counter() - start) / len(args))
    return best


def fastpath_vs_spec() -> float:
    print("1. scalar fast path vs reference model, per fault (small space)")
    states = exhaustive.space("small")
    ratios = []
    for era_id, era in ERAS.items():
        words = [concretize(era_id, s) for s in states]
        spec = per_call(era, states)
        fast = per_call(FASTPATHS[era_id], words)
        ratios.append(spec / fast)
        print(f"   {era_id:9s} spec {spec * 1e6:6.2f} us  fast path {fast * 1e6:5.2f} us  {spec / fast:5.1f}x")
    print(f"   smallest ratio {min(ratios):.1f}x")
    return min(ratios)


def batch_path() -> tuple:
    print("2. batch path (v6.15, one core) vs the same fast path in C")
    states = exhaustive.space("visible")
    words = np.array([concretize("v6.15", s) for s in states], dtype=np.uint64)
    reps = max(1, 20_000_000 // words.size)
    big = np.tile(words, reps)  # the visible space, in enumeration order, repeated
    after, trace = np.empty_like(big), np.empty_like(big)
    run_c = build()
    run_c(big, after, trace)
    a, t = batch.run(FASTPATHS["v6.15"], big)
    assert np.array_equal(a, after) and np.array_equal(t, trace), "C and the batch path disagree"
    loop = batch.compile_batch(FASTPATHS["v6.15"])
    i64 = (big.view(np.int64), a.view(np.int64), t.view(np.int64))
    loop(*i64)
    batch_s = min(_timed(lambda: loop(*i64)) for _ in range(5))
    c_s = min(_timed(lambda: run_c(big, after, trace)) for _ in range(5))
    rate = big.size / batch_s / 1e6
    print(f"   {big.size} states: batch {batch_s * 1e3:.0f} ms = {rate:.0f} Mstates/s; C {c_s * 1e3:.0f} ms = "
          f"{big.size / c_s / 1e6:.0f} Mstates/s; C is {batch_s / c_s:.2f}x the batch")
    mem = batch_memory()
    return rate, batch_s / c_s, mem


def batch_memory() -> float:
    """The batch path over the whole bounded space -- every era, the full and
    visible spaces -- with every array kept, as the exhaustive engine keeps
    them: tracemalloc's peak (NumPy reports its buffers to it), in MiB."""
    states = exhaustive.space("full") + exhaustive.space("visible")
    words = {e: [concretize(e, s) for s in states] for e in ERAS}
    tracemalloc.start()
    kept = []
    for era_id in ERAS:
        array = np.array(words[era_id], dtype=np.uint64)
        kept.append((array, *batch.run(FASTPATHS[era_id], array)))
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"   memory of the batch path over every era, full and visible spaces ({len(states)} states each): "
          f"{peak:.0f} MiB at peak (tracemalloc)")
    return peak


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def default_check() -> float:
    """The README's main command as a new user meets it: a fresh clone, a
    fresh venv, the install (pip's cache is the machine's), the first
    `wpdiff check` with no kept results, then a warm one.  Goals: under 30 s
    for the first three together, under 3 s warm."""
    import shutil
    import tempfile

    print("3. the README's main command: fresh clone, venv and install, first run, warm run")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory(prefix="wpdiff-bench-") as tmp:
        clone = os.path.join(tmp, "wpdiff")
        subprocess.run(["git", "clone", "-q", root, clone], check=True)
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"))  # nothing kept from earlier runs
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", ".venv"], cwd=clone, check=True)
        subprocess.run([".venv/bin/pip", "install", "-q", "-e", "."], cwd=clone, check=True, env=env,
                       capture_output=True)
        installed = time.perf_counter() - start
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            run = subprocess.run([".venv/bin/wpdiff", "check"], cwd=clone, env=env, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
        shutil.rmtree(os.path.join(tmp, "cache"), ignore_errors=True)
    first = installed + times[0]
    print(f"   install {installed:.1f} s + first check {times[0]:.1f} s = {first:.1f} s (goal < 30 s); "
          f"warm check {times[1]:.1f} s (goal < 3 s); exit {run.returncode}: {run.stdout.strip().splitlines()[-1]}")
    return times[1]


def mutant_target(mutant_id: str) -> Target:
    m = MUTANTS[mutant_id]
    return Target(f"mutant:{mutant_id}", m.era, m.load(), False)


def engine_power(symbolic: bool) -> None:
    print(f"4. engine power on {len(MUTANTS)} broken fast paths (catch rate, median time to catch)")
    sweeps = {}
    caught = {"exhaustive": [], "hypothesis": [], "crosshair": []}
    for m in MUTANTS.values():
        if m.era not in sweeps:
            sweeps[m.era] = exhaustive.sweep([m.era], "small").eras[m.era]
        era = sweeps[m.era]
        fast = m.load()
        start = time.perf_counter()
        hit = None
        for w, a, t in zip(era.words.tolist(), era.after.tolist(), era.trace.tolist()):
            if fast(w) != (a, t):
                hit = time.perf_counter() - start
                break
        caught["exhaustive"].append(hit)
        start = time.perf_counter()
        found, _ = search(m.era, [mutant_target(m.id)], "dev", seed=0, soundness=False, database=False)
        caught["hypothesis"].append(time.perf_counter() - start if any(f.key.startswith("faithfulness") for f in found) else None)
    if symbolic:
        with ThreadPoolExecutor(CORES) as pool:
            futures = [pool.submit(check_faithfulness, mutant_target(m.id), 120.0) for m in MUTANTS.values()]
            for f in futures:
                proof = f.result()
                caught["crosshair"].append(proof.seconds if proof.word is not None else None)
    for engine, times in caught.items():
        if not times:
            print(f"   {engine:10s} skipped (--quick)")
            continue
        hits = [t for t in times if t is not None]
        missed = [m for m, t in zip(MUTANTS, times) if t is None]
        print(f"   {engine:10s} {len(hits)}/{len(times)} = {100 * len(hits) / len(times):.0f}%  "
              f"median {statistics.median(hits):.2f} s" + (f"  missed: {', '.join(missed)}" if missed else ""))


def hypothesis_finds() -> None:
    print("5. Hypothesis: time to first find each historical finding (no examples, no database)")
    times = []
    for f in FINDINGS:
        seconds = time_to_find(f.era, f.invariant, seed=0)
        times.append(seconds if seconds is not None else float("inf"))
        print(f"   {f.era:9s} {f.invariant:28s} {'not found' if seconds is None else f'{seconds:.2f} s'}")
    print(f"   median {statistics.median(times):.2f} s")


def symbolic_job() -> None:
    print("6. The CrossHair engine as `wpdiff check --engine crosshair` runs it: default budgets, all cores")
    report = Report("bench", list(ERAS))
    start = time.perf_counter()
    run_crosshair(report, list(ERAS), [builtin(e) for e in ERAS], jobs=CORES)
    wall = time.perf_counter() - start
    for run in report.runs:
        paths = f"  {run.checked} paths; {run.note}" if run.engine.startswith(SEARCH_RUN) else ""
        print(f"   {run.engine:36s} {run.verdict.value:24s} {run.seconds:5.0f} s{paths}")
    missing = missing_history(report, "crosshair", list(ERAS))
    print(f"   history reproduced: {len(FINDINGS) - len(missing)}/{len(FINDINGS)}"
          + (f" (not: {', '.join(missing)})" if missing else ""))
    print(f"   the whole job: {wall:.0f} s on {CORES} cores")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the CrossHair parts (4 and 6); minutes, not tens")
    quick = parser.parse_args().quick
    ratio = fastpath_vs_spec()
    rate, c_vs_batch, mem = batch_path()
    default_check()
    engine_power(symbolic=not quick)
    hypothesis_finds()
    if not quick:
        symbolic_job()
    from . import ktree, litmus, live, power, stateful

    print("7. engine power, worst run per engine (bench.power)")
    power.main(["--seeds", "5"] if quick else ["--crosshair"])
    print("8. the litmus catalogue (bench.litmus)")
    litmus.main()
    print("9. the stateful search (bench.stateful)")
    stateful.main(["--runs", "3" if quick else "10"])
    print("10. live runs (bench.live)")
    live.main([])
    print("11. the kernel's own C (bench.ktree)")
    ktree.main([])
    print(f"fastpath-vs-spec: {ratio:.1f}x  batch: {rate:.0f} Mstates/s  C-vs-batch: {c_vs_batch:.1f}x  batch-mem: {mem:.0f} MiB")


if __name__ == "__main__":
    main()
