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

from functools import lru_cache
from typing import List, Optional, Tuple

from hypothesis import assume
from hypothesis import strategies as st

from .eras import Era
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

# Each optional feature is absent more often than present, so that the
# simple states -- where most historical findings live -- come up often,
# while any combination stays reachable.  Strategies are built once: building
# them inside a draw costs more than the draw.
sometimes = st.sampled_from([False, False, True])
booleans = st.booleans()
_KINDS = st.sampled_from([PageKind.ANON, PageKind.ANON, PageKind.KSM, PageKind.FILE, PageKind.ZERO])
_SIZES = st.sampled_from([1, 1, 4])
_PLACES = st.sampled_from([[], [lru_batch()], [], [lru_batch(remote=True)], [], [isolation()]])


@lru_cache(maxsize=None)
def some(choices: Tuple[int, ...], max_size: int) -> st.SearchStrategy:
    """A list of `choices` that is empty half of the time."""
    return st.one_of(st.just([]), st.lists(st.sampled_from(choices), min_size=1, max_size=max_size))


@lru_cache(maxsize=None)
def _gups(owners: Tuple[int, ...], max_size: int) -> st.SearchStrategy:
    return st.one_of(st.just([]), st.lists(gup_references(list(owners)), min_size=1, max_size=max_size))


@lru_cache(maxsize=None)
def _subpage(nr_pages: int) -> st.SearchStrategy:
    return st.integers(0, nr_pages - 1)


@lru_cache(maxsize=None)
def _modes(asynchronous: bool) -> st.SearchStrategy:
    return st.sampled_from([UffdWp.OFF, UffdWp.OFF, UffdWp.SYNC] + ([UffdWp.ASYNC] if asynchronous else []))


def _has(era: Optional[Era], feature: str) -> bool:
    """Whether states of `era` (any era, if None) may use `feature`."""
    return era is None or era.has(feature)


@st.composite
def gup_references(draw, owners: List[int]) -> Holder:
    owner = draw(_owner(tuple(owners)))
    writable = draw(booleans)
    shared = False if writable else draw(booleans)
    if draw(booleans):
        return get(owner, writable=writable, taken_while_shared=shared)
    return pin(owner, writable=writable, longterm=draw(booleans), taken_while_shared=shared)


@lru_cache(maxsize=None)
def _owner(owners: Tuple[int, ...]) -> st.SearchStrategy:
    return st.sampled_from(owners)


@st.composite
def pages(draw, era: Optional[Era] = None, other_mms: int = 3, max_gup: int = 3) -> Page:
    """A well-formed page mapped (at least) by mm 0 at subpage 0."""
    kind = draw(_KINDS)
    if kind is PageKind.ZERO:
        return Page(kind=kind)
    others = tuple(range(1, other_mms + 1))
    nr_pages = draw(_SIZES) if kind is PageKind.ANON else 1
    holders: List[Holder] = [mapping(SELF)]
    holders += [mapping(SELF, i) for i in range(1, nr_pages) if draw(booleans)]
    mappers = sorted(set(draw(some(others, other_mms)))) if others else []
    holders += [mapping(mm, draw(_subpage(nr_pages))) for mm in mappers]
    swapcache = kind in (PageKind.ANON, PageKind.KSM) and draw(sometimes)
    if swapcache:
        holders.append(swap_cache())
        free = tuple(mm for mm in others if mm not in mappers)
        if nr_pages == 1 and free:
            holders += [swap_pte(mm) for mm in sorted(set(draw(some(free, len(free)))))]
    holders += draw(_PLACES)
    holders += draw(_gups((SELF,) + others, max_gup))
    if kind is PageKind.KSM and draw(booleans):
        holders.append(ksm_stable_node())
    if kind is PageKind.FILE:
        holders.append(page_cache())
    shared_mms = len({h.owner for h in holders if h.kind.value == "mapping"}) > 1
    try:
        return Page(
            kind=kind,
            holders=tuple(holders),
            nr_pages=nr_pages,
            anon_exclusive=kind is PageKind.ANON and _has(era, "anon-exclusive") and draw(sometimes),
            locked=draw(sometimes),
            writeback=(swapcache or kind is PageKind.FILE) and draw(sometimes),
            dirty=draw(booleans),
            checked=kind is PageKind.FILE and draw(booleans),
            maybe_mapped_shared=nr_pages > 1 and (shared_mms or draw(sometimes)),
        )
    except StateError:
        assume(False)
        raise  # unreachable: assume(False) raises


@st.composite
def fault_states(draw, era: Optional[Era] = None, other_mms: int = 3, max_gup: int = 3) -> FaultState:
    """A well-formed fault state; admitted by `era` if one is given."""
    page = draw(pages(era, other_mms, max_gup))
    private_only = page.anon
    shared = not private_only and draw(sometimes)
    unshare = not shared and _has(era, "unshare") and draw(sometimes)
    mode = draw(_modes(_has(era, "uffd-wp-async")))
    try:
        state = FaultState(
            page=page,
            vma=Vma(write=shared or not draw(sometimes), shared=shared, uffd_wp=mode),
            pte=Pte(dirty=draw(booleans), young=draw(booleans), uffd_wp=mode is not UffdWp.OFF and draw(booleans)),
            fault=FaultKind.UNSHARE if unshare else FaultKind.WRITE,
            tlb_flush_pending=draw(sometimes),
            pte_changes_while_sleeping=page.locked and draw(sometimes),
        )
    except StateError:
        assume(False)
        raise
    if era is not None:
        assume(era.admits(state))
    return state
