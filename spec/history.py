"""The known findings: which era breaks which guarantee, shown on the smallest state.

This is the history the tool reproduces.  A run of the exhaustive engine
over the bounded space must find exactly these (era, invariant) pairs on
states the era admits -- no more, no fewer -- and each example here is a
smallest state (fewest holders, then fewest flags) on which it happens.
``wpdiff check`` reports a finding listed here as expected, anything else
as a divergence.

Some guarantees no era breaks: ``KEPT`` says, for each, how every era
keeps it.  They are there to hold changes to: a fast path or a kernel
patch that breaks one is caught against any base era (issue 15's five
rules a reviewer checks, and the rest of the catalogue no era breaks).
Every invariant is in exactly one of the two tables (tests/test_history.py).

>>> from wpdiff.spec.history import FINDINGS, expected
>>> expected("v5.9-rc4", "unlock-before-ptl"), expected("v5.9", "unlock-before-ptl")
(True, False)
"""

from dataclasses import dataclass
from typing import Dict, Tuple

from .eras import ORDER
from .state import FaultState, Page, PageKind, UffdWp, Vma, get, lru_batch, mapping, pin, swap_cache

# mm1 vmsplice()d its own page into a pipe, fork()ed mm0 and unmapped the
# page; mm0 (the child) now writes.  The CVE itself -- the child's reference
# taken after fork() through the shared PTE -- is the same state with
# taken_while_shared=True, which v5.8 no longer reaches.
PIPE_BEFORE_FORK = FaultState(page=Page(holders=(mapping(0), get(1))))
CVE_2020_29374 = FaultState(page=Page(holders=(mapping(0), get(1, taken_while_shared=True))))
# An io_uring fixed buffer (R/W long-term pin) of mm0, whose PTE mprotect()
# made read-only: the page is mm0's alone.
OWN_LONGTERM_PIN = FaultState(page=Page(holders=(mapping(0), pin(0, writable=True, longterm=True))))
# The page is mm0's alone, nothing else holds it: the seed patch reuses it.
SOLE_MAPPING = FaultState(page=Page(holders=(mapping(0),)))
# A fresh page still in this CPU's LRU batch; a page swapped back in by a read.
FRESH_IN_LRU_BATCH = FaultState(page=Page(holders=(mapping(0), lru_batch())))
SWAPPED_IN = FaultState(page=Page(holders=(mapping(0), swap_cache())))
# A 4-page folio of which mm0 maps two pages, nothing else holds it.
LARGE_OWN_FOLIO = FaultState(page=Page(nr_pages=4, holders=(mapping(0, 0), mapping(0, 1))))
# A uffd-wp VMA whose deferred TLB flush is still pending, and a page every
# era copies: a stale KSM page, whose stable node is gone.
UFFD_WP_PENDING_FLUSH = FaultState(
    page=Page(kind=PageKind.KSM, holders=(mapping(0),)), vma=Vma(uffd_wp=UffdWp.SYNC), tlb_flush_pending=True
)


@dataclass(frozen=True)
class Finding:
    era: str
    invariant: str
    example: FaultState
    story: str


def eras(first: str, last: str) -> Tuple[str, ...]:
    """The era ids from `first` to `last`, both included, in release order."""
    return ORDER[ORDER.index(first): ORDER.index(last) + 1]


def _each(eras: Tuple[str, ...], invariant: str, example: FaultState, story: str) -> Tuple[Finding, ...]:
    return tuple(Finding(e, invariant, example, story) for e in eras)


FINDINGS: Tuple[Finding, ...] = (
    *_each(
        eras("v5.7", "v5.8"),
        "no-missed-cow",
        PIPE_BEFORE_FORK,
        "mapcount 1 is taken for exclusivity while another mm's pipe still reads the page (CVE-2020-29374)",
    ),
    Finding(
        "v5.9-rc4",
        "unlock-before-ptl",
        SOLE_MAPPING,
        "unlock_page() after wp_page_reuse() dropped the PTL (fixed by be068f29034f)",
    ),
    *_each(
        eras("v5.9-rc4", "v5.18"),
        "no-wrong-cow",
        OWN_LONGTERM_PIN,
        "the pin's bias of 1024 counts as a foreign user: the page is copied away from its own pin",
    ),
    *_each(
        eras("v5.9-rc4", "v5.9"),
        "reuse-when-exclusive",
        FRESH_IN_LRU_BATCH,
        "the LRU batch's and the swap cache's references count as users (fixed in 5.18)",
    ),
    *_each(
        eras("v5.9-rc4", "v6.9"),
        "reuse-large-when-exclusive",
        LARGE_OWN_FOLIO,
        "every mapped page of a large folio holds a reference, so page_count() != 1 (fixed in 6.15)",
    ),
    *_each(
        eras("v5.7", "v5.9"),
        "flush-before-copy",
        UFFD_WP_PENDING_FLUSH,
        "no flush of the deferred uffd-wp TLB flush before copying (6ce64428d620, 5.12)",
    ),
)


def expected(era_id: str, invariant_id: str) -> bool:
    """Whether history says `era_id` breaks `invariant_id`."""
    return any(f.era == era_id and f.invariant == invariant_id for f in FINDINGS)


# How every era keeps each guarantee that none breaks.
KEPT: Dict[str, str] = {
    "unshare-read-only": "every unshare fault (5.19 on) reuses read-only, copies read-only or does nothing",
    "exclusive-consistent": "PG_anon_exclusive is set only on a page the count or the flag proved exclusive",
    "lock-balance": "every path releases the PTL once and the page lock it took",
    "refs-conserved": "every get_page() has its put_page(); a copy moves one mapping and one reference",
    "write-needs-vm-write": "maybe_mkwrite(): a FOLL_FORCE write gets a dirty, read-only PTE",
    "writable-anon-is-exclusive": "from 5.19 a reused page is exclusive, a copy is born exclusive",
    "private-write-copies": "wp_page_shared() and wp_pfn_shared() are taken only when vma_shared(); in a COW "
                            "mapping anything but an anonymous page is copied",
    "uffd-wp-reported-first": "the uffd-wp check opens do_wp_page() in every era, before the page is looked at; "
                              "from 6.7 async mode clears the bit instead",
    "called-with-locks": "the swap cache is freed and the anon_vma moved only after a successful trylock_page() "
                         "(or lock_page() in 5.7); the PTE and PG_anon_exclusive change before pte_unmap_unlock()",
    "no-stale-pte": "5.7's sleeping path rechecks pte_same() and retries; from 5.9 the handler never sleeps "
                    "before deciding",
    "ksm-never-written": "5.7 reuses a KSM page only after page_move_anon_rmap() made it anonymous; from 5.9 it "
                         "copies every KSM page",
}
