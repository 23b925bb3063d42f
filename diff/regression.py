"""State by state: what a change to a fast path breaks that its base era keeps.

A user's fast path checked against a base era (``wpdiff check --fastpath
MOD:FN --base ERA``, the pytest plugin, ``wpdiff kernel TREE --base ERA``)
is a *change* to that era: it may decide differently -- that is what a
change is for -- but it must keep every guarantee the base keeps.  The
first rule excused a broken invariant whenever the base era broke it
*anywhere*: v5.9 breaks ``no-wrong-cow`` and ``reuse-when-exclusive`` on
some states, so a patch to v5.9 that broke them on many more states passed
(issue 15).  The rule here is per state:

- a **regression** is a state the base era admits on which the change
  breaks an invariant that the base's model keeps *on that same state*;
- an **inherited** break is one the base's model has on that state too:
  history's, not the change's;
- a **fix** is a state on which the base's model breaks an invariant that
  the change keeps.

Only regressions fail a check; fixes are reported, so that a reviewer sees
what a patch repairs.  Where the change returns exactly the base model's
result the two are judged alike, so only the states where they differ are
judged (a few hundred of the 63,339 of the full space, for most changes).
The fast path's result is judged on the outcome it stands for
(``impl.abstract.outcome_of``), the model's on its own outcome.

Which engines call what (the engines' modules are not this file's):

- exhaustive and the kernel-C harness: :func:`compare` on the sweep's words
  and the change's results over them;
- Hypothesis and CrossHair, one state at a time: :func:`regressions`;
  Hypothesis also judges the states one edit away from each state where
  the change decides differently (:class:`Around`);
- CrossHair's equivalence proof of a user's fast path against its base is
  informational (a change may decide differently): ``EngineRun.informational``
  says which runs they are, ``Report.unproved()`` leaves them out, so a
  budget hit there fails nothing, and :func:`mark_informational` says so in
  their notes.

>>> from wpdiff.impl.mutants import MUTANTS
>>> from wpdiff.impl.concretize import concretize
>>> from wpdiff.spec import FaultState, Page, mapping, pin
>>> from wpdiff.spec.history import OWN_LONGTERM_PIN
>>> fast = MUTANTS["v5.18/count-modulo-pin-bias"].load()   # page_count() read modulo the pin bias
>>> foreign = FaultState(page=Page(holders=(mapping(0), pin(1, taken_while_shared=True))))
>>> [v.invariant for v in regressions("v5.18", foreign, fast(concretize("v5.18", foreign)))]
['no-missed-cow']
>>> [v.invariant for v in judge("v5.18", OWN_LONGTERM_PIN, fast(concretize("v5.18", OWN_LONGTERM_PIN))).fixes]
['no-wrong-cow']
"""

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from wpdiff.spec import ERAS, Violation, violations
from wpdiff.spec.invariants import Invariant
from wpdiff.spec.outcome import Outcome
from wpdiff.spec.space import size
from wpdiff.spec.state import FaultState

from . import exhaustive
from .report import EngineRun, Report, Verdict
from .targets import Target, call


@dataclass(frozen=True)
class Judgement:
    """One state, judged: what the change breaks that the base keeps, what
    both break, and what the base breaks that the change keeps."""

    state: FaultState
    regressions: Tuple[Violation, ...]
    inherited: Tuple[Violation, ...]
    fixes: Tuple[Violation, ...]


def judge(
    era_id: str,
    state: FaultState,
    result: object,
    invariants: Optional[Sequence[Invariant]] = None,
    outcome: Optional[Outcome] = None,
) -> Judgement:
    """Judge a change's `result` on `state` against the base era `era_id`'s
    model (its `outcome` there, if already computed).  The caller makes
    sure the base admits `state`: on a state it cannot reach, nothing is a
    finding."""
    invariants = exhaustive.applicable(era_id) if invariants is None else invariants
    ids = {inv.id for inv in invariants}
    # each names an invariant once (a report counts states): spec.violations by construction,
    # result_violations by joining the two ways a result can break refs-conserved
    base = [v for v in violations(ERAS[era_id], state, outcome) if v.invariant in ids]
    change = exhaustive.result_violations(era_id, state, result, invariants)
    kept_by_base = {v.invariant for v in base}
    kept_by_change = {v.invariant for v in change}
    return Judgement(
        state,
        tuple(v for v in change if v.invariant not in kept_by_base),
        tuple(v for v in change if v.invariant in kept_by_base),
        tuple(v for v in base if v.invariant not in kept_by_change),
    )


def regressions(
    era_id: str,
    state: FaultState,
    result: object,
    invariants: Optional[Sequence[Invariant]] = None,
    outcome: Optional[Outcome] = None,
) -> List[Violation]:
    """The invariants a change's `result` breaks on `state` that the base
    era's model keeps there: what a one-state engine fails on."""
    return list(judge(era_id, state, result, invariants, outcome).regressions)


@dataclass
class Tally:
    """An invariant on some states: how many, and the smallest, with its message."""

    invariant: str
    count: int
    state: FaultState
    message: str


def _tally(into: Dict[str, Tally], state: FaultState, found: Sequence[Violation]) -> None:
    """Count `state` once for each invariant it breaks (`found` names each once: :func:`judge`)."""
    for v in found:
        have = into.get(v.invariant)
        if have is None:
            into[v.invariant] = Tally(v.invariant, 1, state, v.message)
        else:
            have.count += 1
            if size(state) < size(have.state):
                have.state, have.message = state, v.message


@dataclass
class Comparison:
    """A change against its base era over a space, state by state."""

    era: str
    target: str
    admitted: int  # states the base admits
    differ: int  # ... on which the change's result is not the base model's
    regressions: Dict[str, Tally] = field(default_factory=dict)
    inherited: Dict[str, Tally] = field(default_factory=dict)
    fixes: Dict[str, Tally] = field(default_factory=dict)

    @property
    def broken(self) -> bool:
        """Whether the user-facing check fails the change: a regression."""
        return bool(self.regressions)

    def verdict(self) -> str:
        """"broken" (a guarantee the base keeps is broken somewhere), "behaviour
        change" (it decides differently, keeping every guarantee the base
        keeps) or "same" (it returns the base's result on every state)."""
        return "broken" if self.broken else "behaviour change" if self.differ else "same"

    def cells(self) -> Dict[str, int]:
        """The report table's cells for the change: per invariant, the states it
        breaks it on, regressed or inherited (no state is both)."""
        return {inv: sum(t[inv].count for t in (self.regressions, self.inherited) if inv in t)
                for inv in {**self.inherited, **self.regressions}}

    def summary(self) -> str:
        def said(tallies: Dict[str, Tally]) -> str:
            return ", ".join(f"{t.invariant} on {t.count}" for t in sorted(tallies.values(), key=lambda t: t.invariant))

        parts = [f"{self.target} against {self.era}: {self.verdict()}; differs on {self.differ} of {self.admitted} "
                 "admitted state(s)"]
        if self.regressions:
            parts.append("breaks what the base keeps: " + said(self.regressions))
        if self.fixes:
            parts.append("fixes: " + said(self.fixes))
        if self.inherited:
            parts.append("inherits: " + said(self.inherited))
        return "; ".join(parts)


def compare(
    era: exhaustive.EraSweep,
    target_name: str,
    states: Sequence[FaultState],
    after: np.ndarray,
    trace: np.ndarray,
    invariants: Optional[Sequence[Invariant]] = None,
) -> Comparison:
    """The change whose results over the sweep's words are `after`, `trace`
    (uint64 arrays, one per state of `states`) against the sweep's era,
    state by state on the states it admits.  Where the results equal the
    model's, the change is judged as the model is: neither regresses nor
    fixes, and what the base breaks there is inherited."""
    invariants = exhaustive.applicable(era.era) if invariants is None else invariants
    out = Comparison(era.era, target_name, int(era.admitted_mask.sum()), 0)
    differs = ((after != era.after) | (trace != era.trace)) & era.admitted_mask
    out.differ = int(differs.sum())
    for i in np.flatnonzero(differs).tolist():
        state = states[i]
        j = judge(era.era, state, (int(after[i]), int(trace[i])), invariants)
        _tally(out.regressions, state, j.regressions)
        _tally(out.inherited, state, j.inherited)
        _tally(out.fixes, state, j.fixes)
    # the same result: whatever the base breaks there, the change inherits
    same = np.flatnonzero(era.admitted_mask & ~differs).tolist()
    if era.findings:
        ids = {inv.id for inv in invariants}
        for i in same:
            found = [v for v in violations(ERAS[era.era], states[i]) if v.invariant in ids]
            _tally(out.inherited, states[i], found)
    return out


def compare_target(era: exhaustive.EraSweep, target: Target, states: Sequence[FaultState]) -> Comparison:
    """:func:`compare` for a fast path, run on every word as the exhaustive
    engine runs it (``exhaustive.fast_results``)."""
    after, trace = exhaustive.fast_results(target, era.words)
    return compare(era, target.name, states, after, trace)


# ---- CrossHair: the equivalence proof of a change is informational -------------

INFORMATIONAL = (
    "informational: a change may decide differently from its base; its guarantees are judged by the soundness "
    "searches, and a budget hit here fails nothing"
)


def mark_informational(report: Report) -> None:
    """Say in each informational proof's note (``EngineRun.informational``)
    that it is one; ``Report.unproved()`` leaves those proofs out of exit 3."""
    for i, run in enumerate(report.runs):
        if run.informational and INFORMATIONAL not in run.note:
            note = f"{run.note}; {INFORMATIONAL}" if run.note else INFORMATIONAL
            report.runs[i] = EngineRun(run.engine, run.verdict, run.checked, run.seconds, note)


def budget_fails(report: Report) -> bool:
    """Whether the report's budget hits make the check exit 3."""
    return any(r.verdict is Verdict.BUDGET for r in report.unproved())


# ---- one state at a time: the search the Hypothesis engine runs for a change ----


AROUND = 100  # differing states a search looks around (Around's budget)


class Around:
    """The states one edit away from those where a change decides
    differently from its base (``spec.space.neighbours``), judged as the
    states a search draws.

    A change's regressions lie among the states where it decides
    differently, and a search that draws a few of those often draws none
    of the few where it breaks something: a cut-off one too low
    (``page_count() > 2`` for v5.18's ``> 3``) differs on 260 states of the
    full space and breaks reuse on 2, where the swap cache and an LRU batch
    are the only other references.  Looking one edit away from each
    differing state finds those (issue 15: the Hypothesis engine's default
    budget must catch a broken fast path in every run; over 24 seeds of the
    36 broken mutants it missed 3 runs without this, none with it).

    `wanted` says which invariants the search still looks for (an
    invariant id -> whether a regression of it counts): a neighbour that
    breaks only others is passed over.  At most `budget` differing states
    are looked around in a search, so that a change which differs almost
    everywhere costs a bounded share of it; what was found around a state
    is kept, so a state Hypothesis runs again (shrinking, replay) is judged
    alike.  Past the budget a finding made here shrinks no further: it is
    reported on the neighbour of the state drawn."""

    def __init__(self, target: Target, invariants: Sequence[Invariant], budget: int = AROUND,
                 wanted: Callable[[str], bool] = lambda invariant: True) -> None:
        self.target, self.invariants, self.budget, self.wanted = target, invariants, budget, wanted
        self.era = ERAS[target.era]
        self.seen: Dict[FaultState, Optional[Judgement]] = {}
        self.judged = 0  # states judged around others: the search's examples do not count them

    def __call__(self, state: FaultState) -> Optional[Judgement]:
        """A regression one edit away from `state` (the smallest), or None."""
        if state in self.seen:
            return self.seen[state]
        if len(self.seen) >= self.budget:
            return None
        from wpdiff.impl.concretize import concretize, concretize_outcome
        from wpdiff.impl.layout import PackError
        from wpdiff.spec.space import neighbours

        found = None
        for near in neighbours(state):
            if not self.era.admits(near):
                continue
            try:
                word = concretize(self.era.id, near)
            except PackError:  # more references than the word's counters hold: outside the modelled space
                continue
            self.judged += 1
            got = call(self.target, word)
            outcome = self.era(near)
            if got == concretize_outcome(self.era.id, near, outcome):
                continue
            j = judge(self.era.id, near, got, self.invariants, outcome)
            if any(self.wanted(v.invariant) for v in j.regressions):
                found = j
                break
        self.seen[state] = found
        return found


def hunt(target: Target, profile: str = "dev", seed: Optional[int] = None, shrink: bool = False,
         around: int = AROUND) -> Optional[Judgement]:
    """The Hypothesis engine's search for a state on which the change
    `target` breaks a guarantee its base era keeps there, with `profile`'s
    budget: the first such state's judgement (shrunk with `shrink`), or
    None.  It is the last search ``wpdiff check --fastpath`` runs for the
    era (``hypo.search``, the change's behaviour and the base's own
    findings already known); no example database, so `seed` alone decides.
    `around`: :class:`Around`'s budget (0 to measure what it adds)."""
    from wpdiff.impl.concretize import concretize

    from . import hypo

    known = frozenset([f"faithfulness:{target.name}"] + [inv.id for inv in exhaustive.applicable(target.era)])
    found, _ = hypo.search(target.era, [target], profile, seed, shrink=shrink, known=known, database=False,
                           around=around)
    for f in found:
        j = judge(target.era, f.state, call(target, concretize(target.era, f.state)))
        if j.regressions:
            return j
    return None
