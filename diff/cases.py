"""The test cases of a report, shared by the JUnit and TAP formats: per
engine, a case per era and guarantee its runs decide, and one per run that
decides none of them."""

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from wpdiff.spec import ERAS, INVARIANTS
from wpdiff.spec.world.guarantees import GUARANTEES

from .ids import Builtin, Missing, PerEra, Proof, Search, Whole, engine_of, missing as as_missing
from .report import Compared, Divergence, EngineRun, LitmusResult, Report, Verdict, WorldFinding
from .text import Missed


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
    base era, the one era of its report); an era's world guarantees for a
    run of one era ("stateful:v5.9").  None for any other run (a
    CrossHair copy lemma, the proof of a user's fast path): it is a test
    case of its own."""
    def invariants(era_ids: List[str]) -> List[Tuple[str, str]]:
        return [(e, inv.id) for e in era_ids for inv in INVARIANTS.values() if inv.applies_to(e)]

    rid = run.id
    if isinstance(rid, Whole):
        return [(e, "faithfulness") for e in eras] + invariants(eras)
    if isinstance(rid, Search):
        return invariants([rid.era] if rid.era in ERAS else eras)
    if isinstance(rid, Proof) and isinstance(rid.target, Builtin):
        return [(rid.target.era, "faithfulness")]
    if isinstance(rid, PerEra) and rid.era in ERAS:  # the stateful engine's run of one era: its world guarantees
        return [(rid.era, g) for g in GUARANTEES]
    return None


@dataclass
class _Case:
    found: List[Divergence] = field(default_factory=list)
    missing: List[Missing] = field(default_factory=list)
    budget: List[EngineRun] = field(default_factory=list)  # runs deciding it that hit their budget
    runs: List[EngineRun] = field(default_factory=list)  # a run that is a test case of its own
    results: List[LitmusResult] = field(default_factory=list)  # litmus verdicts: a case per test and era
    world: List[WorldFinding] = field(default_factory=list)  # world findings of the guarantee on the era


def _run_text(run: EngineRun) -> str:
    return f"{run.engine}: {run.verdict.value}" + (f" ({run.note})" if run.note else "")


Suites = Dict[str, Dict[Tuple[Optional[str], str], _Case]]


def _suites(report: Report, missing: Missed) -> Tuple[Suites, Dict[str, float]]:
    """The test cases of a report, per engine (JUnit's suites, TAP's test
    points), and each engine's seconds."""
    suites: Dict[str, Dict[Tuple[Optional[str], str], _Case]] = {}
    seconds: Dict[str, float] = {}
    by_results = {r.engine for r in report.results}  # an engine of litmus verdicts: its cases are its results
    for run in report.runs:
        engine = run.id.engine
        cases = suites.setdefault(engine, {})
        seconds[engine] = seconds.get(engine, 0.0) + run.seconds
        if engine in by_results:
            continue
        covered = _covers(run, report.eras)
        if covered is None:
            cases.setdefault((None, str(run.id)[len(engine) + 1:]), _Case()).runs.append(run)
            continue
        for key in covered:
            case = cases.setdefault(key, _Case())
            if run.verdict is Verdict.BUDGET:
                case.budget.append(run)
    for d in report.divergences:
        suites.setdefault(engine_of(d.engine), {}).setdefault((d.era, _case(d)), _Case()).found.append(d)
    for f in report.findings:
        suites.setdefault(f.engine, {}).setdefault((f.era, f.guarantee), _Case()).world.append(f)
    for entry in missing:
        m = as_missing(entry)
        suites.setdefault(m.engine or "history", {}).setdefault((m.era, m.invariant), _Case()).missing.append(m)
    for r in report.results:
        suites.setdefault(r.engine, {}).setdefault((r.era, f"litmus {r.test}"), _Case()).results.append(r)

    return suites, seconds


