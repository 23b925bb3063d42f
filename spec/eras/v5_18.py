"""v5.18: drain the local LRU batch and free the swap cache before deciding.

Liang Zhang reported redis slowing down: after swap-in, a page read back is
mapped read-only with ``page_count() == 2`` (mapping + swap cache), and the
next write always copied.  Linus refused to "play games with page_count()";
David Hildenbrand showed that testing ``page_count() == 1 + swapcache``
reopens CVE-2020-29374 through another process's swap PTE, and proposed to
free the swap cache under the page lock instead.  Merged as 53a05ad9f21d
("mm: optimize do_wp_page() for exclusive pages in the swapcache") and
d4c470970d45 ("... for fresh pages in local LRU pagevecs"):

- a cheap racy cut first: KSM, or more than 3 references (mapping + swap
  cache + LRU batch), copies;
- a page not on the LRU may sit in this CPU's LRU batch: ``lru_add_drain()``;
- if references still exceed 1 + swap cache, copy (so the swap cache is not
  dropped for a page that cannot be reused anyway);
- trylock, ``try_to_free_swap()`` (fails under writeback or while another
  swap PTE names the entry), and reuse iff ``page_count() == 1``.

The ``page_mapcount() != 1`` test is gone: covered by the page count.
Still copied although ours: a reference in another CPU's batch, a page
being isolated, a swap cache that cannot be freed.

The model brings in here what this release has from earlier in the 5.9 era:
the uffd-wp deferred TLB flush at the top of the handler (Nadav Amit,
6ce64428d620 in 5.12, hash recalled: uffd-wp write-protects with mmap_lock
held for read and defers the flush, so a stale writable TLB entry could
write into the old page after wp_page_copy() copied it) and the freeing of
an idle swap cache after a copy (Huang Ying, f4c4a3f48480, 5.14).
"""

from ..kernel import KernelPrimitives, R

ID = "v5.18"
FIRST = "5.18"
FEATURES = frozenset({"uffd-wp", "page-count-reuse", "copy-on-fork-if-pinned", "uffd-wp-tlb-flush",
                      "free-swap-after-copy", "lru-drain", "swap-cache-free"})
TITLE = "LRU drain and swap-cache free, then page_count() == 1"
COMMITS = ("53a05ad9f21d", "d4c470970d45", "6ce64428d620", "f4c4a3f48480")


def copy(f: KernelPrimitives[R]) -> R:
    return f.wp_page_copy(anon_exclusive=False, free_swap_cache=True)


def do_wp_page(f: KernelPrimitives[R]) -> R:
    if f.userfaultfd_pte_wp():
        return f.handle_userfault()
    if f.userfaultfd_wp() and f.mm_tlb_flush_pending():
        f.flush_tlb_page()
    if not f.vm_normal_page():
        if f.vma_shared():
            return f.wp_pfn_shared()
        return copy(f)
    if f.PageAnon():
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
        f.unlock_page()
        return f.wp_page_reuse()
    if f.vma_shared():
        return f.wp_page_shared()
    return copy(f)
