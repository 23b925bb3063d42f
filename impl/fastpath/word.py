"""The kernel's helpers over the packed word, shared by the fast paths.

The fast paths are C-shaped: they read fields as ``(w >> SHIFT) & (2**n - 1)``,
change counters with additions of shifted constants, and set or clear a
flag with ``w | BIT`` / ``w & ~BIT`` as C does.  They use nothing but ints
and tuples, so that Numba compiles the very same functions for the batch
path; under CrossHair the word is an ``impl.fieldword.FieldWord``, which
answers exactly these expressions field by field, so the solver never sees
a 63-bit integer.  Page flags are read at the era's bit numbers, passed
as the tuple ``pg`` (``PageFlags.bits()`` order: locked, dirty, lru,
owner_priv_1, writeback, head, swapbacked, anon_exclusive).

A fast path returns ``(word after, trace word)``: ``t`` accumulates events
with :func:`ev` and finally gets the decision code added.
"""

from typing import Tuple

from ..layout import (
    LARGE_MAPCOUNT,
    LOCAL_BATCH,
    MAPCOUNT,
    MAPPING,
    ORDER,
    OTHERS_MAPCOUNT,
    PTE,
    PTE_ACCESSED,
    PTE_CHANGES,
    PTE_DIRTY,
    PTE_RW,
    PTE_SPECIAL,
    PTE_UFFD_WP,
    REFCOUNT,
    STABLE_NODE,
    SWAPCOUNT,
    TLB_FLUSH_PENDING,
    TRACE_COUNT,
    TRACE_EVENTS,
    UFFD_ASYNC,
    UNSHARE,
    VM_SHARED,
    VM_UFFD_WP,
    VM_WRITE,
    VMA,
)

# Index into the pg tuple.
LOCKED, DIRTY, LRU, OWNER_PRIV_1, WRITEBACK, HEAD, SWAPBACKED, ANON_EXCLUSIVE = 0, 1, 2, 3, 4, 5, 6, 7

# Decision codes (layout.DECISIONS order).
REUSE, COPY, SHARED, UNSHARE_REUSE, NOTHING, RETRY, USERFAULT = 1, 2, 3, 4, 5, 6, 7

# Event codes (spec.outcome.Event order).
(
    E_PTL_UNLOCK,
    E_PTL_LOCK,
    E_GET,
    E_PUT,
    E_TRYLOCK_OK,
    E_TRYLOCK_FAIL,
    E_LOCK_PAGE,
    E_UNLOCK_PAGE,
    E_LRU_DRAIN,
    E_SWAP_FREE,
    E_MOVE_ANON_RMAP,
    E_SET_ANON_EXCLUSIVE,
    E_REUSE_PTE,
    E_NEW_PAGE,
    E_TLB_FLUSH,
    E_UFFD_WP_CLEAR,
) = range(16)

Result = Tuple[int, int]


def ev(t: int, event: int) -> int:
    """Append `event` to the trace."""
    n = (t >> TRACE_COUNT) & 15
    return t + (event << (TRACE_EVENTS + 4 * n)) + (1 << TRACE_COUNT)


def bit(w: int, shift: int) -> int:
    return (w >> shift) & 1


def set_bit(w: int, shift: int) -> int:
    return w | (1 << shift)


def clear_bit(w: int, shift: int) -> int:
    return w & ~(1 << shift)


# ---- what the kernel reads --------------------------------------------------


def page_count(w: int) -> int:
    return (w >> REFCOUNT) & 4095


def page_mapcount(w: int) -> int:
    """_mapcount + 1, from the 3-bit two's complement field."""
    raw = (w >> MAPCOUNT) & 7
    return raw - 7 if raw > 3 else raw + 1


def folio_large_mapcount(w: int) -> int:
    raw = (w >> LARGE_MAPCOUNT) & 15
    return raw - 15 if raw > 7 else raw + 1


def folio_nr_pages(w: int) -> int:
    return 1 << ((w >> ORDER) & 3)


def others_mapcount(w: int) -> int:
    return (w >> OTHERS_MAPCOUNT) & 7


def page_swapcount(w: int) -> int:
    return (w >> SWAPCOUNT) & 3


def PageAnon(w: int) -> int:
    return (w >> MAPPING) & 1


def PageKsm(w: int) -> bool:
    return ((w >> MAPPING) & 3) == 3


def PageSwapCache(w: int, pg: Tuple[int, ...]) -> int:
    """PG_swapcache is PG_owner_priv_1, and only counts with PG_swapbacked."""
    return (w >> pg[OWNER_PRIV_1]) & 1 if (w >> pg[SWAPBACKED]) & 1 else 0


def pte_uffd_wp(w: int) -> int:
    return (w >> (PTE + PTE_UFFD_WP)) & 1


def vm_normal_page(w: int) -> int:
    """vm_normal_page() finds no page behind a special PTE (zero page, pfn map)."""
    return 1 - ((w >> (PTE + PTE_SPECIAL)) & 1)


def vma_shared(w: int) -> int:
    return (w >> (VMA + VM_SHARED)) & 1


def userfaultfd_wp(w: int) -> int:
    return (w >> (VMA + VM_UFFD_WP)) & 1


def userfaultfd_wp_async(w: int) -> int:
    return (w >> UFFD_ASYNC) & 1


def unshare(w: int) -> int:
    return (w >> UNSHARE) & 1


def tlb_flush_pending(w: int) -> int:
    return (w >> TLB_FLUSH_PENDING) & 1


def pte_changes(w: int) -> int:
    return (w >> PTE_CHANGES) & 1


# ---- what the kernel does ---------------------------------------------------


def decrement_mapcounts(w: int) -> int:
    """page_remove_rmap() of the faulting page: _mapcount and the folio's
    large mapcount drop by one (two's complement fields: 0 wraps to all ones)."""
    w = w + (7 << MAPCOUNT) if (w >> MAPCOUNT) & 7 == 0 else w - (1 << MAPCOUNT)
    return w + (15 << LARGE_MAPCOUNT) if (w >> LARGE_MAPCOUNT) & 15 == 0 else w - (1 << LARGE_MAPCOUNT)


def put_bit(w: int, shift: int, on: int) -> int:
    return set_bit(w, shift) if on else clear_bit(w, shift)


def lru_add_drain(w: int, t: int, pg: Tuple[int, ...]) -> Result:
    """A reference in this CPU's batch goes back to the LRU list."""
    t = ev(t, E_LRU_DRAIN)
    if (w >> LOCAL_BATCH) & 1:
        w = set_bit(w - (1 << LOCAL_BATCH) - (1 << REFCOUNT), pg[LRU])
    return w, t


def delete_from_swap_cache(w: int, t: int, pg: Tuple[int, ...]) -> Result:
    """The swap cache drops its references (one per page); the page is dirtied."""
    t = ev(t, E_SWAP_FREE)
    w = w - (1 << pg[OWNER_PRIV_1]) - (folio_nr_pages(w) << REFCOUNT)
    return set_bit(w, pg[DIRTY]), t


def try_to_free_swap(w: int, t: int, pg: Tuple[int, ...]) -> Result:
    if PageSwapCache(w, pg) and not bit(w, pg[WRITEBACK]) and page_swapcount(w) == 0:
        return delete_from_swap_cache(w, t, pg)
    return w, t


def page_move_anon_rmap(w: int, t: int) -> Result:
    """A KSM page taken over stops being one: PAGE_MAPPING_KSM becomes
    PAGE_MAPPING_ANON and the stable node lets go."""
    t = ev(t, E_MOVE_ANON_RMAP)
    if PageKsm(w):
        w = clear_bit(w - (2 << MAPPING), STABLE_NODE)
    return w, t


def set_anon_exclusive(w: int, t: int, pg: Tuple[int, ...]) -> Result:
    return set_bit(w, pg[ANON_EXCLUSIVE]), ev(t, E_SET_ANON_EXCLUSIVE)


def handle_userfault(w: int, t: int) -> Result:
    return w, ev(t, E_PTL_UNLOCK) + USERFAULT


def clear_uffd_wp(w: int, t: int) -> Result:
    return w - (1 << (PTE + PTE_UFFD_WP)), ev(t, E_UFFD_WP_CLEAR)


def reuse_pte(w: int, t: int) -> Result:
    """wp_page_reuse(): young, dirty, writable if VM_WRITE; then the PTL goes."""
    t = ev(t, E_REUSE_PTE)
    w = set_bit(set_bit(w, PTE + PTE_ACCESSED), PTE + PTE_DIRTY)
    if (w >> (VMA + VM_WRITE)) & 1:
        w = set_bit(w, PTE + PTE_RW)
    return w, ev(t, E_PTL_UNLOCK)


def wp_page_reuse(w: int, t: int) -> Result:
    w, t = reuse_pte(w, t)
    return w, t + REUSE


def unshare_reuse(w: int, t: int) -> Result:
    return w, ev(t, E_PTL_UNLOCK) + UNSHARE_REUSE


def nothing_to_unshare(w: int, t: int) -> Result:
    return w, ev(t, E_PTL_UNLOCK) + NOTHING


def wp_pfn_shared(w: int, t: int) -> Result:
    w, t = reuse_pte(w, t)
    return w, t + SHARED


def wp_page_shared(w: int, t: int, pg: Tuple[int, ...]) -> Result:
    """Written in place; dirtied under the page lock, taken after the PTL
    under the handler's own reference."""
    w, t = reuse_pte(w, ev(t, E_GET))
    w = set_bit(clear_bit(w, pg[LOCKED]), pg[DIRTY])
    t = ev(ev(ev(t, E_LOCK_PAGE), E_UNLOCK_PAGE), E_PUT)
    return w, t + SHARED


def wp_page_copy(w: int, t: int, pg: Tuple[int, ...], free_swap_cache: int) -> Result:
    """Map a copy; the old page loses this mapping and the page table's
    reference.  With `free_swap_cache` (5.14+) an old page nobody maps any
    more gives up its swap cache if its lock can be had."""
    has_page = vm_normal_page(w)
    if has_page:
        t = ev(t, E_GET)
    t = ev(ev(t, E_PTL_UNLOCK), E_NEW_PAGE)
    # the new PTE: a normal page, young; a write makes it dirty and, with
    # VM_WRITE, writable; an unshare keeps it read-only with the uffd-wp bit
    writing = 1 - unshare(w)
    w = clear_bit(set_bit(w, PTE + PTE_ACCESSED), PTE + PTE_SPECIAL)
    w = put_bit(w, PTE + PTE_DIRTY, writing)
    w = put_bit(w, PTE + PTE_RW, writing * ((w >> (VMA + VM_WRITE)) & 1))
    if writing:
        w = clear_bit(w, PTE + PTE_UFFD_WP)
    if has_page:
        w = decrement_mapcounts(w) - (1 << REFCOUNT)
        if free_swap_cache and PageSwapCache(w, pg) and folio_large_mapcount(w) < 1:  # !folio_mapped()
            if bit(w, pg[LOCKED]):
                t = ev(t, E_TRYLOCK_FAIL)
            else:
                w, t = try_to_free_swap(w, ev(t, E_TRYLOCK_OK), pg)
                t = ev(t, E_UNLOCK_PAGE)
        t = ev(t, E_PUT)
    return w, t + COPY
