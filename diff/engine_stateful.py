"""The stateful engine: ``wpdiff check --engine stateful``.

A Hypothesis rule-based search over the multi-process world
(``wpdiff.diff.stateful``): fork, vmsplice(), pins, mprotect(), threads
racing the fault handler, era by era.  What it finds is not one fault but a
program that breaks a data-level guarantee, shrunk and printed as a litmus
file: a :class:`~wpdiff.diff.report.WorldFinding` in ``Report.findings``,
one ``EngineRun`` per era ("stateful:v5.9").

Its history is not spec/history.py's table of one-fault findings but the
catalogue's (``stateful.history()``: the guarantees the positive executions
of every data-level ``litmus/*.litmus`` file break on the eras its Result
says Sometimes or Always), so ``missing_history`` asks this engine what it
should reproduce and what it did.  It takes no fast path: the world's
faults are decided by the era's model (``wpdiff litmus --fastpath`` runs
the programs on the fast paths).
"""

from typing import Optional, Sequence

from .engines import Engine, Progress, Seen, Settings


def _run(report, era_ids: Sequence[str], targets, settings: Settings, progress: Optional[Progress]) -> None:  # type: ignore
    from .stateful import PROFILES, run_stateful

    profile = settings.profile if settings.profile in PROFILES else "dev"
    run_stateful(report, era_ids, profile, settings.seed, progress)


def _expects(engine: Engine, era_ids: Sequence[str], settings: Settings) -> Seen:
    from .stateful import history

    return frozenset((e, g) for e, gs in history().items() if e in era_ids for g in gs)


def _found(engine: Engine, report) -> Seen:  # type: ignore[no-untyped-def]
    return frozenset((f.era, f.guarantee) for f in report.findings if f.engine == engine.name)


ENGINE = Engine("stateful", "multi-process world searched with Hypothesis's rule-based state machines", _run,
                options=("profile", "seed"), expects=_expects, found=_found, faults=False)
