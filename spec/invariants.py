"""The guarantees a copy-on-write fault must keep.

Each invariant is a predicate over (state before, outcome) with a stable id.
It returns None when the guarantee holds, or a message that says, in kernel
terms, what broke it and with which values.  ``INVARIANTS`` maps id to
invariant; ids, once published, do not change.

>>> from wpdiff.spec import ERAS, INVARIANTS, FaultState, Page, mapping, get
>>> cve = FaultState(page=Page(holders=(mapping(0), get(1, taken_while_shared=True))))
>>> print(INVARIANTS["no-missed-cow"].check(cve, ERAS["v5.7"](cve)))
mm0's write reuses the page while get(mm1, ro, taken while shared) can still reach it (refcount 2, mapcount 1, swapcount 0: the kernel saw a page mapped once)
>>> print(INVARIANTS["no-missed-cow"].check(cve, ERAS["v5.9"](cve)))
None
"""

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Callable, Dict, List, Optional, Tuple

from .eras import ERAS, with_feature
from .outcome import Decision, Event, Outcome
from .state import (
    FaultKind,
    FaultState,
    HolderKind,
    PageKind,
    UffdWp,
    lru_batch,
    mapcount,
    mapping,
    refcount,
    swap_cache,
    swapcount,
)


class Severity(str, Enum):
    SECURITY = "security"  # data reaches a process that must not see it
    CORRUPTION = "corruption"  # writes get lost or land in the wrong page
    LOCKING = "locking"  # a lock is misused: use after free, deadlock
    ACCOUNTING = "accounting"  # a counter drifts from what holds the page
    PERFORMANCE = "performance"  # a copy where the page could be reused


@dataclass(frozen=True)
class Invariant:
    id: str
    guarantee: str
    severity: Severity
    history: str
    check: Callable[[FaultState, Outcome], Optional[str]]
    fixed_by: str = ""  # the commit that made the kernel keep it
    cow_c: str = ""  # the tools/testing/selftests/mm/cow.c case that would catch a break
    requires: str = ""  # the era feature the guarantee is defined by ("" for every era)

    def applies_to(self, era_id: str) -> bool:
        return not self.requires or ERAS[era_id].has(self.requires)

    @property
    def since(self) -> str:
        """The first era in which the guarantee is defined."""
        return with_feature(self.requires)[0] if self.requires else next(iter(ERAS))


def _seen(s: FaultState) -> str:
    return f"refcount {s.refcount}, mapcount {s.mapcount}, swapcount {swapcount(s.page)}"


def _exclusive_anon(s: FaultState) -> bool:
    """An anonymous, non-KSM page that nothing of another mm can reach."""
    return s.page.kind is PageKind.ANON and not s.foreign_holders()


def _goes_elsewhere(s: FaultState) -> bool:
    """The fault is resolved before the reuse question comes up: by userspace
    (sync uffd-wp), or by a PTE that changed while the handler slept."""
    to_userspace = s.pte.uffd_wp and s.vma.uffd_wp is UffdWp.SYNC and s.fault is FaultKind.WRITE
    return to_userspace or s.pte_changes_while_sleeping


# ---- security -------------------------------------------------------------


def _no_missed_cow(s: FaultState, out: Outcome) -> Optional[str]:
    if out.decision is not Decision.REUSE or s.fault is not FaultKind.WRITE:
        return None
    foreign = s.foreign_holders()
    if not foreign:
        return None
    return (
        f"mm{s.mm}'s write reuses the page while {foreign[0]} can still reach it "
        f"({_seen(s)}: the kernel saw a page mapped {'once' if s.mapcount == 1 else f'{s.mapcount} times'})"
    )


def _unshare_read_only(s: FaultState, out: Outcome) -> Optional[str]:
    if s.fault is FaultKind.UNSHARE and out.pte.write:
        return (
            f"an unshare fault ended in {out.decision.value} with a writable PTE "
            f"({s.page.kind.value} page, {_seen(s)}, VM_WRITE {int(s.vma.write)})"
        )
    return None


def _exclusive_consistent(s: FaultState, out: Outcome) -> Optional[str]:
    for name, page in (("the page", out.page), ("the new page", out.new_page)):
        if page is None or not page.anon_exclusive:
            continue
        if page.kind is not PageKind.ANON:
            return f"PG_anon_exclusive set on {name}, a {page.kind.value} page"
        others = [h for h in page.holders if h.owner is not None and h.owner != s.mm]
        if others:
            return f"PG_anon_exclusive set on {name} while {others[0]} reaches it ({_seen(s)} before the fault)"
    return None


def _write_needs_vm_write(s: FaultState, out: Outcome) -> Optional[str]:
    if out.pte.write and not s.vma.write:
        return (
            f"{out.decision.value} ({s.page.kind.value} page) left the PTE writable although the VMA lacks "
            "VM_WRITE (a FOLL_FORCE write must get a read-only, dirty PTE)"
        )
    return None


def _writable_anon_is_exclusive(s: FaultState, out: Outcome) -> Optional[str]:
    if not out.pte.write:
        return None
    page = out.new_page if out.decision is Decision.COPY else out.page
    if page is not None and page.anon and not page.anon_exclusive:
        which = "the new page" if page is out.new_page else "the page"
        return (
            f"after {out.decision.value} a writable PTE maps {which} ({page.kind.value} page) without "
            f"PG_anon_exclusive (refcount {refcount(page)}, mapcount {mapcount(page)})"
        )
    return None


# ---- corruption -------------------------------------------------------------


def _no_wrong_cow(s: FaultState, out: Outcome) -> Optional[str]:
    if out.decision is not Decision.COPY or not _exclusive_anon(s):
        return None
    pins = [h for h in s.page.of(HolderKind.PIN) if h.owner == s.mm]
    if not pins:
        return None
    return (
        f"the page is mm{s.mm}'s alone and {pins[0]} holds it, but the fault copied it ({_seen(s)}): "
        f"mm{s.mm} now writes to the copy while the pin keeps the old page"
    )


def _flush_before_copy(s: FaultState, out: Outcome) -> Optional[str]:
    # The zero page is never mapped writable, so no stale TLB entry can write to it.
    if not (
        out.decision is Decision.COPY
        and s.fault is FaultKind.WRITE
        and s.vma.uffd_wp is not UffdWp.OFF
        and s.tlb_flush_pending
        and s.page.kind is not PageKind.ZERO
    ):
        return None
    events = out.events
    copied_at = events.index(Event.NEW_PAGE)
    if Event.TLB_FLUSH in events and events.index(Event.TLB_FLUSH) < copied_at:
        return None
    return (
        f"event {copied_at + 1} ({Event.NEW_PAGE.value}) copies the {s.page.kind.value} page in a uffd-wp "
        f"({s.vma.uffd_wp.value}) VMA with a TLB flush still pending and no {Event.TLB_FLUSH.value} before it: "
        "a stale writable TLB entry can write to the old page after it was copied, and the write is lost"
    )


# ---- locking ----------------------------------------------------------------

# Events that touch struct page: after the PTL is gone they need a
# reference of the handler's own.
_TOUCH = frozenset(
    {
        Event.GET,
        Event.TRYLOCK_OK,
        Event.TRYLOCK_FAIL,
        Event.LOCK_PAGE,
        Event.UNLOCK_PAGE,
        Event.SWAP_FREE,
        Event.MOVE_ANON_RMAP,
        Event.SET_ANON_EXCLUSIVE,
    }
)
# Events that change the PTE or what the PTL protects.
_UNDER_PTL = frozenset({Event.REUSE_PTE, Event.UFFD_WP_CLEAR, Event.SET_ANON_EXCLUSIVE})


@lru_cache(maxsize=4096)
def _replay_locks(events: Tuple[Event, ...]) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """Walk the trace; return (use-after-PTL problems, balance problems)."""
    use: List[str] = []
    balance: List[str] = []
    ptl, page_lock, refs = True, False, 0
    for i, e in enumerate(events):
        at = f"event {i + 1} ({e.value})"
        if e is Event.LOCK_PAGE and ptl:
            use.append(f"{at}: sleeps for the page lock with the PTL held")
        if e in _TOUCH and not ptl and refs == 0:
            use.append(
                f"{at}: touches the page after pte_unmap_unlock() without a reference of its own; "
                "the page tables were the only reference, so a concurrent MADV_DONTNEED may already have freed it"
            )
        if e in _UNDER_PTL and not ptl:
            balance.append(f"{at}: changes what the PTL protects without holding it")
        if e is Event.PTL_UNLOCK:
            if not ptl:
                balance.append(f"{at}: releases the PTL it does not hold")
            ptl = False
        elif e is Event.PTL_LOCK:
            if ptl:
                balance.append(f"{at}: takes the PTL it already holds (deadlock)")
            ptl = True
        elif e in (Event.TRYLOCK_OK, Event.LOCK_PAGE):
            if page_lock:
                balance.append(f"{at}: takes the page lock it already holds (deadlock)")
            page_lock = True
        elif e is Event.UNLOCK_PAGE:
            if not page_lock:
                balance.append(f"{at}: unlocks a page it has not locked")
            page_lock = False
        elif e is Event.GET:
            refs += 1
        elif e is Event.PUT:
            refs -= 1
    if ptl:
        balance.append("returns with the PTL held")
    if page_lock:
        balance.append("returns with the page locked")
    return tuple(use), tuple(balance)


def _unlock_before_ptl(s: FaultState, out: Outcome) -> Optional[str]:
    use, _ = _replay_locks(out.events)
    return use[0] if use else None


def _lock_balance(s: FaultState, out: Outcome) -> Optional[str]:
    _, balance = _replay_locks(out.events)
    return balance[0] if balance else None


# ---- accounting -------------------------------------------------------------


def _refs_conserved(s: FaultState, out: Outcome) -> Optional[str]:
    gets, puts = out.events.count(Event.GET), out.events.count(Event.PUT)
    if gets != puts:
        return f"{gets} get_page() but {puts} put_page(): the handler's references do not balance"
    copies = out.events.count(Event.NEW_PAGE)
    if (out.decision is Decision.COPY) != (copies == 1) or copies > 1:
        return f"decision {out.decision.value} with {copies} new page(s)"
    if out.page is None:
        return None
    before = s.page
    drained = Event.LRU_DRAIN in out.events and lru_batch() in before.holders
    freed = out.events.count(Event.SWAP_FREE) * before.nr_pages
    unmapped = 1 if copies else 0
    want_r = refcount(before) - drained - freed - unmapped
    want_m = mapcount(before) - unmapped
    got_r, got_m = refcount(out.page), mapcount(out.page)
    if (got_r, got_m) != (want_r, want_m):
        return (
            f"after {out.decision.value}: refcount {got_r}, mapcount {got_m}; expected {want_r}, {want_m} "
            f"(before {refcount(before)}, {mapcount(before)}; {int(drained)} drained from the LRU batch, "
            f"{freed} swap-cache reference(s) freed, {unmapped} mapping replaced)"
        )
    new = out.new_page
    if new is not None and (refcount(new), mapcount(new)) != (2, 1):
        return f"the new page has refcount {refcount(new)}, mapcount {mapcount(new)}; expected 2 (mapping + LRU batch), 1"
    return None


# ---- performance --------------------------------------------------------------


def _reuse_when_exclusive(s: FaultState, out: Outcome) -> Optional[str]:
    page = s.page
    extra = set(page.holders) - {mapping(s.mm)}
    if not (
        page.kind is PageKind.ANON
        and not page.large
        and extra <= {swap_cache(), lru_batch()}
        and not page.writeback
        and not page.locked
        and not _goes_elsewhere(s)
    ):
        return None
    if out.decision in (Decision.REUSE, Decision.UNSHARE_REUSE):
        return None
    others = ", ".join(str(h) for h in sorted(extra, key=lambda h: h.sort_key())) or "nothing else"
    return (
        f"the page is mm{s.mm}'s alone (besides its mapping: {others}; {_seen(s)}) "
        f"but the fault made a {out.decision.value}"
    )


def _reuse_large_when_exclusive(s: FaultState, out: Outcome) -> Optional[str]:
    page = s.page
    maps = page.of(HolderKind.MAPPING)
    if not (
        page.kind is PageKind.ANON
        and page.large
        and len(maps) >= 2
        and len(maps) == len(page.holders)
        and all(h.owner == s.mm for h in maps)
        and not page.maybe_mapped_shared
        and not _goes_elsewhere(s)
    ):
        return None
    if out.decision in (Decision.REUSE, Decision.UNSHARE_REUSE):
        return None
    return (
        f"a {page.nr_pages}-page folio mapped {len(maps)} times, all by mm{s.mm}, with no other reference "
        f"(refcount {refcount(page)}), but the fault made a {out.decision.value}"
    )


INVARIANTS: Dict[str, Invariant] = {
    i.id: i
    for i in (
        Invariant(
            "no-missed-cow",
            "after a write fault the faulting mm writes into the page only if no holder of it belongs to "
            "another mm (mapping, GUP reference, pin, swap PTE)",
            Severity.SECURITY,
            "CVE-2020-29374: 5.7 reuses on mapcount 1 a page another mm still reads through a vmsplice() pipe; "
            "5.8 closes the child's side in GUP, the parent's side stays open until 5.9",
            _no_missed_cow,
            fixed_by="09854ba94c6a",
            cow_c="vmsplice() + unmap in child; vmsplice() before fork(), unmap in parent after fork()",
        ),
        Invariant(
            "no-wrong-cow",
            "an anonymous page that no other mm can reach and that the faulting mm has pinned is never replaced "
            "by a copy",
            Severity.CORRUPTION,
            "5.9 to 5.18 count references, so an own pin (io_uring fixed buffer, RDMA, vfio) looks foreign and the "
            "next write after mprotect(), clear_refs or NUMA hinting copies the page away from the pin (bz 215616)",
            _no_wrong_cow,
            fixed_by="6c287605fd56",
            cow_c="R/O-mapping a page registered as iouring fixed buffer",
        ),
        Invariant(
            "unshare-read-only",
            "an unshare fault never leaves a writable PTE",
            Severity.SECURITY,
            "FAULT_FLAG_UNSHARE (5.19) makes a page exclusive for a read-only pin; mapping it writable would let "
            "the process write a page it may still share",
            _unshare_read_only,
            fixed_by="c89357e27f20",
            cow_c="R/O GUP pin on R/O-mapped shared page",
            requires="unshare",
        ),
        Invariant(
            "exclusive-consistent",
            "after the fault, PG_anon_exclusive on a page implies it is anonymous, not KSM, and reached by no "
            "other mm",
            Severity.SECURITY,
            "PG_anon_exclusive (5.19) lets later faults, GUP-fast and mprotect() map the page writable without "
            "looking at any count; a wrong flag is a leak waiting to happen",
            _exclusive_consistent,
            fixed_by="6c287605fd56",
            cow_c="Basic COW after fork() with mprotect() optimization",
            requires="anon-exclusive",
        ),
        Invariant(
            "unlock-before-ptl",
            "the page lock is released before the PTL unless the handler holds a reference of its own, and it is "
            "never slept on while the PTL is held",
            Severity.LOCKING,
            "the seed patch 09854ba94c6a unlocked the page after wp_page_reuse() had dropped the PTL; a concurrent "
            "MADV_DONTNEED could free the page first ('Bad page state', LTP dirtyc0w_child on s390)",
            _unlock_before_ptl,
            fixed_by="be068f29034f",
        ),
        Invariant(
            "lock-balance",
            "every lock taken is released exactly once, the PTL is released on every path, and the PTE changes "
            "only under the PTL",
            Severity.LOCKING,
            "do_wp_page() is entered with the PTL held and must leave without it, whichever way it decides",
            _lock_balance,
        ),
        Invariant(
            "refs-conserved",
            "refcount and mapcount after the fault match the decision: reuse leaves them but for a freed swap "
            "cache or drained LRU batch; a copy takes one mapping and one reference from the old page and maps "
            "the new page once; every get has its put",
            Severity.ACCOUNTING,
            "counters are all the kernel sees; a drift is a leak or a use after free later",
            _refs_conserved,
        ),
        Invariant(
            "reuse-when-exclusive",
            "an order-0 anonymous page mapped only by the faulting mm, whose only other references are the swap "
            "cache (no other mm's swap PTE, no writeback) and this CPU's LRU batch, not locked by another and not "
            "KSM, is reused (a GET reference, even the faulting mm's own, makes copying the right call: the kernel "
            "cannot tell whose it is)",
            Severity.PERFORMANCE,
            "5.9 counts the swap cache's and the LRU batch's references as users and copies (redis after swap-in, "
            "fresh pages); 5.18 frees the swap cache and drains the local batch first",
            _reuse_when_exclusive,
            fixed_by="53a05ad9f21d, d4c470970d45",
        ),
        Invariant(
            "reuse-large-when-exclusive",
            "a large folio mapped by two or more PTEs, all of the faulting mm, with no other holder (and not "
            "flagged maybe-shared), is reused",
            Severity.PERFORMANCE,
            "from 5.9 the page count of a PTE-mapped large folio counts every mapped page, so it is copied; 6.9 "
            "stops reusing large folios at all (cd197c3a2040); 6.15 reuses when mapcount equals refcount.  A folio still flagged "
            "maybe-shared is exempt: the flag is all 6.15 knows of another mm's past mapping",
            _reuse_large_when_exclusive,
            fixed_by="1da190f4d0a6",
        ),
        Invariant(
            "flush-before-copy",
            "a write fault in a uffd-wp VMA with a TLB flush pending flushes before it copies a page",
            Severity.CORRUPTION,
            "uffd-wp write-protects under mmap_lock for read and defers the flush; more copying from 5.9 on made "
            "a stale writable TLB entry writing into the already copied page likely (Nadav Amit, 6ce64428d620 in "
            "5.12, hash recalled)",
            _flush_before_copy,
            fixed_by="6ce64428d620",
        ),
        Invariant(
            "write-needs-vm-write",
            "the PTE after the fault is writable only if the VMA has VM_WRITE",
            Severity.SECURITY,
            "a FOLL_FORCE write (ptrace, /proc/pid/mem) into a read-only private mapping COWs and dirties the "
            "page but must not make it writable (maybe_mkwrite(); the Dirty COW lineage, 19be0eaffa3a)",
            _write_needs_vm_write,
        ),
        Invariant(
            "writable-anon-is-exclusive",
            "after the fault, a writable PTE maps an anonymous page only if that page is PG_anon_exclusive",
            Severity.SECURITY,
            "from 5.19 GUP-fast, fork() and mprotect() trust the flag on any writable anonymous page",
            _writable_anon_is_exclusive,
            fixed_by="6c287605fd56",
            requires="anon-exclusive",
        ),
    )
}
