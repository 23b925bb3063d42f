/*
 * The page API, up to 5.18 (5.7's reuse_swap_page() / reuse_ksm_page(),
 * 5.9's page_count() rule, 5.18's swap-cache and LRU-batch handling).
 * page_move_anon_rmap() only moves the anon_vma: PG_anon_exclusive does
 * not exist yet.
 */
#ifndef WPDIFF_GEN_PAGE_H
#define WPDIFF_GEN_PAGE_H

#define try_to_free_swap(p) wp_free_swap()
#define page_move_anon_rmap(p, vma) wp_move_anon_rmap(__LINE__)

/* 5.7: what reuse_swap_page() and reuse_ksm_page() read */
static inline int wp_page_swapcount(int line) { wp_query(WPQ_page_swapcount, line); return (int)WP_FIELD(swapcount); }
#define page_swapcount(p) wp_page_swapcount(__LINE__)
/* page_trans_huge_mapcount(): the largest mapcount of a subpage (compound mapcount
 * included), and every mapping of the folio in *total */
static inline int wp_page_trans_huge_mapcount(int *total, int line)
{
	int ret = wp_mapcount();
	wp_query(WPQ_page_trans_huge_mapcount, line);
	if (WP_BIT(PG_head)) {
		ret = max(ret, (int)WP_FIELD(others_mapcount));
		if (total) *total = wp_large_mapcount();
	} else if (total) {
		*total = ret;
	}
	return ret;
}
#define page_trans_huge_mapcount(p, total) wp_page_trans_huge_mapcount(total, __LINE__)
static inline void *wp_page_stable_node(int line) { wp_query(WPQ_page_stable_node, line); return WP_FIELD(stable_node) ? (void *)&wp_mapping : NULL; }
#define page_stable_node(p) wp_page_stable_node(__LINE__)
/* page_ref_freeze(): _refcount from `count` to 0, atomically, or fail */
static inline int wp_page_ref_freeze(int count, int line)
{
	wp_query(WPQ_page_ref_freeze, line);
	if (wp_refcount() != count) return 0;
	S.w -= (u64)count << WP_refcount_SHIFT;
	return 1;
}
#define page_ref_freeze(p, count) wp_page_ref_freeze(count, __LINE__)
#define page_ref_unfreeze(p, count) (S.w += (u64)(count) << WP_refcount_SHIFT)
#define PageHuge(p) 0

#endif
