"""v6.2 fast path: shared mappings first; everything else in a COW mapping copies."""

from ..layout import PAGE_FLAGS
from .v5_19 import anon_page
from .word import (
    E_TLB_FLUSH,
    Result,
    PageAnon,
    ev,
    handle_userfault,
    pte_uffd_wp,
    tlb_flush_pending,
    unshare,
    userfaultfd_wp,
    vm_normal_page,
    vma_shared,
    wp_page_copy,
    wp_page_shared,
    wp_pfn_shared,
)

PG = PAGE_FLAGS["v6.2"].bits()


def do_wp_page(w: int) -> Result:
    t = 0
    if not unshare(w):
        if pte_uffd_wp(w):
            return handle_userfault(w, t)
        if userfaultfd_wp(w) and tlb_flush_pending(w):
            t = ev(t, E_TLB_FLUSH)
    page = vm_normal_page(w)
    if vma_shared(w):
        if not page:
            return wp_pfn_shared(w, t)
        return wp_page_shared(w, t, PG)
    if page and PageAnon(w):
        return anon_page(w, t, PG)  # as in 5.19
    return wp_page_copy(w, t, PG, 1)
