"""Herd-style output and the Result judge of ``wpdiff litmus``.

For each era, as herd7 prints a test: the distinct final states (registers,
then each write fault's result, then the flags), ``Ok``/``No`` (does the
exists condition hold on some state), the witnesses, the condition and the
``Observation NAME Never|Sometimes|Always P N`` line -- judged against the
file's ``Result:`` the way ``tools/memory-model/scripts/judgelitmus.sh``
judges: the observation must be the stated one.  The other formats (JSON,
SARIF at the ``exists`` line, JUnit, TAP) are the shared report's: each
file's verdicts per era become ``wpdiff.diff.report.LitmusResult`` records
(``report.litmus_report``) and go through the same renderers as every
other run.
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

from dataclasses_json import DataClassJsonMixin

from wpdiff.spec.world.results import Exploration, Outcomes


@dataclass(frozen=True)
class LitmusFile(DataClassJsonMixin):
    """One litmus file on the eras it ran on (its verdict per era: a report.LitmusResult)."""

    file: str
    name: str
    exists_line: int  # where SARIF points
    exists_col: int
    condition: str
    explorations: Tuple[Exploration, ...]
    fastpath_agrees: Optional[bool] = None  # the same program with the fast paths' decisions: identical executions
    fastpath_diffs: Tuple[str, ...] = ()

    @property
    def mismatches(self) -> List[Exploration]:
        return [x for x in self.explorations if x.as_stated is False]


@dataclass(frozen=True)
class LitmusReport(DataClassJsonMixin):
    results: Tuple[LitmusFile, ...]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(not r.mismatches and r.fastpath_agrees is not False for r in self.results)


def state_line(o: Outcomes) -> str:
    e = o.execution
    parts = [f"{k}={v};" for k, v in e.registers]
    parts += [f"{f.process}:{f.address}@{f.step + 1} {f.result.value}{' (unshare)' if f.unshare else ''};"
              for f in e.faults]
    if e.freed_page_touched:
        parts.append("freed-page-touched;")
    if e.broken:
        parts.append("broken: " + ", ".join(e.broken) + ";")
    return " ".join(parts) or "(no observations)"


def render_one(r: LitmusFile, x: Exploration, witness: bool) -> str:
    out = [f"Test {r.name} on {x.era} ({x.source})", f"States {len(x.outcomes)}"]
    for o in x.outcomes:
        mark = "*" if o.positive else " "
        out.append(f"{mark} {o.count:>3}: {state_line(o)}")
    out.append("Ok" if x.positive else "No")
    out.append("Witnesses")
    out.append(f"Positive: {x.positive} Negative: {x.negative}")
    out.append(f"Condition exists {r.condition}")
    out.append(f"Observation {r.name} {x.verdict.value} {x.positive} {x.negative}")
    if x.expected is None:
        out.append("Result: not stated for this era")
    else:
        out.append(f"Result: {x.expected.value} stated, {x.verdict.value} observed: "
                   + ("as stated" if x.as_stated else "NOT AS STATED"))
    out.append(f"States explored {x.states}, interleavings {x.interleavings}")
    if witness:
        pos = next((o for o in x.outcomes if o.positive), None)
        if pos is None:
            out.append("Witness: none (the condition is never met)")
        else:
            out.append("Witness (one interleaving that reaches the condition):")
            out.extend(f"  {s}" for s in pos.witness)
            for f in pos.execution.faults:
                out.append(f"  fault {f.process}:{f.address} at step {f.step + 1}: {f.result.value}: "
                           + (", ".join(f.events) or "no events"))
    return "\n".join(out)


def render_text(report: LitmusReport, witness: bool = False) -> str:
    blocks = []
    for r in report.results:
        for x in r.explorations:
            blocks.append(render_one(r, x, witness))
        if r.fastpath_agrees is not None:
            blocks.append(f"Fast paths on {r.name}: " + ("identical executions on every era" if r.fastpath_agrees
                                                         else "DIFFER: " + "; ".join(r.fastpath_diffs)))
    total = sum(len(r.explorations) for r in report.results)
    bad = sum(len(r.mismatches) for r in report.results)
    blocks.append(f"{len(report.results)} test(s), {total} era run(s): "
                  + ("every Result as stated" if bad == 0 else f"{bad} NOT as stated")
                  + f" ({report.seconds:.2f} s)")
    return "\n\n".join(blocks) + "\n"
