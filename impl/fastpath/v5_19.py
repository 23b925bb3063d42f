"""v5.19 fast path: PG_anon_exclusive first; unshare faults."""

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
    ev,
    handle_userfault,
    lru_add_drain,
    nothing_to_unshare,
    page_count,
    page_move_anon_rmap,
    pte_uffd_wp,
    set_anon_exclusive,
    tlb_flush_pending,
    try_to_free_swap,
    unshare,
    unshare_reuse,
    userfaultfd_wp,
    vm_normal_page,
    vma_shared,
    wp_page_copy,
    wp_page_reuse,
    wp_page_shared,
    wp_pfn_shared,
)

PG = PAGE_FLAGS["v5.19"].bits()


def reuse(w: int, t: int) -> Result:
    if unshare(w):
        return unshare_reuse(w, t)
    return wp_page_reuse(w, t)


def anon_page(w: int, t: int, pg: tuple) -> Result:
    """The anonymous-page branch of do_wp_page() (5.19 - 6.6)."""
    if bit(w, pg[ANON_EXCLUSIVE]):
        return reuse(w, t)
    if PageKsm(w) or page_count(w) > 3:
        return wp_page_copy(w, t, pg, 1)
    if not bit(w, pg[LRU]):
        w, t = lru_add_drain(w, t, pg)
    if page_count(w) > 1 + PageSwapCache(w, pg):
        return wp_page_copy(w, t, pg, 1)
    if bit(w, pg[LOCKED]):
        return wp_page_copy(w, ev(t, E_TRYLOCK_FAIL), pg, 1)
    t = ev(t, E_TRYLOCK_OK)
    if PageSwapCache(w, pg):
        w, t = try_to_free_swap(w, t, pg)
    if PageKsm(w) or page_count(w) != 1:
        return wp_page_copy(w, ev(t, E_UNLOCK_PAGE), pg, 1)
    w, t = page_move_anon_rmap(w, t)
    w, t = set_anon_exclusive(w, t, pg)
    return reuse(w, ev(t, E_UNLOCK_PAGE))


def do_wp_page(w: int) -> Result:
    t = 0
    if not unshare(w):
        if pte_uffd_wp(w):
            return handle_userfault(w, t)
        if userfaultfd_wp(w) and tlb_flush_pending(w):
            t = ev(t, E_TLB_FLUSH)
    if not vm_normal_page(w):
        if unshare(w):
            return nothing_to_unshare(w, t)
        if vma_shared(w):
            return wp_pfn_shared(w, t)
        return wp_page_copy(w, t, PG, 1)
    if PageAnon(w):
        return anon_page(w, t, PG)
    if unshare(w):
        return nothing_to_unshare(w, t)
    if vma_shared(w):
        return wp_page_shared(w, t, PG)
    return wp_page_copy(w, t, PG, 1)
