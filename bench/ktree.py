"""Benchmark of the kernel's own C (``wpdiff kernel``): ``main()`` prints its numbers.

1. reading a source: a Debian tarball streamed cold (into an empty cache)
   only with ``--cold-tarball`` (it decompresses ~1 GB: 9 s per tarball on
   this machine), then from the cache;
2. extraction (tree-sitter) and build (cc -O2) cold -- into an empty cache
   directory -- and cached;
3. states per second over the visible space (tiled to a few million words),
   one C call per batch: the compiled kernel C (the v6.15 mirror, and the
   6.12 tree when installed) side by side with the Numba batch path
   (``wpdiff.impl.batch.run``) and ``bench/cpath.py``'s hand-written C, all
   checked equal on the words first.

Goals: extraction + build < 5 s cold, instant cached; >= 50 M states/s.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from wpdiff.impl import batch
from wpdiff.impl.concretize import concretize
from wpdiff.impl.fastpath import FASTPATHS
from wpdiff.impl.layout import PAGE_FLAGS
from wpdiff.impl.visible import visible_states
from wpdiff.oracle.ktree import build as kbuild
from wpdiff.oracle.ktree.source import open_source

from .cpath import build as build_cpath

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIRROR = os.path.join(ROOT, "tests", "kernel_mirrors", "v6.15")
TARBALLS = ("/usr/src/linux-source-6.1.tar.xz", "/usr/src/linux-source-6.12.tar.xz")


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ktree", description=__doc__.splitlines()[0])
    parser.add_argument("--cold-tarball", action="store_true", help="also stream each tarball into an empty cache")
    parser.add_argument("--words", type=int, default=4_000_000, help="words per throughput run (default 4M)")
    args = parser.parse_args(argv)

    print("ktree: reading sources")
    trees = [t for t in TARBALLS if os.path.exists(t)]
    for t in trees:
        if args.cold_tarball:
            with tempfile.TemporaryDirectory() as cache:
                secs = best(lambda: open_source(t, cache), 1)
            print(f"  {os.path.basename(t)}: streamed cold {secs:.2f} s")
        open_source(t)  # fill the real cache
        print(f"  {os.path.basename(t)}: cached {best(lambda: open_source(t)) * 1000:.1f} ms")

    print("ktree: extraction + build (cold: an empty cache; cached: the second time)")
    for label, path, era in [("mirror v6.15", MIRROR, "v6.15")] + [(os.path.basename(t), t, None) for t in trees]:
        source = open_source(path)
        pg = PAGE_FLAGS[era or ("v5.19" if "6.1." in (source.release or "") else "v6.9")]
        start = time.perf_counter()
        unit = kbuild.compose(source, pg)
        extracted = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as cache:
            start = time.perf_counter()
            kbuild.build(unit, cache)
            built = time.perf_counter() - start
            cached = best(lambda: kbuild.load(source, pg, cache))
        print(f"  {label}: extraction {extracted * 1000:.0f} ms, build {built:.2f} s cold, "
              f"{cached * 1000:.1f} ms cached (extract + hash + load)")

    print(f"ktree: states/s over the visible space, tiled to {args.words:,} words, one call per batch, one core")
    states = visible_states()
    rows = []
    for label, path, era in [("mirror v6.15", MIRROR, "v6.15")] + [
        (os.path.basename(t), t, "v6.9") for t in trees if "6.12" in t
    ]:
        lib = kbuild.load(open_source(path), PAGE_FLAGS[era])
        base = np.array([concretize(era, s) for s in states], dtype=np.uint64)
        words = np.resize(base, args.words)
        after, trace, _ = lib.run(words)
        n_after, n_trace = batch.run(FASTPATHS[era], words)
        assert (after == n_after).all() and (trace == n_trace).all(), f"{label}: the kernel C and the batch path differ"
        c_rate = args.words / best(lambda: lib.run(words))
        n_rate = args.words / best(lambda: batch.run(FASTPATHS[era], words))
        line = f"  {label} ({era}): kernel C {c_rate / 1e6:.1f} M/s, Numba batch {n_rate / 1e6:.1f} M/s"
        if era == "v6.15":
            run = build_cpath()
            ca, ct = np.empty_like(words), np.empty_like(words)
            run(words, ca, ct)
            assert (ca == after).all() and (ct == trace).all(), "bench/cpath.py's C differs from the kernel C"
            p_rate = args.words / best(lambda: run(words, ca, ct))
            line += f", bench/cpath.py C {p_rate / 1e6:.1f} M/s"
        print(line)
        rows.append(c_rate)
    print(f"ktree: kernel C {min(rows) / 1e6:.1f} M states/s (goal >= 50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
