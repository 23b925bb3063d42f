/*
 * The modelled functions that are not the user's code -- one labelled place.
 *
 * wp_page_copy(), the LRU drain, the swap-cache free, the rmap moves and
 * handle_userfault() are called by do_wp_page() but are not part of the
 * decision wpdiff checks: here they are modelled over the word exactly as
 * wpdiff/impl/fastpath/word.py does (wp_page_copy, lru_add_drain,
 * try_to_free_swap, page_move_anon_rmap, handle_userfault), so the C and
 * the fast paths agree wherever the user's code agrees.
 */
#ifndef WPDIFF_MODEL_H
#define WPDIFF_MODEL_H

/* lru_add_drain(): a reference in this CPU's batch goes back to the LRU list */
static inline void lru_add_drain(void)
{
	wp_ev(WP_E_LRU_DRAIN);
	if (WP_FIELD(local_batch)) {
		S.w -= (1ULL << WP_local_batch_SHIFT) + (1ULL << WP_refcount_SHIFT);
		WP_SET(PG_lru);
	}
}

/* delete_from_swap_cache(): the swap cache drops its references, one per page */
static inline void wp_delete_from_swap_cache(void)
{
	wp_ev(WP_E_SWAP_FREE);
	WP_CLEAR(PG_swapcache);
	S.w -= (u64)wp_nr_pages() << WP_refcount_SHIFT;
}
#define delete_from_swap_cache(p) wp_delete_from_swap_cache()

/* try_to_free_swap() / folio_free_swap(): only if no swap entry is still used and no writeback */
static inline bool wp_free_swap(void)
{
	if (!wp_swapcache() || WP_BIT(PG_writeback) || WP_FIELD(swapcount) != 0)
		return false;
	if (!S.we_lock) wp_assert(0, WP_ASSERT_BUG);
	wp_delete_from_swap_cache();
	WP_SET(PG_dirty);
	return true;
}

/* page_move_anon_rmap() / folio_move_anon_rmap(): a KSM page taken over stops being one */
static inline void wp_move_anon_rmap(int line)
{
	if (!S.we_lock) wp_assert(line, WP_ASSERT_BUG);  /* VM_BUG_ON_FOLIO(!folio_test_locked(folio)) */
	wp_ev(WP_E_MOVE_ANON_RMAP);
	if (wp_ksm()) {
		S.w -= 2ULL << WP_mapping_SHIFT;
		S.w &= ~(1ULL << WP_stable_node_SHIFT);
	}
}

static inline vm_fault_t wp_handle_userfault(int line)
{
	wp_act(WPA_handle_userfault, line);
	S.userfault = 1;
	return VM_FAULT_RETRY;
}
#define handle_userfault(vmf, reason) wp_handle_userfault(__LINE__)

/*
 * wp_page_copy(): map a copy; the old page loses this mapping and the page
 * table's reference; the handler's own reference (taken by the caller) is
 * dropped at the end.  With WPDIFF_COPY_FREES_SWAP_CACHE (the tree's
 * wp_page_copy() calls free_swap_cache(), 5.14+) an old page nobody maps
 * any more gives up its swap cache if its lock can be had.
 */
static inline vm_fault_t wp_wp_page_copy(struct vm_fault *vmf, int line)
{
	int has_page = vmf->page != NULL;
	int writing = !(vmf->flags & FAULT_FLAG_UNSHARE);
	u64 *w = &S.w;

	wp_act(WPA_wp_page_copy, line);
	S.copied = 1;
	if (wp_ptl.locked) wp_assert(line, WP_ASSERT_BUG);  /* called with the PTL dropped */
	wp_ev(WP_E_NEW_PAGE);
	*w = wp_word_with_pte(*w, wp_pte);
	*w = (*w | (1ULL << (WP_pte_SHIFT + WP_PTE_ACCESSED))) & ~(1ULL << (WP_pte_SHIFT + WP_PTE_SPECIAL));
	if (writing) *w |= 1ULL << (WP_pte_SHIFT + WP_PTE_DIRTY);
	else *w &= ~(1ULL << (WP_pte_SHIFT + WP_PTE_DIRTY));
	if (writing && (vmf->vma->vm_flags & VM_WRITE)) *w |= 1ULL << (WP_pte_SHIFT + WP_PTE_RW);
	else *w &= ~(1ULL << (WP_pte_SHIFT + WP_PTE_RW));
	if (writing) *w &= ~(1ULL << (WP_pte_SHIFT + WP_PTE_UFFD_WP));
	wp_pte = wp_pte_of_word(*w);
	if (has_page) {
		/* page_remove_rmap(): the two's complement fields wrap from 0 to all ones */
		*w = WP_FIELD(mapcount) == 0 ? *w + (7ULL << WP_mapcount_SHIFT) : *w - (1ULL << WP_mapcount_SHIFT);
		*w = WP_FIELD(large_mapcount) == 0 ? *w + (15ULL << WP_large_mapcount_SHIFT)
						   : *w - (1ULL << WP_large_mapcount_SHIFT);
		*w -= 1ULL << WP_refcount_SHIFT;
		if (WPDIFF_COPY_FREES_SWAP_CACHE && wp_swapcache() && wp_large_mapcount() < 1) {
			if (WP_BIT(PG_locked)) {
				wp_ev(WP_E_TRYLOCK_FAIL);
			} else {
				wp_ev(WP_E_TRYLOCK_OK);
				S.we_lock = 1;
				wp_free_swap();
				wp_ev(WP_E_UNLOCK_PAGE);
				S.we_lock = 0;
			}
		}
		wp_put();
	}
	return writing ? VM_FAULT_WRITE : 0;
}
#define wp_page_copy(vmf) wp_wp_page_copy(vmf, __LINE__)

/* with vm_ops NULL these are never reached; if they are, the report says where */
static inline vm_fault_t wp_unmodelled(int line) { wp_assert(line, WP_UNMODELLED); return VM_FAULT_SIGBUS; }
#define do_page_mkwrite(vmf, ...) wp_unmodelled(__LINE__)
#define finish_mkwrite_fault(vmf, ...) wp_unmodelled(__LINE__)
#define vmf_can_call_fault(vmf) ((vm_fault_t)0)

#endif
