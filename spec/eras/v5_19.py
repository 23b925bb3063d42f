"""v5.19: PG_anon_exclusive, and unsharing for read-only pins.

David Hildenbrand's "mm: COW fixes part 2: reliable GUP pins of anonymous
pages".  A page-count rule cannot tell our own pin from a foreign pipe, so
it copies pinned pages away from their pins (RDMA, io_uring fixed buffers,
Gaudi DMA with NUMA balancing: bz 215616).  5.19 remembers instead whether
an anonymous page is exclusive to the mm that maps it (6c287605fd56,
PG_anon_exclusive aliasing PG_mappedtodisk: 78fbe906cc90):

- new anonymous pages are exclusive; fork() clears the flag when it shares
  the page, but copies a pinned page for the child instead of sharing it;
  KSM, swap-out and migration back off pinned pages;
- GUP may FOLL_PIN an anonymous page only if it is exclusive: a read-only
  pin of a possibly shared page first triggers an *unshare* fault,
  FAULT_FLAG_UNSHARE (c89357e27f20, a7f226604170), which makes the page
  exclusive -- by reusing it, or by copying it into a private read-only page;
- do_wp_page() reuses an exclusive page at once, without looking at any
  count, so a pinned page is never copied away from its pin; otherwise it
  runs the 5.18 checks and, if the page turns out to be ours, moves it to
  this VMA's anon_vma with ``page_move_anon_rmap()`` -- the call that
  6c54dc6c7437 re-adds to do_wp_page(), absent since 5.9 -- which from
  6c287605fd56 on also marks it exclusive, under the page lock and the PTL.

An unshare fault never maps anything writable: a reused page keeps its
read-only PTE, a copy is mapped read-only with the uffd-wp bit carried over.
A non-anonymous page has nothing to unshare in this release.  Read-only
FOLL_GET references (vmsplice()) still do not unshare; the CVE stays closed
because a page that is not exclusive is copied by the writer when anything
else holds it.
"""

from ..kernel import KernelPrimitives, R
from . import v5_18

ID = "v5.19"
FIRST = "5.19"
FEATURES = v5_18.FEATURES | {"anon-exclusive", "unshare"}
TITLE = "PG_anon_exclusive: exclusive pages reused at once; unshare faults"
COMMITS = ("6c287605fd56", "78fbe906cc90", "6c54dc6c7437", "c89357e27f20", "a7f226604170")


def copy(f: KernelPrimitives[R]) -> R:
    return f.wp_page_copy(anon_exclusive=True, free_swap_cache=True)


def reuse(f: KernelPrimitives[R]) -> R:
    if f.unshare:
        return f.unshare_reuse()
    return f.wp_page_reuse()


def anon_page(f: KernelPrimitives[R]) -> R:
    """The anonymous-page branch of do_wp_page() (5.19 - 6.6)."""
    if f.PageAnonExclusive():
        return reuse(f)
    if f.PageKsm() or f.page_count() > 3:
        return copy(f)
    if not f.PageLRU():
        f.lru_add_drain()
    if f.page_count() > 1 + f.PageSwapCache():
        return copy(f)
    if not f.trylock_page():
        return copy(f)
    if f.PageSwapCache():
        f.try_to_free_swap()
    if f.PageKsm() or f.page_count() != 1:
        f.unlock_page()
        return copy(f)
    f.page_move_anon_rmap()
    f.SetPageAnonExclusive()  # inside page_move_anon_rmap(): page lock + PTL
    f.unlock_page()
    return reuse(f)


def do_wp_page(f: KernelPrimitives[R]) -> R:
    if not f.unshare:
        if f.userfaultfd_pte_wp():
            return f.handle_userfault()
        if f.userfaultfd_wp() and f.mm_tlb_flush_pending():
            f.flush_tlb_page()
    if not f.vm_normal_page():
        if f.unshare:
            return f.nothing_to_unshare()
        if f.vma_shared():
            return f.wp_pfn_shared()
        return copy(f)
    if f.PageAnon():
        return anon_page(f)
    if f.unshare:
        return f.nothing_to_unshare()
    if f.vma_shared():
        return f.wp_page_shared()
    return copy(f)
