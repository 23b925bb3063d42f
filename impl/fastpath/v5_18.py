"""v5.18 fast path: drain the local LRU batch, free the swap cache, then page_count() == 1."""

from ..layout import PAGE_FLAGS
from .word import (
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
    pte_uffd_wp,
    tlb_flush_pending,
    try_to_free_swap,
    userfaultfd_wp,
    vm_normal_page,
    vma_shared,
    wp_page_copy,
    wp_page_reuse,
    wp_page_shared,
    wp_pfn_shared,
)

PG = PAGE_FLAGS["v5.18"].bits()


def do_wp_page(w: int) -> Result:
    t = 0
    if pte_uffd_wp(w):
        return handle_userfault(w, t)
    if userfaultfd_wp(w) and tlb_flush_pending(w):
        t = ev(t, E_TLB_FLUSH)
    if not vm_normal_page(w):
        if vma_shared(w):
            return wp_pfn_shared(w, t)
        return wp_page_copy(w, t, PG, 1)
    if PageAnon(w):
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
        return wp_page_reuse(w, ev(t, E_UNLOCK_PAGE))
    if vma_shared(w):
        return wp_page_shared(w, t, PG)
    return wp_page_copy(w, t, PG, 1)
