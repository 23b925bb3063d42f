"""v7.3 fast path: the first cut counts a maybe-LRU-batch and the swap cache, so fewer drains."""

from typing import Tuple

from ..layout import PAGE_FLAGS
from .v6_7 import reuse_under_lock, wp_fault
from .v6_15 import wp_can_reuse_large_anon_folio
from .word import HEAD, LRU, Result, PageKsm, PageSwapCache, bit, lru_add_drain, page_count

PG = PAGE_FLAGS["v7.3"].bits()


def wp_can_reuse_anon_folio(w: int, t: int, pg: tuple) -> Tuple[int, int, int]:
    if bit(w, pg[HEAD]):
        return wp_can_reuse_large_anon_folio(w, t, pg)
    maybe_in_lru_cache = 1 - bit(w, pg[LRU])
    if PageKsm(w) or page_count(w) > 1 + maybe_in_lru_cache + PageSwapCache(w, pg):
        return w, t, 0
    if maybe_in_lru_cache:
        w, t = lru_add_drain(w, t, pg)
    if page_count(w) > 1 + PageSwapCache(w, pg):
        return w, t, 0
    return reuse_under_lock(w, t, pg)


def do_wp_page(w: int) -> Result:
    return wp_fault(w, PG, wp_can_reuse_anon_folio)
