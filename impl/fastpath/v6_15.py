"""v6.15 fast path: a large folio is reused when mapcount == refcount and it is not maybe-shared."""

from typing import Tuple

from ..layout import MM_SHARED, PAGE_FLAGS
from .v6_7 import wp_can_reuse_anon_folio as reuse_small_folio
from .v6_7 import wp_fault
from .word import (
    E_TRYLOCK_FAIL,
    E_TRYLOCK_OK,
    E_UNLOCK_PAGE,
    HEAD,
    LOCKED,
    Result,
    PageSwapCache,
    bit,
    ev,
    folio_large_mapcount,
    page_count,
    try_to_free_swap,
)

PG = PAGE_FLAGS["v6.15"].bits()


def wp_can_reuse_large_anon_folio(w: int, t: int, pg: tuple) -> Tuple[int, int, int]:
    if folio_large_mapcount(w) <= 1:
        return w, t, 0
    if bit(w, MM_SHARED):
        return w, t, 0
    if PageSwapCache(w, pg):
        if bit(w, pg[LOCKED]):
            return w, ev(t, E_TRYLOCK_FAIL), 0
        w, t = try_to_free_swap(w, ev(t, E_TRYLOCK_OK), pg)
        t = ev(t, E_UNLOCK_PAGE)
    if folio_large_mapcount(w) != page_count(w):
        return w, t, 0
    # the recheck under folio_lock_large_mapcount() sees the same word
    return w, t, 1


def wp_can_reuse_anon_folio(w: int, t: int, pg: tuple) -> Tuple[int, int, int]:
    if bit(w, pg[HEAD]):
        return wp_can_reuse_large_anon_folio(w, t, pg)
    return reuse_small_folio(w, t, pg)


def do_wp_page(w: int) -> Result:
    return wp_fault(w, PG, wp_can_reuse_anon_folio)
