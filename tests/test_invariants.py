"""Every invariant fires on an outcome that breaks it, and names the values that broke it.

The era models break only the invariants history records (tests/test_history.py);
the rest would never be seen to fire there.  Here each one is shown a fault
that a broken kernel could have produced -- a real era's outcome with one
thing changed -- and must say so, while the unchanged outcome passes.
"""

from dataclasses import replace
from typing import Callable, Dict, List, Tuple

import pytest

from wpdiff.spec import (
    ERAS,
    INVARIANTS,
    Decision,
    Event,
    FaultKind,
    FaultState,
    Outcome,
    Page,
    PageKind,
    Pte,
    UffdWp,
    Vma,
    ksm_stable_node,
    mapping,
    page_cache,
)
from wpdiff.spec.history import CVE_2020_29374, OWN_LONGTERM_PIN, SOLE_MAPPING, SWAPPED_IN

# From 5.19 a pinned anonymous page is marked exclusive.
PINNED = replace(OWN_LONGTERM_PIN, page=replace(OWN_LONGTERM_PIN.page, anon_exclusive=True))
SHARED = FaultState(page=Page(holders=(mapping(0), mapping(1))))
UNSHARE = FaultState(page=Page(holders=(mapping(0),)), fault=FaultKind.UNSHARE)
FORCE = FaultState(page=Page(holders=(mapping(0),)), vma=Vma(write=False))
LARGE_OWN = FaultState(page=Page(nr_pages=4, holders=(mapping(0, 0), mapping(0, 2))))
UFFD_COPY = FaultState(page=Page(holders=(mapping(0), mapping(1))), vma=Vma(uffd_wp=UffdWp.SYNC), tlb_flush_pending=True)
PRIVATE_FILE = FaultState(page=Page(kind=PageKind.FILE, holders=(mapping(0), page_cache())))
PRIVATE_ZERO = FaultState(page=Page(kind=PageKind.ZERO))
EXCLUSIVE = Page(holders=(mapping(0),), anon_exclusive=True)
UFFD_SYNC = FaultState(page=EXCLUSIVE, vma=Vma(uffd_wp=UffdWp.SYNC), pte=Pte(uffd_wp=True))
UFFD_ASYNC = FaultState(page=EXCLUSIVE, vma=Vma(uffd_wp=UffdWp.ASYNC), pte=Pte(uffd_wp=True))
SLEPT_PTE_CHANGED = FaultState(page=Page(holders=(mapping(0),), locked=True), pte_changes_while_sleeping=True)
KSM_ALONE = FaultState(page=Page(kind=PageKind.KSM, holders=(mapping(0), ksm_stable_node())))


def _without(events: Tuple[Event, ...], event: Event) -> Tuple[Event, ...]:
    i = events.index(event)
    return events[:i] + events[i + 1 :]


def _events(out: Outcome, events: Tuple[Event, ...]) -> Outcome:
    return replace(out, events=events)


Break = Tuple[str, FaultState, Callable[[Outcome], Outcome], List[str]]

# (era, state, how a broken kernel's outcome differs, what the message must name)
BREAKS: Dict[str, List[Break]] = {
    "no-missed-cow": [
        ("v6.15", CVE_2020_29374, lambda o: replace(o, decision=Decision.REUSE),
         ["get(mm1, ro, taken while shared)", "refcount 2, mapcount 1"]),
    ],
    "no-wrong-cow": [
        ("v6.15", PINNED, lambda o: ERAS["v5.18"](OWN_LONGTERM_PIN),
         ["pin(mm0, rw, longterm)", "refcount 1025, mapcount 1"]),
    ],
    "unshare-read-only": [
        ("v6.15", UNSHARE, lambda o: replace(o, pte=replace(o.pte, write=True)),
         ["unshare-reuse", "anon page", "refcount 1, mapcount 1", "VM_WRITE 1"]),
    ],
    "exclusive-consistent": [
        ("v6.15", SHARED, lambda o: replace(o, page=replace(o.page, anon_exclusive=True)),
         ["the page", "mapping(mm1)", "refcount 2, mapcount 2"]),
    ],
    "unlock-before-ptl": [
        ("v6.15", SOLE_MAPPING,
         lambda o: _events(o, (Event.LOCK_PAGE, Event.PTL_UNLOCK, Event.UNLOCK_PAGE)),
         ["event 1 (lock_page)", "with the PTL held"]),
        ("v6.15", SHARED,
         lambda o: _events(o, (Event.PTL_UNLOCK, Event.TRYLOCK_OK, Event.UNLOCK_PAGE)),
         ["event 2 (trylock_page)", "without a reference of its own"]),
    ],
    "lock-balance": [
        ("v6.15", SOLE_MAPPING, lambda o: _events(o, _without(o.events, Event.PTL_UNLOCK)),
         ["returns with the PTL held"]),
        ("v5.9", SHARED, lambda o: _events(o, o.events + (Event.PTL_UNLOCK,)),
         [f"({Event.PTL_UNLOCK.value}): releases the PTL it does not hold"]),
        ("v5.9", SOLE_MAPPING, lambda o: _events(o, _without(o.events, Event.UNLOCK_PAGE)),
         ["returns with the page locked"]),
    ],
    "refs-conserved": [
        ("v6.15", SHARED, lambda o: _events(o, _without(o.events, Event.PUT)),
         ["1 get_page() but 0 put_page()"]),
        ("v6.15", SHARED, lambda o: replace(o, page=SHARED.page),
         ["after copy: refcount 2, mapcount 2; expected 1, 1", "1 mapping replaced"]),
    ],
    "reuse-when-exclusive": [
        ("v6.15", SOLE_MAPPING, lambda o: ERAS["v6.15"](SHARED),
         ["mm0's alone", "nothing else", "made a copy"]),
    ],
    "reuse-large-when-exclusive": [
        ("v6.15", LARGE_OWN, lambda o: ERAS["v6.9"](LARGE_OWN),
         ["4-page folio mapped 2 times", "refcount 2", "made a copy"]),
    ],
    "flush-before-copy": [
        ("v6.15", UFFD_COPY, lambda o: _events(o, _without(o.events, Event.TLB_FLUSH)),
         ["(wp_page_copy) copies the anon page", "uffd-wp (sync)", "no flush_tlb_page before it"]),
    ],
    "write-needs-vm-write": [
        ("v6.15", FORCE, lambda o: replace(o, pte=replace(o.pte, write=True)),
         ["reuse (anon page)", "lacks VM_WRITE"]),
    ],
    "writable-anon-is-exclusive": [
        ("v6.15", SOLE_MAPPING, lambda o: replace(o, page=replace(o.page, anon_exclusive=False)),
         ["after reuse", "the page (anon page) without PG_anon_exclusive", "refcount 1, mapcount 1"]),
        ("v6.15", SHARED, lambda o: replace(o, new_page=replace(o.new_page, anon_exclusive=False)),
         ["after copy", "the new page", "refcount 2, mapcount 1"]),
    ],
    "private-write-copies": [
        ("v6.15", PRIVATE_FILE, lambda o: ERAS["v6.15"](replace(PRIVATE_FILE, vma=Vma(shared=True))),
         ["private (COW) mapping", "shared path", "the file page", "wp_page_shared()"]),
        ("v5.9", PRIVATE_ZERO, lambda o: replace(o, decision=Decision.REUSE, pte=replace(o.pte, write=True)),
         ["reused the zero page", "writable", "only VM_SHARED / VM_MAYSHARE"]),
        ("v5.9", replace(PRIVATE_FILE, vma=Vma(write=False)),
         lambda o: replace(o, decision=Decision.REUSE, pte=Pte(dirty=True)), ["reused the file page", "dirty"]),
    ],
    "uffd-wp-reported-first": [
        ("v6.15", UFFD_SYNC, lambda o: ERAS["v6.15"](replace(UFFD_SYNC, pte=Pte())),
         ["synchronous uffd-wp VMA", "ended in reuse without handle_userfault()"]),
        ("v5.18", replace(UFFD_SYNC, page=Page(holders=(mapping(0),))),
         lambda o: _events(o, (Event.LRU_DRAIN,) + o.events), ["event 1 (lru_add_drain) before handle_userfault()"]),
        ("v6.15", UFFD_ASYNC, lambda o: ERAS["v5.18"](replace(UFFD_ASYNC, vma=Vma(uffd_wp=UffdWp.SYNC),
                                                              page=Page(holders=(mapping(0),)))),
         ["asynchronous uffd-wp VMA", "went to user space"]),
    ],
    "called-with-locks": [
        ("v6.15", SWAPPED_IN, lambda o: _events(o, _without(o.events, Event.TRYLOCK_OK)),
         ["event 1 (swap cache freed) without the page lock", "folio_free_swap()"]),
        ("v6.15", SOLE_MAPPING,
         lambda o: _events(o, _without(o.events, Event.SET_ANON_EXCLUSIVE) + (Event.SET_ANON_EXCLUSIVE,)),
         ["(SetPageAnonExclusive) without the PTL", "under the PTL only"]),
    ],
    "no-stale-pte": [
        ("v5.7", SLEPT_PTE_CHANGED, lambda o: ERAS["v5.7"](replace(SLEPT_PTE_CHANGED, pte_changes_while_sleeping=False)),
         ["event 7 (page_move_anon_rmap)", "after the handler slept in lock_page() (event 4)", "decision reuse"]),
    ],
    "ksm-never-written": [
        ("v5.9", KSM_ALONE,
         lambda o: replace(o, decision=Decision.REUSE, page=KSM_ALONE.page, pte=Pte(write=True, dirty=True),
                           new_page=None),
         ["after reuse", "writable on a page that is still a KSM page", "refcount 1, mapcount 1"]),
    ],
}


def test_every_invariant_is_shown_to_fire():
    assert set(BREAKS) == set(INVARIANTS)


CASES = [(inv, *case) for inv, cases in BREAKS.items() for case in cases]


@pytest.mark.parametrize(
    "invariant, era_id, state, broken, names", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_invariant_fires_and_names_the_values(invariant, era_id, state, broken, names):
    era, check = ERAS[era_id], INVARIANTS[invariant].check
    assert era.admits(state), era.unreachable(state)
    good = era(state)
    assert check(state, good) is None, f"{era_id}'s own outcome already breaks {invariant}"
    message = check(state, broken(good))
    assert message is not None, f"{invariant} did not fire"
    for value in names:
        assert value in message, f"{value!r} not in {message!r}"


def test_the_history_of_each_invariant_is_told():
    from wpdiff.spec import Severity

    for inv in INVARIANTS.values():
        assert len(inv.guarantee) > 40 and len(inv.history) > 40, inv.id
        assert isinstance(inv.severity, Severity), inv.id
        assert inv.fixed_by or inv.id in ("lock-balance", "refs-conserved", "write-needs-vm-write") or \
            any(c.isdigit() for c in inv.history), f"{inv.id} names no commit or code that keeps it"
