"""The wpdiff command line.

Every way a run can end is an exit code of its own (``EXIT_CODES``): a bad
input is one line and 2, an interrupt (Ctrl-C) one line and 130 after every
child process is killed and reaped, a crash -- a bug in wpdiff -- one line
naming where it happened and where to report it, and 4 (pytest's 3 for an
internal error is wpdiff's "budget hit").  A reader that stops reading
(``wpdiff eras | head``) ends the run quietly.
"""

import argparse
import importlib
import os
import pkgutil
import signal
import sys
import textwrap
import traceback
from typing import List, Optional, Sequence

from wpdiff.spec import ERAS, INVARIANTS, UnknownEra
from wpdiff.spec.eras import resolve
from wpdiff.spec.eras import ALIASES
from wpdiff.spec.history import FINDINGS, KEPT

from .check import missing_records
from .engines import Settings, names, selected
from .ids import Missing
from . import children
from .options import PROFILES, SPACES, jobs, seconds
from .output import destination, infer_format
from .render import FORMATS, divergence_text, render, verdict_line
from .report import Report
from .targets import BadInput, builtin, load

EXIT_CODES = """\
exit codes:
  0  nothing unexpected: every divergence found is one history records
  1  a divergence found: a fast path unfaithful to its era, an invariant
     broken that history does not record, or history not reproduced
  2  bad input or usage: unknown era, a fast path that cannot be imported,
     raises or returns garbage, a corrupt report file
  3  a symbolic proof hit its budget without a verdict (a soundness search
     that finds nothing ends on its budget too: that is not counted)
  4  internal error: a bug in wpdiff (the message says where to report it)
  130  interrupted (Ctrl-C): every child process stopped, no report written
"""
REPLAY_EXIT_CODES = """\
exit codes:
  0  no divergence in the file that history does not expect happens any
     more (a report on a fast path over v5.9 also holds v5.9's own findings,
     which still happen: replay lists them, they do not make it fail)
  1  at least one divergence that is not expected still happens
  2  bad input or usage: the file is not a wpdiff report or divergence, it
     was changed after wpdiff wrote it (a saved word that is not what its
     saved state packs to), or a fast path it names cannot be loaded or run
  4  internal error: a bug in wpdiff
  130  interrupted (Ctrl-C)
"""
ISSUES = "the wpdiff project's issue tracker, with the command line and this message"
INTERNAL = 4
INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2, as argparse does, with the hint
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    top = _Parser(
        prog="wpdiff",
        description="An executable spec of the kernel's copy-on-write write fault (do_wp_page), and the "
        "differential engines that check C-shaped fast paths against it, era by era.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"wpdiff {_version()}")
    sub = top.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    sub.required = True

    eras = sub.add_parser("eras", help="list the kernel eras, or the era of a release", epilog=EXIT_CODES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    eras.add_argument("--kernel", metavar="RELEASE",
                      help="print the era whose span holds this release (6.1, or `uname -r`: 6.18.44-fc-v669)")

    check = sub.add_parser(
        "check",
        help="check fast paths and eras against the spec",
        description="Run the engines: each era's model against the invariants (soundness) and each fast path "
        "against its era's model (faithfulness).  With --fastpath, check your own fast path against a base era.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--era", action="append", metavar="ERA",
                       help="an era to check, by its id (v5.9) or a release it spans (6.1, v5.10); "
                            "repeatable; default: all")
    check.add_argument("--engine", choices=names() + ("all",), default="exhaustive")
    check.add_argument("--space", choices=SPACES, default="small",
                       help="the exhaustive engine's bounded space (default: small)")
    check.add_argument("--profile", choices=PROFILES, default="dev",
                       help="Hypothesis profile (default: dev)")
    check.add_argument("--budget", type=seconds, default=None, metavar="SECONDS",
                       help="CrossHair: seconds per proof, a quarter of it per era's soundness search (default: 120)")
    check.add_argument("--seed", type=int, default=None, help="Hypothesis seed, for a reproducible run")
    check.add_argument("--jobs", type=jobs, default=os.cpu_count() or 1,
                       help="worker processes, or CrossHair processes at a time (default: all cores)")
    check.add_argument("--fastpath", metavar="MODULE:FUNCTION", help="your fast path over the packed word")
    check.add_argument("--base", metavar="ERA", help="the era your fast path changes (with --fastpath)")
    check.add_argument("--format", choices=FORMATS, default=None,
                       help="the report's format (default: from the suffix of -o: .json, .sarif, .xml (junit), "
                            ".tap, .txt; else text)")
    check.add_argument("-o", "--output", metavar="FILE",
                       help="write the report here, whole or not at all (default, or -: standard output)")

    compare = sub.add_parser("compare", help="every class of states where two eras decide differently",
                             epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    compare.add_argument("a", metavar="ERA_A")
    compare.add_argument("b", metavar="ERA_B")
    compare.add_argument("--space", choices=SPACES, default="small")
    compare.add_argument("--format", choices=FORMATS, default=None)
    compare.add_argument("-o", "--output", metavar="FILE")

    replay = sub.add_parser("replay", help="rerun the divergences saved in a JSON report",
                            epilog=REPLAY_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    replay.add_argument("file")

    explain = sub.add_parser("explain", help="an invariant or an era, in English",
                             epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    explain.add_argument("id", metavar="ID", help="an invariant id (no-missed-cow), a world guarantee "
                                                  "(no-leak-parent-to-child) or an era id (v5.9)")
    for module in command_modules():
        module.register(sub)
    return top


def command_modules() -> list:
    """The commands that live in a module of their own, ``diff/cmd_NAME.py``:
    each has ``register(subparsers)``, which adds its parser and sets
    ``run`` (args -> exit code) as its default."""
    package = importlib.import_module(__package__)
    return [importlib.import_module(f"{__package__}.{m.name}")
            for m in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name) if m.name.startswith("cmd_")]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wpdiff")
    except PackageNotFoundError:
        return "(not installed)"


def _progress(engine: str, done: int, total: int, what: str = "") -> None:
    """What the check is doing, on a terminal: the engine, what it runs
    (the models over the states, a proof), and how far it is."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\x1b[K{engine}: {what + ' ' if what else ''}{done}/{total}")
        sys.stderr.write("\n" if done == total else "")
        sys.stderr.flush()


def _eras(requested: Optional[List[str]], option: str = "--era") -> List[str]:
    """The era ids asked for: an id, an alias (v6.10) or a release the
    era's span holds (6.1, v5.10), in release order; how a name that is not
    an id was read goes to the console."""
    if not requested:
        return list(ERAS)
    ids = []
    for name in requested:
        try:
            era, note = resolve(name)
        except UnknownEra as why:
            raise BadInput(f"{option} {name}: {why}") from None
        if note:
            print(f"wpdiff: {option} {note}", file=sys.stderr)
        ids.append(era.id)
    return [e for e in ERAS if e in ids]


def _emit(text: str, output: Optional[str]) -> None:
    destination(output).write(text)


def cmd_eras(kernel: Optional[str] = None) -> int:
    found = {e: sorted({f.invariant for f in FINDINGS if f.era == e}) for e in ERAS}
    shown = list(ERAS.values())
    if kernel is not None:
        from wpdiff.spec.eras import for_kernel

        try:
            shown = [for_kernel(kernel)]
        except UnknownEra as e:
            raise BadInput(f"--kernel: {e}") from None
    for era in shown:
        print(f"{era.id:9s} {era.span:18s} {era.title}")
        print(f"{'':9s} {'':18s} breaks: {', '.join(found[era.id]) or 'nothing'}")
    return 0


def cmd_check(args: argparse.Namespace, argv: Sequence[str]) -> int:
    era_ids = _eras(args.era)
    fmt = infer_format(args.output, args.format)
    out = destination(args.output)  # refused now, not after a run of minutes
    engines = [e for e in selected(args.engine) if e.faults or not args.fastpath]
    if not engines:
        raise BadInput(f"--engine {args.engine} takes no --fastpath: it searches the world, whose faults the "
                       "era's model decides (wpdiff litmus --fastpath runs programs on the fast paths)")
    if args.fastpath:
        if not args.base:
            raise BadInput("--fastpath needs --base ERA: the era your fast path changes")
        if args.era:
            raise BadInput("--era is for the built-in eras; with --fastpath, --base names the era checked")
        targets = [load(args.fastpath, _eras([args.base], "--base")[0])]
        era_ids = [targets[0].era]
    else:
        if args.base:
            raise BadInput("--base is for --fastpath")
        targets = [builtin(e) for e in era_ids]
    seed = args.seed
    if seed is None and any(e.name == "hypothesis" for e in engines):
        from .hypo import draw_seed

        seed = draw_seed()  # a run that can be replayed: its seed and the command are printed
    settings = Settings(space=args.space, profile=args.profile, budget=args.budget, seed=seed, jobs=args.jobs)
    report = Report(command=" ".join(argv), eras=era_ids)
    missing: List[Missing] = []
    for engine in engines:
        engine.run(report, era_ids, targets, settings, _progress)
        if not args.fastpath:
            missing += [m.by(engine.name) for m in missing_records(report, engine.name, era_ids, settings=settings)]
    out.write(render(report, fmt, missing))
    if args.seed is None and seed is not None:
        from .hypo import replay_command

        print(f"wpdiff: Hypothesis ran with seed {seed} (drawn: none was given); to replay this run: "
              f"{replay_command(argv, seed)}", file=sys.stderr)
    if out.path is not None:  # the console still says how it ended
        print(f"wpdiff: {verdict_line(report, missing)}; {fmt} report written to {args.output}", file=sys.stderr)
    if report.failed() or missing:
        return 1
    if report.unproved():
        return 3
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare

    args.a, args.b = _eras([args.a], "ERA_A")[0], _eras([args.b], "ERA_B")[0]
    fmt = infer_format(args.output, args.format)
    out = destination(args.output)
    classes = compare(args.a, args.b, args.space)
    report = Report(command=f"compare {args.a} {args.b}", eras=[args.a, args.b], divergences=classes)
    if fmt == "text":
        decided = [d for d in classes if d.spec.decision is not d.other.decision]
        alike = [d for d in classes if d.spec.decision is d.other.decision]
        head = (f"{args.a} and {args.b} decide differently on {sum(d.count for d in decided)} admitted state(s), "
                f"in {len(decided)} class(es); they decide alike by other kernel events on "
                f"{sum(d.count for d in alike)} more, in {len(alike)} class(es)\n\n")
        out.write(head + "\n\n".join(divergence_text(d) for d in classes) + "\n")
    else:
        out.write(render(report, fmt, []))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from .replay import replay_file

    results, code = replay_file(args.file)
    for r in results:
        state = "reproduced exactly" if r.exact else ("reproduced" if r.reproduced else "no longer happens")
        print(f"[{state}] " + divergence_text(r.divergence) + (f"\n  note:        {r.note}" if r.note else ""))
    still = [r for r in results if r.reproduced]
    unexpected = [r for r in still if not r.divergence.expected]
    print(f"{len(still)} of {len(results)} divergence(s) still happen; "
          + (f"{len(unexpected)} of them not expected" if unexpected else
             "history expects every one that does" if still else "nothing left to fix"))
    return code


def cmd_explain(args: argparse.Namespace) -> int:
    from .catalogue import CATALOGUE, FAULT, broken_in

    ident = args.id
    if ident in CATALOGUE:
        rule = CATALOGUE[ident]
        broken = broken_in(rule)
        kind = "" if rule.kind == FAULT else ", a data-level guarantee of the multi-process world"
        print(f"{rule.id} ({rule.severity.value}, from {rule.since}{kind})\n")
        print(textwrap.fill("Guarantee: " + rule.guarantee, 79) + "\n")
        print(textwrap.fill("History: " + rule.history, 79) + "\n")
        if rule.fixed_by:
            print(f"Fixed by: {rule.fixed_by}")
        if rule.cow_c:
            print(f"cow.c: {rule.cow_c}")
        print(f"Eras that break it: {', '.join(e for e, _ in broken) or 'none'}"
              + ("" if rule.kind == FAULT else " (the litmus catalogue's Results)"))
        for era_id, why in broken:
            print(f"  {era_id}: {why}")
        if ident in KEPT:
            print(textwrap.fill(f"Kept by every era: {KEPT[ident]}", 79))
        return 0
    if ident in ERAS or ident in ALIASES:
        era, note = resolve(ident)
        if note:
            print(f"({note})\n")
        print(f"{era.id} ({era.span}): {era.title}\n")
        print(era.story + "\n")
        broken = [f"{f.invariant}" for f in FINDINGS if f.era == era.id]
        print(f"Breaks: {', '.join(broken) or 'nothing it admits'}")
        return 0
    raise BadInput(
        f"explain: {ident!r} is neither an invariant ({', '.join(INVARIANTS)}), a world guarantee "
        f"({', '.join(r.id for r in CATALOGUE.values() if r.kind != FAULT)}) nor an era ({', '.join(ERAS)})"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        try:
            children.stop_all()
        finally:
            children.reset()
            signal.signal(signal.SIGINT, signal.default_int_handler)
        print("wpdiff: interrupted; every process it started is stopped, no report written", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): nothing to say to it
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except Exception as e:  # a bug in wpdiff, not in its input
        return internal_error(e)


def internal_error(e: BaseException) -> int:
    """One line for a crash: what, where in wpdiff, and where to report it."""
    frames = traceback.extract_tb(e.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    print(f"wpdiff: internal error: {type(e).__name__}: {e}{where}; this is a bug in wpdiff, please report it "
          f"to {ISSUES}", file=sys.stderr)
    return INTERNAL


def _main(argv: List[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "eras":
            return cmd_eras(args.kernel)
        if args.command == "check":
            return cmd_check(args, argv)
        if args.command == "compare":
            return cmd_compare(args)
        if args.command == "replay":
            return cmd_replay(args)
        if args.command == "explain":
            return cmd_explain(args)
        return args.run(args)
    except (BadInput, UnknownEra) as e:
        print(f"wpdiff: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
