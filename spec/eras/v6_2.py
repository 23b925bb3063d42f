"""v6.2: shared mappings first; unsharing extends to every COW mapping.

Hildenbrand's b9086fde6d44 ("mm: rework handling in do_wp_page() based on
private vs. shared mappings", in the series "mm/gup: remove FOLL_FORCE
usage from drivers (reliable R/O long-term pinning)").  The handler now
asks first whether the mapping is shared (VM_SHARED | VM_MAYSHARE): if so,
the page is written in place.  Everything else is a COW mapping, where an
anonymous page goes through the 5.19 exclusivity checks and anything else
-- a page-cache page, the zero page, a pfn -- is copied.  That includes
unshare faults (8d6a0ac09a16, "mm: extend FAULT_FLAG_UNSHARE support to
anything in a COW mapping"): a read-only long-term pin of a file page in a
private mapping now gets an exclusive anonymous copy mapped read-only, so
the pin stays coherent with later writes (cow.c's non-anon "R/O longterm
GUP pin" cases).

cb8d86331343 ("mm: remove VM_FAULT_WRITE", same release) drops the
VM_FAULT_WRITE return value; the decisions are those of 5.19.
"""

from ..kernel import KernelPrimitives, R
from . import v5_19
from .v5_19 import anon_page, copy

ID = "v6.2"
FIRST = "6.2"
FEATURES = v5_19.FEATURES | {"unshare-non-anon", "shared-first"}
TITLE = "shared mappings first; unshare copies non-anonymous pages"
COMMITS = ("b9086fde6d44", "8d6a0ac09a16", "cb8d86331343")


def do_wp_page(f: KernelPrimitives[R]) -> R:
    if not f.unshare:
        if f.userfaultfd_pte_wp():
            return f.handle_userfault()
        if f.userfaultfd_wp() and f.mm_tlb_flush_pending():
            f.flush_tlb_page()
    page = f.vm_normal_page()
    if f.vma_shared():
        if not page:
            return f.wp_pfn_shared()
        return f.wp_page_shared()
    if page and f.PageAnon():
        return anon_page(f)  # as in 5.19
    return copy(f)
