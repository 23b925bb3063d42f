"""The bounded space of abstract states that the exhaustive engines walk.

Two products, documented by :class:`Bounds`:

- **pages x core faults**: every well-formed page within the bounds (kind,
  folio size, flags, and every multiset of holders: mappings by up to
  ``other_mms`` other mms, up to ``gup`` GET/pin references owned by the
  faulting mm or another, taken while shared or not, the swap cache with up
  to ``swap_ptes`` other swap PTEs, LRU batch / isolation), each under the
  core faults: a write, a FOLL_FORCE write into a read-only mapping, an
  unshare, and -- for a page locked by someone else -- a write during which
  the PTE changes while the handler sleeps;
- **fault front x pages of every kind**: every combination of the fault's
  front matter (fault kind, VM_WRITE, MAP_SHARED, uffd-wp mode and PTE bit,
  pending TLB flush, PTE dirty/young) for a set of pages that reaches every
  decision.

The front matter is read before the page (uffd-wp, TLB flush) or only shapes
the PTE written at the end, which is why it is crossed with a set of pages
rather than all of them.  States that cannot be built (see
``state.StateError``) are not generated.

>>> from wpdiff.spec.space import Bounds, states
>>> small = Bounds(other_mms=1, gup=1, swap_ptes=1, large=False)
>>> sum(1 for _ in states(small)) > 1000
True
"""

import itertools
from dataclasses import dataclass, replace
from typing import Callable, Iterator, List, Tuple

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


@dataclass(frozen=True)
class Bounds:
    """How far the exhaustive space reaches."""

    other_mms: int = 2  # mms other than the faulting one that may map the page or hold a swap PTE
    gup: int = 2  # GET / pin references per page
    swap_ptes: int = 2  # swap PTEs of other mms naming the page's entry
    large: bool = True  # 4-page anonymous folios

    def __post_init__(self) -> None:
        for name in ("other_mms", "gup", "swap_ptes"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 3:
                raise ValueError(f"Bounds.{name}: expected an int in 0..3, got {value!r}")
        if self.swap_ptes > self.other_mms:
            raise ValueError(
                f"Bounds.swap_ptes ({self.swap_ptes}) cannot exceed Bounds.other_mms ({self.other_mms}): "
                "each swap PTE belongs to another mm"
            )


def _gup_kinds(bounds: Bounds) -> List[Holder]:
    owners = [SELF] + ([1] if bounds.other_mms else [])
    kinds = []
    for owner in owners:
        for shared in (False, True):
            kinds.append(get(owner, taken_while_shared=shared))
            kinds.append(pin(owner, longterm=True, taken_while_shared=shared))
    return kinds


def _gup_sets(bounds: Bounds) -> List[Tuple[Holder, ...]]:
    kinds = _gup_kinds(bounds)
    return [c for n in range(bounds.gup + 1) for c in itertools.combinations_with_replacement(kinds, n)]


def _subsets(items: List[int]) -> List[Tuple[int, ...]]:
    return [c for n in range(len(items) + 1) for c in itertools.combinations(items, n)]


_PLACES: Tuple[Tuple[Holder, ...], ...] = ((), (lru_batch(),), (lru_batch(remote=True),), (isolation(),))


def _swap_sets(bounds: Bounds, mappers: Tuple[int, ...]) -> List[Tuple[Holder, ...]]:
    free = [mm for mm in range(1, bounds.other_mms + 1) if mm not in mappers]
    sets: List[Tuple[Holder, ...]] = [()]
    for owners in _subsets(free):
        if len(owners) <= bounds.swap_ptes:
            sets.append((swap_cache(),) + tuple(swap_pte(mm) for mm in owners))
    return sets


def _build(**fields) -> Iterator[Page]:
    try:
        yield Page(**fields)
    except StateError:
        return


def anon_pages(bounds: Bounds) -> Iterator[Page]:
    others = list(range(1, bounds.other_mms + 1))
    for mappers in _subsets(others):
        maps = (mapping(SELF),) + tuple(mapping(mm) for mm in mappers)
        for swap, place, gups in itertools.product(_swap_sets(bounds, mappers), _PLACES, _gup_sets(bounds)):
            holders = maps + swap + place + gups
            for locked, writeback, ae in itertools.product((False, True), (False, True) if swap else (False,), (False, True)):
                yield from _build(kind=PageKind.ANON, holders=holders, locked=locked, writeback=writeback, anon_exclusive=ae)


def ksm_pages(bounds: Bounds) -> Iterator[Page]:
    """KSM pages: only v5.7 looks further than "it is KSM" (reuse_ksm_page():
    swap cache, stable node, a reference count of 1), so one other mapping,
    one GUP reference and the local LRU batch are enough variety."""
    narrow = replace(bounds, gup=min(bounds.gup, 1))
    for mappers in _subsets(list(range(1, min(bounds.other_mms, 1) + 1))):
        maps = (mapping(SELF),) + tuple(mapping(mm) for mm in mappers)
        for swap, place, gups, node in itertools.product(
            ((), (swap_cache(),)), _PLACES[:2], _gup_sets(narrow), ((), (ksm_stable_node(),))
        ):
            for locked, writeback in itertools.product((False, True), (False, True) if swap else (False,)):
                yield from _build(kind=PageKind.KSM, holders=maps + swap + place + gups + node, locked=locked, writeback=writeback)


def file_pages(bounds: Bounds) -> Iterator[Page]:
    others = list(range(1, bounds.other_mms + 1))
    for mappers in _subsets(others[:1]):
        maps = (mapping(SELF), page_cache()) + tuple(mapping(mm) for mm in mappers)
        for gups in _gup_sets(replace(bounds, gup=min(bounds.gup, 1))):
            for locked, writeback, checked in itertools.product((False, True), repeat=3):
                yield from _build(kind=PageKind.FILE, holders=maps + gups, locked=locked, writeback=writeback, checked=checked)


LARGE = 4


def large_pages(bounds: Bounds) -> Iterator[Page]:
    """4-page folios: the faulting mm maps page 0 and maybe more of them,
    another mm maybe one page; at most one GUP reference, of the kinds that
    tell the large-folio rules apart (own get, own pin, a foreign get)."""
    own = [(0,), (0, 1), (0, 1, 2, 3)]
    foreign = [()] + ([(1, 0), (1, 1)] if bounds.other_mms else [])
    gups = [()] + ([(get(SELF),), (pin(SELF, longterm=True),)] if bounds.gup else [])
    gups += [(get(1, taken_while_shared=True),)] if bounds.gup and bounds.other_mms else []
    for mine, theirs, swap, place, gup in itertools.product(own, foreign, ((), (swap_cache(),)), _PLACES[:2], gups):
        maps = tuple(mapping(SELF, i) for i in mine) + ((mapping(theirs[0], theirs[1]),) if theirs else ())
        holders = maps + swap + place + gup
        for locked, writeback, ae, shared in itertools.product(
            (False, True), (False, True) if swap else (False,), (False, True), (True,) if theirs else (False, True)
        ):
            yield from _build(
                kind=PageKind.ANON,
                nr_pages=LARGE,
                holders=holders,
                locked=locked,
                writeback=writeback,
                anon_exclusive=ae,
                maybe_mapped_shared=shared,
            )


def pages(bounds: Bounds) -> Iterator[Page]:
    yield Page(kind=PageKind.ZERO)
    yield from anon_pages(bounds)
    yield from ksm_pages(bounds)
    yield from file_pages(bounds)
    if bounds.large:
        yield from large_pages(bounds)


def _state(page: Page, **fields) -> Iterator[FaultState]:
    try:
        yield FaultState(page=page, **fields)
    except StateError:
        return


def core_faults(page: Page) -> Iterator[FaultState]:
    yield from _state(page)
    yield from _state(page, vma=Vma(write=False))
    yield from _state(page, fault=FaultKind.UNSHARE)
    if page.locked:
        yield from _state(page, pte_changes_while_sleeping=True)


def front_pages() -> List[Page]:
    """Pages that reach every decision: reuse, copy, shared, each kind."""
    return [
        Page(kind=PageKind.ZERO),
        Page(holders=(mapping(SELF),)),
        Page(holders=(mapping(SELF),), anon_exclusive=True),
        Page(holders=(mapping(SELF), mapping(1))),
        Page(holders=(mapping(SELF),), locked=True),
        Page(kind=PageKind.KSM, holders=(mapping(SELF), ksm_stable_node())),
        Page(kind=PageKind.KSM, holders=(mapping(SELF),)),  # stale: its stable node is gone
        Page(kind=PageKind.FILE, holders=(mapping(SELF), page_cache())),
        Page(kind=PageKind.FILE, holders=(mapping(SELF), mapping(1), page_cache())),
        Page(nr_pages=LARGE, holders=(mapping(SELF, 0), mapping(SELF, 1))),
    ]


def front_faults(page: Page) -> Iterator[FaultState]:
    uffd = [(UffdWp.OFF, False), (UffdWp.SYNC, False), (UffdWp.SYNC, True), (UffdWp.ASYNC, False), (UffdWp.ASYNC, True)]
    for fault, write, shared, (mode, bit), tlb, dirty, young in itertools.product(
        FaultKind, (True, False), (False, True), uffd, (False, True), (False, True), (False, True)
    ):
        yield from _state(
            page,
            fault=fault,
            vma=Vma(write=write, shared=shared, uffd_wp=mode),
            pte=Pte(dirty=dirty, young=young, uffd_wp=bit),
            tlb_flush_pending=tlb,
        )
        if page.locked:
            yield from _state(
                page,
                vma=Vma(write=write, shared=shared, uffd_wp=mode),
                pte=Pte(dirty=dirty, young=young, uffd_wp=bit),
                tlb_flush_pending=tlb,
                pte_changes_while_sleeping=True,
            )


def size(state: FaultState) -> Tuple[int, int, int]:
    """How small a state is, to pick the smallest example of a finding:
    fewer holders first, then fewer pages, then fewer flags set."""
    p, v = state.page, state.vma
    flags = (
        p.locked,
        p.writeback,
        p.anon_exclusive,
        p.dirty,
        p.checked,
        p.maybe_mapped_shared,
        state.fault is not FaultKind.WRITE,
        not v.write,
        v.shared,
        v.uffd_wp is not UffdWp.OFF,
        state.pte.uffd_wp,
        state.pte.dirty,
        not state.pte.young,
        state.tlb_flush_pending,
        state.pte_changes_while_sleeping,
    )
    return len(p.holders), p.nr_pages, sum(flags)


def states(bounds: Bounds = Bounds()) -> Iterator[FaultState]:
    """Every state of the bounded space, once."""
    for page in pages(bounds):
        yield from core_faults(page)
    for page in front_pages():
        core = set(core_faults(page))
        yield from (state for state in front_faults(page) if state not in core)


# ---- one edit away -----------------------------------------------------------------

# The holders an edit may add: one of each kind the reuse rules tell apart, owned by the
# faulting mm or by another (mm 1); the faulting mm's other subpages are added for a large folio.
_ADDABLE = (
    mapping(1),
    get(1),
    get(1, taken_while_shared=True),
    get(SELF),
    pin(1, taken_while_shared=True),
    pin(SELF, longterm=True),
    pin(SELF, writable=True, longterm=True),
    swap_cache(),
    swap_pte(1),
    lru_batch(),
    lru_batch(remote=True),
    isolation(),
    ksm_stable_node(),
    page_cache(),
)
_PAGE_FLAGS = ("anon_exclusive", "locked", "writeback", "dirty", "checked", "maybe_mapped_shared")
_STATE_FLAGS = ("tlb_flush_pending", "pte_changes_while_sleeping")


def _edits(state: FaultState) -> Iterator[Callable[[], FaultState]]:
    """Each edit, not yet made: making it checks the edited state (StateError)."""
    p, vma, pte = state.page, state.vma, state.pte

    def page(**fields) -> Callable[[], FaultState]:
        return lambda: replace(state, page=replace(p, **fields))

    for i in range(len(p.holders)):  # a holder dropped ...
        yield page(holders=p.holders[:i] + p.holders[i + 1:])
    extra = [mapping(SELF, i) for i in range(1, p.nr_pages)] + [mapping(1, i) for i in range(1, p.nr_pages)]
    for h in list(_ADDABLE) + extra:  # ... or added
        yield page(holders=p.holders + (h,))
    for flag in _PAGE_FLAGS:  # a page flag flipped
        yield page(**{flag: not getattr(p, flag)})
    yield lambda: replace(state, vma=replace(vma, write=not vma.write))
    yield lambda: replace(state, vma=replace(vma, shared=not vma.shared))
    for mode in UffdWp:
        yield lambda mode=mode: replace(state, vma=replace(vma, uffd_wp=mode))
    for flag in ("dirty", "young", "uffd_wp"):
        yield lambda flag=flag: replace(state, pte=replace(pte, **{flag: not getattr(pte, flag)}))
    for kind in FaultKind:
        yield lambda kind=kind: replace(state, fault=kind)
    for flag in _STATE_FLAGS:
        yield lambda flag=flag: replace(state, **{flag: not getattr(state, flag)})


def neighbours(state: FaultState) -> List[FaultState]:
    """The well-formed states one edit away from `state`: a holder dropped
    or added, one flag of the page, the VMA, the PTE or the fault flipped,
    the fault's kind or the uffd-wp mode changed.  Smallest first
    (:func:`size`).  A change's regressions lie where it decides
    differently from its base, and often one edit from a state where it
    only differs: the Hypothesis engine looks there
    (``diff.regression.Around``).

    >>> lone = FaultState(page=Page(holders=(mapping(0),)))
    >>> Page(holders=(mapping(0), swap_cache())) in [n.page for n in neighbours(lone)]
    True
    """
    out = {}
    for edit in _edits(state):
        try:
            edited = edit()
        except StateError:
            continue
        if edited != state:
            out.setdefault(edited, None)
    return sorted(out, key=size)
