"""The kernel's primitives, over the abstract state.

An era model is written the way ``do_wp_page()`` of that release reads: it
asks the same questions (``page_count()``, ``PageSwapCache()``,
``trylock_page()`` ...) in the same order and calls the same helpers
(``wp_page_reuse()``, ``wp_page_copy()`` ...).  :class:`Fault` gives it those
names.  Queries answer from the counters the kernel would see, derived from
the holders; actions change the holders and flags and record a kernel
:class:`~wpdiff.spec.outcome.Event`, so that every outcome carries its trace.

Nothing here judges: an era may release the PTL with the page still locked
(v5.9-rc4 does).  The invariants judge the trace afterwards.

The interface is declared once, :class:`KernelPrimitives`; the eras are
typed against it and every implementation provides exactly it
(tests/test_events.py checks): :class:`Fault` here over the abstract state,
``wpdiff.impl.wordfault.WordFault`` over the packed word, and the world's
fault, which lets other threads run at the handler's lock boundaries.
"""

from dataclasses import replace
from functools import lru_cache
from typing import FrozenSet, List, Optional, Protocol, Tuple, TypeVar

from .outcome import Decision, Event, Outcome
from .state import (
    FaultKind,
    FaultState,
    Holder,
    HolderKind,
    Page,
    PageKind,
    Pte,
    UffdWp,
    holders_mapcount,
    holders_refcount,
    lru_batch,
    mapping,
)


@lru_cache(maxsize=None)
def new_anon_page(mm: int, anon_exclusive: bool) -> Page:
    """A page fresh from wp_page_copy(): mapped once, in this CPU's LRU batch."""
    return Page(kind=PageKind.ANON, holders=(mapping(mm), lru_batch()), anon_exclusive=anon_exclusive)


@lru_cache(maxsize=1 << 16)
def _page_after(before: Page, holders: Tuple[Holder, ...], kind: PageKind, anon_exclusive: bool, locked: bool,
                dirty: Optional[bool]) -> Page:
    """The page as a fault leaves it (built once per distinct change: the
    same change recurs across eras and states)."""
    dirty = before.dirty if dirty is None else dirty
    if (holders, kind, anon_exclusive, locked, dirty) == (
        before.holders, before.kind, before.anon_exclusive, before.locked, before.dirty
    ):
        return before
    return replace(before, holders=holders, kind=kind, anon_exclusive=anon_exclusive, locked=locked, dirty=dirty)


R = TypeVar("R", covariant=True)  # what the ways out return: an Outcome, or (word after, trace word)


class KernelPrimitives(Protocol[R]):
    """Every question an era model asks and every helper it calls, in the
    kernel's names.  The queries answer from what the kernel can see; the
    actions record their kernel :class:`~wpdiff.spec.outcome.Event`; the
    ways out (``wp_page_reuse()``, ``wp_page_copy()`` ...) end the fault and
    return its result."""

    # ---- the fault
    @property
    def unshare(self) -> bool: ...  # FAULT_FLAG_UNSHARE rather than FAULT_FLAG_WRITE
    def userfaultfd_pte_wp(self) -> bool: ...
    def userfaultfd_wp(self) -> bool: ...
    def userfaultfd_wp_async(self) -> bool: ...
    def mm_tlb_flush_pending(self) -> bool: ...
    def vma_shared(self) -> bool: ...
    def vm_normal_page(self) -> bool: ...

    # ---- the page: flags and counters
    def PageAnon(self) -> bool: ...
    def PageKsm(self) -> bool: ...
    def PageAnonExclusive(self) -> bool: ...
    def PageSwapCache(self) -> bool: ...
    def PageWriteback(self) -> bool: ...
    def PageLRU(self) -> bool: ...
    def folio_test_large(self) -> bool: ...
    def page_count(self) -> int: ...
    def page_mapcount(self) -> int: ...
    def page_mapped(self) -> bool: ...
    def folio_large_mapcount(self) -> int: ...
    def folio_maybe_mapped_shared(self) -> bool: ...
    def page_swapcount(self) -> int: ...
    def page_stable_node(self) -> bool: ...
    def others_mapcount(self) -> int: ...

    # ---- locks and references
    def pte_unmap_unlock(self) -> None: ...
    def pte_offset_map_lock(self) -> None: ...
    def pte_same(self) -> bool: ...
    def get_page(self) -> None: ...
    def put_page(self) -> None: ...
    def trylock_page(self) -> bool: ...
    def lock_page(self) -> None: ...
    def unlock_page(self) -> None: ...

    # ---- what the handler changes
    def lru_add_drain(self) -> None: ...
    def try_to_free_swap(self) -> bool: ...
    def delete_from_swap_cache(self) -> None: ...
    def free_swap_cache(self) -> None: ...
    def page_move_anon_rmap(self) -> None: ...
    def SetPageAnonExclusive(self) -> None: ...
    def flush_tlb_page(self) -> None: ...
    def clear_uffd_wp(self) -> None: ...

    # ---- the ways out
    def outcome(self) -> R: ...
    def handle_userfault(self) -> R: ...
    def wp_page_reuse(self) -> R: ...
    def unshare_reuse(self) -> R: ...
    def nothing_to_unshare(self) -> R: ...
    def retry(self) -> R: ...
    def wp_pfn_shared(self) -> R: ...
    def wp_page_shared(self) -> R: ...
    def wp_page_copy(self, *, anon_exclusive: bool, free_swap_cache: bool) -> R: ...


def primitives(cls: type = KernelPrimitives) -> FrozenSet[str]:
    """The public members of `cls` and its bases: for the interface, its
    primitives; for an implementation, what it offers."""
    return frozenset(name for c in cls.__mro__ if c is not object for name in vars(c) if not name.startswith("_"))


# The queries whose answer may change while the handler has dropped a lock:
# after pte_unmap_unlock() or while it sleeps on the page lock, another
# thread may map, unmap, pin, splice or swap the page, or change the PTE.
# An implementation that lets others run at the lock boundaries (the world)
# answers these from the live state every time; the rest describe the fault
# itself (its flags, the VMA) or the page's identity, which cannot change
# under a reference the handler holds.
REREAD: FrozenSet[str] = frozenset({
    "pte_same",  # the PTE itself, after the PTL was dropped
    "page_count", "page_mapcount", "page_mapped", "folio_large_mapcount", "folio_maybe_mapped_shared",
    "page_swapcount", "others_mapcount",  # mappings, references and swap PTEs come and go
    "PageSwapCache", "PageWriteback", "PageLRU",  # swap-out, writeback and LRU moves run meanwhile
    "PageAnonExclusive",  # fork() and GUP (un)set it under the PTL, which the handler no longer holds
    "PageKsm", "page_stable_node",  # a KSM merge may replace the page's mapping
})


class ModelError(AssertionError):
    """The model itself did something no kernel does (a put without a get,
    freeing the swap cache without the page lock).  A bug of the spec."""


class Fault:
    """One run of ``do_wp_page()``: the evolving page, PTE, locks and trace."""

    def __init__(self, state: FaultState) -> None:
        self.state = state
        self.vma = state.vma
        self.pte = state.pte
        self.holders: List[Holder] = list(state.page.holders)
        self.page = state.page  # as it was on entry
        # the page's flags as the fault changes them
        self.flags = {"kind": state.page.kind, "anon_exclusive": state.page.anon_exclusive, "locked": state.page.locked}
        self.events: List[Event] = []
        self.own_refs = 0
        self.page_locked = False  # by the handler
        self.new_page: Optional[Page] = None
        self.decision: Optional[Decision] = None

    # ---- the fault ------------------------------------------------------

    @property
    def unshare(self) -> bool:
        return self.state.fault is FaultKind.UNSHARE

    def userfaultfd_pte_wp(self) -> bool:
        return self.pte.uffd_wp

    def userfaultfd_wp(self) -> bool:
        """The VMA is registered for uffd-wp (VM_UFFD_WP)."""
        return self.vma.uffd_wp is not UffdWp.OFF

    def userfaultfd_wp_async(self) -> bool:
        return self.vma.uffd_wp is UffdWp.ASYNC

    def mm_tlb_flush_pending(self) -> bool:
        return self.state.tlb_flush_pending

    def vma_shared(self) -> bool:
        """A MAP_SHARED mapping.  Up to 6.1 the kernel tests
        VM_WRITE|VM_SHARED, from 6.2 VM_SHARED|VM_MAYSHARE; a fault reaches
        do_wp_page() in a shared mapping only with VM_WRITE, so both agree."""
        return self.vma.shared

    def vm_normal_page(self) -> bool:
        """Whether the PTE maps a normal page (False for the zero page, pfn maps)."""
        return self.page.kind is not PageKind.ZERO

    # ---- page queries (what the kernel can see) ----------------------------

    def _has(self, kind: HolderKind) -> bool:
        return any(h.kind is kind for h in self.holders)

    def PageAnon(self) -> bool:
        return self.flags["kind"] in (PageKind.ANON, PageKind.KSM)

    def PageKsm(self) -> bool:
        return self.flags["kind"] is PageKind.KSM

    def PageAnonExclusive(self) -> bool:
        return self.flags["anon_exclusive"]

    def PageSwapCache(self) -> bool:
        return self._has(HolderKind.SWAP_CACHE)

    def PageWriteback(self) -> bool:
        return self.page.writeback

    def PageLRU(self) -> bool:
        """PG_lru is clear while the page sits in a per-CPU batch or is isolated."""
        return not any(h.kind in (HolderKind.LRU_BATCH, HolderKind.ISOLATION) for h in self.holders)

    def folio_test_large(self) -> bool:
        return self.page.large

    def page_count(self) -> int:
        return holders_refcount(self.holders, self.page.nr_pages) + self.own_refs

    def page_mapcount(self) -> int:
        return holders_mapcount(self.holders)

    def page_mapped(self) -> bool:
        return self._has(HolderKind.MAPPING)

    def folio_large_mapcount(self) -> int:
        return sum(1 for h in self.holders if h.kind is HolderKind.MAPPING)

    def folio_maybe_mapped_shared(self) -> bool:
        return self.page.maybe_mapped_shared

    def page_swapcount(self) -> int:
        return sum(1 for h in self.holders if h.kind is HolderKind.SWAP_PTE)

    def page_stable_node(self) -> bool:
        return self._has(HolderKind.KSM_STABLE_NODE)

    def others_mapcount(self) -> int:
        """The largest page_mapcount() among the folio's other pages (era A walks them)."""
        return max((holders_mapcount(self.holders, i) for i in range(1, self.page.nr_pages)), default=0)

    # ---- actions ----------------------------------------------------------

    def _event(self, event: Event) -> None:
        self.events.append(event)

    def _set(self, **flags: object) -> None:
        self.flags.update(flags)

    def _drop(self, holder: Holder) -> None:
        if holder not in self.holders:
            raise ModelError(f"dropping {holder}, which does not hold the page")
        self.holders.remove(holder)

    def pte_unmap_unlock(self) -> None:
        self._event(Event.PTL_UNLOCK)

    def pte_offset_map_lock(self) -> None:
        self._event(Event.PTL_LOCK)

    def pte_same(self) -> bool:
        """After the handler slept, is the PTE still the one it faulted on?"""
        return not self.state.pte_changes_while_sleeping

    def get_page(self) -> None:
        self.own_refs += 1
        self._event(Event.GET)

    def put_page(self) -> None:
        if self.own_refs == 0:
            raise ModelError("put_page() without a reference of the handler's own")
        self.own_refs -= 1
        self._event(Event.PUT)

    def trylock_page(self) -> bool:
        if self.flags["locked"]:
            self._event(Event.TRYLOCK_FAIL)
            return False
        self.page_locked = True
        self._event(Event.TRYLOCK_OK)
        return True

    def lock_page(self) -> None:
        """Sleeps until the holder lets go, then owns the lock."""
        self._set(locked=False)
        self.page_locked = True
        self._event(Event.LOCK_PAGE)

    def unlock_page(self) -> None:
        if not self.page_locked:
            raise ModelError("unlock_page() of a page the handler has not locked")
        self.page_locked = False
        self._event(Event.UNLOCK_PAGE)

    def lru_add_drain(self) -> None:
        """Drain this CPU's LRU batches: a reference in the local batch goes
        back to the LRU list (PG_lru set); other CPUs' batches stay."""
        self._event(Event.LRU_DRAIN)
        local = lru_batch(remote=False)
        if local in self.holders:
            self._drop(local)

    def _delete_from_swap_cache(self) -> None:
        self._event(Event.SWAP_FREE)
        self._drop(Holder(HolderKind.SWAP_CACHE))
        self._set(dirty=True)  # the copy on swap is stale from now on

    def try_to_free_swap(self) -> bool:
        """Let the swap cache go, unless the page is under writeback or another
        swap PTE still names its entry.  Needs the page lock."""
        if not self.page_locked:
            raise ModelError("try_to_free_swap() without the page lock")
        if not self.PageSwapCache() or self.PageWriteback() or self.page_swapcount() > 0:
            return False
        self._delete_from_swap_cache()
        return True

    def delete_from_swap_cache(self) -> None:
        """Era A's reuse_swap_page() deletes directly once it has decided."""
        if not self.page_locked:
            raise ModelError("delete_from_swap_cache() without the page lock")
        self._delete_from_swap_cache()

    def free_swap_cache(self) -> None:
        """After a copy (f4c4a3f48480, 5.14): an old page that nobody maps any
        more gives up its swap cache, if its lock can be had."""
        if self.PageSwapCache() and not self.page_mapped() and self.trylock_page():
            self.try_to_free_swap()
            self.unlock_page()

    def page_move_anon_rmap(self) -> None:
        """The page moves to the faulting VMA's own anon_vma, so rmap walks stop
        searching the parent's.  A KSM page stops being one."""
        self._event(Event.MOVE_ANON_RMAP)
        if self.PageKsm():
            self.holders = [h for h in self.holders if h.kind is not HolderKind.KSM_STABLE_NODE]
            self._set(kind=PageKind.ANON)

    def SetPageAnonExclusive(self) -> None:
        self._event(Event.SET_ANON_EXCLUSIVE)
        self._set(anon_exclusive=True)

    def flush_tlb_page(self) -> None:
        self._event(Event.TLB_FLUSH)

    def clear_uffd_wp(self) -> None:
        """Async uffd-wp: drop the bit from the PTE and carry on as a normal fault."""
        self._event(Event.UFFD_WP_CLEAR)
        self.pte = replace(self.pte, uffd_wp=False)

    # ---- the ways out -------------------------------------------------------

    def _outcome(self, decision: Decision) -> Outcome:
        self.decision = decision
        return self.outcome()

    def _page_after(self) -> Page:
        f = self.flags
        return _page_after(self.page, tuple(self.holders), f["kind"], f["anon_exclusive"], f["locked"], f.get("dirty"))

    def outcome(self) -> Outcome:
        """The outcome so far: for an era that goes on after its decision
        (the seed patch unlocks the page after wp_page_reuse())."""
        if self.decision is None:
            raise ModelError("outcome() before the fault was decided")
        page = None if self.page.kind is PageKind.ZERO else self._page_after()
        return Outcome(self.decision, tuple(self.events), page, self.pte, self.new_page)

    def handle_userfault(self) -> Outcome:
        self.pte_unmap_unlock()
        return self._outcome(Decision.USERFAULT)

    def _reuse_pte(self) -> None:
        self._event(Event.REUSE_PTE)
        self.pte = replace(self.pte, young=True, dirty=True, write=self.pte.write or self.vma.write)  # maybe_mkwrite()
        self.pte_unmap_unlock()

    def wp_page_reuse(self) -> Outcome:
        """Same page: the PTE becomes young and dirty, and writable if the VMA
        has VM_WRITE (maybe_mkwrite(): a FOLL_FORCE write gets a dirty,
        read-only PTE).  Then the PTL is released."""
        self._reuse_pte()
        return self._outcome(Decision.REUSE)

    def unshare_reuse(self) -> Outcome:
        """Unshare fault on a page that is ours: nothing to copy, the PTE stays
        read-only (the page is now marked exclusive)."""
        self.pte_unmap_unlock()
        return self._outcome(Decision.UNSHARE_REUSE)

    def nothing_to_unshare(self) -> Outcome:
        self.pte_unmap_unlock()
        return self._outcome(Decision.NOTHING)

    def retry(self) -> Outcome:
        return self._outcome(Decision.RETRY)

    def wp_pfn_shared(self) -> Outcome:
        """MAP_SHARED pfn map without pfn_mkwrite: made writable in place."""
        self._reuse_pte()
        return self._outcome(Decision.SHARED)

    def wp_page_shared(self) -> Outcome:
        """MAP_SHARED page without page_mkwrite: made writable in place, then
        dirtied under the page lock, which is taken after the PTL is gone,
        under a reference of the handler's own."""
        self.get_page()
        self._reuse_pte()
        self.lock_page()
        self._set(dirty=True)
        self.unlock_page()
        self.put_page()
        return self._outcome(Decision.SHARED)

    def wp_page_copy(self, *, anon_exclusive: bool, free_swap_cache: bool) -> Outcome:
        """Take a reference, drop the PTL, map a copy (a zeroed page for the
        zero page).  The old page loses this mapping and the page table's
        reference; the new page is mapped once and sits in this CPU's LRU
        batch.  A write fault maps it dirty and maybe-writable; an unshare
        fault maps it read-only and keeps the uffd-wp bit.

        `anon_exclusive`: new anonymous pages are PG_anon_exclusive (5.19+).
        `free_swap_cache`: the old page gives up the swap cache afterwards
        once nobody maps it (f4c4a3f48480, 5.14)."""
        has_page = self.vm_normal_page()
        if has_page:
            self.get_page()
        self.pte_unmap_unlock()
        self._event(Event.NEW_PAGE)
        if has_page:
            self._drop(mapping(self.state.mm))
        self.new_page = new_anon_page(self.state.mm, anon_exclusive)
        if self.unshare:
            self.pte = Pte(write=False, dirty=False, young=True, uffd_wp=self.pte.uffd_wp)
        else:
            self.pte = Pte(write=self.vma.write, dirty=True, young=True, uffd_wp=False)
        if has_page:
            if free_swap_cache:
                self.free_swap_cache()
            self.put_page()
        return self._outcome(Decision.COPY)
