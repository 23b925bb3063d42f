"""v6.9: a large folio is never reused unless the faulting page is exclusive.

With multi-size THP, PTE-mapped large anonymous folios became common.  Barry
Song showed that after fork() and the child's exit, the last page of a
folio to take a write fault in the parent passed the small-folio rule
(``page_count() == 1``: every other page of the folio already COWed away)
and reused the whole folio, keeping all of it alive for one page: a 1 GiB
test used 2 GiB.  Hildenbrand's simpler form was merged: ``cd197c3a2040``
("mm: prohibit the last subpage from reusing the entire large folio",
merged for 6.9; ``781a3ca5c345`` is its id in the mm tree before it was
rebased) makes ``wp_can_reuse_anon_folio()`` return false for any large
folio.  Reuse would only be right if no other page of the folio were
mapped; rather than special-case that, copy the page and let the large
folio go sooner.

So a large folio is reused only when the faulting page is already
PG_anon_exclusive; otherwise every write fault copies one page out of it --
including a folio that only the faulting mm maps, which 6.15 fixes.

Checked against the released trees: 6.8 lacks the rule, 6.9 has it, and
``do_wp_page()`` is the same through 6.14.  This era was called ``v6.10``
before that check; the name is kept as an alias.  Three page-flag
numberings fall inside the span (6.9: PG_owner_priv_1 12,
PG_mappedtodisk 17, PG_swapbacked 19; 6.10 - 6.11: 11 / 16 / 18; from 6.12:
10 / 11 / 17); the era's words use the numbering of its first release,
6.9 (see ``wpdiff.impl.layout.numbering``).
"""

from ..kernel import KernelPrimitives, R
from . import v6_7

ID = "v6.9"
FIRST = "6.9"
TITLE = "large folios never reused unless the faulting page is exclusive"
COMMITS = ("cd197c3a2040",)
FEATURES = v6_7.FEATURES | {"no-large-reuse"}


def wp_can_reuse_anon_folio(f: KernelPrimitives[R]) -> bool:
    if f.folio_test_large():
        return False
    return v6_7.wp_can_reuse_anon_folio(f)


def do_wp_page(f: KernelPrimitives[R]) -> R:
    return v6_7.wp_fault(f, wp_can_reuse_anon_folio)
