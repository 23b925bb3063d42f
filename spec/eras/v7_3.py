"""v7.3: the first cut of wp_can_reuse_anon_folio() counts what may hold a reference.

Up to 7.2 the small-folio helper bails out first on ``folio_ref_count() >
3`` -- the mapping, the swap cache and a per-CPU LRU batch are the most
references an exclusive page can have -- and then, for a folio off the
LRU, drains this CPU's batch before the exact test.  7.3 ("mm: avoid
unnecessary lru drain for wp_can_reuse_anon_folio()", with "mm: rename
in_lru_cache to maybe_in_lru_cache" before it) makes the cut exact for the
folio at hand: more references than one, plus one if PG_lru is clear (the
folio *may* sit in an LRU batch), plus one if it is in the swap cache,
cannot be an exclusive page, so the handler copies at once, without
draining.

No decision changes: a folio the new cut refuses would have been refused
after the drain too.  What changes is the trace: where the new cut fires
on a folio off the LRU, ``lru_add_drain()`` no longer runs, and a page
that sits in this CPU's batch is still there after the copy.

The two patches came through the mm tree, whose ids change with every
rebase (several are in the mm push logs); the mainline commit ids are not
pinned here.
"""

from ..kernel import KernelPrimitives, R
from . import v6_7, v6_15

ID = "v7.3"
FIRST = "7.3"
TITLE = "the first cut counts a maybe-LRU-batch and the swap cache; fewer drains"
COMMITS = ()
FEATURES = v6_15.FEATURES | {"lru-cut-counts-batch"}


def wp_can_reuse_small_anon_folio(f: KernelPrimitives[R]) -> bool:
    maybe_in_lru_cache = not f.PageLRU()
    if f.PageKsm() or f.page_count() > 1 + maybe_in_lru_cache + f.PageSwapCache():
        return False
    if maybe_in_lru_cache:
        f.lru_add_drain()
    if f.page_count() > 1 + f.PageSwapCache():
        return False
    return v6_7.reuse_under_lock(f)


def wp_can_reuse_anon_folio(f: KernelPrimitives[R]) -> bool:
    if f.folio_test_large():
        return v6_15.wp_can_reuse_large_anon_folio(f)
    return wp_can_reuse_small_anon_folio(f)


def do_wp_page(f: KernelPrimitives[R]) -> R:
    return v6_7.wp_fault(f, wp_can_reuse_anon_folio)
