/*
 * The folio API, 5.19 - 6.6: PG_anon_exclusive, FAULT_FLAG_UNSHARE and the
 * folio_test_*() helpers; page_move_anon_rmap() also marks the page
 * exclusive (6c54dc6c7437, 6c287605fd56).
 */
#ifndef WPDIFF_GEN_FOLIO_H
#define WPDIFF_GEN_FOLIO_H

WP_PAGE_QUERY(folio_test_anon, WPQ_folio_test_anon, wp_anon())
WP_PAGE_QUERY(folio_test_ksm, WPQ_folio_test_ksm, wp_ksm())
WP_PAGE_QUERY(folio_test_swapcache, WPQ_folio_test_swapcache, wp_swapcache())
WP_PAGE_QUERY(folio_test_lru, WPQ_folio_test_lru, (int)WP_BIT(PG_lru))
WP_PAGE_QUERY(folio_test_writeback, WPQ_folio_test_writeback, (int)WP_BIT(PG_writeback))
WP_PAGE_QUERY(folio_test_locked, WPQ_folio_test_locked, S.we_lock || WP_BIT(PG_locked))
WP_PAGE_QUERY(folio_test_large, WPQ_folio_test_large, (int)WP_BIT(PG_head))
WP_PAGE_QUERY(folio_ref_count, WPQ_folio_ref_count, wp_refcount())
WP_PAGE_QUERY(folio_mapcount, WPQ_folio_mapcount, WP_BIT(PG_head) ? wp_large_mapcount() : wp_mapcount())
#define folio_test_anon(f) wp_folio_test_anon(__LINE__)
#define folio_test_ksm(f) wp_folio_test_ksm(__LINE__)
#define folio_test_swapcache(f) wp_folio_test_swapcache(__LINE__)
#define folio_test_lru(f) wp_folio_test_lru(__LINE__)
#define folio_test_writeback(f) wp_folio_test_writeback(__LINE__)
#define folio_test_locked(f) wp_folio_test_locked(__LINE__)
#define folio_test_large(f) wp_folio_test_large(__LINE__)
#define folio_ref_count(f) wp_folio_ref_count(__LINE__)
#define folio_mapcount(f) wp_folio_mapcount(__LINE__)
#define folio_nr_pages(f) wp_nr_pages()
#define folio_get(f) wp_get()
#define folio_put(f) wp_put()
#define folio_trylock(f) wp_trylock(__LINE__)
#define folio_lock(f) wp_lock()
#define folio_unlock(f) wp_unlock(__LINE__)
#define folio_mark_dirty(f) wp_set_dirty()
#define folio_raw_mapping(f) (wp_anon() ? NULL : (void *)&wp_mapping)
#define folio_free_swap(f) wp_free_swap()
#define try_to_free_swap(p) wp_free_swap()

#ifndef WPDIFF_MOVE_ANON_RMAP_ONLY
/* 5.19 - 6.6: under the folio lock, the anon_vma moves and the page becomes exclusive */
static inline void wp_page_move_anon_rmap(int line)
{
	wp_move_anon_rmap(line);
	wp_SetPageAnonExclusive(line);
}
#define page_move_anon_rmap(p, vma) wp_page_move_anon_rmap(__LINE__)
#endif

#endif
