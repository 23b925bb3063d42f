"""v6.2 fast path: shared mappings first; everything else in a COW mapping copies."""

from ..layout import PAGE_FLAGS
from .v5_19 import reuse
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
    userfaultfd_wp,
    vm_normal_page,
    vma_shared,
    wp_page_copy,
    wp_page_shared,
    wp_pfn_shared,
)

PG = PAGE_FLAGS["v6.2"].bits()


def do_wp_page(w: int) -> Result:
    t = 0
    if not unshare(w):
        if pte_uffd_wp(w):
            return handle_userfault(w, t)
        if userfaultfd_wp(w) and tlb_flush_pending(w):
            t = ev(t, E_TLB_FLUSH)
    page = vm_normal_page(w)
    if vma_shared(w):
        if not page:
            return wp_pfn_shared(w, t)
        return wp_page_shared(w, t, PG)
    if page and PageAnon(w):
        if bit(w, PG[ANON_EXCLUSIVE]):
            return reuse(w, t)
        if PageKsm(w) or page_count(w) > 3:
            return wp_page_copy(w, t, PG, 1)
        if not bit(w, PG[LRU]):
            w, t = lru_add_drain(w, t, PG)
        if page_count(w) > 1 + PageSwapCache(w, PG):
            return wp_page_copy(w, t, PG, 1)
        if bit(w, PG[LOCKED]):
            return wp_page_copy(w, ev(t, E_TRYLOCK_FAIL), PG, 1)
        t = ev(t, E_TRYLOCK_OK)
        if PageSwapCache(w, PG):
            w, t = try_to_free_swap(w, t, PG)
        if PageKsm(w) or page_count(w) != 1:
            return wp_page_copy(w, ev(t, E_UNLOCK_PAGE), PG, 1)
        w, t = page_move_anon_rmap(w, t)
        w, t = set_anon_exclusive(w, t, PG)
        return reuse(w, ev(t, E_UNLOCK_PAGE))
    return wp_page_copy(w, t, PG, 1)
