"""Hypothesis strategies for well-formed fault states.

Only states that can exist are generated (a mapped page holds its
references, the faulting mm maps the page, ...), so shrinking lands on real
states.  Given an era, only the states that era admits are generated: the
draws already follow the era's features (no unshare fault before 5.19, no
PG_anon_exclusive, no async uffd-wp before 6.7) and the rest is filtered
with the era's reachability rules.

>>> from hypothesis import given, settings
>>> from wpdiff.spec import ERAS
>>> from wpdiff.spec.strategies import fault_states
>>> @settings(max_examples=20, database=None)
... @given(fault_states(ERAS["v6.15"]))
... def test(state):
...     assert ERAS["v6.15"].admits(state)
>>> test()
"""

from typing import List, Optional

from hypothesis import assume
from hypothesis import strategies as st

from .eras import Era
from .eras.reachable import ORDER
from .state import (
    FaultKind,
    FaultState,
    Holder,
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
    page_cache,
    pin,
    swap_cache,
    swap_pte,
)

SELF = 0


def _since(era: Optional[Era], era_id: str) -> bool:
    return era is None or ORDER.index(era.id) >= ORDER.index(era_id)


@st.composite
def gup_references(draw, owners: List[int]) -> Holder:
    owner = draw(st.sampled_from(owners))
    writable = draw(st.booleans())
    shared = False if writable else draw(st.booleans())
    if draw(st.booleans()):
        return get(owner, writable=writable, taken_while_shared=shared)
    return pin(owner, writable=writable, longterm=draw(st.booleans()), taken_while_shared=shared)


@st.composite
def pages(draw, era: Optional[Era] = None, other_mms: int = 3, max_gup: int = 3) -> Page:
    """A well-formed page mapped (at least) by mm 0 at subpage 0."""
    kind = draw(st.sampled_from(PageKind))
    if kind is PageKind.ZERO:
        return Page(kind=kind)
    others = list(range(1, other_mms + 1))
    nr_pages = draw(st.sampled_from([1, 2, 4])) if kind is PageKind.ANON else 1
    holders: List[Holder] = [mapping(SELF)]
    holders += [mapping(SELF, i) for i in range(1, nr_pages) if draw(st.booleans())]
    mappers = draw(st.lists(st.sampled_from(others), unique=True, max_size=other_mms)) if others else []
    holders += [mapping(mm, draw(st.integers(0, nr_pages - 1))) for mm in mappers]
    swapcache = kind in (PageKind.ANON, PageKind.KSM) and draw(st.booleans())
    if swapcache:
        holders.append(swap_cache())
        if nr_pages == 1:
            free = [mm for mm in others if mm not in mappers]
            if free:
                holders += [swap_pte(mm) for mm in draw(st.lists(st.sampled_from(free), unique=True))]
    holders += draw(st.sampled_from([[], [lru_batch()], [lru_batch(remote=True)], [isolation()]]))
    holders += draw(st.lists(gup_references([SELF] + others), max_size=max_gup))
    if kind is PageKind.KSM and draw(st.booleans()):
        holders.append(ksm_stable_node())
    if kind is PageKind.FILE:
        holders.append(page_cache())
    shared_mms = len({h.owner for h in holders if h.kind.value == "mapping"}) > 1
    try:
        return Page(
            kind=kind,
            holders=tuple(holders),
            nr_pages=nr_pages,
            anon_exclusive=kind is PageKind.ANON and _since(era, "v5.19") and draw(st.booleans()),
            locked=draw(st.booleans()),
            writeback=(swapcache or kind is PageKind.FILE) and draw(st.booleans()),
            dirty=draw(st.booleans()),
            checked=kind is PageKind.FILE and draw(st.booleans()),
            maybe_mapped_shared=nr_pages > 1 and (shared_mms or draw(st.booleans())),
        )
    except StateError:
        assume(False)
        raise  # unreachable: assume(False) raises


@st.composite
def fault_states(draw, era: Optional[Era] = None, other_mms: int = 3, max_gup: int = 3) -> FaultState:
    """A well-formed fault state; admitted by `era` if one is given."""
    page = draw(pages(era, other_mms, max_gup))
    private_only = page.anon
    shared = not private_only and draw(st.booleans())
    unshare = not shared and _since(era, "v5.19") and draw(st.booleans())
    modes = [UffdWp.OFF, UffdWp.SYNC] + ([UffdWp.ASYNC] if _since(era, "v6.7") else [])
    mode = draw(st.sampled_from(modes))
    try:
        state = FaultState(
            page=page,
            vma=Vma(write=shared or draw(st.booleans()), shared=shared, uffd_wp=mode),
            pte=Pte(dirty=draw(st.booleans()), young=draw(st.booleans()), uffd_wp=mode is not UffdWp.OFF and draw(st.booleans())),
            fault=FaultKind.UNSHARE if unshare else FaultKind.WRITE,
            tlb_flush_pending=draw(st.booleans()),
            pte_changes_while_sleeping=page.locked and draw(st.booleans()),
        )
    except StateError:
        assume(False)
        raise
    if era is not None:
        assume(era.admits(state))
    return state
