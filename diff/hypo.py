"""The Hypothesis engine: property-based search over abstract states.

A search draws well-formed states the era admits
(``wpdiff.spec.strategies``), runs the era's model and every fast path
checked against it, and fails on a divergence -- a fast path that
disagrees, an invariant broken -- which Hypothesis then shrinks to its
smallest state.  Each kind of divergence fails with its own exception type.
Per era, searches repeat, each ignoring the kinds already found, until one
finds nothing new within its budget.

Found examples go to Hypothesis's example database (``.hypothesis/examples``
unless the profile names another) and replay first the next time, whatever
the profile: a divergence found in CI replays locally too.  Each search has
a key of its own -- its era, its fast paths, what it looks for and the kinds
it ignores (``_Scoped``) -- so no search replays another's examples, nor
deletes them because they do not fail for it.  A seeded run (``--seed``)
neither replays nor saves: Hypothesis's ``@seed`` sets ``database=None``,
so that the seed alone decides what the run tries.

``wpdiff check`` always runs seeded: without ``--seed`` it draws one
(``draw_seed``) and prints it with the command that replays the run
(``replay_command``), as Hypothesis prints ``--hypothesis-seed``; such a
run therefore neither replays nor saves examples.  The database serves the
library calls and the pytest plugin, which run unseeded.

Profiles (``settings.get_profile("wpdiff-<name>")``): ``dev`` (1,000 examples
per search), ``ci`` (3,000), ``thorough`` (20,000) and ``crosshair`` (the
hypothesis-crosshair backend, 40).  Every profile's run is the engine
"hypothesis", the profile named in its note, and is judged against the same
history.  The ``crosshair`` profile does not reproduce all of it: measured on
2 cores, a run over every era took 6 minutes and reached 10 of the 19
findings, none of the reuse-large-when-exclusive ones (v5.18's was not found
in 300 examples, 330 s, either), so such a run names the others "history not
reproduced" and fails.
"""

import secrets
import shlex
import time
from functools import lru_cache
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Type, Union

from hypothesis import HealthCheck, Phase, Verbosity, given, seed as seeded, settings
from hypothesis.database import ExampleDatabase

from wpdiff.impl.concretize import concretize, concretize_outcome
from wpdiff.spec import ERAS, violations
from wpdiff.spec.state import FaultState
from wpdiff.spec.strategies import fault_states

from . import exhaustive, regression
from .check import faithfulness_divergence, soundness_divergence
from .ids import Model
from .report import EngineRun, Report, Verdict
from .targets import Target, call

PROFILES: Dict[str, dict] = {
    "dev": dict(max_examples=1000),
    "ci": dict(max_examples=3000),
    "thorough": dict(max_examples=20000),
    "crosshair": dict(max_examples=40, backend="crosshair"),
}
for _name, _kw in PROFILES.items():
    settings.register_profile(
        f"wpdiff-{_name}",
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        **_kw,
    )


ENGINE = "hypothesis"  # the engine name of every profile's run, the one history is checked under


def draw_seed() -> int:
    """A seed for a run that was given none (any 32-bit number)."""
    return secrets.randbits(32)


def replay_command(argv: Sequence[str], seed: int) -> str:
    """The command line that replays a run of `argv` with `seed`: the same
    arguments, ``--seed N`` in place of any seed given."""
    args, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--seed":
            skip = True
        elif not a.startswith("--seed="):
            args.append(a)
    return " ".join(["wpdiff"] + [shlex.quote(a) for a in args] + ["--seed", str(seed)])


class _Scoped(ExampleDatabase):
    """`db` seen through one search's key: every key Hypothesis uses (the
    test's, and the ``.secondary`` and ``.pareto`` keys under it) is put under
    `scope`.  Hypothesis keys a test by its source, and every search runs
    the same nested test."""

    def __init__(self, db: ExampleDatabase, scope: bytes) -> None:
        super().__init__()
        self._db = db
        self._scope = scope

    def __repr__(self) -> str:
        return f"_Scoped({self._db!r}, {self._scope!r})"

    def _key(self, key: bytes) -> bytes:
        return self._scope + b"/" + key

    def save(self, key: bytes, value: bytes) -> None:
        self._db.save(self._key(key), value)

    def fetch(self, key: bytes) -> Iterable[bytes]:
        return self._db.fetch(self._key(key))

    def delete(self, key: bytes, value: bytes) -> None:
        self._db.delete(self._key(key), value)

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self._db.move(self._key(src), self._key(dest), value)


def scope(era_id: str, targets: Sequence[Target], only: Optional[str], soundness: bool, known: frozenset) -> bytes:
    """The database key of one search (see ``search``)."""
    return "|".join(
        (
            "wpdiff",
            era_id,
            ",".join(t.name for t in targets),
            f"only={only or '*'}",
            "faithfulness+soundness" if soundness else "faithfulness",
            "known=" + ",".join(sorted(known)),
        )
    ).encode()


def _wanted(target_name: str, only: Optional[str], known: frozenset) -> Callable[[str], bool]:
    """Whether a search still looks for a regression of an invariant by the change `target_name`."""
    return lambda invariant: only in (None, invariant) and f"{target_name}:{invariant}" not in known


class Found(Exception):
    """A divergence Hypothesis found; one subclass per kind (see _kind)."""

    def __init__(self, key: str, state: FaultState, detail: object) -> None:
        super().__init__(f"{key} on {state}")
        self.key = key
        self.state = state
        self.detail = detail


@lru_cache(maxsize=None)
def _kind(key: str) -> Type[Found]:
    return type(f"Found[{key}]", (Found,), {})


def _leaves(error: BaseException) -> List[Found]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for e in error.exceptions for leaf in _leaves(e)]
    if isinstance(error, Found):
        return [error]
    raise error


def search(
    era_id: str,
    targets: Sequence[Target],
    profile: str = "dev",
    seed: Optional[int] = None,
    only: Optional[str] = None,
    shrink: bool = True,
    on_find: Optional[Callable[[str], None]] = None,
    known: frozenset = frozenset(),
    soundness: bool = True,
    database: Union[bool, ExampleDatabase] = True,
    around: int = regression.AROUND,
) -> Tuple[List[Found], int]:
    """One search for one era: the divergences found (shrunk) and the number
    of states tried (the examples, and the states a user's change is judged
    on around them: ``regression.Around``).  `only` limits it to one
    invariant, `soundness=False` to the fast paths' faithfulness; kinds in
    `known` are not looked for; `around` is the budget of ``regression.Around``
    (0: look at the states drawn alone).

    Examples replay from and are saved to `database` -- True: the profile's,
    False: none, or the one given -- under the key ``scope()`` gives the
    search.  With a `seed` no database is used (Hypothesis's ``@seed``)."""
    era = ERAS[era_id]
    tried = [0]
    phases = tuple(Phase) if shrink else (Phase.explicit, Phase.reuse, Phase.generate)
    invariants = exhaustive.applicable(era_id)
    nearby = {t.name: regression.Around(t, invariants, around, _wanted(t.name, only, known))
              for t in targets if not t.builtin}
    base = settings.get_profile(f"wpdiff-{profile}")
    db = base.database if database is True else None if database is False else database
    scoped = _Scoped(db, scope(era_id, targets, only, soundness, known)) if db is not None and seed is None else None

    @settings(
        base,
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,
        phases=phases,
        database=scoped,
    )
    @given(fault_states(era))
    def prop(state: FaultState) -> None:
        tried[0] += 1
        outcome = era(state)
        for target in targets:
            word = concretize(era_id, state)
            got = call(target, word)  # BadInput if it raises or returns no result: Hypothesis shrinks it first
            key = f"faithfulness:{target.name}"
            differs = got != concretize_outcome(era_id, state, outcome)
            if only is None and key not in known and differs:
                raise _kind(key)(key, state, (word, got))
            if not target.builtin and soundness:
                # a change fails on what it breaks that the base keeps on this very state ...
                for v in regression.regressions(era_id, state, got, invariants, outcome):
                    key = f"{target.name}:{v.invariant}"
                    if only in (None, v.invariant) and key not in known:
                        raise _kind(key)(key, state, v)
                # ... or one edit away from a state where it decides differently (regression.Around)
                near = nearby[target.name](state) if differs else None
                for v in near.regressions if near is not None else ():
                    key = f"{target.name}:{v.invariant}"
                    if only in (None, v.invariant) and key not in known:
                        raise _kind(key)(key, near.state, v)
        for v in violations(era, state, outcome) if soundness else ():
            if only in (None, v.invariant) and v.invariant not in known:
                if on_find:
                    on_find(v.invariant)
                raise _kind(v.invariant)(v.invariant, state, v)

    if seed is not None:
        prop = seeded(seed)(prop)
    try:
        prop()
    except BaseException as error:  # noqa: B902 -- Hypothesis raises the failures, alone or grouped
        return _leaves(error), tried[0] + sum(a.judged for a in nearby.values())
    return [], tried[0] + sum(a.judged for a in nearby.values())


def run_hypothesis(
    report: Report,
    era_ids: Sequence[str],
    targets: Sequence[Target],
    profile: str = "dev",
    seed: Optional[int] = None,
    progress: Optional[Callable[[str, int, int], None]] = None,
    database: Union[bool, ExampleDatabase] = True,
) -> None:
    """Search each era until a search finds nothing new, and add the run
    (engine ``ENGINE``, whatever the profile) and what it found to `report`;
    `database` as for ``search``."""
    start = time.perf_counter()
    table: Dict[str, Dict[str, int]] = {}
    tried_total = 0
    for n, era_id in enumerate(era_ids):
        mine = [t for t in targets if t.era == era_id]
        found: List[Found] = []
        while True:
            new, tried = search(era_id, mine, profile, seed, known=frozenset(f.key for f in found), database=database)
            tried_total += tried
            if not new:
                break
            found += new
        table[era_id] = {}
        for f in found:
            word = concretize(era_id, f.state)
            if f.key.startswith("faithfulness:"):
                target = next(t for t in mine if f"faithfulness:{t.name}" == f.key)
                report.divergences.append(faithfulness_divergence(target, f.state, word, f.detail[1], 1, ENGINE, seed))
                continue
            name, _, invariant = f.key.rpartition(":")
            target = next((t for t in mine if t.name == name), None)
            table.setdefault(target.name if target else era_id, {})[invariant] = 1
            report.divergences.append(
                soundness_divergence(
                    era_id, invariant, f.state, word, f.detail.message, 1, ENGINE,
                    target.name if target else str(Model(era_id)), seed=seed, fast=target.fast if target else None,
                    inherited=False,  # a change's finding here is a regression: the base keeps it on this state
                )
            )
        if progress:
            progress(ENGINE, n + 1, len(era_ids))
    report.table.setdefault(ENGINE, {}).update(table)
    found_any = any(d.engine == ENGINE for d in report.divergences)
    report.runs.append(
        EngineRun(
            ENGINE,
            Verdict.DIVERGENCE if found_any else Verdict.CLEAN,
            tried_total,
            round(time.perf_counter() - start, 2),
            f"profile {profile}" + (f", seed {seed}" if seed is not None else ""),
        )
    )


def time_to_find(era_id: str, invariant: str, seed: int) -> Optional[float]:
    """Seconds until a fresh search (no shrinking, no database, no examples
    given) first breaks `invariant` on `era_id`; None if it does not."""
    start = time.perf_counter()
    first: List[float] = []

    def hit(_: str) -> None:
        if not first:
            first.append(time.perf_counter() - start)

    search(era_id, [], "ci", seed, only=invariant, shrink=False, on_find=hit, database=False)
    return first[0] if first else None
