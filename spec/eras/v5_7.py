"""v5.7: reuse decided by mapcount and swap count, under a sleeping page lock.

Releases 5.1 to 5.7 (the "era A" of do_wp_page()).  An anonymous page is
reused when ``reuse_swap_page()`` finds it mapped once and named by no other
swap PTE (``page_mapcount() + page_swapcount() <= 1``).  The page reference
count is never read, so a reference that is not a mapping -- a vmsplice()
pipe, an O_DIRECT request, a GUP pin -- is invisible.  That is
CVE-2020-29374 (Jann Horn, Project Zero issue 2045): after fork() the child
vmsplice()s the shared page into a pipe and unmaps it; the parent's page is
now mapped once, the parent's write reuses it, and the child reads the
parent's new data through the pipe.

To look at the swap state, the handler needs the page lock.  If
``trylock_page()`` fails it takes a reference, drops the PTL, sleeps in
``lock_page()``, retakes the PTL, and checks with ``pte_same()`` that the PTE
did not change meanwhile (if it did: return 0, the access faults again).  A
page that is ours and only ours is moved to this VMA's anon_vma
(``page_move_anon_rmap()``).

Since 5.1 ("mm: reuse only-pte-mapped KSM page in do_wp_page()",
52d1e606ee73, hash recalled) a KSM page is reused too when nothing but this
mapping holds it and it is not in the swap cache: ``reuse_ksm_page()``
freezes the reference count at 1 and moves the page out of KSM.

The span starts at 5.7 because that is the first release with userfaultfd
write-protect (292924b26024, "userfaultfd: wp: apply _PAGE_UFFD_WP bit",
merged for 5.7), whose check opens this model's handler.  5.1 to 5.6
decide exactly as 5.7 does, but have no uffd-wp check; the model does not
stand for them (``--era v5.7`` on such a tree is the nearest).

Not modelled: a swap device with SWP_STABLE_WRITES, on which
``reuse_swap_page()`` refuses a page still under writeback (the model's swap
device has no stable-writes requirement, so writeback does not block reuse).
"""

from typing import Tuple

from ..kernel import KernelPrimitives, R

ID = "v5.7"
FIRST = "5.7"
FEATURES = frozenset({"uffd-wp", "sleeping-page-lock", "ksm-reuse"})
TITLE = "mapcount + swapcount decide, sleeping page lock, KSM reuse"
COMMITS = ("52d1e606ee73",)


def reuse_swap_page(f: KernelPrimitives[R]) -> Tuple[bool, int]:
    """mm/swapfile.c: may the locked page be reused?  Returns the answer and
    the number of mappings plus swap references of the whole folio.

    The count is the page's mappings plus its swap entry's references; for a
    large folio, the largest such count over its pages (page_trans_huge_map_
    swapcount()).  A page reused out of the swap cache is deleted from it and
    dirtied, unless writeback is still running."""
    if f.PageKsm():
        return False, 0
    swapcount = f.page_swapcount() if f.PageSwapCache() else 0
    count = f.page_mapcount() + swapcount
    total = count
    if f.folio_test_large():
        count = max(count, f.others_mapcount())
        total = f.folio_large_mapcount() + swapcount
    if count == 1 and f.PageSwapCache() and not f.PageWriteback():
        f.delete_from_swap_cache()
    return count <= 1, total


def reuse_ksm_page(f: KernelPrimitives[R]) -> bool:
    """mm/ksm.c (5.1-5.8): a KSM page mapped only here, out of the swap cache
    and still in the stable tree, may be taken over: page_ref_freeze(page, 1)
    succeeds only if this mapping is the sole reference."""
    if f.PageSwapCache() or not f.page_stable_node():
        return False
    if f.page_count() != 1:
        return False
    f.page_move_anon_rmap()
    return True


def copy(f: KernelPrimitives[R]) -> R:
    return f.wp_page_copy(anon_exclusive=False, free_swap_cache=False)


def do_wp_page(f: KernelPrimitives[R]) -> R:
    if f.userfaultfd_pte_wp():
        return f.handle_userfault()
    if not f.vm_normal_page():
        if f.vma_shared():
            return f.wp_pfn_shared()
        return copy(f)
    if f.PageAnon():
        if f.PageKsm() and (f.PageSwapCache() or f.page_count() != 1):
            return copy(f)
        if not f.trylock_page():
            # Sleep for the lock with the PTL dropped, holding a reference
            # so the page cannot go away meanwhile.
            f.get_page()
            f.pte_unmap_unlock()
            f.lock_page()
            f.pte_offset_map_lock()
            if not f.pte_same():
                f.unlock_page()
                f.pte_unmap_unlock()
                f.put_page()
                return f.retry()
            f.put_page()
        if f.PageKsm():
            reused = reuse_ksm_page(f)
            f.unlock_page()
            if not reused:
                return copy(f)
            return f.wp_page_reuse()
        reuse, total_map_swapcount = reuse_swap_page(f)
        if reuse:
            if total_map_swapcount == 1:
                f.page_move_anon_rmap()
            f.unlock_page()  # still under the PTL
            return f.wp_page_reuse()
        f.unlock_page()
    elif f.vma_shared():
        return f.wp_page_shared()
    return copy(f)
