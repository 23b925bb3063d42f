"""v6.7: exclusivity detection in wp_can_reuse_anon_folio(); async uffd-wp.

Hildenbrand's "memory: move exclusivity detection in do_wp_page() into
wp_can_reuse_anon_folio()" (dec078cc2181, hash from the mm tree; mainline
id not verified).  The era ends with 6.8: 6.9 stops reusing large folios
(``v6.9``).  The folio-wide checks of 5.18/5.19 move into a helper
that works on the whole folio and no longer marks the page exclusive:
``folio_move_anon_rmap()`` only moves the anon_vma.  do_wp_page() then sets
PG_anon_exclusive itself, "under the page table lock only": the commit notes
that the PTL suffices, because every writer of the flag holds it.  The
trace shows the difference -- the page is unlocked before it is marked.

UFFD_FEATURE_WP_ASYNC (6.7, recalled) adds a front step: in a VMA with
asynchronous uffd-wp, a fault on a uffd-wp PTE does not go to userspace;
the kernel clears the bit (invisible to the user, no flush needed) and
handles the fault as a normal COW fault.
"""

from typing import Callable

from ..kernel import KernelPrimitives, R
from . import v6_2
from .v5_19 import copy

ID = "v6.7"
FIRST = "6.7"
FEATURES = v6_2.FEATURES | {"uffd-wp-async", "reuse-helper"}
TITLE = "wp_can_reuse_anon_folio(); exclusive marked under the PTL only"
COMMITS = ("dec078cc2181",)


def wp_can_reuse_anon_folio(f: KernelPrimitives[R]) -> bool:
    if f.PageKsm() or f.page_count() > 3:
        return False
    if not f.PageLRU():
        f.lru_add_drain()
    if f.page_count() > 1 + f.PageSwapCache():
        return False
    return reuse_under_lock(f)


def reuse_under_lock(f: KernelPrimitives[R]) -> bool:
    """The second half of wp_can_reuse_anon_folio() for a small folio: under
    the folio lock, free the swap cache and look at the exact count."""
    if not f.trylock_page():
        return False
    if f.PageSwapCache():
        f.try_to_free_swap()  # folio_free_swap()
    if f.PageKsm() or f.page_count() != 1:
        f.unlock_page()
        return False
    f.page_move_anon_rmap()  # folio_move_anon_rmap(): the anon_vma only
    f.unlock_page()
    return True


def wp_fault(f: KernelPrimitives[R], can_reuse: Callable[[KernelPrimitives[R]], bool]) -> R:
    """do_wp_page() from 6.7 on, given that release's wp_can_reuse_anon_folio()."""
    if not f.unshare:
        if f.userfaultfd_pte_wp():
            if not f.userfaultfd_wp_async():
                return f.handle_userfault()
            f.clear_uffd_wp()
        if f.userfaultfd_wp() and f.mm_tlb_flush_pending():
            f.flush_tlb_page()
    page = f.vm_normal_page()
    if f.vma_shared():
        if not page:
            return f.wp_pfn_shared()
        return f.wp_page_shared()
    if page and f.PageAnon() and (f.PageAnonExclusive() or can_reuse(f)):
        if not f.PageAnonExclusive():
            f.SetPageAnonExclusive()
        if f.unshare:
            return f.unshare_reuse()
        return f.wp_page_reuse()
    return copy(f)


def do_wp_page(f: KernelPrimitives[R]) -> R:
    return wp_fault(f, wp_can_reuse_anon_folio)
