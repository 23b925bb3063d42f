"""The text report, for people: a line per engine run, the era x invariant
table, a block per divergence (what it is and how it is judged, the state
given, every field the kernel saw, each side's result, why, where to look),
the world findings with their litmus programs, the litmus verdicts, and the
verdict line."""

from typing import Sequence, Tuple, Union

from wpdiff.spec import ERAS

from .ids import Builtin, Kernel, Missing, PerEra, engine_of, missing as as_missing
from .report import Compared, Divergence, LitmusResult, Report, Verdict, WorldFinding

Missed = Sequence[Union[str, Missing]]  # history not reproduced: records, or the strings a report lists


def _holders(d: Divergence) -> str:
    s = d.state
    if s is None:
        return "(no abstract state: a combination of fields no well-formed state has)"
    holders = ", ".join(str(h) for h in s.page.holders) or "no struct page"
    size = f"{s.page.nr_pages}-page folio" if s.page.nr_pages > 1 else "page"
    flags = [n for n, on in (("locked by another", s.page.locked), ("writeback", s.page.writeback),
                             ("PG_anon_exclusive", s.page.anon_exclusive), ("maybe shared", s.page.maybe_mapped_shared))
             if on]
    context = [f"{s.fault.value} fault by mm{s.mm}"]
    if not s.vma.write:
        context.append("no VM_WRITE (FOLL_FORCE)")
    if s.vma.shared:
        context.append("MAP_SHARED")
    if s.vma.uffd_wp.value != "off":
        context.append(f"uffd-wp {s.vma.uffd_wp.value}" + (", PTE bit set" if s.pte.uffd_wp else ""))
    if s.tlb_flush_pending:
        context.append("TLB flush pending")
    if s.pte_changes_while_sleeping:
        context.append("PTE changes while the handler sleeps")
    return f"{s.page.kind.value} {size}: {holders}" + (f" [{', '.join(flags)}]" if flags else "") + "; " + ", ".join(context)


def _seen(d: Divergence) -> str:
    """The packed word and every field of it, as ``layout.describe()``
    unpacks it -- the fields come from the layout's table, not from a list
    kept here, so a field the era's fast path reads (``_large_mapcount``,
    the folio order, the maybe-mapped-shared bit) cannot be left out."""
    parts = []
    for name, value in d.kernel_saw.items():
        if isinstance(value, list):
            value = "|".join(str(v) for v in value) or "0"
        parts.append(f"{name} {value}")
    return f"word {d.word:#x}: " + ", ".join(parts)


def _what(d: Divergence) -> Tuple[str, str]:
    """What a divergence is, and how it is judged, for its header line."""
    if d.compared is Compared.ERAS:
        how = (f"{d.era} decides {d.spec.decision.value}, {d.other_era} {d.other.decision.value}"
               if d.spec is not None and d.other is not None and d.spec.decision is not d.other.decision else
               f"both decide {d.spec.decision.value if d.spec else '?'}, by other kernel events")
        return f"differs from {d.other_era}: {how}", "a difference between eras"
    if d.compared is Compared.FAITHFULNESS and not isinstance(d.target_id, Builtin) and d.expected:
        # a user's change (a fast path, a tree checked with --base) is meant to differ from its base: it is
        # judged by the guarantees it keeps; a kernel tree held to its own era (no --base) is not
        return f"behaviour change from {d.era} in {d.target}", "a change, judged by the guarantees"
    what = d.invariant or "faithfulness"
    return what, "expected" if d.expected else "UNEXPECTED"


def _aligned(label: str, text: str) -> str:
    return f"  {label + ':':<13}{text}"


def divergence_text(d: Divergence) -> str:
    what, tag = _what(d)
    sev = f" ({d.severity})" if d.severity else ""
    lines = [f"{d.era}: {what}{sev} -- {tag}, {d.count} state(s), {d.engine}" + (f", seed {d.seed}" if d.seed is not None else "")]
    lines.append(_aligned("Given", _holders(d)))
    lines.append(_aligned("kernel saw", _seen(d)))
    if d.spec is not None:
        lines.append(_aligned(d.era if d.compared is Compared.ERAS else "spec", str(d.spec)))
    if d.fast_path is not None:
        events = ", ".join(d.fast_path.events) or "no events"
        label = "kernel C" if isinstance(d.target_id, Kernel) else "fast path"
        lines.append(_aligned(label, f"{d.fast_path.decision}: {events}   [{d.target}]"))
    if d.other is not None:
        lines.append(_aligned(d.other_era, str(d.other)))
    lines.append(_aligned("why", d.explanation))
    refs = [f"fixed by {d.fixed_by}" if d.fixed_by else "", f"cow.c: {d.cow_c}" if d.cow_c else ""]
    if any(refs):
        lines.append(_aligned("see", "; ".join(r for r in refs if r)))
    return "\n".join(lines)


def text(report: Report, missing: Missed) -> str:
    out = [f"wpdiff {report.command}"]
    for run in report.runs:
        verdict = run.verdict.value
        engine = engine_of(run.engine)
        found = [d.expected for d in report.divergences if d.engine == engine]
        found += [f.expected for f in report.findings if run.id == PerEra(f.engine, f.era)]
        if run.verdict is Verdict.DIVERGENCE and found and all(found):
            verdict += ", all of them expected"  # history's findings: the verdict line below says nothing unexpected
        out.append(f"  {run.engine}: {verdict} ({run.checked} checked, {run.seconds} s)"
                   + (f" -- {run.note}" if run.note else ""))
    out.append("")
    rows = []
    for engine, table in report.table.items():
        for era_id in list(table):
            broken = table[era_id]
            cells = ", ".join(
                f"{inv} ({n}){'' if _expected_cell(era_id, inv, report) else ' !'}" for inv, n in sorted(broken.items())
            )
            rows.append((engine, era_id, cells or "nothing"))
    if rows:
        width = max(len(r[1]) for r in rows)
        out.append(f"{'engine':11s} {'era':{width}s}  breaks (admitted states; ! = unexpected)")
        for engine, era_id, cells in rows:
            out.append(f"{engine:11s} {era_id:{width}s}  {cells}")
        out.append("")
    faithful = [d for d in report.divergences if d.compared is Compared.FAITHFULNESS]
    # a proof that hit its budget found nothing, which is not agreement
    unproved = report.unproved()
    if not faithful and unproved:
        out.append(f"faithfulness: no fast path found to disagree with its era's model, but {len(unproved)} "
                   "symbolic check(s) hit the budget without a verdict")
    elif not faithful and report.runs:
        out.append("faithfulness: every fast path checked agrees with its era's model")
    for d in sorted(report.divergences, key=lambda d: (d.expected, list(ERAS).index(d.era), d.key)):
        out.append(divergence_text(d))
        out.append("")
    for f in sorted(report.findings, key=lambda f: (f.expected, list(ERAS).index(f.era), f.key)):
        out.append(finding_text(f))
        out.append("")
    for m in missing:
        out.append(f"history not reproduced: {m}")
    for r in report.results:
        out.append(result_text(r))
    if report.results:
        out.append("")
    out.append(verdict_line(report, missing))
    return "\n".join(out) + "\n"


def result_text(r: LitmusResult) -> str:
    tag = "as stated" if r.matches else "NOT AS STATED"
    return (f"{r.era}: litmus {r.test} ({r.file}:{r.line}) -- {tag}, {r.engine}: {r.observed.value} "
            f"({r.hits} of {r.executions} executions); Result: {r.stated.value}")


def verdict_line(report: Report, missing: Missed) -> str:
    """The text report's last line: "verdict: nothing unexpected", or what was."""
    unexpected, unproved, wrong = report.unexpected(), report.unproved(), report.not_as_stated()
    world = report.unexpected_findings()
    verdict = "nothing unexpected" if not unexpected and not missing and not wrong and not world else ", ".join(
        x for x in (f"{len(unexpected)} unexpected divergence(s)" if unexpected or not (wrong or world) else "",
                    f"{len(world)} unexpected world finding(s)" if world else "",
                    f"{len(missing)} history finding(s) missing" if missing else "",
                    f"{len(wrong)} litmus result(s) not as stated" if wrong else "") if x)
    if unproved:
        verdict += f"; {len(unproved)} symbolic proof(s) hit the budget without a verdict"
    return f"verdict: {verdict}"


def _expected_cell(era_id: str, inv: str, report: Report) -> bool:
    return any(d.expected for d in report.divergences if d.invariant == inv and (d.era == era_id or d.target == era_id))




def finding_text(f: WorldFinding) -> str:
    """A world finding: the guarantee, how it is judged, the program as a litmus file."""
    tag = "expected" if f.expected else "UNEXPECTED"
    lines = [f"{f.era}: {f.guarantee} ({f.severity}) -- {tag}, {f.engine}: {f.observed.value} "
             f"({f.steps} steps, found after {f.seconds} s)" + (f", seed {f.seed}" if f.seed is not None else "")]
    lines.append(_aligned("why", f.explanation))
    lines.append(_aligned("history", ("the catalogue records it: " + ", ".join(f.history)) if f.history else
                          "the catalogue (litmus/*.litmus) records no such break on this era"))
    refs = [f"fixed by {f.fixed_by}" if f.fixed_by else "", f"cow.c: {f.cow_c}" if f.cow_c else ""]
    if any(refs):
        lines.append(_aligned("see", "; ".join(r for r in refs if r)))
    lines.append(_aligned("program", "(wpdiff litmus FILE replays it)"))
    lines += [f"    {x}" for x in f.litmus.rstrip("\n").splitlines()]
    return "\n".join(lines)


def not_reproduced(entry: Union[str, Missing]) -> str:
    m = as_missing(entry)
    by = f"the {m.engine} engine" if m.engine else "the check"
    source = "the litmus catalogue" if m.engine == "stateful" else "spec/history.py"
    return f"{m.era} breaks {m.invariant} in history ({source}), but {by} did not reproduce it"
