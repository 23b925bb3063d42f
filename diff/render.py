"""Reports as text (for people), JSON (for tools), SARIF 2.1.0 (for code
scanning) and JUnit XML (for CI dashboards)."""

import json
import os
from typing import Dict, List
from xml.etree import ElementTree as ET

from wpdiff.spec import ERAS, INVARIANTS

from .report import Compared, Divergence, Report

FORMATS = ("text", "json", "sarif", "junit")


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
    k = d.kernel_saw
    return (
        f"refcount {k['refcount']}, _mapcount {k['mapcount']}, swapcount {k['swapcount']}, "
        f"{'|'.join(k['flags']) or 'no flags'}, {k['mapping']}, pte {'|'.join(k['pte']) or '0'}, "
        f"vma {'|'.join(k['vma']) or '0'}"
    )


def divergence_text(d: Divergence) -> str:
    what = d.invariant or ("differs from " + d.other_era if d.other_era else "faithfulness")
    tag = "expected" if d.expected else "UNEXPECTED"
    sev = f" ({d.severity})" if d.severity else ""
    lines = [f"{d.era}: {what}{sev} -- {tag}, {d.count} state(s), {d.engine}" + (f", seed {d.seed}" if d.seed is not None else "")]
    lines.append(f"  Given:       {_holders(d)}")
    lines.append(f"  kernel saw:  {_seen(d)}")
    if d.spec is not None:
        lines.append(f"  spec:        {d.spec}")
    if d.fast_path is not None:
        events = ", ".join(d.fast_path.events) or "no events"
        lines.append(f"  fast path:   {d.fast_path.decision}: {events}   [{d.target}]")
    if d.other is not None:
        lines.append(f"  {d.other_era}:{' ' * max(1, 12 - len(d.other_era))}{d.other}")
    lines.append(f"  why:         {d.explanation}")
    refs = [f"fixed by {d.fixed_by}" if d.fixed_by else "", f"cow.c: {d.cow_c}" if d.cow_c else ""]
    if any(refs):
        lines.append("  see:         " + "; ".join(r for r in refs if r))
    return "\n".join(lines)


def text(report: Report, missing: List[str]) -> str:
    out = [f"wpdiff {report.command}"]
    for run in report.runs:
        out.append(f"  {run.engine}: {run.verdict.value} ({run.checked} checked, {run.seconds} s){' -- ' + run.note if run.note else ''}")
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
    unexpected = report.unexpected()
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
    for m in missing:
        out.append(f"history not reproduced: {m}")
    verdict = "nothing unexpected" if not unexpected and not missing else (
        f"{len(unexpected)} unexpected divergence(s)" + (f", {len(missing)} history finding(s) missing" if missing else "")
    )
    out.append(f"verdict: {verdict}")
    return "\n".join(out) + "\n"


def _expected_cell(era_id: str, inv: str, report: Report) -> bool:
    return any(d.expected for d in report.divergences if d.invariant == inv and (d.era == era_id or d.target == era_id))


def sarif(report: Report) -> str:
    rules = [
        {
            "id": inv.id,
            "shortDescription": {"text": inv.guarantee},
            "fullDescription": {"text": inv.history},
            "properties": {"severity": inv.severity.value, "fixedBy": inv.fixed_by},
        }
        for inv in INVARIANTS.values()
    ] + [{"id": "faithfulness", "shortDescription": {"text": "a fast path decides as its era's reference model"}},
         {"id": "era-vs-era", "shortDescription": {"text": "two eras decide differently"}}]
    results = []
    for d in report.divergences:
        rule = d.invariant or ("era-vs-era" if d.other_era else "faithfulness")
        where = f"spec/eras/{d.era.replace('.', '_').replace('-', '_')}.py" if d.compared is Compared.SOUNDNESS else (
            f"impl/fastpath/{d.era.replace('.', '_').replace('-', '_')}.py")
        results.append({
            "ruleId": rule,
            "level": "note" if d.expected else "error",
            "message": {"text": f"{d.era}: {d.explanation}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": where}}}],
            "properties": {"state": json.loads(d.state.to_json()) if d.state else None, "count": d.count,
                           "engine": d.engine,
                           "target": d.target, "expected": d.expected},
        })
    return json.dumps({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "wpdiff", "informationUri": "https://example.invalid/wpdiff",
                                      "rules": rules}}, "results": results}],
    }, indent=2)


def junit(report: Report, missing: List[str]) -> str:
    suites = ET.Element("testsuites", name="wpdiff")
    by_engine: Dict[str, List[Divergence]] = {}
    for d in report.divergences:
        by_engine.setdefault(d.engine, []).append(d)
    for run in report.runs:
        suite = ET.SubElement(suites, "testsuite", name=run.engine, time=str(run.seconds))
        found = {(d.era, d.invariant or d.compared.value): d for d in by_engine.get(run.engine, [])}
        eras = [e for e in report.eras]
        count = failures = 0
        for era_id in eras:
            for case in ["faithfulness"] + [i.id for i in INVARIANTS.values() if i.applies_to(era_id)]:
                count += 1
                tc = ET.SubElement(suite, "testcase", classname=f"wpdiff.{run.engine}.{era_id}", name=case)
                d = found.get((era_id, case))
                if d is not None and not d.expected:
                    failures += 1
                    ET.SubElement(tc, "failure", message=d.explanation).text = divergence_text(d)
                elif d is not None:
                    ET.SubElement(tc, "system-out").text = "expected (history): " + d.explanation
        for m in missing:
            if m.split(":")[0] in eras:
                count += 1
                failures += 1
                tc = ET.SubElement(suite, "testcase", classname=f"wpdiff.{run.engine}.history", name=m)
                ET.SubElement(tc, "failure", message="history finding not reproduced")
        suite.set("tests", str(count))
        suite.set("failures", str(failures))
    return ET.tostring(suites, encoding="unicode") + "\n"


def render(report: Report, fmt: str, missing: List[str]) -> str:
    if fmt == "text":
        return text(report, missing)
    if fmt == "json":
        return report.to_json(indent=2) + "\n"
    if fmt == "sarif":
        return sarif(report) + "\n"
    if fmt == "junit":
        return junit(report, missing)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def write_atomically(path: str, content: str) -> None:
    """Write `content` to `path` whole or not at all."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(content)
    os.replace(tmp, path)

