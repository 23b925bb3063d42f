"""Reports as text (for people), JSON (for tools), SARIF 2.1.0 (for code
scanning), JUnit XML (for CI dashboards) and TAP 13 (for kselftest-style
harnesses)."""

import importlib.util
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from xml.etree import ElementTree as ET

from wpdiff.spec import ERAS, INVARIANTS

from .report import SEARCH_RUN, Compared, Divergence, EngineRun, LitmusResult, Report, Verdict
from .targets import BadInput

FORMATS = ("text", "json", "sarif", "junit", "tap")
HISTORY_RULE = "history-not-reproduced"  # SARIF: a history finding the check did not reproduce
BUDGET_NOTIFICATION = "budget-hit"
LITMUS_RULE = "litmus-result"  # SARIF: a litmus test's observation against its Result: line  # SARIF: a run that hit its budget without a verdict


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
    if d.compared is Compared.FAITHFULNESS and not d.target.startswith("builtin:") and d.expected:
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
        label = "kernel C" if d.target.startswith("kernel:") else "fast path"
        lines.append(_aligned(label, f"{d.fast_path.decision}: {events}   [{d.target}]"))
    if d.other is not None:
        lines.append(_aligned(d.other_era, str(d.other)))
    lines.append(_aligned("why", d.explanation))
    refs = [f"fixed by {d.fixed_by}" if d.fixed_by else "", f"cow.c: {d.cow_c}" if d.cow_c else ""]
    if any(refs):
        lines.append(_aligned("see", "; ".join(r for r in refs if r)))
    return "\n".join(lines)


def text(report: Report, missing: List[str]) -> str:
    out = [f"wpdiff {report.command}"]
    for run in report.runs:
        verdict = run.verdict.value
        found = [d for d in report.divergences if d.engine == _engine(run.engine)]
        if run.verdict is Verdict.DIVERGENCE and found and all(d.expected for d in found):
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


def verdict_line(report: Report, missing: List[str]) -> str:
    """The text report's last line: "verdict: nothing unexpected", or what was."""
    unexpected, unproved, wrong = report.unexpected(), report.unproved(), report.not_as_stated()
    verdict = "nothing unexpected" if not unexpected and not missing and not wrong else ", ".join(
        x for x in (f"{len(unexpected)} unexpected divergence(s)" if unexpected or not wrong else "",
                    f"{len(missing)} history finding(s) missing" if missing else "",
                    f"{len(wrong)} litmus result(s) not as stated" if wrong else "") if x)
    if unproved:
        verdict += f"; {len(unproved)} symbolic proof(s) hit the budget without a verdict"
    return f"verdict: {verdict}"


def _expected_cell(era_id: str, inv: str, report: Report) -> bool:
    return any(d.expected for d in report.divergences if d.invariant == inv and (d.era == era_id or d.target == era_id))


# "ERA:INVARIANT (ENGINE)", as `wpdiff check` lists a history finding its
# engine did not reproduce; the pytest plugin lists them without the engine.
_MISSING = re.compile(r"(?P<era>[^:\s]+):(?P<invariant>\S+)(?: \((?P<engine>[^()]+)\))?")


def _missing(entry: str) -> Tuple[str, str, Optional[str]]:
    """(era, invariant, engine or None) of a history finding not reproduced."""
    m = _MISSING.fullmatch(entry)
    if m is None:
        raise ValueError(f"history finding {entry!r}: expected 'ERA:INVARIANT' or 'ERA:INVARIANT (ENGINE)'")
    return m["era"], m["invariant"], m["engine"]


def _not_reproduced(entry: str) -> str:
    era_id, invariant, engine = _missing(entry)
    by = f"the {engine} engine" if engine else "the check"
    return f"{era_id} breaks {invariant} in history (spec/history.py), but {by} did not reproduce it"


def _era_file(folder: str, era_id: str) -> dict:
    """A location in one of the project's per-era files (spec/eras/v5_9.py, say)."""
    name = era_id.replace(".", "_").replace("-", "_")
    return {"physicalLocation": {"artifactLocation": {"uri": f"{folder}/{name}.py"}}}


def _user_file(module: str) -> Optional[str]:
    """The source file of a user's fast-path module: relative to the current
    directory if it is inside it, a file:// URI otherwise; None if it cannot
    be found."""
    try:
        spec = importlib.util.find_spec(module)
    except Exception:  # a parent package that does not import, or no module's name
        return None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return None
    path = Path(spec.origin).resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_uri()


def _location(d: Divergence) -> dict:
    """Where a divergence is: an era's model (target "model:ERA", in
    spec/eras/), a built-in fast path ("builtin:ERA", in impl/fastpath/), or
    a user's fast path ("package.module:function"): the function, and its
    module's file if it can be found."""
    kind, _, name = d.target.partition(":")
    if kind == "kernel":  # the user's memory.c, at the line that decided
        from .kernel import sarif_location

        return sarif_location(d)
    if kind == "model":
        return _era_file("spec/eras", name)
    if kind == "builtin":
        return _era_file("impl/fastpath", name)
    location: dict = {"logicalLocations": [{"fullyQualifiedName": d.target, "kind": "function"}]}
    path = _user_file(kind)
    if path is not None:
        location["physicalLocation"] = {"artifactLocation": {"uri": path}}
    return location


def sarif(report: Report, missing: List[str]) -> str:
    """SARIF 2.1.0: a result per divergence (level "note" if expected) and
    per history finding not reproduced; each run that hit its budget without
    a verdict is a tool execution notification ("warning" for a proof,
    "note" for a soundness search, which always ends on its budget)."""
    rules = [
        {
            "id": inv.id,
            "shortDescription": {"text": inv.guarantee},
            "fullDescription": {"text": inv.history},
            "properties": {"severity": inv.severity.value, "fixedBy": inv.fixed_by},
        }
        for inv in INVARIANTS.values()
    ] + [{"id": "faithfulness", "shortDescription": {"text": "a fast path decides as its era's reference model"}},
         {"id": "era-vs-era", "shortDescription": {"text": "two eras decide differently"}},
         {"id": HISTORY_RULE,
          "shortDescription": {"text": "every finding history records (spec/history.py) is reproduced"}},
         {"id": LITMUS_RULE,
          "shortDescription": {"text": "a litmus test's outcome is observed as its Result: line states"}}]
    results = []
    for d in report.divergences:
        results.append({
            "ruleId": d.invariant or ("era-vs-era" if d.other_era else "faithfulness"),
            "level": "note" if d.expected else "error",
            "message": {"text": f"{d.era}: {d.explanation}"},
            "locations": [_location(d)],
            "properties": {"state": json.loads(d.state.to_json()) if d.state else None, "count": d.count,
                           "engine": d.engine,
                           "target": d.target, "expected": d.expected},
        })
    for entry in missing:
        era_id, invariant, engine = _missing(entry)
        results.append({
            "ruleId": HISTORY_RULE,
            "level": "error",
            "message": {"text": _not_reproduced(entry)},
            "locations": [_era_file("spec/eras", era_id)],
            "properties": {"era": era_id, "invariant": invariant, "engine": engine},
        })
    for r in report.results:
        results.append({
            "ruleId": LITMUS_RULE,
            "level": "note" if r.matches else "error",
            "message": {"text": result_text(r)},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.file}, "region": {"startLine": r.line}}}],
            "properties": {"era": r.era, "engine": r.engine, "observed": r.observed.value, "stated": r.stated.value,
                           "hits": r.hits, "executions": r.executions},
        })
    unproved = report.unproved()
    notifications = [
        {
            "descriptor": {"id": BUDGET_NOTIFICATION},
            "level": "warning" if run in unproved else "note",
            "message": {"text": _run_text(run)},
            "properties": {"engine": run.engine, "checked": run.checked, "seconds": run.seconds},
        }
        for run in report.runs if run.verdict is Verdict.BUDGET
    ]
    driver = {
        "name": "wpdiff",
        "rules": rules,
        "notifications": [{"id": BUDGET_NOTIFICATION, "shortDescription": {
            "text": "a symbolic check ran out of its budget without a verdict: "
                    "what it did not find is not proved absent"}}],
    }
    return json.dumps({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            # the checks ran to their end: a budget hit is a verdict not reached, not a failed execution
            "invocations": [{"executionSuccessful": True, "commandLine": f"wpdiff {report.command}",
                             "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    }, indent=2)


def _engine(name: str) -> str:
    """The engine of a run ("crosshair:builtin:v5.9" -> "crosshair") or of a divergence ("crosshair")."""
    return name.split(":", 1)[0]


def _case(d: Divergence) -> str:
    if d.invariant:
        return d.invariant
    return f"differs from {d.other_era}" if d.compared is Compared.ERAS else "faithfulness"


def _covers(run: EngineRun, eras: List[str]) -> Optional[List[Tuple[str, str]]]:
    """The (era, case) test cases a run decides: every case of every era for
    the exhaustive and Hypothesis engines' one run; an era's faithfulness
    for a CrossHair proof of a built-in fast path; an era's invariants for a
    CrossHair soundness search ("crosshair:soundness:v5.9"; a user's fast
    path, "crosshair:soundness:mypkg.mod:do_wp_page", is searched on its
    base era, the one era of its report).  None for any other run (a
    CrossHair copy lemma, the proof of a user's fast path): it is a test
    case of its own."""
    def invariants(era_ids: List[str]) -> List[Tuple[str, str]]:
        return [(e, inv.id) for e in era_ids for inv in INVARIANTS.values() if inv.applies_to(e)]

    scope = run.engine.partition(":")[2]
    if not scope:
        return [(e, "faithfulness") for e in eras] + invariants(eras)
    if run.engine.startswith(SEARCH_RUN):
        searched = run.engine[len(SEARCH_RUN):]
        return invariants([searched] if searched in ERAS else eras)
    if scope.startswith("builtin:"):
        return [(scope.partition(":")[2], "faithfulness")]
    return None


@dataclass
class _Case:
    found: List[Divergence] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    budget: List[EngineRun] = field(default_factory=list)  # runs deciding it that hit their budget
    runs: List[EngineRun] = field(default_factory=list)  # a run that is a test case of its own
    results: List[LitmusResult] = field(default_factory=list)  # litmus verdicts: a case per test and era


def _run_text(run: EngineRun) -> str:
    return f"{run.engine}: {run.verdict.value}" + (f" ({run.note})" if run.note else "")


Suites = Dict[str, Dict[Tuple[Optional[str], str], _Case]]


def _suites(report: Report, missing: List[str]) -> Tuple[Suites, Dict[str, float]]:
    """The test cases of a report, per engine (JUnit's suites, TAP's test
    points), and each engine's seconds."""
    suites: Dict[str, Dict[Tuple[Optional[str], str], _Case]] = {}
    seconds: Dict[str, float] = {}
    by_results = {r.engine for r in report.results}  # an engine of litmus verdicts: its cases are its results
    for run in report.runs:
        engine = _engine(run.engine)
        cases = suites.setdefault(engine, {})
        seconds[engine] = seconds.get(engine, 0.0) + run.seconds
        if engine in by_results:
            continue
        covered = _covers(run, report.eras)
        if covered is None:
            cases.setdefault((None, run.engine.partition(":")[2]), _Case()).runs.append(run)
            continue
        for key in covered:
            case = cases.setdefault(key, _Case())
            if run.verdict is Verdict.BUDGET:
                case.budget.append(run)
    for d in report.divergences:
        suites.setdefault(_engine(d.engine), {}).setdefault((d.era, _case(d)), _Case()).found.append(d)
    for entry in missing:
        era_id, invariant, engine = _missing(entry)
        suites.setdefault(engine or "history", {}).setdefault((era_id, invariant), _Case()).missing.append(entry)
    for r in report.results:
        suites.setdefault(r.engine, {}).setdefault((r.era, f"litmus {r.test}"), _Case()).results.append(r)

    return suites, seconds


def tap(report: Report, missing: List[str]) -> str:
    """TAP version 13, as kselftest writes it (KernelCI-style harnesses read
    it): one test point per JUnit test case, ``not ok`` for a failure; a
    case whose findings are all expected (history's) is ``ok ... # XFAIL``,
    one whose run hit its budget ``ok ... # SKIP``.  The findings follow
    each point as ``#`` diagnostic lines."""
    suites, _ = _suites(report, missing)
    points: List[str] = []
    for engine, cases in suites.items():
        for (era_id, name), case in cases.items():
            title = f"{engine}: {era_id + ' ' if era_id else ''}{name}"
            unexpected = [d for d in case.found if not d.expected]
            not_reproduced = [_not_reproduced(m) for m in case.missing] + [
                result_text(r) for r in case.results if not r.matches]
            budget = [_run_text(r) for r in case.budget + case.runs if r.verdict is Verdict.BUDGET]
            n = len(points) + 1
            if unexpected or not_reproduced:
                line, details = f"not ok {n} {title}", [divergence_text(d) for d in unexpected] + not_reproduced
            elif case.found:
                line = f"ok {n} {title} # XFAIL {len(case.found)} finding(s) history records"
                details = [divergence_text(d) for d in case.found]
            elif budget:
                line, details = f"ok {n} {title} # SKIP {'; '.join(budget)}", []
            else:
                line, details = f"ok {n} {title}", [_run_text(r) for r in case.runs] + [
                    result_text(r) for r in case.results]
            points.append("\n".join([line] + [f"# {x}" for d in details for x in d.splitlines()]))
    return "\n".join(["TAP version 13", f"1..{len(points)}"] + points) + "\n"


def junit(report: Report, missing: List[str]) -> str:
    """JUnit XML: a test suite per engine (a CrossHair run "crosshair:..."
    belongs to the suite "crosshair"), a test case per era and guarantee its
    runs decide, and one per run that decides none of them (a CrossHair copy
    lemma, the proof of a user's fast path).  A case fails on an unexpected
    divergence or a history finding its engine did not reproduce (one
    listed without its engine, as the pytest plugin lists them, goes to a
    suite "history"); expected divergences go to its system-out.  A case whose run hit its budget
    without a verdict is <skipped>, not <error>: nothing went wrong in the
    run, it decided nothing -- not a pass, and not a failure either (that
    is the exit code's to say: 3 for a proof, nothing for a search, which
    always ends on its budget)."""
    suites, seconds = _suites(report, missing)
    root = ET.Element("testsuites", name="wpdiff")
    for engine, cases in suites.items():
        suite = ET.SubElement(root, "testsuite", name=engine, time=str(round(seconds.get(engine, 0.0), 2)))
        failures = skipped = 0
        for (era_id, name), case in cases.items():
            tc = ET.SubElement(suite, "testcase", classname=".".join(["wpdiff", engine] + ([era_id] if era_id else [])),
                               name=name)
            unexpected = [d for d in case.found if not d.expected]
            not_reproduced = [_not_reproduced(m) for m in case.missing] + [
                result_text(r) for r in case.results if not r.matches]
            budget = [_run_text(r) for r in case.budget + case.runs if r.verdict is Verdict.BUDGET]
            if unexpected or not_reproduced:
                failures += 1
                ET.SubElement(tc, "failure", message="; ".join([d.explanation for d in unexpected] + not_reproduced)
                              ).text = "\n\n".join([divergence_text(d) for d in unexpected] + not_reproduced + budget)
            elif budget:
                skipped += 1
                ET.SubElement(tc, "skipped", message="; ".join(budget))
            out = [divergence_text(d) for d in case.found if d.expected]
            out += [_run_text(r) for r in case.runs if r.verdict is not Verdict.BUDGET]
            out += [result_text(r) for r in case.results if r.matches]
            if out:
                ET.SubElement(tc, "system-out").text = "\n\n".join(out)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", str(skipped))
    return ET.tostring(root, encoding="unicode") + "\n"


def render(report: Report, fmt: str, missing: List[str]) -> str:
    if fmt == "text":
        return text(report, missing)
    if fmt == "json":
        return report.to_json(indent=2) + "\n"
    if fmt == "sarif":
        return sarif(report, missing) + "\n"
    if fmt == "junit":
        return junit(report, missing)
    if fmt == "tap":
        return tap(report, missing)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
