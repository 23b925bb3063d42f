/*
 * wpdiff test mirror (the project's own code, in the kernel's style): the
 * part of 5.7's mm/swapfile.c that do_wp_page() relies on.
 */
#ifdef CONFIG_THP_SWAP
/* per-subpage swap counts of a THP in the swap cache: not in the word */
static int page_trans_huge_map_swapcount(struct page *page, int *total_mapcount,
					 int *total_swapcount)
{
	struct swap_cluster_info *ci = lock_cluster_or_swap_info(page);

	return thp_swap_counts_under_cluster_lock(ci, page, total_mapcount, total_swapcount);
}
#else
/* without THP swap: the page's own mappings plus its swap entry's users */
static int page_trans_huge_map_swapcount(struct page *page, int *total_mapcount,
					 int *total_swapcount)
{
	int mapcount, swapcount = 0;

	VM_BUG_ON_PAGE(PageHuge(page), page);
	mapcount = page_trans_huge_mapcount(page, total_mapcount);
	if (PageSwapCache(page))
		swapcount = page_swapcount(page);
	if (total_swapcount)
		*total_swapcount = swapcount;
	return mapcount + swapcount;
}
#endif

/*
 * May the faulting mapping write this page in place?  Only if it is the
 * page's one user counting mappings and swap entries; a page that is
 * then only in the swap cache leaves it (its swap copy goes stale).
 */
bool reuse_swap_page(struct page *page, int *total_map_swapcount)
{
	int count, total_mapcount, total_swapcount;

	VM_BUG_ON_PAGE(!PageLocked(page), page);
	if (unlikely(PageKsm(page)))
		return false;
	count = page_trans_huge_map_swapcount(page, &total_mapcount,
					      &total_swapcount);
	if (total_map_swapcount)
		*total_map_swapcount = total_mapcount + total_swapcount;
	if (count == 1 && PageSwapCache(page) &&
	    (likely(!PageTransCompound(page)) ||
	     /* what swap count remains is this page's, about to go */
	     total_swapcount == page_swapcount(page))) {
		if (!PageWriteback(page)) {
			page = compound_head(page);
			delete_from_swap_cache(page);
			SetPageDirty(page);
		}
		/* under writeback: reused anyway (no SWP_STABLE_WRITES device) */
	}

	return count <= 1;
}
