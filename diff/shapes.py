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
# The ranges; an argument that only qualifies another one is False when that
# one is, so the search does not explore the same state twice.  (Ruling out
# every combination no state has this way, too, found less within the
# budget when measured: CrossHair then spends its paths on the precondition.)
PRE = (
    "0 <= other_maps <= 2 and 0 <= place <= 3 and 0 <= uffd <= 2"
    " and (ksm or not stable) and (large or not own_extra) and (foreign_get or not taken_while_shared)"
    " and (swapcache or not swappte)"
)


# The holders, made once: built inside the search, each would cost CrossHair
# a traced dataclass validation per path.
_MAPS = (mapping(0), mapping(1), mapping(2))
_OWN_SECOND_PAGE = mapping(0, 1)
_FOREIGN_GET, _FOREIGN_GET_SHARED = get(3), get(3, taken_while_shared=True)
_OWN_GET, _OWN_PIN = get(0), pin(0, longterm=True)
_SWAP_CACHE, _SWAP_PTE = swap_cache(), swap_pte(4)
_PLACE = ((), (lru_batch(),), (lru_batch(remote=True),), (isolation(),))
_STABLE_NODE = ksm_stable_node()


def build(other_maps: int, foreign_get: bool, taken_while_shared: bool, own_get: bool, own_pin: bool,
          swapcache: bool, swappte: bool, place: int, locked: bool, writeback: bool, anon_exclusive: bool,
          large: bool, own_extra: bool, unshare: bool, vm_write: bool, uffd: int, uffd_bit: bool, tlb: bool,
          pte_changes: bool, ksm: bool, stable: bool) -> Optional[FaultState]:
    holders = list(_MAPS[: other_maps + 1])
    if large and own_extra:
        holders.append(_OWN_SECOND_PAGE)
    if foreign_get:
        # branch here rather than pass the symbolic bool on: holders with
        # concrete fields sort and validate without forking the search
        holders.append(_FOREIGN_GET_SHARED if taken_while_shared else _FOREIGN_GET)
    if own_get:
        holders.append(_OWN_GET)
    if own_pin:
        holders.append(_OWN_PIN)
    if swapcache:
        holders.append(_SWAP_CACHE)
        if swappte:
            holders.append(_SWAP_PTE)
    holders.extend(_PLACE[place])
    if ksm and stable:
        holders.append(_STABLE_NODE)
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
