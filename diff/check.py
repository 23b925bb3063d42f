"""Running the engines and turning what they find into a report.

``check()`` is what ``wpdiff check`` and the pytest plugin call: it runs
the chosen engines over the chosen eras and targets and returns a
:class:`~wpdiff.diff.report.Report` whose divergences are marked expected
(history says so, or a user's fast path inherits it from its base era) or
not.
"""

import time
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence

from wpdiff.impl import wordfault
from wpdiff.impl.concretize import concretize
from wpdiff.impl.layout import decode_trace, describe
from wpdiff.spec import ERAS, INVARIANTS
from wpdiff.spec.history import expected
from wpdiff.spec.state import FaultState

from . import exhaustive
from .ids import Missing, Model, target_id
from .report import Compared, Divergence, EngineRun, FastResult, Report, Verdict
from .targets import FastPath, Target

if TYPE_CHECKING:
    from .engines import Settings

Progress = Callable[[str, int, int], None]


def fast_result(era_id: str, after: int, trace: int) -> FastResult:
    try:
        decision, events = decode_trace(trace)
        names = (decision.value, [e.value for e in events])
    except ValueError as e:
        names = (f"(no decision: {e})", [])
    return FastResult(after, trace, names[0], names[1], describe(era_id, after))


def soundness_divergence(
    era_id: str, invariant: str, state: FaultState, word: int, message: str, count: int, engine: str,
    target: str, inherited: bool = False, seed: Optional[int] = None, fast: Optional[FastPath] = None,
) -> Divergence:
    """An invariant broken by an era's model (target "model:ERA") or by a
    fast path (`fast`, whose result is shown beside the model's)."""
    inv = INVARIANTS[invariant]
    return Divergence(
        era=era_id,
        compared=Compared.SOUNDNESS,
        state=state,
        word=word,
        kernel_saw=describe(era_id, word),
        explanation=message,
        engine=engine,
        target=target,
        invariant=invariant,
        severity=inv.severity.value,
        expected=inherited or (isinstance(target_id(target), Model) and expected(era_id, invariant)),
        spec=ERAS[era_id](state),
        fast_path=fast_result(era_id, *fast(word)) if fast is not None else None,
        fixed_by=inv.fixed_by,
        cow_c=inv.cow_c,
        seed=seed,
        count=count,
    )


def faithfulness_divergence(
    target: Target, state: Optional[FaultState], word: int, got: tuple, count: int, engine: str,
    seed: Optional[int] = None,
) -> Divergence:
    """A fast path disagreeing with its era's model; `state` is None for a
    word no well-formed state has (the model then runs on the word)."""
    outcome = ERAS[target.era](state) if state is not None else None
    fast = fast_result(target.era, *got)
    if state is None:
        model = fast_result(target.era, *wordfault.run(target.era, word))
        why = (
            f"fast path {target.name} disagrees with the {target.era} model on the word {word:#x}, which no "
            f"well-formed state has: model {model.decision} ({', '.join(model.events)}), fast path {fast.decision}"
        )
    elif target.builtin:
        why = (
            f"fast path {target.name} disagrees with the {target.era} model on {count} state(s): "
            f"spec {outcome.decision.value}, fast path {fast.decision}"
        )
    else:
        why = f"{target.name} decides differently from {target.era} on {count} state(s)"
    return Divergence(
        era=target.era,
        compared=Compared.FAITHFULNESS,
        state=state,
        word=word,
        kernel_saw=describe(target.era, word),
        explanation=why,
        engine=engine,
        target=target.name,
        expected=not target.builtin,  # a user's change is expected to differ from its base; its guarantees are judged
        spec=outcome,
        fast_path=fast,
        seed=seed,
        count=count,
    )


def missing_records(report: Report, engine: str, era_ids: Sequence[str], space: str = "small",
                    settings: Optional["Settings"] = None) -> List[Missing]:
    """History findings (for the eras checked) this engine did not reproduce,
    of those it can see: the engine says (``Engine.expects`` and
    ``Engine.found``; by default spec/history.py's findings and its
    soundness divergences -- the exhaustive engine's visible space gives
    every reference to the faulting mm, so a finding that needs another
    mm's holder is not looked for there; the stateful engine's are the
    catalogue's data-level findings).  Without the engine named: the caller
    adds it (``Missing.by``) where it says which engine missed it."""
    from .engines import ENGINES, Engine, Settings

    settings = settings or Settings(space=space)
    known = ENGINES.get(engine) or Engine(engine, "", lambda *a: None)  # an engine not registered: all of history
    return [Missing(era_id, invariant) for era_id, invariant in known.missing(report, era_ids, settings)]


def missing_history(report: Report, engine: str, era_ids: Sequence[str], space: str = "small",
                    settings: Optional["Settings"] = None) -> List[str]:
    """``missing_records`` as the strings a report lists: "ERA:INVARIANT"."""
    return [str(m) for m in missing_records(report, engine, era_ids, space, settings)]


def run_exhaustive(
    report: Report, era_ids: Sequence[str], targets: Sequence[Target], space: str, jobs: int,
    progress: Optional[Progress] = None,
) -> None:
    start = time.perf_counter()
    need = sorted(set(era_ids) | {t.era for t in targets}, key=list(ERAS).index)
    states = exhaustive.space(space)
    what = f"exhaustive: the models of {len(need)} era(s) over {len(states):,} states ({space}), part"
    sweep = exhaustive.sweep(need, space, jobs, (lambda i, n: progress(what, i, n)) if progress else None)
    table: Dict[str, Dict[str, int]] = {}
    notes: List[str] = []
    for era_id in era_ids:
        era = sweep.eras[era_id]
        table[era_id] = {inv: f.count for inv, f in era.findings.items()}
        for inv, f in sorted(era.findings.items()):
            word = concretize(era_id, f.state)
            report.divergences.append(
                soundness_divergence(era_id, inv, f.state, word, f.message, f.count, "exhaustive", str(Model(era_id)))
            )
    for target in targets:
        era = sweep.eras[target.era]
        mismatch = exhaustive.faithfulness(era, target, states)
        if mismatch is not None:
            report.divergences.append(
                faithfulness_divergence(target, mismatch.state, mismatch.word, mismatch.got, mismatch.count, "exhaustive")
            )
        if not target.builtin:
            # state by state (diff/regression.py): a break the base's model has on the same state is
            # inherited, any other is a regression; the states the change fixes are named in the note
            from . import regression

            after, trace = exhaustive.fast_results(target, era.words)
            judged = regression.compare(era, target.name, states, after, trace)
            notes.append(judged.summary())
            table[target.name] = judged.cells()
            for tallies, inherited in ((judged.regressions, False), (judged.inherited, True)):
                for inv, t in sorted(tallies.items()):
                    report.divergences.append(
                        soundness_divergence(
                            target.era, inv, t.state, concretize(target.era, t.state), t.message, t.count,
                            "exhaustive", target.name, inherited=inherited, fast=target.fast,
                        )
                    )
    checked = sum(sweep.eras[e].states for e in need)
    report.table.setdefault("exhaustive", {}).update(table)
    found_any = any(d.engine == "exhaustive" for d in report.divergences)
    report.runs.append(
        EngineRun(
            "exhaustive",
            Verdict.DIVERGENCE if found_any else Verdict.CLEAN,
            checked,
            round(time.perf_counter() - start, 2),
            f"space {space}: {len(states)} states x {len(need)} era(s)" + "".join(f"; {n}" for n in notes),
        )
    )
