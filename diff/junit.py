"""JUnit XML, for CI dashboards."""

from xml.etree import ElementTree as ET

from .cases import _run_text, _suites
from .report import Report, Verdict
from .text import Missed, divergence_text, finding_text, not_reproduced, result_text


def junit(report: Report, missing: Missed) -> str:
    """JUnit XML: a test suite per engine (a CrossHair run "crosshair:..."
    belongs to the suite "crosshair"), a test case per era and guarantee its
    runs decide, and one per run that decides none of them (a CrossHair copy
    lemma, the proof of a user's fast path).  A case fails on an unexpected
    divergence or a history finding its engine did not reproduce (one
    listed without its engine, as the pytest plugin lists them, goes to a
    suite "history"), or an unexpected world finding; expected divergences
    and findings go to its system-out.  A case whose run hit its budget
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
            world = [f for f in case.world if not f.expected]
            missed = [not_reproduced(m) for m in case.missing] + [
                result_text(r) for r in case.results if not r.matches]
            budget = [_run_text(r) for r in case.budget + case.runs if r.verdict is Verdict.BUDGET]
            if unexpected or world or missed:
                failures += 1
                ET.SubElement(tc, "failure", message="; ".join(
                    [d.explanation for d in unexpected] + [f.explanation for f in world] + missed)
                ).text = "\n\n".join([divergence_text(d) for d in unexpected] + [finding_text(f) for f in world]
                                      + missed + budget)
            elif budget:
                skipped += 1
                ET.SubElement(tc, "skipped", message="; ".join(budget))
            out = [divergence_text(d) for d in case.found if d.expected]
            out += [finding_text(f) for f in case.world if f.expected]
            out += [_run_text(r) for r in case.runs if r.verdict is not Verdict.BUDGET]
            out += [result_text(r) for r in case.results if r.matches]
            if out:
                ET.SubElement(tc, "system-out").text = "\n\n".join(out)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", str(skipped))
    return ET.tostring(root, encoding="unicode") + "\n"


