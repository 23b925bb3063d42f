"""The rules a reviewer holds a do_wp_page() patch to (issue 15), and the state-by-state judging of a change.

Each of the five guarantees is stated (``wpdiff explain``), kept by every
era (tests/test_history.py), broken by the mutants written for it, and
reachable by the CrossHair soundness search's shape.  A change is judged
against its base era state by state: a break the base has elsewhere does
not excuse it.
"""

import pytest

from wpdiff.diff import regression
from wpdiff.diff.cli import main
from wpdiff.diff.report import EngineRun, Report, Verdict
from wpdiff.diff.shapes import ARGS, build
from wpdiff.diff.targets import Target
from wpdiff.impl.concretize import concretize
from wpdiff.impl.mutants import MUTANTS
from wpdiff.spec import ERAS, INVARIANTS, Decision, Event, FaultState, Outcome, Page, Pte, mapping, pin, violations
from wpdiff.spec.history import KEPT, OWN_LONGTERM_PIN
from wpdiff.spec.invariants import NEEDS, PAGE_LOCK, PTL

FIVE = ("private-write-copies", "uffd-wp-reported-first", "called-with-locks", "no-stale-pte", "ksm-never-written")

# guarantee -> the mutants written for it (each breaks it where its base keeps it)
MUTANTS_FOR = {
    "private-write-copies": ["v6.2/private-file-shared", "v5.9/zero-page-in-place"],
    "uffd-wp-reported-first": ["v6.7/exclusive-before-uffd-wp", "v6.7/async-as-sync"],
    "called-with-locks": ["v5.18/free-swap-before-lock", "v6.15/large-free-swap-unlocked"],
    "no-stale-pte": ["v5.7/stale-pte-copied", "v5.7/no-pte-same"],
    "ksm-never-written": ["v5.9/ksm-reused", "v5.7/ksm-not-moved"],
}

# guarantee -> the shape's arguments (the rest False) for a state it needs, and a mutant that breaks it there
SHAPES = {
    "private-write-copies": (("other_kind",), "v6.2/private-file-shared"),
    "uffd-wp-reported-first": (("anon_exclusive", "unusual_fault", "uffd_wp", "uffd_bit"), "v6.7/exclusive-before-uffd-wp"),
    "called-with-locks": (("holders_besides_maps", "swapcache"), "v5.18/free-swap-before-lock"),
    "no-stale-pte": (("unusual_fault", "locked", "pte_changes"), "v5.7/stale-pte-copied"),
    "ksm-never-written": (("ksm", "stable"), "v5.9/ksm-reused"),
}


def _target(mutant_id: str) -> Target:
    m = MUTANTS[mutant_id]
    return Target(f"mutant:{m.id}", m.era, m.load(), False)


@pytest.mark.parametrize("guarantee", FIVE)
def test_each_guarantee_is_explained_with_its_history(guarantee, capsys):
    assert main(["explain", guarantee]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{guarantee} ({INVARIANTS[guarantee].severity.value}")
    assert "Eras that break it: none" in out
    assert guarantee in KEPT


def test_explain_lists_the_new_ids_when_asked_for_an_unknown_one(capsys):
    assert main(["explain", "no-such-guarantee"]) == 2
    err = capsys.readouterr().err
    for guarantee in FIVE:
        assert guarantee in err


# ---- the lock each primitive needs, read once from the trace ----------------------


@pytest.mark.parametrize("event", list(NEEDS), ids=lambda e: e.name)
def test_every_primitive_in_the_table_fires_without_each_lock_it_needs(event):
    check = INVARIANTS["called-with-locks"].check
    state = FaultState(page=Page(holders=(mapping(0),)))
    locks, why = NEEDS[event]
    # with every lock it needs: the PTL is held on entry; take the page lock first
    held = (Event.TRYLOCK_OK, event, Event.UNLOCK_PAGE, Event.PTL_UNLOCK)
    assert check(state, Outcome(Decision.REUSE, held, state.page, Pte(write=True))) is None
    for lock in locks:
        without = (event, Event.PTL_UNLOCK) if lock is PAGE_LOCK else (Event.PTL_UNLOCK, Event.GET, Event.TRYLOCK_OK,
                                                                       event, Event.UNLOCK_PAGE, Event.PUT)
        message = check(state, Outcome(Decision.REUSE, without, state.page, Pte(write=True)))
        assert message is not None, (event, lock)
        assert f"({event.value}) without {lock}" in message and why in message


def test_the_table_holds_the_swap_cache_free_to_the_page_lock():
    assert NEEDS[Event.SWAP_FREE][0] == (PAGE_LOCK,)
    assert PTL in NEEDS[Event.REUSE_PTE][0] and PTL in NEEDS[Event.SET_ANON_EXCLUSIVE][0]


# ---- the CrossHair search's shape can say the states each guarantee needs ----------


@pytest.mark.parametrize("guarantee", FIVE)
def test_the_search_shape_expresses_a_state_each_guarantee_needs(guarantee):
    on, mutant_id = SHAPES[guarantee]
    state = build(**{name: name in on for name in ARGS})
    m = MUTANTS[mutant_id]
    assert ERAS[m.era].admits(state), ERAS[m.era].unreachable(state)
    found = regression.regressions(m.era, state, m.load()(concretize(m.era, state)))
    assert guarantee in [v.invariant for v in found], (state, found)


def test_the_shape_has_a_file_page_the_zero_page_and_a_shared_mapping():
    off = dict.fromkeys(ARGS, False)
    assert build(**{**off, "other_kind": True}).page.kind.value == "file"
    assert build(**{**off, "other_kind": True, "zero": True}).page.kind.value == "zero"
    shared = build(**{**off, "other_kind": True, "unusual_fault": True, "shared_vma": True})
    assert shared.vma.shared and shared.vma.write
    assert not build(**{**off, "unusual_fault": True, "shared_vma": True}).vma.shared  # anon pages live in private mappings


# ---- state by state ---------------------------------------------------------------


@pytest.mark.parametrize("guarantee", FIVE)
def test_the_mutants_of_each_guarantee_are_flagged_broken(guarantee, full_sweep):
    from wpdiff.diff import exhaustive

    states = exhaustive.space("full")
    for mutant_id in MUTANTS_FOR[guarantee]:
        m = MUTANTS[mutant_id]
        c = regression.compare_target(full_sweep.eras[m.era], _target(mutant_id), states)
        assert c.verdict() == "broken", c.summary()
        assert guarantee in c.regressions, c.summary()
        assert ERAS[m.era].admits(c.regressions[guarantee].state)


def test_a_break_the_base_has_elsewhere_does_not_excuse_a_new_one(full_sweep):
    from wpdiff.diff import exhaustive

    # v5.9 breaks reuse-when-exclusive on some states; the flipped count breaks it on others
    assert "reuse-when-exclusive" in full_sweep.eras["v5.9"].findings
    c = regression.compare_target(full_sweep.eras["v5.9"], _target("v5.9/count-flipped"), exhaustive.space("full"))
    assert "reuse-when-exclusive" in c.regressions, c.summary()
    state = c.regressions["reuse-when-exclusive"].state
    assert "reuse-when-exclusive" not in [v.invariant for v in violations(ERAS["v5.9"], state)]


def test_what_a_change_fixes_is_reported_and_fails_nothing(full_sweep):
    from wpdiff.diff import exhaustive

    c = regression.compare_target(full_sweep.eras["v5.9-rc4"], _target("v5.9-rc4/fixed-unlock-order"),
                                  exhaustive.space("full"))
    assert c.verdict() == "behaviour change" and not c.broken
    assert c.fixes["unlock-before-ptl"].count == c.differ
    assert "fixes: unlock-before-ptl" in c.summary()


def test_a_report_counts_what_a_change_differs_on_once_and_on_admitted_states():
    # the behaviour-change block and the run's note count the same states: those the base admits, each once
    # (a difference on a state the base never reaches is no behaviour of the change)
    from wpdiff.diff import exhaustive
    from wpdiff.diff.check import run_exhaustive
    from wpdiff.diff.report import Compared

    target = _target("v5.9/trylock-ignored")
    report = Report("test", ["v5.9"])
    run_exhaustive(report, ["v5.9"], [target], "small", 1)
    c = regression.compare_target(exhaustive.sweep(["v5.9"], "small").eras["v5.9"], target, exhaustive.space("small"))
    [change] = [d for d in report.divergences if d.compared is Compared.FAITHFULNESS]
    assert 0 < change.count == c.differ < exhaustive.faithfulness(
        exhaustive.sweep(["v5.9"], "small").eras["v5.9"], Target("builtin-like", "v5.9", target.fast, True),
        exhaustive.space("small")).count
    assert ERAS["v5.9"].admits(change.state)
    assert f"differs on {c.differ} of {c.admitted} admitted state(s)" in report.runs[-1].note
    assert f"on {c.differ} state(s)" in change.explanation


def test_one_state_judged_regression_fix_and_inherited():
    fast = MUTANTS["v5.18/count-modulo-pin-bias"].load()
    foreign = FaultState(page=Page(holders=(mapping(0), pin(1, taken_while_shared=True))))
    j = regression.judge("v5.18", foreign, fast(concretize("v5.18", foreign)))
    assert [v.invariant for v in j.regressions] == ["no-missed-cow"] and not j.fixes
    j = regression.judge("v5.18", OWN_LONGTERM_PIN, fast(concretize("v5.18", OWN_LONGTERM_PIN)))
    assert not j.regressions and [v.invariant for v in j.fixes] == ["no-wrong-cow"]
    # a change that copies the pinned page as the base does inherits the base's break
    j = regression.judge("v5.18", OWN_LONGTERM_PIN, MUTANTS["v5.18/no-drain"].load()(concretize("v5.18", OWN_LONGTERM_PIN)))
    assert [v.invariant for v in j.inherited] == ["no-wrong-cow"] and not j.regressions


# ---- CrossHair: the equivalence proof of a change is informational ------------------


def test_a_budget_hit_on_an_informational_proof_fails_nothing():
    runs = [
        EngineRun("crosshair:builtin:v5.9", Verdict.BUDGET, 0, 1.0),
        EngineRun("crosshair:wp_page_copy:v5.10", Verdict.BUDGET, 0, 1.0),
        EngineRun("crosshair:mutant:v5.9/count-flipped", Verdict.BUDGET, 0, 1.0, "faithfulness whole"),
        EngineRun("crosshair:mypkg.cow:do_wp_page", Verdict.BUDGET, 0, 1.0),
        EngineRun("crosshair:soundness:mypkg.cow:do_wp_page", Verdict.BUDGET, 10, 1.0),
    ]
    report = Report("test", ["v5.9"], runs=list(runs))
    assert [r.engine for r in report.unproved()] == ["crosshair:builtin:v5.9", "crosshair:wp_page_copy:v5.10"]
    assert regression.budget_fails(report)
    regression.mark_informational(report)
    notes = {r.engine: r.note for r in report.runs}
    assert regression.INFORMATIONAL in notes["crosshair:mypkg.cow:do_wp_page"]
    assert notes["crosshair:mutant:v5.9/count-flipped"].startswith("faithfulness whole; informational")
    assert regression.INFORMATIONAL not in notes["crosshair:builtin:v5.9"]
    user_only = Report("test", ["v5.9"], runs=runs[2:])
    assert not regression.budget_fails(user_only)  # a correct refactor is not a failed check
