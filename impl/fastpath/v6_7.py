"""v6.7 fast path: wp_can_reuse_anon_folio(); exclusive marked under the PTL only."""

from typing import Callable, Tuple

from ..layout import PAGE_FLAGS
from .word import (
    ANON_EXCLUSIVE,
    E_TLB_FLUSH,
    E_TRYLOCK_FAIL,
    E_TRYLOCK_OK,
    E_UNLOCK_PAGE,
    LOCKED,
    LRU,
    Result,
    PageAnon,
    PageKsm,
    PageSwapCache,
    bit,
    clear_uffd_wp,
    ev,
    handle_userfault,
    lru_add_drain,
    page_count,
    page_move_anon_rmap,
    pte_uffd_wp,
    set_anon_exclusive,
    tlb_flush_pending,
    try_to_free_swap,
    unshare,
    unshare_reuse,
    userfaultfd_wp,
    userfaultfd_wp_async,
    vm_normal_page,
    vma_shared,
    wp_page_copy,
    wp_page_reuse,
    wp_page_shared,
    wp_pfn_shared,
)

PG = PAGE_FLAGS["v6.7"].bits()


def wp_can_reuse_anon_folio(w: int, t: int, pg: tuple) -> Tuple[int, int, int]:
    """(word, trace, whether the folio can be reused)."""
    if PageKsm(w) or page_count(w) > 3:
        return w, t, 0
    if not bit(w, pg[LRU]):
        w, t = lru_add_drain(w, t, pg)
    if page_count(w) > 1 + PageSwapCache(w, pg):
        return w, t, 0
    return reuse_under_lock(w, t, pg)


def reuse_under_lock(w: int, t: int, pg: tuple) -> Tuple[int, int, int]:
    """Under the folio lock: free the swap cache, then the exact count."""
    if bit(w, pg[LOCKED]):
        return w, ev(t, E_TRYLOCK_FAIL), 0
    t = ev(t, E_TRYLOCK_OK)
    if PageSwapCache(w, pg):
        w, t = try_to_free_swap(w, t, pg)
    if PageKsm(w) or page_count(w) != 1:
        return w, ev(t, E_UNLOCK_PAGE), 0
    w, t = page_move_anon_rmap(w, t)
    return w, ev(t, E_UNLOCK_PAGE), 1


def wp_fault(w: int, pg: tuple, can_reuse: Callable[[int, int, tuple], Tuple[int, int, int]]) -> Result:
    """do_wp_page() from 6.7 on, given the release's wp_can_reuse_anon_folio()."""
    t = 0
    if not unshare(w):
        if pte_uffd_wp(w):
            if not userfaultfd_wp_async(w):
                return handle_userfault(w, t)
            w, t = clear_uffd_wp(w, t)
        if userfaultfd_wp(w) and tlb_flush_pending(w):
            t = ev(t, E_TLB_FLUSH)
    page = vm_normal_page(w)
    if vma_shared(w):
        if not page:
            return wp_pfn_shared(w, t)
        return wp_page_shared(w, t, pg)
    if page and PageAnon(w):
        exclusive = bit(w, pg[ANON_EXCLUSIVE])
        reusable = 0
        if not exclusive:
            w, t, reusable = can_reuse(w, t, pg)
        if exclusive or reusable:
            if not exclusive:
                w, t = set_anon_exclusive(w, t, pg)
            if unshare(w):
                return unshare_reuse(w, t)
            return wp_page_reuse(w, t)
    return wp_page_copy(w, t, pg, 1)


def do_wp_page(w: int) -> Result:
    return wp_fault(w, PG, wp_can_reuse_anon_folio)
