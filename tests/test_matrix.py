"""The scenario matrix of kernel-history.md section 14, one row per test.

Each row is a state before the write fault and the decision per era.  Where
an era cannot reach the row's state, the row says so (UNREACHABLE) and the
test checks that the era's reachability rules agree.  Rows that differ in
an era only by what that era's kernel records (PG_anon_exclusive from 5.19)
build the state per era.
"""

from typing import Callable, Dict, Optional, Union

import pytest

from wpdiff.spec import (
    ERAS,
    Decision,
    FaultKind,
    FaultState,
    Page,
    PageKind,
    get,
    ksm_stable_node,
    lru_batch,
    mapping,
    pin,
    swap_cache,
    swap_pte,
)
from wpdiff.spec.eras import with_feature

UNREACHABLE = "unreachable"
REUSE, COPY, RETRY = Decision.REUSE, Decision.COPY, Decision.RETRY

A, V58, B0, B, C = "v5.7", "v5.8", "v5.9-rc4", "v5.9", "v5.18"
# The eras after C, by what they do rather than by name: a new era joins them.
NEVER_LARGE = {e: COPY for e in with_feature("no-large-reuse")}  # 6.9 - 6.14
LARGE_REUSE = with_feature("large-folio-reuse")  # 6.15 on


Want = Union[Decision, str]


def per_era(default: Want, overrides: Optional[Dict[str, Want]] = None) -> Dict[str, Want]:
    overrides = overrides or {}
    assert set(overrides) <= set(ERAS)
    return {e: overrides.get(e, default) for e in ERAS}


BEFORE_5_19 = {e: UNREACHABLE for e in ERAS if not ERAS[e].has("anon-exclusive")}


def pae(era_id: str) -> bool:
    return ERAS[era_id].has("anon-exclusive")


def page(*holders, **flags) -> FaultState:
    return FaultState(page=Page(holders=(mapping(0),) + holders, **flags))


ROWS: Dict[str, tuple] = {
    # 1: never shared (mprotect() R then RW with soft-dirty): exclusive from birth
    "1-never-shared": (lambda e: page(anon_exclusive=pae(e)), per_era(REUSE)),
    "2-shared-after-fork": (lambda e: page(mapping(1)), per_era(COPY)),
    "3-child-exited": (lambda e: page(), per_era(REUSE)),
    "4-locked-by-another": (lambda e: page(locked=True), per_era(COPY, {A: REUSE, V58: REUSE})),
    "4-locked-pte-changed": (
        lambda e: FaultState(page=Page(holders=(mapping(0),), locked=True), pte_changes_while_sleeping=True),
        per_era(COPY, {A: RETRY, V58: RETRY}),
    ),
    "5-swapped-in-by-read": (lambda e: page(swap_cache()), per_era(REUSE, {B0: COPY, B: COPY})),
    "6-other-swap-pte": (lambda e: page(swap_cache(), swap_pte(1)), per_era(COPY)),
    "7-under-writeback": (lambda e: page(swap_cache(), writeback=True), per_era(COPY, {A: REUSE, V58: REUSE})),
    "8-fresh-in-lru-batch": (lambda e: page(lru_batch()), per_era(REUSE, {B0: COPY, B: COPY})),
    "9-cve-2020-29374": (
        lambda e: page(get(1, taken_while_shared=True)),
        per_era(COPY, {A: REUSE, V58: UNREACHABLE}),
    ),
    "10-own-rw-longterm-pin": (
        lambda e: page(pin(0, writable=True, longterm=True), anon_exclusive=pae(e)),
        per_era(REUSE, {B0: COPY, B: COPY, C: COPY}),
    ),
    "11-own-ro-pin-previously-shared": (
        lambda e: page(pin(0, longterm=True, taken_while_shared=True)),
        per_era(UNREACHABLE, {A: REUSE, B0: COPY, B: COPY, C: COPY}),
    ),
    # 11 as 5.8 reaches it: GUP broke COW before pinning, so the pin sits on
    # a page that is ours alone (from 5.19 marked exclusive).
    "11-own-ro-pin-after-cow-break": (
        lambda e: page(pin(0, longterm=True), anon_exclusive=pae(e)),
        per_era(REUSE, {B0: COPY, B: COPY, C: COPY}),
    ),
    # 11, from 5.19: the pin unshares first (the page becomes exclusive), then the write reuses.
    "11-unshare-before-pin": (
        lambda e: FaultState(page=Page(holders=(mapping(0),)), fault=FaultKind.UNSHARE),
        per_era(Decision.UNSHARE_REUSE, BEFORE_5_19),
    ),
    "11-write-after-unshare": (
        lambda e: page(pin(0, longterm=True), anon_exclusive=True),
        per_era(REUSE, BEFORE_5_19),
    ),
    "12-pinned-before-fork": (
        lambda e: page(mapping(1), pin(0, writable=True, longterm=True)),
        per_era(UNREACHABLE, {A: COPY, V58: COPY, B0: COPY}),
    ),
    "13-ksm-single-mapping": (
        lambda e: FaultState(page=Page(kind=PageKind.KSM, holders=(mapping(0), ksm_stable_node()))),
        per_era(COPY, {A: REUSE, V58: REUSE}),
    ),
    "13-ksm-in-swap-cache": (
        lambda e: FaultState(page=Page(kind=PageKind.KSM, holders=(mapping(0), ksm_stable_node(), swap_cache()))),
        per_era(COPY),
    ),
    "14-zero-page": (lambda e: FaultState(page=Page(kind=PageKind.ZERO)), per_era(COPY)),
    "14-zero-page-unshare": (
        lambda e: FaultState(page=Page(kind=PageKind.ZERO), fault=FaultKind.UNSHARE),
        per_era(COPY, {**BEFORE_5_19, **{e: Decision.NOTHING for e in ERAS
                                         if ERAS[e].has("unshare") and not ERAS[e].has("unshare-non-anon")}}),
    ),
    "15-large-last-page-mapped": (
        lambda e: FaultState(page=Page(nr_pages=4, holders=(mapping(0, 0),))),
        per_era(REUSE, {**NEVER_LARGE, **{e: COPY for e in LARGE_REUSE}}),
    ),
    "16-large-fully-mapped-by-us": (
        lambda e: FaultState(page=Page(nr_pages=4, holders=tuple(mapping(0, i) for i in range(4)))),
        per_era(COPY, {A: REUSE, V58: REUSE, **{e: REUSE for e in LARGE_REUSE}}),
    ),
    # 17 is the CVE sequence on a THP.  Mapped by a PMD, the write goes to
    # do_huge_pmd_wp_page(), which stayed mapcount-based (a leak) until 5.18
    # and is outside the model.  Once the THP is PTE-mapped the write comes
    # here: era A reuses on the largest per-page mapcount of 1 (the leak),
    # 5.8's GUP has broken COW first, and from 5.9 the page count sees the
    # child's reference.
    "17-cve-on-pte-mapped-thp": (
        lambda e: FaultState(page=Page(nr_pages=4, holders=(*(mapping(0, i) for i in range(4)),
                                                             get(1, taken_while_shared=True)))),
        per_era(COPY, {A: REUSE, V58: UNREACHABLE}),
    ),
}


@pytest.mark.parametrize("era_id", list(ERAS))
@pytest.mark.parametrize("row", list(ROWS))
def test_row(row: str, era_id: str) -> None:
    build: Callable[[str], FaultState]
    build, want = ROWS[row]
    era = ERAS[era_id]
    state = build(era_id)
    if want[era_id] == UNREACHABLE:
        assert not era.admits(state), f"{era_id} admits {row}"
        return
    assert era.admits(state), era.unreachable(state)
    assert era(state).decision is want[era_id]
