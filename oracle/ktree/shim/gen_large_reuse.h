/*
 * 6.15's large-folio reuse (1da190f4d0a6): __wp_can_reuse_large_anon_folio()
 * (the user's code) reads the large mapcount and the maybe-mapped-shared
 * bit of _mm_ids, frees the swap cache under the folio lock, and compares
 * mapcount with refcount under folio_lock_large_mapcount().
 */
#ifndef WPDIFF_GEN_LARGE_REUSE_H
#define WPDIFF_GEN_LARGE_REUSE_H

#include "gen_folio_reuse.h"

WP_PAGE_QUERY(folio_large_mapcount, WPQ_folio_large_mapcount, wp_large_mapcount())
WP_PAGE_QUERY(folio_maybe_mapped_shared, WPQ_folio_maybe_mapped_shared, (int)WP_FIELD(mm_shared))
#define folio_large_mapcount(f) wp_folio_large_mapcount(__LINE__)
#define folio_maybe_mapped_shared(f) wp_folio_maybe_mapped_shared(__LINE__)
#define folio_test_large_maybe_mapped_shared(f) wp_folio_maybe_mapped_shared(__LINE__)
#define folio_lock_large_mapcount(f) do { } while (0)
#define folio_unlock_large_mapcount(f) do { } while (0)
#define folio_entire_mapcount(f) 0
#define folio_mm_id(f, i) 0
#define mm_id_of(mm) 0

#endif
