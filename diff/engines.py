"""The engines, in one registry that ``wpdiff check``, the pytest plugin and
the options all read.

An :class:`Engine` is a name, the shared options it reads (``Settings``:
space, profile, budget, seed, jobs), how to run it over eras and fast
paths into a report, and what history it can see: ``expects`` lists the
findings (era, invariant or guarantee) it should reproduce for the eras it
ran, ``found`` what the report shows it did.  By default that is
``spec/history.py``'s one-fault findings, filtered by ``sees`` -- the
exhaustive engine's ``visible`` space gives every reference to the faulting
mm, so a history finding that needs another mm's holder is not looked for
there -- and the engine's soundness divergences; the stateful engine's
history is the catalogue's data-level findings (``stateful.history()``)
and its findings are the report's ``findings``.  ``missing_history`` asks
the engine; neither face knows an engine by name.

How each face finds its engine:

- ``wpdiff check --engine NAME`` and the pytest plugin's
  ``--wpdiff-engine NAME`` (and its ``wpdiff_check`` fixture) loop over
  ``selected(NAME)`` and call ``run`` and ``missing_history``: the
  exhaustive, Hypothesis, CrossHair and stateful engines;
- ``wpdiff kernel SOURCE`` and ``--wpdiff-kernel`` run the exhaustive and
  Hypothesis engines on a kernel tree's compiled C through
  ``wpdiff.diff.kernel.check_tree``: the tree is a target, not an engine;
- ``wpdiff litmus`` runs the litmus explorer (``diff/litmus/``) and
  ``wpdiff litmus --live`` the live runner (``diff/live.py``): their
  verdicts per file and era are ``LitmusResult`` records, built by
  ``wpdiff.diff.report.litmus_results``, in the same ``Report``
  (``Report.results``) that every renderer reads.

Adding an engine is one module, ``diff/engine_NAME.py``, that defines
``ENGINE = Engine(...)`` (``diff/engine_stateful.py`` is one)::

    from .engines import Engine, Settings

    def _run(report, era_ids, targets, settings, progress):
        from .stateful import run_stateful          # heavy imports inside run: option parsing stays cheap
        run_stateful(report, era_ids, settings.profile, settings.seed, progress)

    ENGINE = Engine("stateful", "multi-process world searched with Hypothesis", _run,
                    options=("profile", "seed"), expects=..., found=...)

It is found at import (as ``cmd_NAME.py`` commands are), is a choice of
``--engine`` and ``--wpdiff-engine``, runs under ``--engine all`` after
the built-in ones, and its findings are held against history under its
name (``Divergence.engine`` and ``EngineRun.engine`` start with it).  Its
module must import nothing heavy at top level: the pytest plugin reads the
registry while parsing options.
"""

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Optional, Sequence, Tuple

from wpdiff.spec.history import FINDINGS, Finding

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Settings:
    """The options every face shares; an engine reads those it names."""

    space: str = "small"
    profile: str = "dev"
    budget: Optional[float] = None
    seed: Optional[int] = None
    jobs: int = 1


Run = Callable[["object", Sequence[str], Sequence["object"], Settings, Optional[Progress]], None]


def _sees_all(finding: Finding, settings: Settings) -> bool:
    return True


Seen = FrozenSet[Tuple[str, str]]  # (era, invariant or guarantee)
Expects = Callable[["Engine", Sequence[str], Settings], Seen]
Found = Callable[["Engine", "object"], Seen]


def _history(engine: "Engine", era_ids: Sequence[str], settings: Settings) -> Seen:
    """spec/history.py's findings for the eras, those the engine can see."""
    return frozenset((f.era, f.invariant) for f in FINDINGS if f.era in era_ids and engine.sees(f, settings))


def _soundness(engine: "Engine", report: "object") -> Seen:
    """The engine's soundness divergences in the report."""
    from .report import Compared

    return frozenset((d.era, d.invariant) for d in report.divergences  # type: ignore[attr-defined]
                     if d.engine == engine.name and d.compared is Compared.SOUNDNESS)


@dataclass(frozen=True)
class Engine:
    name: str
    help: str
    run: Run  # (report, era ids, targets, settings, progress or None): adds its runs and divergences
    options: Tuple[str, ...] = ()  # the Settings fields it reads
    sees: Callable[[Finding, Settings], bool] = _sees_all  # may this run show `finding` of spec/history.py?
    expects: Expects = _history  # the history it should reproduce on these eras
    found: Found = _soundness  # what of it the report shows it did
    faults: bool = True  # it checks one fault at a time: it takes the fast paths (--fastpath) as targets

    def missing(self, report: "object", era_ids: Sequence[str], settings: Settings) -> Tuple[Tuple[str, str], ...]:
        """(era, invariant) history expects of this engine on `era_ids` that `report` does not show."""
        done = self.found(self, report)
        order = {e: i for i, e in enumerate(era_ids)}
        return tuple(sorted(self.expects(self, era_ids, settings) - done, key=lambda k: (order.get(k[0], 0), k)))


def _exhaustive(report, era_ids, targets, settings: Settings, progress: Optional[Progress]) -> None:  # type: ignore
    from .check import run_exhaustive

    run_exhaustive(report, era_ids, targets, settings.space, settings.jobs, progress)


def _exhaustive_sees(finding: Finding, settings: Settings) -> bool:
    # the visible space varies what the kernel sees, not who holds the page
    return settings.space != "visible" or not finding.example.foreign_holders()


def _hypothesis(report, era_ids, targets, settings: Settings, progress: Optional[Progress]) -> None:  # type: ignore
    from .hypo import run_hypothesis

    run_hypothesis(report, era_ids, targets, settings.profile, settings.seed, progress)


def _crosshair(report, era_ids, targets, settings: Settings, progress: Optional[Progress]) -> None:  # type: ignore
    from .symbolic import run_crosshair

    run_crosshair(report, era_ids, targets, settings.budget, progress, settings.jobs)


BUILTIN = (
    Engine("exhaustive", "every state of a bounded space, every era", _exhaustive, ("space", "jobs"),
           _exhaustive_sees),
    Engine("hypothesis", "property-based search over well-formed states", _hypothesis, ("profile", "seed")),
    Engine("crosshair", "symbolic proofs of faithfulness and soundness searches", _crosshair, ("budget", "jobs")),
)


def _discover() -> Dict[str, Engine]:
    found = {e.name: e for e in BUILTIN}
    package = importlib.import_module(__package__)
    for m in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if m.name.startswith("engine_"):
            engine = getattr(importlib.import_module(f"{__package__}.{m.name}"), "ENGINE", None)
            if not isinstance(engine, Engine):
                raise ImportError(f"diff/{m.name}.py: expected ENGINE = Engine(...), the engine it registers")
            if engine.name in found or engine.name == "all":
                raise ImportError(f"diff/{m.name}.py: engine name {engine.name!r} is taken")
            found[engine.name] = engine
    return found


ENGINES: Dict[str, Engine] = _discover()


def names() -> Tuple[str, ...]:
    return tuple(ENGINES)


def selected(name: str) -> Tuple[Engine, ...]:
    """The engines ``--engine name`` runs: one, or every one for "all"."""
    return tuple(ENGINES.values()) if name == "all" else (ENGINES[name],)
