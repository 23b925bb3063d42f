"""v6.15: a large folio is reused when every reference is one of our mappings.

Hildenbrand's "mm: Copy-on-Write (COW) reuse support for PTE-mapped THP"
(1da190f4d0a6, in "mm: MM owner tracking for large folios (!hugetlb) +
CONFIG_NO_PAGE_MAPCOUNT").  Large folios now record which mm maps them
(``_mm_ids``, CONFIG_MM_ID) with a "maybe mapped shared" bit.  The argument
of the commit: an anonymous page is mapped at most once per mm; every
mapping holds one reference, taken before the mapcount rises and dropped
after it falls.  So if the folio is not maybe-shared and its large mapcount
equals its reference count, every reference is one of our own page-table
mappings, and the folio can be reused -- without the folio lock: a
migration or swap-out in flight would show up as an extra reference.

``__wp_can_reuse_large_anon_folio()``: a folio mapped once is not reused
(better to free it); a maybe-shared folio is not; a folio in the swap cache
is trylocked and its swap cache freed first; then mapcount must equal the
reference count, rechecked under ``folio_lock_large_mapcount()``.  No
anon_vma move for large folios.  Only the faulting page is marked exclusive
and only its PTE made writable (fault-around is future work).

Kairui Song hit a WARN on 6.15-rc1: the first version asserted the sanity
check the wrong way round (mapcount below the reference count is normal;
above it is the bug).  The model has no WARN_ON; the decision is unchanged.

The span runs to 7.2: do_wp_page() decides the same from 6.15 through 7.2
(6.18, this project's live kernel, included); 6.15 to 6.18 only brought the
fixed sanity warning, a direct test of the maybe-mapped-shared bit in place
of a helper, and a ``folio_mk_pte()`` change.  7.3 changes the first cut of
the small-folio helper (``v7.3``).

Not modelled: the "maybe" -- ``folio_maybe_mapped_shared()`` may stay set on
a folio that only one mm maps any more; such a folio is copied (the state
says so with ``maybe_mapped_shared=True``).
"""

from ..kernel import KernelPrimitives, R
from . import v6_7, v6_9

ID = "v6.15"
FIRST = "6.15"
FEATURES = (v6_9.FEATURES - {"no-large-reuse"}) | {"large-folio-reuse"}
TITLE = "large folios reused when mapcount == refcount and not maybe-shared"
COMMITS = ("1da190f4d0a6",)


def wp_can_reuse_large_anon_folio(f: KernelPrimitives[R]) -> bool:
    if f.folio_large_mapcount() <= 1:
        return False
    if f.folio_maybe_mapped_shared():
        return False
    if f.PageSwapCache():
        if not f.trylock_page():
            return False
        f.try_to_free_swap()  # folio_free_swap()
        f.unlock_page()
    if f.folio_large_mapcount() != f.page_count():
        return False
    # folio_lock_large_mapcount(): the recheck under that lock sees the same
    # values in a model of one fault.
    return True


def wp_can_reuse_anon_folio(f: KernelPrimitives[R]) -> bool:
    if f.folio_test_large():
        return wp_can_reuse_large_anon_folio(f)
    return v6_7.wp_can_reuse_anon_folio(f)


def do_wp_page(f: KernelPrimitives[R]) -> R:
    return v6_7.wp_fault(f, wp_can_reuse_anon_folio)
