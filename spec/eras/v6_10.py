"""v6.10: a large folio is never reused unless the faulting page is exclusive.

With multi-size THP, PTE-mapped large anonymous folios became common.  Barry
Song showed that after fork() and the child's exit, the last page of a
folio to take a write fault in the parent passed the small-folio rule
(``page_count() == 1``: every other page of the folio already COWed away)
and reused the whole folio, keeping all of it alive for one page: a 1 GiB
test used 2 GiB.  Hildenbrand's simpler form was merged (781a3ca5c345,
hash from the mm tree): ``wp_can_reuse_anon_folio()`` returns false for any
large folio.  Reuse would only be right if no other page of the folio were
mapped; rather than special-case that, copy the page and let the large
folio go sooner.

So a large folio is reused only when the faulting page is already
PG_anon_exclusive; otherwise every write fault copies one page out of it --
including a folio that only the faulting mm maps, which 6.15 fixes.
"""

from ..kernel import Fault
from ..outcome import Outcome
from . import v6_7

ID = "v6.10"
RELEASES = "6.10 - 6.14"
TITLE = "large folios never reused unless the faulting page is exclusive"
COMMITS = ("781a3ca5c345",)


def wp_can_reuse_anon_folio(f: Fault) -> bool:
    if f.folio_test_large():
        return False
    return v6_7.wp_can_reuse_anon_folio(f)


def do_wp_page(f: Fault) -> Outcome:
    return v6_7.wp_fault(f, wp_can_reuse_anon_folio)
