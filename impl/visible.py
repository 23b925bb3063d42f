"""The kernel-visible bounded space: every combination of what the fast paths read.

Where ``wpdiff.spec.space`` varies *who* holds the page (owners matter to
the invariants), this space varies *what the kernel sees*: each combination
of page flags and counters within :class:`VisibleBounds`, as one canonical
abstract state (``concretize.witness``).  Faithfulness is checked here: the
fast path on the word, the batch path on the word and the era's model on
the witness must agree exactly.

The space, documented:

- page: the zero page; an order-0 anonymous page; a KSM page with and
  without a stable node; a file page; a 4-page anonymous folio (faulting
  page mapped once or twice, the other pages' mappings 0-3 with their
  largest count 1 or 2, the _mm_ids shared bit clear or set);
- every combination of the six free page flags -- PG_locked, PG_dirty,
  PG_lru, PG_owner_priv_1 (PG_swapcache or PG_checked), PG_writeback,
  PG_anon_exclusive (PG_head and PG_swapbacked follow from the kind);
- refcount 0..``refcount``, plus up to ``pins`` pins (1024 each) on small
  folios; mapcount 1..``mapcount``; swap count 0..``swapcount``;
- every environment choice: the page in this CPU's LRU batch or not, the
  PTE changing while the handler sleeps (on a locked page) or not, a TLB
  flush pending or not;
- under a write, a FOLL_FORCE write (no VM_WRITE), an unshare fault, and a
  write in a uffd-wp VMA with a TLB flush pending;
  and, for a set of pages that reaches every decision, every combination of
  fault kind, VM_WRITE, MAP_SHARED, uffd-wp mode and PTE bit, pending TLB
  flush, PTE dirty and young.

Words no well-formed state maps to (a refcount below the holders, a swap
count without the swap cache, ...) are not in the space.  Mapcount 0 is
one of them -- the faulting PTE maps the page -- yet the bounds name it:
:func:`unmapped_words` are the order-0 pages of the space with ``_mapcount``
-1 and every refcount from 0, on which the fast paths are compared with
the models run on the word (``wordfault``), as no state stands for them.
"""

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Iterator, List, Tuple

from wpdiff.spec.state import GUP_PIN_COUNTING_BIAS, FaultState

from .concretize import WitnessError, witness
from .layout import (
    PAGE_MAPPING_ANON,
    PAGE_MAPPING_KSM,
    PTE_ACCESSED,
    PTE_DIRTY,
    PTE_SPECIAL,
    PTE_UFFD_WP,
    V5_10,
    VM_SHARED,
    VM_UFFD_WP,
    VM_WRITE,
    pack,
)

_ERA = "v5.9"  # witnesses are built from words in this era's numbering; the states are era-free
_FREE_FLAGS = (V5_10.locked, V5_10.dirty, V5_10.lru, V5_10.owner_priv_1, V5_10.writeback, V5_10.anon_exclusive)


@dataclass(frozen=True)
class VisibleBounds:
    refcount: int = 8
    pins: int = 2
    mapcount: int = 4
    swapcount: int = 2

    def __post_init__(self) -> None:
        for name, top in (("refcount", 1000), ("pins", 3), ("mapcount", 4), ("swapcount", 3)):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= top:
                raise ValueError(f"VisibleBounds.{name}: expected an int in 0..{top}, got {value!r}")


def _flag_words() -> List[int]:
    return [sum(bit << shift for bit, shift in zip(bits, _FREE_FLAGS)) for bits in itertools.product((0, 1), repeat=6)]


def _refcounts(bounds: VisibleBounds, small: bool) -> List[int]:
    pins = range(bounds.pins + 1) if small else range(1)
    return [p * GUP_PIN_COUNTING_BIAS + r for p in pins for r in range(bounds.refcount + 1)]


_YOUNG = 1 << PTE_ACCESSED
_CORE = (  # (vma, unshare, TLB flush pending): a write, a FOLL_FORCE write, an unshare, and a write in a
    # uffd-wp VMA with a deferred TLB flush pending
    ((1 << VM_WRITE), 0, 0),
    (0, 0, 0),
    ((1 << VM_WRITE), 1, 0),
    ((1 << VM_WRITE) + (1 << VM_UFFD_WP), 0, 1),
)


def _small_page_words(bounds: VisibleBounds, mapcounts: Iterable[int], mapped: bool) -> Iterator[int]:
    """Order-0 pages: every kind, free flag, mapcount, swap count and LRU
    batch choice; with `mapped`, only refcounts that cover the holders."""
    swapbacked = 1 << V5_10.swapbacked
    swapcache, writeback, lru, exclusive = (1 << V5_10.owner_priv_1, 1 << V5_10.writeback, 1 << V5_10.lru,
                                            1 << V5_10.anon_exclusive)
    kinds = [  # (page->mapping, implied flags, stable node)
        (PAGE_MAPPING_ANON, swapbacked, 0),
        (PAGE_MAPPING_KSM, swapbacked, 0),
        (PAGE_MAPPING_KSM, swapbacked, 1),
        (0, 0, 0),
    ]
    for (mapping, implied, stable), flags, mapcount, swapcount, local in itertools.product(
        kinds, _flag_words(), mapcounts, range(bounds.swapcount + 1), (0, 1)
    ):
        anon = mapping != 0
        in_swap = anon and bool(flags & swapcache)
        if (flags & exclusive and mapping != PAGE_MAPPING_ANON) or (local and flags & lru):
            continue
        if swapcount and not in_swap or (anon and flags & writeback and not in_swap):
            continue
        least = mapcount + in_swap + (not flags & lru) + (not anon) if mapped else 0
        for refcount in _refcounts(bounds, small=True):
            if refcount % GUP_PIN_COUNTING_BIAS >= least:
                yield pack(flags=flags + implied, mapping=mapping, refcount=refcount, mapcount=mapcount - 1,
                           large_mapcount=mapcount - 1, swapcount=swapcount, stable_node=stable, local_batch=local)


def _page_words(bounds: VisibleBounds) -> Iterator[int]:
    """Page fields only (no PTE / VMA / fault bits), skipping at once the
    combinations no state has, so that few reach the witness."""
    swapbacked, head = 1 << V5_10.swapbacked, 1 << V5_10.head
    swapcache, writeback, lru = 1 << V5_10.owner_priv_1, 1 << V5_10.writeback, 1 << V5_10.lru
    yield from _small_page_words(bounds, range(1, bounds.mapcount + 1), mapped=True)
    large = [(m, extra, others) for m in (1, 2) for extra, others in ((0, 0), (1, 1), (2, 1), (3, 1), (2, 2))]
    for (mapcount, extra, others), flags, shared, local in itertools.product(large, _flag_words(), (0, 1), (0, 1)):
        if (local and flags & lru) or (flags & writeback and not flags & swapcache):
            continue
        least = mapcount + extra + 4 * bool(flags & swapcache) + (not flags & lru)
        for refcount in _refcounts(bounds, small=False):
            if refcount >= least:
                yield pack(flags=flags + swapbacked + head, mapping=PAGE_MAPPING_ANON, refcount=refcount,
                           mapcount=mapcount - 1, large_mapcount=mapcount + extra - 1, order=2,
                           others_mapcount=others, mm_shared=shared, local_batch=local)


def _front_pages() -> List[int]:
    swapbacked, lru = 1 << V5_10.swapbacked, 1 << V5_10.lru
    return [
        0,  # the zero page (with _PAGE_SPECIAL)
        pack(flags=swapbacked + lru, mapping=PAGE_MAPPING_ANON, refcount=1),
        pack(flags=swapbacked + lru + (1 << V5_10.anon_exclusive), mapping=PAGE_MAPPING_ANON, refcount=1),
        pack(flags=swapbacked + lru, mapping=PAGE_MAPPING_ANON, refcount=2, mapcount=1, large_mapcount=1),
        pack(flags=swapbacked + lru + 1, mapping=PAGE_MAPPING_ANON, refcount=1),
        pack(flags=lru, refcount=2),  # a file page
        pack(flags=swapbacked + lru, mapping=PAGE_MAPPING_KSM, refcount=1, stable_node=1),
    ]


def _core_faults(pages: Iterable[int]) -> Iterator[int]:
    young = pack(pte=_YOUNG)
    for page in pages:
        for vma, unshare, tlb in _CORE:
            yield page + young + pack(vma=vma, unshare=unshare, tlb_flush_pending=tlb)
            if page & 1:  # PG_locked: the PTE may change while the handler sleeps
                yield page + young + pack(vma=vma, unshare=unshare, tlb_flush_pending=tlb, pte_changes=1)


def unmapped_words(bounds: VisibleBounds = VisibleBounds()) -> Tuple[int, ...]:
    """The order-0 pages of the space with mapcount 0 and any refcount from 0
    (no state has them), under the core faults."""
    return tuple(_core_faults(_small_page_words(bounds, (0,), mapped=False)))


def _words(bounds: VisibleBounds) -> Iterator[int]:
    yield from _core_faults(_page_words(bounds))
    uffd = ((0, 0, 0), (1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1))  # (VM_UFFD_WP, async, PTE bit)
    for page in _front_pages():
        special = (1 << PTE_SPECIAL) if page == 0 else 0
        for write, shared, (wp, asynchronous, bit), tlb, dirty, young_, unshare, changes in itertools.product(
            (0, 1), (0, 1), uffd, (0, 1), (0, 1), (0, 1), (0, 1), (0, 1) if page & 1 else (0,)
        ):
            pte = special + (young_ << PTE_ACCESSED) + (dirty << PTE_DIRTY) + (bit << PTE_UFFD_WP)
            vma = (write << VM_WRITE) + (shared << VM_SHARED) + (wp << VM_UFFD_WP)
            yield page + pack(pte=pte, vma=vma, uffd_async=asynchronous, unshare=unshare,
                              tlb_flush_pending=tlb, pte_changes=changes)


@lru_cache(maxsize=4)
def visible_states(bounds: VisibleBounds = VisibleBounds()) -> Tuple[FaultState, ...]:
    """One canonical abstract state for each valid word of the space."""
    found = {}
    for word in _words(bounds):
        if word in found:
            continue
        try:
            found[word] = witness(_ERA, word)
        except WitnessError:
            found[word] = None
    return tuple(s for s in found.values() if s is not None)
