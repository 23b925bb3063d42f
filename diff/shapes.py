"""A small fixed-shape description of a fault state, for CrossHair's soundness search.

CrossHair explores a function's branches over symbolic arguments; a state
built from a fixed list of booleans and small ints -- which holders are
there, which flags are set -- lets it search the era models for broken
invariants branch by branch.  ``build()`` returns None for a combination no
state has.  The shape covers every kind of holder the history needs (own
and foreign GET references, taken while shared or not, own pins, the swap
cache and another mm's swap PTE, LRU batches, isolation, large folios, KSM)
and every fault front (unshare, FOLL_FORCE, uffd-wp modes, pending TLB
flush, a PTE that changes while the handler sleeps).
"""

from typing import Optional

from wpdiff.spec.state import (
    FaultKind,
    FaultState,
    Page,
    PageKind,
    Pte,
    StateError,
    UffdWp,
    Vma,
    get,
    isolation,
    ksm_stable_node,
    lru_batch,
    mapping,
    pin,
    swap_cache,
    swap_pte,
)

ARGS = (
    "other_maps: int, foreign_get: bool, taken_while_shared: bool, own_get: bool, own_pin: bool, "
    "swapcache: bool, swappte: bool, place: int, locked: bool, writeback: bool, anon_exclusive: bool, "
    "large: bool, own_extra: bool, unshare: bool, vm_write: bool, uffd: int, uffd_bit: bool, tlb: bool, "
    "pte_changes: bool, ksm: bool, stable: bool"
)
PRE = "0 <= other_maps <= 2 and 0 <= place <= 3 and 0 <= uffd <= 2"


def build(other_maps: int, foreign_get: bool, taken_while_shared: bool, own_get: bool, own_pin: bool,
          swapcache: bool, swappte: bool, place: int, locked: bool, writeback: bool, anon_exclusive: bool,
          large: bool, own_extra: bool, unshare: bool, vm_write: bool, uffd: int, uffd_bit: bool, tlb: bool,
          pte_changes: bool, ksm: bool, stable: bool) -> Optional[FaultState]:
    holders = [mapping(0)] + [mapping(mm) for mm in range(1, other_maps + 1)]
    if large and own_extra:
        holders.append(mapping(0, 1))
    if foreign_get:
        holders.append(get(3, taken_while_shared=taken_while_shared))
    if own_get:
        holders.append(get(0))
    if own_pin:
        holders.append(pin(0, longterm=True))
    if swapcache:
        holders.append(swap_cache())
        if swappte:
            holders.append(swap_pte(4))
    if place == 1:
        holders.append(lru_batch())
    elif place == 2:
        holders.append(lru_batch(remote=True))
    elif place == 3:
        holders.append(isolation())
    if ksm and stable:
        holders.append(ksm_stable_node())
    try:
        return FaultState(
            page=Page(
                kind=PageKind.KSM if ksm else PageKind.ANON,
                holders=tuple(holders),
                nr_pages=4 if large else 1,
                anon_exclusive=anon_exclusive,
                locked=locked,
                writeback=writeback,
                maybe_mapped_shared=large and other_maps > 0,
            ),
            vma=Vma(write=vm_write, uffd_wp=(UffdWp.OFF, UffdWp.SYNC, UffdWp.ASYNC)[uffd]),
            pte=Pte(uffd_wp=uffd_bit),
            fault=FaultKind.UNSHARE if unshare else FaultKind.WRITE,
            tlb_flush_pending=tlb,
            pte_changes_while_sleeping=pte_changes,
        )
    except StateError:
        return None
