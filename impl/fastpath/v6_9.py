"""v6.9 fast path: a large folio is never reused unless the faulting page is exclusive."""

from typing import Tuple

from ..layout import PAGE_FLAGS
from .v6_7 import wp_can_reuse_anon_folio as reuse_small_folio
from .v6_7 import wp_fault
from .word import HEAD, Result, bit

PG = PAGE_FLAGS["v6.9"].bits()


def wp_can_reuse_anon_folio(w: int, t: int, pg: tuple) -> Tuple[int, int, int]:
    if bit(w, pg[HEAD]):
        return w, t, 0
    return reuse_small_folio(w, t, pg)


def do_wp_page(w: int) -> Result:
    return wp_fault(w, PG, wp_can_reuse_anon_folio)
