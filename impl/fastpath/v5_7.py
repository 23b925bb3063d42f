"""v5.7 fast path: reuse_swap_page() counts mappings and swap references.

Same order of checks as ``do_wp_page()`` of 5.7 (see ``wpdiff.spec.eras.v5_7``
for the story): the uffd-wp check, no normal page, then for an anonymous
page the KSM cut, the page lock (sleeping for it with the PTL dropped when
the trylock fails), ``reuse_ksm_page()`` or ``reuse_swap_page()``.
"""

from ..layout import PAGE_FLAGS
from .word import (
    E_GET,
    E_LOCK_PAGE,
    E_PTL_LOCK,
    E_PTL_UNLOCK,
    E_PUT,
    E_TRYLOCK_FAIL,
    E_TRYLOCK_OK,
    E_UNLOCK_PAGE,
    HEAD,
    LOCKED,
    RETRY,
    WRITEBACK,
    Result,
    PageAnon,
    PageKsm,
    PageSwapCache,
    bit,
    clear_bit,
    delete_from_swap_cache,
    ev,
    folio_large_mapcount,
    handle_userfault,
    others_mapcount,
    page_count,
    page_mapcount,
    page_move_anon_rmap,
    page_swapcount,
    pte_changes,
    pte_uffd_wp,
    vm_normal_page,
    vma_shared,
    wp_page_copy,
    wp_page_reuse,
    wp_page_shared,
    wp_pfn_shared,
)
from ..layout import STABLE_NODE

PG = PAGE_FLAGS["v5.7"].bits()


def do_wp_page(w: int) -> Result:
    t = 0
    if pte_uffd_wp(w):
        return handle_userfault(w, t)
    if not vm_normal_page(w):
        if vma_shared(w):
            return wp_pfn_shared(w, t)
        return wp_page_copy(w, t, PG, 0)
    if PageAnon(w):
        if PageKsm(w) and (PageSwapCache(w, PG) or page_count(w) != 1):
            return wp_page_copy(w, t, PG, 0)
        if bit(w, PG[LOCKED]):
            t = ev(ev(ev(t, E_TRYLOCK_FAIL), E_GET), E_PTL_UNLOCK)
            w = clear_bit(w, PG[LOCKED])  # lock_page() sleeps until the holder lets go
            t = ev(ev(t, E_LOCK_PAGE), E_PTL_LOCK)
            if pte_changes(w):
                return w, ev(ev(ev(t, E_UNLOCK_PAGE), E_PTL_UNLOCK), E_PUT) + RETRY
            t = ev(t, E_PUT)
        else:
            t = ev(t, E_TRYLOCK_OK)
        if PageKsm(w):
            # reuse_ksm_page(): out of the swap cache, still in the stable
            # tree, and page_ref_freeze(page, 1) succeeds
            reused = not PageSwapCache(w, PG) and bit(w, STABLE_NODE) and page_count(w) == 1
            if reused:
                w, t = page_move_anon_rmap(w, t)
            t = ev(t, E_UNLOCK_PAGE)
            if not reused:
                return wp_page_copy(w, t, PG, 0)
            return wp_page_reuse(w, t)
        # reuse_swap_page()
        swapcount = page_swapcount(w) if PageSwapCache(w, PG) else 0
        count = page_mapcount(w) + swapcount
        total = count
        if bit(w, PG[HEAD]):
            count = max(count, others_mapcount(w))
            total = folio_large_mapcount(w) + swapcount
        if count == 1 and PageSwapCache(w, PG) and not bit(w, PG[WRITEBACK]):
            w, t = delete_from_swap_cache(w, t, PG)
        if count <= 1:
            if total == 1:
                w, t = page_move_anon_rmap(w, t)
            return wp_page_reuse(w, ev(t, E_UNLOCK_PAGE))
        t = ev(t, E_UNLOCK_PAGE)
    elif vma_shared(w):
        return wp_page_shared(w, t, PG)
    return wp_page_copy(w, t, PG, 0)
