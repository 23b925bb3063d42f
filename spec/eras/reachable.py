"""Which abstract states each era can reach.

A state is admitted by an era when some history of that kernel leads to it.
The spec's states are general on purpose -- a GUP reference may be taken
through a shared COW PTE, a pinned page may be shared -- and each rule below
names the kernel mechanism that, from some release on, makes a family of
states impossible.  A finding on a state its era does not admit is a false
alarm; the rules keep those out of the findings.

Each rule is in force in the eras that have its `feature` (or, with
``absent``, in those that lack it): the rules follow what each release
does, named by the era's FEATURES, not the era's place in the order.
``unreachable(features, state)`` returns why a state cannot arise in an era
with those features, or None.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, FrozenSet, Iterable, Optional, Sequence, Tuple

from ..state import FaultKind, FaultState, HolderKind, PageKind, UffdWp


@dataclass(frozen=True)
class Rule:
    name: str
    feature: str  # the era feature (see eras.FEATURE_NAMES) that puts the rule in force ...
    absent: bool  # ... by its presence (False) or by its absence (True)
    why: str  # the kernel mechanism, with its commit
    excludes: Callable[[FaultState], Optional[str]]  # what in the state it cannot have

    def in_force(self, features: FrozenSet[str]) -> bool:
        return (self.feature in features) != self.absent


def _unshare(s: FaultState) -> Optional[str]:
    return "an unshare fault" if s.fault is FaultKind.UNSHARE else None


def _anon_exclusive(s: FaultState) -> Optional[str]:
    return "PG_anon_exclusive set" if s.page.anon_exclusive else None


def _uffd_async(s: FaultState) -> Optional[str]:
    return "an async uffd-wp VMA" if s.vma.uffd_wp is UffdWp.ASYNC else None


def _gup_through_shared_pte(s: FaultState) -> Optional[str]:
    for h in s.page.holders:
        if h.kind in (HolderKind.GET, HolderKind.PIN) and h.taken_while_shared:
            return f"{h}: a GUP reference taken through a shared COW PTE"
    return None


def _pinned_page_shared_by_fork(s: FaultState) -> Optional[str]:
    if s.page.kind is PageKind.FILE:
        return None
    for h in s.page.of(HolderKind.PIN):
        if h.taken_while_shared:
            continue
        others = {
            o.owner for o in s.page.holders if o.kind in (HolderKind.MAPPING, HolderKind.SWAP_PTE) and o.owner != h.owner
        }
        if others:
            return f"{h} on a page that mm{min(others)} maps too, although it was pinned while exclusive"
    return None


def _not_exclusive_enough(s: FaultState) -> Optional[str]:
    page = s.page
    if page.kind is PageKind.FILE:
        return None
    if page.anon_exclusive:
        for h in page.holders:
            if h.owner is not None and h.owner != s.mm:
                return f"PG_anon_exclusive set while {h} reaches the page"
    for h in page.of(HolderKind.PIN):
        if h.taken_while_shared:
            return f"{h}: a R/O pin of a possibly shared page unshares it first"
        if page.kind is PageKind.KSM:
            return f"{h} on a KSM page, which is never exclusive"
        if h.owner != s.mm or not page.anon_exclusive:
            return f"{h} on a page not marked exclusive to its pinner"
    return None


RULES: Tuple[Rule, ...] = (
    Rule(
        "gup-breaks-cow",
        "gup-breaks-cow",
        False,
        "GUP breaks COW for every reference taken through a COW mapping (17839856fd58), "
        "so the reference lands on a private copy; reverted by a308c71bf1e6",
        _gup_through_shared_pte,
    ),
    Rule(
        "copy-on-fork-if-pinned",
        "copy-on-fork-if-pinned",
        False,
        "fork() gives the child a copy of a maybe-DMA-pinned page instead of sharing it (70e806e4e645)",
        _pinned_page_shared_by_fork,
    ),
    Rule(
        "unshare-fault",
        "unshare",
        True,
        "FAULT_FLAG_UNSHARE exists from 5.19 (c89357e27f20)",
        _unshare,
    ),
    Rule(
        "anon-exclusive-flag",
        "anon-exclusive",
        True,
        "PG_anon_exclusive exists from 5.19 (6c287605fd56)",
        _anon_exclusive,
    ),
    Rule(
        "anon-exclusive-pins",
        "anon-exclusive",
        False,
        "pinned anonymous pages are exclusive and marked so, and an exclusive page belongs to one mm: "
        "GUP pins only exclusive pages and unshares a possibly shared one first (a7f226604170); fork, KSM, "
        "swap-out and migration back off pinned pages (6c287605fd56)",
        _not_exclusive_enough,
    ),
    Rule(
        "uffd-wp-async",
        "uffd-wp-async",
        True,
        "UFFD_FEATURE_WP_ASYNC exists from 6.7",
        _uffd_async,
    ),
)


@lru_cache(maxsize=None)
def in_force(features: FrozenSet[str]) -> Tuple[Rule, ...]:
    return tuple(rule for rule in RULES if rule.in_force(features))


def admitted_by(state: FaultState, eras: Sequence[FrozenSet[str]]) -> Tuple[bool, ...]:
    """For each era (given by its features), whether it admits `state` -- each rule asked once."""
    broken = {rule.name for rule in RULES if rule.excludes(state) is not None}
    return tuple(not any(rule.name in broken for rule in in_force(features)) for features in eras)


def unreachable(features: Iterable[str], state: FaultState) -> Optional[str]:
    """Why `state` cannot arise in an era with `features`, or None if it can."""
    for rule in in_force(frozenset(features)):
        found = rule.excludes(state)
        if found is not None:
            return f"{found}: {rule.why}"
    return None
