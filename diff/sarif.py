"""SARIF 2.1.0, for code scanning: a result per divergence, per world
finding, per litmus verdict and per history finding not reproduced, each at
its place -- an era's model or fast path, a user's module, a kernel tree's
memory.c line, a litmus file's ``exists`` line -- with a rule per entry of
the catalogue (``wpdiff.diff.catalogue``: the invariants of one fault and
the world's data-level guarantees)."""

import importlib.util
import json
import os
from pathlib import Path
from typing import Optional

from .catalogue import CATALOGUE
from .ids import Builtin, Kernel, Model, UserPath, missing as as_missing
from .report import Divergence, Report, Verdict
from .cases import _run_text
from .text import Missed, finding_text, not_reproduced, result_text

HISTORY_RULE = "history-not-reproduced"  # a history finding the check did not reproduce
BUDGET_NOTIFICATION = "budget-hit"  # a run that hit its budget without a verdict
LITMUS_RULE = "litmus-result"  # a litmus test's observation against its Result: line


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
    spec/eras/), a built-in fast path ("builtin:ERA", in impl/fastpath/), a
    kernel tree's C ("kernel:SOURCE": the user's memory.c at the line that
    decided, ``wpdiff.diff.kernel.sarif_location``), or a user's fast path
    ("package.module:function"): the function, and its module's file if it
    can be found."""
    target = d.target_id
    if isinstance(target, Kernel):
        from .kernel import sarif_location

        return sarif_location(d)
    if isinstance(target, Model):
        return _era_file("spec/eras", target.era)
    if isinstance(target, Builtin):
        return _era_file("impl/fastpath", target.era)
    location: dict = {"logicalLocations": [{"fullyQualifiedName": d.target, "kind": "function"}]}
    path = _user_file(target.module) if isinstance(target, UserPath) else None
    if path is not None:
        location["physicalLocation"] = {"artifactLocation": {"uri": path}}
    return location


def _rules() -> list:
    """A rule per catalogue entry (an invariant of one fault, a world
    guarantee), then the rules that are no guarantee."""
    return [
        {
            "id": rule.id,
            "shortDescription": {"text": rule.guarantee},
            "fullDescription": {"text": rule.history},
            "properties": {"severity": rule.severity.value, "fixedBy": rule.fixed_by, "kind": rule.kind,
                           "definedIn": rule.source},
        }
        for rule in CATALOGUE.values()
    ] + [{"id": "faithfulness", "shortDescription": {"text": "a fast path decides as its era's reference model"}},
         {"id": "era-vs-era", "shortDescription": {"text": "two eras decide differently"}},
         {"id": HISTORY_RULE,
          "shortDescription": {"text": "every finding history records (spec/history.py, and the litmus catalogue "
                                       "for the world's guarantees) is reproduced"}},
         {"id": LITMUS_RULE,
          "shortDescription": {"text": "a litmus test's outcome is observed as its Result: line states"}}]


def sarif(report: Report, missing: Missed) -> str:
    """SARIF 2.1.0: a result per divergence and per world finding (level
    "note" if expected), per litmus verdict (at its file's ``exists`` line)
    and per history finding not reproduced; each run that hit its budget without
    a verdict is a tool execution notification ("warning" for a proof,
    "note" for a soundness search, which always ends on its budget)."""
    rules = _rules()
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
    for f in report.findings:
        results.append({
            "ruleId": f.guarantee,
            "level": "note" if f.expected else "error",
            "message": {"text": finding_text(f)},
            "locations": [{"logicalLocations": [{"fullyQualifiedName": f"{f.name}", "kind": "module"}]},
                          _era_file("spec/eras", f.era)],
            "properties": {"era": f.era, "engine": f.engine, "observed": f.observed.value, "steps": f.steps,
                           "expected": f.expected, "history": f.history, "litmus": f.litmus},
        })
    for entry in missing:
        m = as_missing(entry)
        results.append({
            "ruleId": HISTORY_RULE,
            "level": "error",
            "message": {"text": not_reproduced(m)},
            "locations": [_era_file("spec/eras", m.era)],
            "properties": {"era": m.era, "invariant": m.invariant, "engine": m.engine},
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


