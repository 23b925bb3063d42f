"""v5.9: the simplification with the page unlocked before the PTL is dropped.

be068f29034f ("mm: fix misplaced unlock_page in do_wp_page()", 5.9-rc7)
moves ``unlock_page()`` in front of ``wp_page_reuse()``: once the PTL is
released only the page tables pin the page, so nothing may touch it after.

Around this rule, 5.9 final added copy-on-fork for pinned pages (Peter Xu:
008cfe4418b3 mm->has_pinned, 70e806e4e645 "mm: Do early cow for pinned pages
during fork() for ptes", d042035eaf5f for THP): Jason Gunthorpe found RDMA
losing DMA'd data because a page pinned before fork() was shared with the
child and the parent's next write copied it away from the pin.  Now fork()
gives the child a copy of any page_maybe_dma_pinned() page at once.

The decision rule is unchanged, so the era's costs remain: swap-cache pages
and pages in an LRU batch are copied although ours (redis regression, fixed
5.18), and a pinned page whose PTE was write-protected for another reason
(mprotect(), soft-dirty clear_refs, NUMA hinting: bz 215616) is copied away
from its pin (fixed by PG_anon_exclusive, 5.19).  Later releases of this era
(not modelled at their own step) add the uffd-wp deferred TLB flush (5.12,
6ce64428d620, hash recalled) and free an idle swap cache after a copy
(f4c4a3f48480, 5.14); the model brings both in at v5.18.  5.11 also stops
swap-out from adding a pinned page to the swap cache (feb889fb40fa); a
page already there can still be pinned, so no state becomes unreachable
and the model leaves it out.
"""

from ..kernel import KernelPrimitives, R
from .v5_7 import copy

ID = "v5.9"
FIRST = "5.9-rc7"
FEATURES = frozenset({"uffd-wp", "page-count-reuse", "copy-on-fork-if-pinned"})
TITLE = "reuse iff page_count() == 1, page unlocked under the PTL"
COMMITS = ("be068f29034f", "70e806e4e645", "008cfe4418b3")


def do_wp_page(f: KernelPrimitives[R]) -> R:
    if f.userfaultfd_pte_wp():
        return f.handle_userfault()
    if not f.vm_normal_page():
        if f.vma_shared():
            return f.wp_pfn_shared()
        return copy(f)
    if f.PageAnon():
        if f.PageKsm() or f.page_count() != 1:
            return copy(f)
        if not f.trylock_page():
            return copy(f)
        if f.PageKsm() or f.page_mapcount() != 1 or f.page_count() != 1:
            f.unlock_page()
            return copy(f)
        f.unlock_page()
        return f.wp_page_reuse()
    if f.vma_shared():
        return f.wp_page_shared()
    return copy(f)
