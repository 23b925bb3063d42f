"""The spec's kernel primitives, over the packed word.

:class:`WordFault` answers the questions an era model asks --
``page_count()``, ``PageSwapCache()``, ``trylock_page()`` -- and performs its
actions -- ``lru_add_drain()``, ``wp_page_copy()`` -- on a packed word
instead of on holders.  It implements the same interface as
``wpdiff.spec.kernel.Fault``, written from the layout alone (it shares no
code with the fast paths' helpers), so that the era models *themselves* run
on words: ``era.do_wp_page(WordFault(era_id, w))`` returns ``(word after,
trace word)`` like a fast path.

It is the bridge of the symbolic check.  CrossHair proves, for every word,
that a fast path equals its era's model run through WordFault; the
exhaustive engine checks, on every state of the bounded spaces, that the
model run through WordFault equals the model run on the abstract state,
concretized.  Together: the fast path is faithful to the model.

Fields are read as ``(w >> SHIFT) & (2**n - 1)``, counters changed with
additions and flags with ``|`` and ``& ~``: the expressions an
``impl.fieldword.FieldWord`` answers field by field under CrossHair.

>>> from wpdiff.impl.wordfault import run
>>> from wpdiff.impl.concretize import concretize, concretize_outcome
>>> from wpdiff.spec import ERAS
>>> from wpdiff.spec.history import SWAPPED_IN
>>> run("v5.18", concretize("v5.18", SWAPPED_IN)) == concretize_outcome("v5.18", SWAPPED_IN, ERAS["v5.18"](SWAPPED_IN))
True
"""

from typing import Tuple

from wpdiff.spec import era as spec_era

from .layout import (
    DECISION_CODE,
    EVENT_CODE,
    FIELD,
    PAGE_FLAGS,
    PTE_ACCESSED,
    PTE_DIRTY,
    PTE_RW,
    PTE_SPECIAL,
    PTE_UFFD_WP,
    TRACE_COUNT,
    TRACE_EVENTS,
    VM_SHARED,
    VM_UFFD_WP,
    VM_WRITE,
)
from wpdiff.spec.outcome import Decision, Event

_F = {name: (f.shift, (1 << f.width) - 1) for name, f in FIELD.items()}


class WordFault:
    """One run of an era model over a packed word."""

    def __init__(self, era_id: str, word: int) -> None:
        self.w = word
        self.t = 0
        self.pg = PAGE_FLAGS[era_id]
        self.own_refs = 0
        self.decided = 0

    # ---- fields ----------------------------------------------------------------

    def _get(self, name: str) -> int:
        shift, mask = _F[name]
        return (self.w >> shift) & mask

    def _add(self, name: str, delta: int) -> None:
        self.w += delta << _F[name][0]

    def _bit(self, shift: int) -> int:
        return (self.w >> shift) & 1

    def _set_bit(self, shift: int, on: bool) -> None:
        self.w = self.w | (1 << shift) if on else self.w & ~(1 << shift)

    def _pte(self, bit: int) -> int:
        return (self._get("pte") >> bit) & 1

    def _vma(self, bit: int) -> int:
        return (self._get("vma") >> bit) & 1

    def _event(self, event: Event) -> None:
        n = (self.t >> TRACE_COUNT) & 15
        self.t += (EVENT_CODE[event] << (TRACE_EVENTS + 4 * n)) + (1 << TRACE_COUNT)

    # ---- the fault ---------------------------------------------------------

    @property
    def unshare(self) -> bool:
        return self._get("unshare") == 1

    def userfaultfd_pte_wp(self) -> bool:
        return self._pte(PTE_UFFD_WP) == 1

    def userfaultfd_wp(self) -> bool:
        return self._vma(VM_UFFD_WP) == 1

    def userfaultfd_wp_async(self) -> bool:
        return self._get("uffd_async") == 1

    def mm_tlb_flush_pending(self) -> bool:
        return self._get("tlb_flush_pending") == 1

    def vma_shared(self) -> bool:
        return self._vma(VM_SHARED) == 1

    def vm_normal_page(self) -> bool:
        return self._pte(PTE_SPECIAL) == 0

    # ---- page queries --------------------------------------------------------

    def PageAnon(self) -> bool:
        return (self._get("mapping") & 1) == 1

    def PageKsm(self) -> bool:
        return self._get("mapping") == 3

    def PageAnonExclusive(self) -> bool:
        return self._bit(self.pg.anon_exclusive) == 1

    def PageSwapCache(self) -> bool:
        return self._bit(self.pg.owner_priv_1) == 1 and self._bit(self.pg.swapbacked) == 1

    def PageWriteback(self) -> bool:
        return self._bit(self.pg.writeback) == 1

    def PageLRU(self) -> bool:
        return self._bit(self.pg.lru) == 1

    def folio_test_large(self) -> bool:
        return self._bit(self.pg.head) == 1

    def page_count(self) -> int:
        return self._get("refcount") + self.own_refs

    def page_mapcount(self) -> int:
        raw = self._get("mapcount")
        return raw - 7 if raw >= 4 else raw + 1

    def page_mapped(self) -> bool:
        return self.folio_large_mapcount() > 0

    def folio_large_mapcount(self) -> int:
        raw = self._get("large_mapcount")
        return raw - 15 if raw >= 8 else raw + 1

    def folio_maybe_mapped_shared(self) -> bool:
        return self._get("mm_shared") == 1

    def page_swapcount(self) -> int:
        return self._get("swapcount")

    def page_stable_node(self) -> bool:
        return self._get("stable_node") == 1

    def others_mapcount(self) -> int:
        return self._get("others_mapcount")

    # ---- actions -------------------------------------------------------------

    def pte_unmap_unlock(self) -> None:
        self._event(Event.PTL_UNLOCK)

    def pte_offset_map_lock(self) -> None:
        self._event(Event.PTL_LOCK)

    def pte_same(self) -> bool:
        return self._get("pte_changes") == 0

    def get_page(self) -> None:
        self.own_refs += 1
        self._event(Event.GET)

    def put_page(self) -> None:
        self.own_refs -= 1
        self._event(Event.PUT)

    def trylock_page(self) -> bool:
        if self._bit(self.pg.locked):
            self._event(Event.TRYLOCK_FAIL)
            return False
        self._event(Event.TRYLOCK_OK)
        return True

    def lock_page(self) -> None:
        self._set_bit(self.pg.locked, False)  # the holder let go; the handler's own lock is not PG_locked's business here
        self._event(Event.LOCK_PAGE)

    def unlock_page(self) -> None:
        self._event(Event.UNLOCK_PAGE)

    def lru_add_drain(self) -> None:
        self._event(Event.LRU_DRAIN)
        if self._get("local_batch") == 1:
            self._add("local_batch", -1)
            self._add("refcount", -1)
            self._set_bit(self.pg.lru, True)

    def _delete_from_swap_cache(self) -> None:
        self._event(Event.SWAP_FREE)
        self._set_bit(self.pg.owner_priv_1, False)
        self._add("refcount", -(1 << self._get("order")))
        self._set_bit(self.pg.dirty, True)

    def try_to_free_swap(self) -> bool:
        if not self.PageSwapCache() or self.PageWriteback() or self.page_swapcount() > 0:
            return False
        self._delete_from_swap_cache()
        return True

    def delete_from_swap_cache(self) -> None:
        self._delete_from_swap_cache()

    def free_swap_cache(self) -> None:
        if self.PageSwapCache() and not self.page_mapped() and self.trylock_page():
            self.try_to_free_swap()
            self.unlock_page()

    def page_move_anon_rmap(self) -> None:
        self._event(Event.MOVE_ANON_RMAP)
        if self.PageKsm():
            self._add("mapping", -2)
            if self._get("stable_node") == 1:
                self._add("stable_node", -1)

    def SetPageAnonExclusive(self) -> None:
        self._event(Event.SET_ANON_EXCLUSIVE)
        self._set_bit(self.pg.anon_exclusive, True)

    def flush_tlb_page(self) -> None:
        self._event(Event.TLB_FLUSH)

    def clear_uffd_wp(self) -> None:
        self._event(Event.UFFD_WP_CLEAR)
        self._set_bit(_F["pte"][0] + PTE_UFFD_WP, False)

    # ---- the ways out ----------------------------------------------------------

    def _done(self, decision: Decision) -> Tuple[int, int]:
        self.decided = DECISION_CODE[decision]
        return self.outcome()

    def outcome(self) -> Tuple[int, int]:
        return self.w, self.t + self.decided

    def handle_userfault(self) -> Tuple[int, int]:
        self.pte_unmap_unlock()
        return self._done(Decision.USERFAULT)

    def _reuse_pte(self) -> None:
        self._event(Event.REUSE_PTE)
        pte = _F["pte"][0]
        self._set_bit(pte + PTE_ACCESSED, True)
        self._set_bit(pte + PTE_DIRTY, True)
        if self._vma(VM_WRITE):  # maybe_mkwrite()
            self._set_bit(pte + PTE_RW, True)
        self.pte_unmap_unlock()

    def wp_page_reuse(self) -> Tuple[int, int]:
        self._reuse_pte()
        return self._done(Decision.REUSE)

    def unshare_reuse(self) -> Tuple[int, int]:
        self.pte_unmap_unlock()
        return self._done(Decision.UNSHARE_REUSE)

    def nothing_to_unshare(self) -> Tuple[int, int]:
        self.pte_unmap_unlock()
        return self._done(Decision.NOTHING)

    def retry(self) -> Tuple[int, int]:
        return self._done(Decision.RETRY)

    def wp_pfn_shared(self) -> Tuple[int, int]:
        self._reuse_pte()
        return self._done(Decision.SHARED)

    def wp_page_shared(self) -> Tuple[int, int]:
        self.get_page()
        self._reuse_pte()
        self.lock_page()
        self._set_bit(self.pg.dirty, True)
        self.unlock_page()
        self.put_page()
        return self._done(Decision.SHARED)

    def wp_page_copy(self, *, anon_exclusive: bool, free_swap_cache: bool) -> Tuple[int, int]:
        has_page = self.vm_normal_page()
        if has_page:
            self.get_page()
        self.pte_unmap_unlock()
        self._event(Event.NEW_PAGE)
        pte = _F["pte"][0]
        self._set_bit(pte + PTE_SPECIAL, False)  # a new, normal page
        self._set_bit(pte + PTE_ACCESSED, True)
        if self.unshare:  # read-only, dirty only if the fault wrote: it did not; uffd-wp carried over
            self._set_bit(pte + PTE_DIRTY, False)
            self._set_bit(pte + PTE_RW, False)
        else:
            self._set_bit(pte + PTE_DIRTY, True)
            self._set_bit(pte + PTE_RW, self._vma(VM_WRITE) == 1)
            self._set_bit(pte + PTE_UFFD_WP, False)
        if has_page:
            mapcount, large = self._get("mapcount"), self._get("large_mapcount")
            self._add("mapcount", 7 if mapcount == 0 else -1)
            self._add("large_mapcount", 15 if large == 0 else -1)
            self._add("refcount", -1)
            if free_swap_cache:
                self.free_swap_cache()
            self.put_page()
        return self._done(Decision.COPY)


def run(era_id: str, word: int) -> Tuple[int, int]:
    """The era's model, run on `word`."""
    return spec_era(era_id).do_wp_page(WordFault(era_id, word))
