"""From a fast path's packed result back to an abstract outcome.

A fast path returns words; the invariants judge abstract outcomes.  Given
the abstract state the word came from, :func:`outcome_of` replays the trace
word's events on that state's holders (the kernel's effects: a drain drops
the local batch reference, a swap-cache free drops the swap cache, a new
page takes this mm's mapping ...) and reads the PTE and the page flags the
fast path wrote from the word after.  It also reports where the word after
disagrees with what its own events explain -- a counter that moved with no
event to move it.  This is how a fast path that has no reference model (a
user's change) is held to the invariants.

>>> from wpdiff.impl.abstract import outcome_of
>>> from wpdiff.impl.concretize import concretize
>>> from wpdiff.impl.fastpath import FASTPATHS
>>> from wpdiff.spec.history import SWAPPED_IN
>>> result = FASTPATHS["v5.18"](concretize("v5.18", SWAPPED_IN))
>>> outcome, drift = outcome_of("v5.18", SWAPPED_IN, result)
>>> str(outcome), drift
('reuse: trylock_page, swap cache freed, unlock_page, wp_page_reuse, pte_unmap_unlock', None)
"""

from dataclasses import replace
from typing import List, Optional, Tuple

from wpdiff.spec.eras import era as spec_era
from wpdiff.spec.kernel import new_anon_page
from wpdiff.spec.outcome import Event, Outcome
from wpdiff.spec.state import FaultState, Holder, HolderKind, Page, PageKind, Pte, lru_batch, mapping

from .concretize import concretize_outcome
from .layout import PAGE_FLAGS, PTE_ACCESSED, PTE_DIRTY, PTE_RW, PTE_UFFD_WP, PackError, decode_trace, unpack


class ResultError(ValueError):
    """A fast path returned something that is not a result: not two words,
    no decision, more events than fit, a page-flag change no state allows."""


def outcome_of(era_id: str, state: FaultState, result: object) -> Tuple[Outcome, Optional[str]]:
    """The abstract outcome a fast path's `result` stands for, and a note if
    the word after disagrees with what the events explain (else None)."""
    if not (isinstance(result, tuple) and len(result) == 2 and all(isinstance(x, int) for x in result)):
        raise ResultError(f"a fast path returns (word after, trace word), two ints; got {result!r}")
    after, trace = result
    try:
        decision, events = decode_trace(trace)
        fields = unpack(after)
    except PackError as e:
        raise ResultError(str(e)) from None
    holders: List[Holder] = list(state.page.holders)
    page = state.page
    kind = page.kind
    new_page = None
    for event in events:
        if event is Event.LRU_DRAIN and lru_batch() in holders:
            holders.remove(lru_batch())
        elif event is Event.SWAP_FREE:
            cache = Holder(HolderKind.SWAP_CACHE)
            if cache in holders:
                holders.remove(cache)
        elif event is Event.MOVE_ANON_RMAP and kind is PageKind.KSM:
            kind = PageKind.ANON
            holders = [h for h in holders if h.kind is not HolderKind.KSM_STABLE_NODE]
        elif event is Event.NEW_PAGE and new_page is None:
            if mapping(state.mm) in holders:
                holders.remove(mapping(state.mm))
            new_page = new_anon_page(state.mm, spec_era(era_id).has("anon-exclusive"))
    pte = fields["pte"]
    pg = PAGE_FLAGS[era_id]
    flags = fields["flags"]
    out_pte = Pte(
        write=bool((pte >> PTE_RW) & 1),
        dirty=bool((pte >> PTE_DIRTY) & 1),
        young=bool((pte >> PTE_ACCESSED) & 1),
        uffd_wp=bool((pte >> PTE_UFFD_WP) & 1),
    )
    out_page: Optional[Page] = None
    if page.kind is not PageKind.ZERO:
        try:
            out_page = replace(
                page,
                kind=kind,
                holders=tuple(holders),
                anon_exclusive=bool((flags >> pg.anon_exclusive) & 1) and kind is PageKind.ANON,
                locked=bool((flags >> pg.locked) & 1),
                dirty=bool((flags >> pg.dirty) & 1),
            )
        except ValueError as e:
            raise ResultError(f"the word after describes no page: {e}") from None
    outcome = Outcome(decision, tuple(events), out_page, out_pte, new_page)
    explained, _ = concretize_outcome(era_id, state, outcome)
    drift = None
    if explained != after:
        got, want = unpack(after), unpack(explained)
        moved = ", ".join(f"{k} {want[k]} -> {got[k]}" for k in got if got[k] != want[k])
        drift = f"the word after does not follow from its events: {moved}"
    return outcome, drift
