"""A small fixed-shape description of a fault state, for CrossHair's soundness search.

CrossHair explores a function's branches over symbolic arguments; a state
built from a fixed list of booleans -- which holders are there, which flags
are set -- lets it search the era models for broken invariants branch by
branch.  The shape covers every kind of holder the history needs (own and
foreign GET references, taken while shared or not, own pins, the swap cache
and another mm's swap PTE, LRU batches, isolation, large folios, KSM, a
file page and the zero page) and every fault front (unshare, FOLL_FORCE, a
MAP_SHARED mapping, uffd-wp modes, pending TLB flush, a PTE that changes
while the handler sleeps).  A file page or the zero page in a private
mapping is what ``private-write-copies`` needs; both are behind one more
gate, ``other_kind``, so that anonymous pages stay the common case.  Three
qualifiers reach states a reviewer's mistakes break on (issue 15): a file
page's PG_checked (``fs_checked``: the bit PG_swapcache shares, read as the
swap cache by a test that forgets PG_swapbacked), another mm's FOLL_PIN
rather than its GET (``foreign_pin``: a refcount read modulo the pin bias),
and the other mms mapping the second page of a large folio, beside the
faulting mm, rather than the faulting page (``elsewhere``: the folio is
shared though the page is not).

Every combination of the arguments is a state.  An argument that qualifies
another one (``stable`` a KSM page, ``pte_changes`` a lock someone else
holds) is read only where it applies, so the search never builds a state
that cannot exist.  Two arguments gate the rest: ``holders_besides_maps``
the references other than mappings, ``unusual_fault`` the fault fronts.
CrossHair's path search takes a branch's True side one time in four unless
its coverage heuristic leans the other way (``CoveragePathingOracle`` in
crosshair/pathing_oracle.py), so without the gates a state with few holders
on a plain write fault -- where most of the history is -- would be rare
among its paths; with them it is common.  The price: a gate open with
nothing behind it builds a state again.

Arguments are only branched on (``if``, ``bool()``), never passed on as
values: the search builds the state untraced and resumes tracing for each
read alone (``symbolic_search._Read``), which explores about four times as
many paths in its budget as building it traced (2,240 against about 600 in
30 s, measured on two cores).
"""

import inspect

from wpdiff.spec.state import (
    FaultKind,
    FaultState,
    Page,
    PageKind,
    Pte,
    UffdWp,
    Vma,
    get,
    isolation,
    ksm_stable_node,
    lru_batch,
    mapping,
    page_cache,
    pin,
    swap_cache,
    swap_pte,
)

# The holders, made once: built inside the search, each would cost CrossHair
# a traced dataclass validation per path.
_MAPS = (mapping(0), mapping(1), mapping(2))
# the other mms map the folio's second page, which the faulting mm maps too
_ELSEWHERE = (mapping(0), mapping(0, 1), mapping(1, 1), mapping(2, 1))
_OWN_SECOND_PAGE = mapping(0, 1)
_FOREIGN_GET, _FOREIGN_GET_SHARED = get(3), get(3, taken_while_shared=True)
_FOREIGN_PIN, _FOREIGN_PIN_SHARED = pin(3), pin(3, taken_while_shared=True)
_OWN_GET, _OWN_PIN = get(0), pin(0, longterm=True)
_SWAP_CACHE, _SWAP_PTE = swap_cache(), swap_pte(4)
_LOCAL_BATCH, _REMOTE_BATCH = lru_batch(), lru_batch(remote=True)
_ISOLATION = isolation()
_STABLE_NODE = ksm_stable_node()
_PAGE_CACHE = page_cache()
_ZERO_PAGE = Page(kind=PageKind.ZERO)


def build(another_mm: bool, third_mm: bool, ksm: bool, stable: bool, other_kind: bool, zero: bool, fs_checked: bool,
          large: bool, own_extra: bool, elsewhere: bool, anon_exclusive: bool, holders_besides_maps: bool,
          foreign_get: bool, foreign_pin: bool, taken_while_shared: bool, own_get: bool, own_pin: bool, swapcache: bool, swappte: bool, writeback: bool,
          lru_batched: bool, remote_cpu: bool, isolated: bool, unusual_fault: bool, unshare: bool, force: bool,
          shared_vma: bool, uffd_wp: bool, uffd_async: bool, uffd_bit: bool, tlb: bool, locked: bool,
          pte_changes: bool) -> FaultState:
    kind = PageKind.KSM if ksm else (PageKind.ZERO if zero else PageKind.FILE) if other_kind else PageKind.ANON
    anon = kind is PageKind.ANON or kind is PageKind.KSM
    large = kind is PageKind.ANON and bool(large)  # large folios are anonymous
    # a MAP_SHARED mapping holds file pages or pfns, and faults there only as writes with VM_WRITE
    shared = bool(unusual_fault) and bool(shared_vma) and not anon
    locked = bool(unusual_fault) and bool(locked) and kind is not PageKind.ZERO
    uffd = UffdWp.OFF
    if unusual_fault and uffd_wp:
        uffd = UffdWp.ASYNC if uffd_async else UffdWp.SYNC
    vma = Vma(write=shared or not (unusual_fault and force), shared=shared, uffd_wp=uffd)
    pte = Pte(uffd_wp=uffd is not UffdWp.OFF and bool(uffd_bit))
    fault = FaultKind.UNSHARE if unusual_fault and unshare and not shared else FaultKind.WRITE
    tlb = bool(unusual_fault) and bool(tlb)
    if kind is PageKind.ZERO:  # no struct page: no holders, no flags
        return FaultState(page=_ZERO_PAGE, vma=vma, pte=pte, fault=fault, tlb_flush_pending=tlb)
    other_maps = (2 if third_mm else 1) if another_mm else 0
    if large and other_maps and elsewhere:
        holders = list(_ELSEWHERE[: other_maps + 2])
    else:
        holders = list(_MAPS[: other_maps + 1])
        if large and own_extra:
            holders.append(_OWN_SECOND_PAGE)
    if kind is PageKind.FILE:
        holders.append(_PAGE_CACHE)
    under_writeback = False
    if holders_besides_maps:
        if foreign_get:
            # branch here rather than pass the symbolic bool on: holders with
            # concrete fields sort and validate without forking the search
            if foreign_pin:
                holders.append(_FOREIGN_PIN_SHARED if taken_while_shared else _FOREIGN_PIN)
            else:
                holders.append(_FOREIGN_GET_SHARED if taken_while_shared else _FOREIGN_GET)
        if own_get:
            holders.append(_OWN_GET)
        if own_pin:
            holders.append(_OWN_PIN)
        if anon and swapcache:
            holders.append(_SWAP_CACHE)
            if not large and swappte:  # swap PTEs of large folios are outside the modelled bounds
                holders.append(_SWAP_PTE)
            under_writeback = bool(writeback)  # an anonymous page is written back to swap
        elif kind is PageKind.FILE:
            under_writeback = bool(writeback)  # ... a file page to its file
        if lru_batched:
            holders.append(_REMOTE_BATCH if remote_cpu else _LOCAL_BATCH)
        elif isolated:
            holders.append(_ISOLATION)
    if ksm and stable:
        holders.append(_STABLE_NODE)
    return FaultState(
        page=Page(
            kind=kind,
            holders=tuple(holders),
            nr_pages=4 if large else 1,
            anon_exclusive=kind is PageKind.ANON and bool(anon_exclusive),
            locked=locked,
            writeback=under_writeback,
            checked=kind is PageKind.FILE and bool(fs_checked),
            maybe_mapped_shared=large and other_maps > 0,
        ),
        vma=vma,
        pte=pte,
        fault=fault,
        tlb_flush_pending=tlb,
        pte_changes_while_sleeping=locked and bool(pte_changes),  # it sleeps only on someone else's lock
    )


ARGS = tuple(inspect.signature(build).parameters)
