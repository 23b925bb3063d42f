"""v5.9-rc4: the do_wp_page() simplification, as first merged.

Linus's 09854ba94c6a ("mm: do_wp_page() simplification", merged with the
branch simplify-do_wp_page, b25d1dc9474e, before 5.9-rc4; posted by Peter Xu
as "mm: Trial do_wp_page() simplification"): "How about we just make sure
we're the only possible valid user fo the page before we bother to reuse
it? ... And get rid of the nasty serialization on the page lock."

An anonymous page is reused only if ``page_count() == 1``: the one reference
is this mapping, so no pipe, pin, other mapping or swap cache can see the
write.  The page lock is only ever trylocked under the PTL; failing that,
copy.  KSM pages are always copied (1a0cf26323c8 removed
``reuse_ksm_page()``), GUP no longer breaks COW (a308c71bf1e6), reuses are
counted in the PGREUSE vmstat event (798a6b87ecd7), and there is no
anon_vma move on reuse until 5.19.

The bug as merged: ``unlock_page()`` comes *after* ``wp_page_reuse()``,
which has released the PTL.  From that moment the page tables were the only
reference to the page; a concurrent MADV_DONTNEED by another thread can zap
the PTE and free the page while it is being unlocked ("Bad page state",
LTP dirtyc0w_child on s390).  Fixed by be068f29034f in 5.9-rc7.

The price of counting references: a page in the swap cache or in a per-CPU
LRU batch has ``page_count() == 2`` and is copied although it is ours (fixed
in 5.18); a page pinned for DMA is copied away from its pin (fixed in 5.19).
"""

from ..kernel import KernelPrimitives, R
from .v5_7 import copy

ID = "v5.9-rc4"
FIRST = "5.9-rc4"
FEATURES = frozenset({"uffd-wp", "page-count-reuse"})
TITLE = "reuse iff page_count() == 1; unlock_page() after the PTL is gone"
COMMITS = ("09854ba94c6a", "1a0cf26323c8", "a308c71bf1e6", "798a6b87ecd7")


def do_wp_page(f: KernelPrimitives[R]) -> R:
    if f.userfaultfd_pte_wp():
        return f.handle_userfault()
    if not f.vm_normal_page():
        if f.vma_shared():
            return f.wp_pfn_shared()
        return copy(f)
    if f.PageAnon():
        # Lockless and racy: KSM may raise the count, recheck under the lock.
        if f.PageKsm() or f.page_count() != 1:
            return copy(f)
        if not f.trylock_page():
            return copy(f)
        if f.PageKsm() or f.page_mapcount() != 1 or f.page_count() != 1:
            f.unlock_page()
            return copy(f)
        f.wp_page_reuse()  # releases the PTL ...
        f.unlock_page()  # ... so this may touch a freed page
        return f.outcome()
    if f.vma_shared():
        return f.wp_page_shared()
    return copy(f)
