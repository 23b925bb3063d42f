"""States that cannot exist are refused with a message naming the field; the rest round-trip through JSON."""

import json

import pytest
from dataclasses_json.undefined import UndefinedParameterError

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
    (lambda: Page(nr_pages=2, holders=(mapping(0, 0), mapping(0, 1))), "Page.nr_pages", "order 1 is never"),
    # A plain string where an Enum belongs would compare unequal to every
    # member and take the wrong branch of a model: refused, with the fix.
    (lambda: FaultState(page=Page(holders=(mapping(0),)), fault="unshare"), "FaultState.fault",
     "write FaultKind('unshare')"),
    (lambda: Vma(uffd_wp="async"), "Vma.uffd_wp", "one of UffdWp.OFF, UffdWp.SYNC, UffdWp.ASYNC"),
    (lambda: Page(kind="anon"), "Page.kind", "got 'anon' (str)"),
    (lambda: Holder("get", owner=0), "Holder.kind", "HolderKind.GET"),
    (lambda: Page(nr_pages="4"), "Page.nr_pages", "expected an int"),
    (lambda: Page(locked=1), "Page.locked", "expected a bool, got 1 (int)"),
    (lambda: Pte(dirty="yes"), "Pte.dirty", "expected a bool"),
    (lambda: FaultState(page=Page(holders=(mapping(0),)), mm=True), "FaultState.mm", "expected an int, got True"),
    (lambda: FaultState(vma={"write": True}), "FaultState.vma", "expected a Vma"),
    (lambda: Page(holders=("mapping",)), "Page.holders", "expected Holder values"),
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


# Every field away from its default somewhere: each page kind, a large
# folio, every holder kind and flag, each uffd-wp mode, an unshare fault.
ROUND_TRIP = [
    *(f.example for f in FINDINGS),
    FaultState(page=Page(kind=PageKind.ZERO), vma=Vma(uffd_wp=UffdWp.ASYNC), pte=Pte(uffd_wp=True, dirty=True)),
    FaultState(page=Page(kind=PageKind.KSM, holders=(mapping(0), ksm_stable_node(), lru_batch(remote=True))),
               fault=FaultKind.UNSHARE),
    FaultState(page=Page(kind=PageKind.FILE, holders=(mapping(0), mapping(1), page_cache()), writeback=True,
                         checked=True, dirty=True), vma=Vma(write=False), pte=Pte(young=False)),
    FaultState(page=Page(holders=(mapping(0), swap_cache(), swap_pte(1), isolation(), pin(1, longterm=True),
                                  get(0, writable=True)), locked=True, writeback=True, anon_exclusive=True),
               tlb_flush_pending=True, pte_changes_while_sleeping=True, vma=Vma(uffd_wp=UffdWp.SYNC)),
    FaultState(page=Page(nr_pages=4, holders=(mapping(1, 0), mapping(1, 3), mapping(2, 1)), maybe_mapped_shared=True),
               mm=1),
]


@pytest.mark.parametrize("state", ROUND_TRIP, ids=range(len(ROUND_TRIP)))
def test_states_and_outcomes_round_trip_through_json(state):
    text = state.to_json()
    assert FaultState.from_json(text) == state
    for era in ERAS.values():
        if era.admits(state):
            outcome = era(state)
            assert Outcome.from_json(outcome.to_json()) == outcome


def test_json_names_holder_kinds_in_words():
    text = FINDINGS[0].example.to_json()
    assert [h["kind"] for h in json.loads(text)["page"]["holders"]] == ["mapping", "get"]


def test_json_with_a_field_no_state_has_is_refused():
    # A counter written by hand would contradict the holders it derives from.
    data = FINDINGS[0].example.to_dict(encode_json=True)
    data["page"]["refcount"] = 7
    with pytest.raises(UndefinedParameterError, match="refcount"):
        FaultState.from_dict(data)


def test_json_that_describes_an_impossible_state_is_refused():
    text = FaultState(page=Page(holders=(mapping(0),))).to_json().replace('"anon_exclusive": false', '"anon_exclusive": true').replace('"kind": "anon"', '"kind": "ksm"')
    with pytest.raises(StateError, match="anon_exclusive"):
        FaultState.from_json(text)


def test_every_enum_value_is_a_readable_string():
    for enum in (FaultKind, UffdWp, PageKind, HolderKind):
        assert all(isinstance(m.value, str) and m.value.islower() for m in enum)
