"""Kernel events appear in the outcomes, in the kernel's order."""

import pytest

from wpdiff.diff import exhaustive
from wpdiff.impl.layout import decode_trace

from wpdiff.spec import (
    ERAS,
    Event as E,
    FaultKind,
    FaultState,
    Page,
    PageKind,
    Pte,
    UffdWp,
    Vma,
    get,
    lru_batch,
    mapping,
    page_cache,
    swap_cache,
)

SOLE = FaultState(page=Page(holders=(mapping(0),)))
LOCKED = FaultState(page=Page(holders=(mapping(0),), locked=True))
LOCKED_PTE_CHANGES = FaultState(page=Page(holders=(mapping(0),), locked=True), pte_changes_while_sleeping=True)
SWAPPED_IN = FaultState(page=Page(holders=(mapping(0), swap_cache())))
FRESH = FaultState(page=Page(holders=(mapping(0), lru_batch())))
SWAP_AND_PIPE = FaultState(page=Page(holders=(mapping(0), swap_cache(), get(1))))

CASES = [
    # v5.7 sleeps for the page lock with the PTL dropped and a reference held ...
    ("v5.7", LOCKED, [E.TRYLOCK_FAIL, E.GET, E.PTL_UNLOCK, E.LOCK_PAGE, E.PTL_LOCK, E.PUT,
                      E.MOVE_ANON_RMAP, E.UNLOCK_PAGE, E.REUSE_PTE, E.PTL_UNLOCK]),
    # ... and retries when pte_same() fails after the sleep.
    ("v5.7", LOCKED_PTE_CHANGES, [E.TRYLOCK_FAIL, E.GET, E.PTL_UNLOCK, E.LOCK_PAGE, E.PTL_LOCK,
                                  E.UNLOCK_PAGE, E.PTL_UNLOCK, E.PUT]),
    ("v5.7", SWAPPED_IN, [E.TRYLOCK_OK, E.SWAP_FREE, E.MOVE_ANON_RMAP, E.UNLOCK_PAGE, E.REUSE_PTE, E.PTL_UNLOCK]),
    # From 5.9 a failed trylock means copy; the page lock is never slept on.
    ("v5.9", LOCKED, [E.TRYLOCK_FAIL, E.GET, E.PTL_UNLOCK, E.NEW_PAGE, E.PUT]),
    # The seed patch unlocks after the PTL is gone; be068f29034f unlocks first.
    ("v5.9-rc4", SOLE, [E.TRYLOCK_OK, E.REUSE_PTE, E.PTL_UNLOCK, E.UNLOCK_PAGE]),
    ("v5.9", SOLE, [E.TRYLOCK_OK, E.UNLOCK_PAGE, E.REUSE_PTE, E.PTL_UNLOCK]),
    # 5.18 frees the swap cache under the page lock and drains the local LRU batch.
    ("v5.18", SWAPPED_IN, [E.TRYLOCK_OK, E.SWAP_FREE, E.UNLOCK_PAGE, E.REUSE_PTE, E.PTL_UNLOCK]),
    ("v5.18", FRESH, [E.LRU_DRAIN, E.TRYLOCK_OK, E.UNLOCK_PAGE, E.REUSE_PTE, E.PTL_UNLOCK]),
    # ... and after a copy an old page nobody maps gives its swap cache up.
    ("v5.18", SWAP_AND_PIPE, [E.GET, E.PTL_UNLOCK, E.NEW_PAGE, E.TRYLOCK_OK, E.SWAP_FREE, E.UNLOCK_PAGE, E.PUT]),
    ("v5.9", SWAP_AND_PIPE, [E.GET, E.PTL_UNLOCK, E.NEW_PAGE, E.PUT]),
    # 5.19 marks the page exclusive inside page_move_anon_rmap(), under the page lock ...
    ("v5.19", SOLE, [E.TRYLOCK_OK, E.MOVE_ANON_RMAP, E.SET_ANON_EXCLUSIVE, E.UNLOCK_PAGE, E.REUSE_PTE, E.PTL_UNLOCK]),
    # ... 6.7 after unlocking, under the PTL only ...
    ("v6.7", SOLE, [E.TRYLOCK_OK, E.MOVE_ANON_RMAP, E.UNLOCK_PAGE, E.SET_ANON_EXCLUSIVE, E.REUSE_PTE, E.PTL_UNLOCK]),
    # ... and an exclusive page is reused without any lock.
    ("v6.15", FaultState(page=Page(holders=(mapping(0),), anon_exclusive=True)), [E.REUSE_PTE, E.PTL_UNLOCK]),
    # uffd-wp: sync goes to userspace; async clears the bit, flushes a pending TLB flush and goes on.
    ("v6.15", FaultState(page=SOLE.page, vma=Vma(uffd_wp=UffdWp.SYNC), pte=Pte(uffd_wp=True)), [E.PTL_UNLOCK]),
    (
        "v6.15",
        FaultState(page=SOLE.page, vma=Vma(uffd_wp=UffdWp.ASYNC), pte=Pte(uffd_wp=True), tlb_flush_pending=True),
        [E.UFFD_WP_CLEAR, E.TLB_FLUSH, E.TRYLOCK_OK, E.MOVE_ANON_RMAP, E.UNLOCK_PAGE, E.SET_ANON_EXCLUSIVE,
         E.REUSE_PTE, E.PTL_UNLOCK],
    ),
    # A MAP_SHARED page is written in place; its lock is taken after the PTL, under our own reference.
    (
        "v6.2",
        FaultState(page=Page(kind=PageKind.FILE, holders=(mapping(0), page_cache())), vma=Vma(shared=True)),
        [E.GET, E.REUSE_PTE, E.PTL_UNLOCK, E.LOCK_PAGE, E.UNLOCK_PAGE, E.PUT],
    ),
]


@pytest.mark.parametrize("era_id, state, events", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_trace(era_id, state, events):
    assert list(ERAS[era_id](state).events) == events


def test_from_5_9_the_anonymous_path_never_sleeps_on_the_page_lock(full_sweep):
    space = exhaustive.space("full")
    anon = [i for i, s in enumerate(space) if s.page.anon]

    def sleeps(era_id):
        traces = {int(t) for t in full_sweep.eras[era_id].trace[anon]}
        return any(E.LOCK_PAGE in decode_trace(t)[1] for t in traces)

    assert sleeps("v5.7") and sleeps("v5.8")
    for era_id in list(ERAS)[2:]:
        assert not sleeps(era_id), era_id


def test_the_pte_after_reuse_and_copy():
    ro = FaultState(page=SOLE.page, vma=Vma(write=False))
    out = ERAS["v6.15"](ro)
    assert (out.pte.write, out.pte.dirty, out.pte.young) == (False, True, True)  # FOLL_FORCE: dirty, not writable
    shared = FaultState(
        page=Page(holders=(mapping(0), mapping(1))),
        pte=Pte(uffd_wp=True),
        vma=Vma(uffd_wp=UffdWp.SYNC),
        fault=FaultKind.UNSHARE,
    )
    out = ERAS["v6.15"](shared)
    assert out.new_page is not None and out.new_page.anon_exclusive
    assert (out.pte.write, out.pte.uffd_wp) == (False, True)  # unshare: R/O copy keeps uffd-wp
