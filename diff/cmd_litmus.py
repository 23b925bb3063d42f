"""``wpdiff litmus FILE|DIR...``: run COW litmus tests on the eras and judge their Result: lines.

Every interleaving of each file's concurrent steps (and of the fault
handler's atomic steps with them) is explored on each era; the output is
herd-style, and each era's observation is judged against the file's
``Result:``.  ``--fastpath`` also runs each program with every fault
decided by the era's fast path and requires identical executions.
``--live`` runs the programs on this machine's kernel instead
(``wpdiff.oracle.live.run``) and holds them against the model of the era
whose span holds ``uname -r`` (``wpdiff.diff.live.judge``).
"""

import argparse
import os
import time
from typing import List, Tuple

from .output import destination, infer_format
from .render import FORMATS
from .targets import BadInput

EXIT_CODES = """\
exit codes:
  0  every era's observation is the one the file's Result: states
  1  at least one is not (or --fastpath: a fast path's executions differ)
  2  bad input: a malformed litmus file (file:line:col), an unknown era,
     a program that cannot run in an era (which step, and why)
"""


def register(subparsers) -> None:  # type: ignore[no-untyped-def]
    p = subparsers.add_parser(
        "litmus", help="run COW litmus tests on every era and judge their Result: lines",
        description=__doc__.split("\n\n", 1)[1], epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="FILE|DIR", help="litmus files, or directories of *.litmus")
    p.add_argument("--era", default="all", help="an era id (or a release like 6.1), or 'all' (default)")
    p.add_argument("--witness", action="store_true", help="print one interleaving that reaches the outcome")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="text (herd-style), or the shared report: json, sarif (at each file's exists line), "
                        "junit, tap (default: from -o's suffix, else text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report here (default: standard output)")
    p.add_argument("--fastpath", action="store_true",
                   help="also run every program with the fast paths' decisions; they must be identical")
    p.add_argument("--live", action="store_true", help="run the programs on this machine's kernel")
    p.add_argument("--runs", type=int, default=None, metavar="N", help="live runs per program")
    p.set_defaults(run=run)


def files(paths: List[str]) -> List[str]:
    out: List[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".litmus"))
            if not found:
                raise BadInput(f"{p}: a directory with no *.litmus file")
            out.extend(found)
        elif os.path.isfile(p):
            out.append(p)
        else:
            raise BadInput(f"{p}: no such file or directory")
    return out


def load(path: str):  # type: ignore[no-untyped-def]
    from .litmus.syntax import LitmusError, parse

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: cannot read: {e}") from None
    try:
        return parse(text, path)
    except LitmusError as e:
        raise BadInput(str(e)) from None


def era_ids(spec: str) -> List[str]:
    from wpdiff.spec import eras

    if spec == "all":
        return list(eras.ERAS)
    try:
        return [eras.era(spec).id]
    except ValueError as e:
        raise BadInput(f"--era: {e}") from None


def run(args: argparse.Namespace) -> int:
    from wpdiff.spec.world.world import ProgramError

    from .litmus import faithful
    from .litmus.explore import explore
    from .litmus.herd import LitmusFile, LitmusReport, render_text
    from .render import render
    from .report import EngineRun, Verdict, litmus_report

    if args.runs is not None and args.runs < 1:
        raise BadInput(f"--runs {args.runs}: expected a number of runs >= 1")
    fmt = infer_format(args.output, args.format)
    out = destination(args.output)  # refused now, before anything runs
    programs = [(path, load(path)) for path in files(args.paths)]
    if args.live:
        return _live(args, programs, fmt, out)
    eras = era_ids(args.era)
    t0 = time.perf_counter()
    results = []
    for path, program in programs:
        try:
            xs = tuple(explore(program, e) for e in eras)
            diffs: List[str] = []
            if args.fastpath:
                for e in eras:
                    diffs.extend(faithful.differences(program, e))
        except ProgramError as e:
            raise BadInput(str(e)) from None
        results.append(LitmusFile(path, program.name, program.exists_loc.line, program.exists_loc.col,
                                    str(program.exists), xs, (not diffs) if args.fastpath else None, tuple(diffs)))
    seconds = time.perf_counter() - t0
    herd = LitmusReport(tuple(results), seconds)
    if fmt == "text":
        out.write(render_text(herd, args.witness))
        return 0 if herd.ok else 1
    shared = litmus_report("litmus " + " ".join(args.paths), results, seconds)
    if args.fastpath:
        differ = [d for r in results for d in r.fastpath_diffs]
        shared.runs.append(EngineRun("litmus-fastpath", Verdict.DIVERGENCE if differ else Verdict.CLEAN,
                                     len(results), 0.0, "; ".join(differ) or
                                     "every program's executions are the same with the fast paths' decisions"))
    out.write(render(shared, fmt, []))
    return 0 if herd.ok else 1


def _live(args: argparse.Namespace, programs: List[Tuple[str, object]], fmt: str, out) -> int:  # type: ignore[no-untyped-def]
    try:
        from . import live
    except ImportError as e:
        raise BadInput(f"--live: the live runner cannot be imported ({e})") from None
    from wpdiff.spec.world.world import ProgramError

    era = None if args.era == "all" else era_ids(args.era)[0]
    try:
        items = live.check_live([program for _, program in programs], args.runs, era)
    except ProgramError as e:
        raise BadInput(str(e)) from None
    out.write(live.render(items, fmt))
    return live.exit_code(j for j, _, _ in items)
