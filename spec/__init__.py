"""wpdiff.spec: the executable reference spec of ``do_wp_page()``.

What a copy-on-write write fault must guarantee (``INVARIANTS``), and what
each kernel era does (``ERAS``), over an abstract state that knows who can
reach the page (``FaultState``).  ``spec/explanation.md`` tells the story in
English; every example in it runs in the test suite.

>>> from wpdiff.spec import ERAS, FaultState, Page, mapping, get, violations
>>> cve = FaultState(page=Page(holders=(mapping(0), get(1, taken_while_shared=True))))
>>> [v.invariant for v in violations(ERAS["v5.7"], cve)]
['no-missed-cow']
>>> str(ERAS["v5.9"](cve))
'copy: get_page, pte_unmap_unlock, wp_page_copy, put_page'
"""

from dataclasses import dataclass
from typing import List, Optional

from .eras import ERAS, Era, UnknownEra, era
from .invariants import INVARIANTS, Invariant, Severity
from .kernel import Fault, ModelError
from .outcome import Decision, Event, Outcome
from .state import (
    FaultKind,
    FaultState,
    Holder,
    HolderKind,
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


@dataclass(frozen=True)
class Violation:
    """An invariant an era broke on a state: what, and why, in kernel terms."""

    invariant: str
    message: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.message}"


def violations(era: Era, state: FaultState, outcome: Optional[Outcome] = None) -> List[Violation]:
    """Every invariant that applies to `era` and that its model breaks on
    `state` (with `outcome`, if already computed), whether or not the era
    admits the state."""
    if outcome is None:
        outcome = era(state)
    found = []
    for inv in _APPLICABLE[era.id]:
        message = inv.check(state, outcome)
        if message is not None:
            found.append(Violation(inv.id, message))
    return found


_APPLICABLE = {e: tuple(i for i in INVARIANTS.values() if i.applies_to(e)) for e in ERAS}


__all__ = [
    "ERAS",
    "INVARIANTS",
    "Decision",
    "Era",
    "Event",
    "Fault",
    "FaultKind",
    "FaultState",
    "Holder",
    "HolderKind",
    "Invariant",
    "ModelError",
    "Outcome",
    "Page",
    "PageKind",
    "Pte",
    "Severity",
    "StateError",
    "UffdWp",
    "UnknownEra",
    "Violation",
    "Vma",
    "era",
    "get",
    "isolation",
    "ksm_stable_node",
    "lru_batch",
    "mapping",
    "page_cache",
    "pin",
    "swap_cache",
    "swap_pte",
    "violations",
]
