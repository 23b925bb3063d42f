"""Shared fixtures: one exhaustive pass of every era over the bounded space."""

from dataclasses import dataclass, field
from typing import Dict, Set, Tuple

import pytest

from wpdiff.spec import ERAS, Event, FaultState, violations
from wpdiff.spec.space import states


def size(state: FaultState) -> Tuple[int, int]:
    """How small a state is: holders first, then the flags that are set."""
    p, v = state.page, state.vma
    flags = (
        p.locked,
        p.writeback,
        p.anon_exclusive,
        p.dirty,
        p.checked,
        p.maybe_mapped_shared,
        state.fault.value != "write",
        not v.write,
        v.shared,
        v.uffd_wp.value != "off",
        state.pte.uffd_wp,
        state.pte.dirty,
        not state.pte.young,
        state.tlb_flush_pending,
        state.pte_changes_while_sleeping,
    )
    return len(p.holders), sum(flags)


@dataclass
class Sweep:
    admitted: Dict[str, int] = field(default_factory=dict)
    count: Dict[Tuple[str, str], int] = field(default_factory=dict)
    smallest: Dict[Tuple[str, str], FaultState] = field(default_factory=dict)
    anon_traces: Dict[str, Set[Tuple[Event, ...]]] = field(default_factory=dict)


@pytest.fixture(scope="session")
def sweep() -> Sweep:
    result = Sweep()
    space = list(states())
    for era in ERAS.values():
        result.admitted[era.id] = 0
        result.anon_traces[era.id] = set()
        for state in space:
            if not era.admits(state):
                continue
            result.admitted[era.id] += 1
            outcome = era(state)
            if state.page.anon:
                result.anon_traces[era.id].add(outcome.events)
            for v in violations(era, state, outcome):
                key = (era.id, v.invariant)
                result.count[key] = result.count.get(key, 0) + 1
                if key not in result.smallest or size(state) < size(result.smallest[key]):
                    result.smallest[key] = state
    return result
