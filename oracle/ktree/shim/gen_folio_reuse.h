/*
 * 6.7's wp_can_reuse_anon_folio() (the user's code): folio_move_anon_rmap()
 * only moves the anon_vma; do_wp_page() marks the page exclusive itself,
 * under the PTL only.  Async uffd-wp (UFFD_FEATURE_WP_ASYNC) clears the PTE
 * bit and goes on.
 */
#ifndef WPDIFF_GEN_FOLIO_REUSE_H
#define WPDIFF_GEN_FOLIO_REUSE_H

#define WPDIFF_MOVE_ANON_RMAP_ONLY 1
#include "gen_folio.h"
#define folio_move_anon_rmap(f, vma) wp_move_anon_rmap(__LINE__)

#endif
