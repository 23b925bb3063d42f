"""Hypothesis strategies for well-formed fault states.

Only states that can exist are generated (a mapped page holds its
references, the faulting mm maps the page, ...), so shrinking lands on real
states.  Given an era, only the states that era admits are generated: the
draws already follow the era's features (no unshare fault before 5.19, no
PG_anon_exclusive, no async uffd-wp before 6.7) and the rest is filtered
with the era's reachability rules.

A third of the draws are general (:func:`pages`: any kind, any holders);
the rest are *focused* (:func:`focused_pages`): the combinations the
invariants weigh, each drawn often where a general draw meets it perhaps
once in a few hundred -- an order-0 page the faulting mm alone maps, with
the swap cache (and other mms' swap PTEs naming it), an LRU batch and at
most one GUP reference; a large folio mapped two or more times by the
faulting mm with one other holder (another mm's mapping of a page the
faulting mm maps too, not the faulting one, among the most often: the
folio is shared though the page is not); a file page (with PG_checked, which shares
the PG_swapcache bit, as often as not) or the zero page in a private
mapping; a KSM page mapped once.  The focused fronts write to a uffd-wp
PTE, unshare and FOLL_FORCE more often.  The Hypothesis engine's default
budget catches a broken fast path in every run only with these, and with
a look one edit away from each state where a change decides differently
(``diff.regression.Around``): issue 15 counted one to three of 23 missed
per run before; ``python -m bench.power`` measures it.

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
def _modes(asynchronous: bool, focused: bool = False) -> st.SearchStrategy:
    modes = [UffdWp.OFF] * (1 if focused else 2) + [UffdWp.SYNC] + ([UffdWp.ASYNC] if asynchronous else [])
    return st.sampled_from(modes)


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
def exclusive_pages(draw, era: Optional[Era] = None) -> Page:
    """An order-0 anonymous page that only the faulting mm maps, with what
    the reuse rules weigh: the swap cache and other mms' swap PTEs naming
    it, an LRU batch or isolation, at most one GUP reference (the faulting
    mm's or another's, taken while shared or not), the page lock held by
    another, writeback, PG_anon_exclusive."""
    holders: List[Holder] = [mapping(SELF)]
    swapcache = draw(booleans)
    if swapcache:
        holders.append(swap_cache())
        if draw(booleans):
            holders += [swap_pte(mm) for mm in sorted(set(draw(some((1, 2), 2)))) or [1]]
    holders += draw(_EXCLUSIVE_PLACES)
    gup = draw(_exclusive_gup)
    holders += gup
    pinned = any(h.kind.value == "pin" for h in gup)
    try:
        return Page(
            holders=tuple(holders),
            anon_exclusive=_has(era, "anon-exclusive") and (pinned or draw(sometimes)),
            locked=draw(sometimes),
            writeback=swapcache and draw(sometimes),
            dirty=draw(booleans),
        )
    except StateError:
        assume(False)
        raise


_one_gup = st.one_of(st.just([]), st.lists(gup_references([SELF, 1]), min_size=1, max_size=1))
# no GUP reference half of the time, else one of the kinds the reuse rules tell apart
_exclusive_gup = st.one_of(st.just([]), st.sampled_from([
    [get(1, taken_while_shared=True)], [pin(1, taken_while_shared=True)], [pin(1, taken_while_shared=True)],
    [get(1)], [get(SELF)],
    [pin(SELF, longterm=True)], [pin(SELF, writable=True, longterm=True)], [pin(1, longterm=True)],
]))
# this CPU's batch half of the time: with the swap cache, the three references an exclusive page may have
_EXCLUSIVE_PLACES = st.sampled_from([[], [lru_batch()], [], [lru_batch()], [lru_batch(remote=True)], [isolation()]])
_OWN_SUBPAGES = st.sampled_from([(0, 1), (0, 1), (0, 1, 2, 3), (0, 2), (0,), (0,)])
# another mm's mapping of a page the faulting mm maps too, but not the faulting one, twice as often as most
# others (as often as a foreign GET taken while shared): the folio is shared though the faulting page is not
_LARGE_EXTRA = st.sampled_from(
    [(), (get(1, taken_while_shared=True),), (get(1, taken_while_shared=True),), (get(1),), (get(SELF),),
     (pin(SELF, longterm=True),),
     (mapping(1, 0),), (mapping(1, 1),), (mapping(1, 1),), (mapping(1, 3),), (lru_batch(),), (lru_batch(remote=True),)]
)


@st.composite
def large_pages(draw, era: Optional[Era] = None) -> Page:
    """A 4-page folio the faulting mm maps one or more pages of, with at
    most one other holder: another mm's GET or mapping, our own GET or pin,
    the swap cache, an LRU batch."""
    holders = [mapping(SELF, i) for i in draw(_OWN_SUBPAGES)] + list(draw(_LARGE_EXTRA))
    if draw(sometimes):
        holders.append(swap_cache())  # the swap cache beside the other holder: freed, or not, under the lock
    foreign_map = any(h.kind.value == "mapping" and h.owner != SELF for h in holders)
    pinned = any(h.kind.value == "pin" for h in holders)
    try:
        return Page(
            holders=tuple(holders),
            nr_pages=4,
            anon_exclusive=_has(era, "anon-exclusive") and (pinned or draw(sometimes)),
            locked=draw(sometimes),
            writeback=swap_cache() in holders and draw(sometimes),
            maybe_mapped_shared=foreign_map or draw(sometimes),
        )
    except StateError:
        assume(False)
        raise


@st.composite
def other_pages(draw, era: Optional[Era] = None) -> Page:
    """A file page (maybe mapped by another mm too, maybe with a GUP
    reference), the zero page, or a KSM page mapped once (with its stable
    node or a stale one, maybe in the swap cache)."""
    kind = draw(_OTHER_KINDS)
    if kind is PageKind.ZERO:
        return Page(kind=kind)
    holders: List[Holder] = [mapping(SELF)]
    if kind is PageKind.FILE:
        holders += [page_cache()] + ([mapping(1)] if draw(sometimes) else []) + draw(_one_gup)
    else:
        holders += ([ksm_stable_node()] if draw(_mostly) else []) + ([swap_cache()] if draw(sometimes) else [])
    try:
        return Page(kind=kind, holders=tuple(holders), locked=draw(sometimes), dirty=draw(booleans),
                    checked=kind is PageKind.FILE and draw(booleans))
    except StateError:
        assume(False)
        raise


_OTHER_KINDS = st.sampled_from([PageKind.FILE, PageKind.FILE, PageKind.ZERO, PageKind.KSM, PageKind.KSM, PageKind.KSM])


@lru_cache(maxsize=None)
def _focused_kinds(era: Optional[Era]) -> st.SearchStrategy:
    return st.one_of(exclusive_pages(era), exclusive_pages(era), large_pages(era), large_pages(era), other_pages(era))


def focused_pages(era: Optional[Era] = None) -> st.SearchStrategy:
    """The pages the invariants weigh, each family drawn often (see the module's story)."""
    return _focused_kinds(era)


@st.composite
def _fault_state(draw, era: Optional[Era], other_mms: int, max_gup: int, focused: bool) -> FaultState:
    page = draw(focused_pages(era) if focused else pages(era, other_mms, max_gup))
    shared = not page.anon and draw(sometimes)
    unshare = not shared and _has(era, "unshare") and draw(sometimes)
    mode = draw(_modes(_has(era, "uffd-wp-async"), focused))
    uffd_bit = mode is not UffdWp.OFF and draw(_mostly if focused else sometimes)
    try:
        state = FaultState(
            page=page,
            vma=Vma(write=shared or not draw(sometimes), shared=shared, uffd_wp=mode),
            pte=Pte(dirty=draw(booleans), young=draw(booleans), uffd_wp=uffd_bit),
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


_mostly = st.sampled_from([True, True, False])


@st.composite
def fault_states(draw, era: Optional[Era] = None, other_mms: int = 3, max_gup: int = 3) -> FaultState:
    """A well-formed fault state; admitted by `era` if one is given.  A
    third general draws, two thirds focused ones (see the module's story)."""
    return draw(_fault_state(era, other_mms, max_gup, draw(_mostly)))
