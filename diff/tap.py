"""TAP version 13, as kselftest writes it (KernelCI-style harnesses read it)."""

from typing import List

from .cases import _run_text, _suites
from .report import Report, Verdict
from .text import Missed, divergence_text, finding_text, not_reproduced, result_text


def tap(report: Report, missing: Missed) -> str:
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
            unexpected = [divergence_text(d) for d in case.found if not d.expected] + [
                finding_text(f) for f in case.world if not f.expected]
            missed = [not_reproduced(m) for m in case.missing] + [
                result_text(r) for r in case.results if not r.matches]
            budget = [_run_text(r) for r in case.budget + case.runs if r.verdict is Verdict.BUDGET]
            n = len(points) + 1
            if unexpected or missed:
                line, details = f"not ok {n} {title}", unexpected + missed
            elif case.found or case.world:
                line = f"ok {n} {title} # XFAIL {len(case.found) + len(case.world)} finding(s) history records"
                details = [divergence_text(d) for d in case.found] + [finding_text(f) for f in case.world]
            elif budget:
                line, details = f"ok {n} {title} # SKIP {'; '.join(budget)}", []
            else:
                line, details = f"ok {n} {title}", [_run_text(r) for r in case.runs] + [
                    result_text(r) for r in case.results]
            points.append("\n".join([line] + [f"# {x}" for d in details for x in d.splitlines()]))
    return "\n".join(["TAP version 13", f"1..{len(points)}"] + points) + "\n"


