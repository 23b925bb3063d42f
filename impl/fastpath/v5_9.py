"""v5.9 fast path: reuse iff page_count() == 1, unlocked under the PTL."""

from ..layout import PAGE_FLAGS
from .word import (
    E_TRYLOCK_FAIL,
    E_TRYLOCK_OK,
    E_UNLOCK_PAGE,
    LOCKED,
    Result,
    PageAnon,
    PageKsm,
    bit,
    ev,
    handle_userfault,
    page_count,
    page_mapcount,
    pte_uffd_wp,
    vm_normal_page,
    vma_shared,
    wp_page_copy,
    wp_page_reuse,
    wp_page_shared,
    wp_pfn_shared,
)

PG = PAGE_FLAGS["v5.9"].bits()


def do_wp_page(w: int) -> Result:
    t = 0
    if pte_uffd_wp(w):
        return handle_userfault(w, t)
    if not vm_normal_page(w):
        if vma_shared(w):
            return wp_pfn_shared(w, t)
        return wp_page_copy(w, t, PG, 0)
    if PageAnon(w):
        if PageKsm(w) or page_count(w) != 1:
            return wp_page_copy(w, t, PG, 0)
        if bit(w, PG[LOCKED]):
            return wp_page_copy(w, ev(t, E_TRYLOCK_FAIL), PG, 0)
        t = ev(t, E_TRYLOCK_OK)
        if PageKsm(w) or page_mapcount(w) != 1 or page_count(w) != 1:
            return wp_page_copy(w, ev(t, E_UNLOCK_PAGE), PG, 0)
        return wp_page_reuse(w, ev(t, E_UNLOCK_PAGE))
    if vma_shared(w):
        return wp_page_shared(w, t, PG)
    return wp_page_copy(w, t, PG, 0)
