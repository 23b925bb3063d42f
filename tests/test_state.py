"""States that cannot exist are refused with a message naming the field; the rest round-trip through JSON."""

import json

import pytest

from wpdiff.spec import (
    ERAS,
    FaultKind,
    FaultState,
    Holder,
    HolderKind,
    Outcome,
    Page,
    PageKind,
    Pte,
    StateError,
    UffdWp,
    Vma,
    get,
    isolation,
    ksm_stable_node,
    lru_batch,
    mapping,
    page_cache,
    pin,
    swap_cache,
    swap_pte,
)
from wpdiff.spec.history import FINDINGS

IMPOSSIBLE = [
    (lambda: Page(kind=PageKind.KSM, anon_exclusive=True), "Page.anon_exclusive", "non-KSM"),
    (lambda: Page(kind=PageKind.FILE, holders=(page_cache(),), anon_exclusive=True), "Page.anon_exclusive", "anonymous"),
    (lambda: FaultState(page=Page(holders=(mapping(1),))), "FaultState.page.holders", "expected mapping(mm0)"),
    (lambda: Page(holders=(mapping(0), mapping(0))), "Page.holders", "at most once"),
    (lambda: Page(holders=(mapping(0, 1),)), "Page.holders", "subpage 1 of a folio of 1"),
    (lambda: Page(nr_pages=4, holders=(mapping(0, 0), mapping(1, 1))), "Page.maybe_mapped_shared", "two or more mms"),
    (lambda: Page(holders=(mapping(0), swap_pte(1))), "Page.holders", "while the page is in the swap cache"),
    (lambda: Page(holders=(mapping(0), swap_cache(), swap_pte(0))), "Page.holders", "not both"),
    (lambda: Page(holders=(mapping(0), swap_cache(), swap_cache())), "Page.holders", "swap cache once"),
    (lambda: Page(holders=(mapping(0), lru_batch(), isolation())), "Page.holders", "not both"),
    (lambda: Page(holders=(mapping(0),), writeback=True), "Page.writeback", "swap cache"),
    (lambda: Page(kind=PageKind.FILE, holders=(mapping(0),)), "Page.holders", "page-cache reference"),
    (lambda: Page(holders=(mapping(0), ksm_stable_node())), "Page.holders", "KSM stable node"),
    (lambda: Page(kind=PageKind.ZERO, holders=(mapping(0),)), "Page", "zero page"),
    (lambda: Page(kind=PageKind.FILE, nr_pages=4, holders=(page_cache(),)), "Page.nr_pages", "anonymous"),
    (lambda: Page(nr_pages=3), "Page.nr_pages", "power-of-two"),
    (lambda: Holder(HolderKind.GET), "Holder(get).owner", "mm id"),
    (lambda: Holder(HolderKind.SWAP_CACHE, owner=1), "Holder(swap-cache).owner", "no owning mm"),
    (lambda: get(1, writable=True, taken_while_shared=True), "Holder(get)", "breaks COW before it is taken"),
    (lambda: Holder(HolderKind.GET, owner=0, longterm=True), "Holder(get).longterm", "only a pin"),
    (lambda: FaultState(page=Page(holders=(mapping(0),)), pte=Pte(write=True)), "FaultState.pte.write", "write-protected"),
    (lambda: FaultState(page=Page(holders=(mapping(0),)), pte=Pte(uffd_wp=True)), "FaultState.pte.uffd_wp", "registered"),
    (lambda: FaultState(page=Page(holders=(mapping(0),)), vma=Vma(shared=True)), "FaultState.vma.shared", "private"),
    (
        lambda: FaultState(page=Page(kind=PageKind.FILE, holders=(mapping(0), page_cache())), vma=Vma(shared=True),
                           fault=FaultKind.UNSHARE),
        "FaultState.vma",
        "COW mappings",
    ),
    (lambda: FaultState(page=Page(holders=(mapping(0),)), pte_changes_while_sleeping=True),
     "FaultState.pte_changes_while_sleeping", "page.locked"),
]


@pytest.mark.parametrize("build, where, why", IMPOSSIBLE, ids=[w + ":" + y for _, w, y in IMPOSSIBLE])
def test_impossible_states_are_refused(build, where, why):
    with pytest.raises(StateError) as info:
        build()
    message = str(info.value)
    assert message.startswith(where + ":"), message
    assert why in message


def test_holders_are_a_multiset_in_canonical_order():
    a = Page(holders=(get(1), mapping(0), pin(0)))
    b = Page(holders=(pin(0), mapping(0), get(1)))
    assert a == b and hash(a) == hash(b)
    assert Page(holders=(mapping(0), get(1), get(1))).count(HolderKind.GET) == 2


def test_counters_derive_from_holders():
    s = FaultState(page=Page(holders=(mapping(0), mapping(1), swap_cache(), pin(0), lru_batch(remote=True))))
    assert (s.refcount, s.mapcount) == (1 + 1 + 1 + 1024 + 1, 2)
    large = FaultState(page=Page(nr_pages=4, holders=(mapping(0, 0), mapping(0, 1), swap_cache(), pin(0))))
    assert large.refcount == 2 + 4 + 1  # the swap cache holds the whole folio; large folios count pins apart


@pytest.mark.parametrize("finding", FINDINGS[:6], ids=lambda f: f"{f.era}:{f.invariant}")
def test_states_and_outcomes_round_trip_through_json(finding):
    state = finding.example
    text = state.to_json()
    assert FaultState.from_json(text) == state
    assert json.loads(text)["page"]["holders"][0]["kind"] == "mapping"
    outcome = ERAS[finding.era](state)
    assert Outcome.from_json(outcome.to_json()) == outcome


def test_json_that_describes_an_impossible_state_is_refused():
    text = FaultState(page=Page(holders=(mapping(0),))).to_json().replace('"anon_exclusive": false', '"anon_exclusive": true').replace('"kind": "anon"', '"kind": "ksm"')
    with pytest.raises(StateError, match="anon_exclusive"):
        FaultState.from_json(text)


def test_every_enum_value_is_a_readable_string():
    for enum in (FaultKind, UffdWp, PageKind, HolderKind):
        assert all(isinstance(m.value, str) and m.value.islower() for m in enum)
