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


_IN_PLACE = {PageKind.FILE: "wp_page_shared()", PageKind.ZERO: "wp_pfn_shared()"}


def _private_write_copies(s: FaultState, out: Outcome) -> Optional[str]:
    if s.vma.shared or s.fault is not FaultKind.WRITE:
        return None
    kind = s.page.kind
    what = "the zero page (no struct page)" if kind is PageKind.ZERO else f"the {kind.value} page"
    if out.decision is Decision.SHARED:
        return (
            f"a write in a private (COW) mapping went down the shared path with {what} "
            f"({_IN_PLACE.get(kind, 'written in place')}, VM_SHARED 0): the write lands in the page every other "
            f"mapping of it reads ({_seen(s)})"
        )
    if out.decision is Decision.REUSE and kind in _IN_PLACE:
        return (
            f"a write in a private (COW) mapping reused {what}, leaving the PTE "
            f"{'writable' if out.pte.write else 'dirty'} on it: only VM_SHARED / VM_MAYSHARE mappings write "
            f"{'the zero page' if kind is PageKind.ZERO else 'a file page'} in place ({_seen(s)})"
        )
    return None


def _uffd_wp_reported_first(s: FaultState, out: Outcome) -> Optional[str]:
    if s.fault is not FaultKind.WRITE or not s.pte.uffd_wp:
        return None
    mode = s.vma.uffd_wp
    if mode is UffdWp.SYNC:
        if out.decision is not Decision.USERFAULT:
            return (
                f"a write to a uffd-wp PTE in a synchronous uffd-wp VMA ended in {out.decision.value} without "
                f"handle_userfault(): the monitor never learns of the write ({s.page.kind.value} page, {_seen(s)})"
            )
        acted = [(i, e) for i, e in enumerate(out.events) if e is not Event.PTL_UNLOCK]
        if acted:
            i, e = acted[0]
            return (
                f"event {i + 1} ({e.value}) before handle_userfault(): a write to a uffd-wp PTE is reported to "
                "user space before the handler touches the page or the PTE"
            )
    elif mode is UffdWp.ASYNC and out.decision is Decision.USERFAULT:
        return (
            "a write to a uffd-wp PTE in an asynchronous uffd-wp VMA (UFFD_FEATURE_WP_ASYNC) went to user space: "
            "the kernel clears the bit and resolves the fault itself, and no monitor is waiting"
        )
    return None


def _ksm_never_written(s: FaultState, out: Outcome) -> Optional[str]:
    page = out.page
    if out.decision not in (Decision.REUSE, Decision.SHARED) or page is None or page.kind is not PageKind.KSM:
        return None
    return (
        f"after {out.decision.value} mm{s.mm}'s PTE is {'writable' if out.pte.write else 'dirty'} on a page that is "
        f"still a KSM page ({_seen(s)}): every mm merged into it sees the write; a KSM page is turned into a "
        "plain anonymous page (page_move_anon_rmap()) before it is reused, or copied"
    )


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
PTL, PAGE_LOCK = "the PTL", "the page lock"

# What each primitive must be called with, as the kernel documents or
# asserts it: the one table ``called-with-locks`` reads the trace against.
# (The ways the handler sleeps -- lock_page(), the copy's allocation -- must
# be called *without* the PTL; ``unlock-before-ptl`` holds them to that.)
NEEDS: Dict[Event, Tuple[Tuple[str, ...], str]] = {
    Event.SWAP_FREE: (
        (PAGE_LOCK,),
        "folio_free_swap() / try_to_free_swap() and delete_from_swap_cache() assert the folio is locked "
        "(VM_BUG_ON_FOLIO(!folio_test_locked())): an unlocked page can be swapped out or read back meanwhile",
    ),
    Event.MOVE_ANON_RMAP: (
        (PAGE_LOCK,),
        "page_move_anon_rmap() / folio_move_anon_rmap() assert the folio is locked: rmap walkers lock it to "
        "read page->mapping",
    ),
    Event.SET_ANON_EXCLUSIVE: (
        (PTL,),
        "PG_anon_exclusive is set and cleared under the PTL only (fork(), GUP-fast and dec078cc2181 rely on it)",
    ),
    Event.REUSE_PTE: ((PTL,), "wp_page_reuse() is called with the PTL held: it changes the PTE, then drops it"),
    Event.UFFD_WP_CLEAR: ((PTL,), "the uffd-wp bit is cleared in the PTE, which only the PTL protects"),
}


@lru_cache(maxsize=4096)
def _replay_locks(events: Tuple[Event, ...]) -> Tuple[Tuple[str, ...], Tuple[str, ...], Tuple[str, ...]]:
    """Walk the trace; return (use-after-PTL problems, balance problems,
    primitives called without a lock ``NEEDS`` says they need)."""
    use: List[str] = []
    balance: List[str] = []
    unlocked: List[str] = []
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
        if e in NEEDS:
            locks, why = NEEDS[e]
            missing = [lock for lock in locks if not (ptl if lock is PTL else page_lock)]
            if missing:
                unlocked.append(f"{at} without {' or '.join(missing)}: {why}")
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
    return tuple(use), tuple(balance), tuple(unlocked)


def _unlock_before_ptl(s: FaultState, out: Outcome) -> Optional[str]:
    use, _, _ = _replay_locks(out.events)
    return use[0] if use else None


def _lock_balance(s: FaultState, out: Outcome) -> Optional[str]:
    _, balance, _ = _replay_locks(out.events)
    return balance[0] if balance else None


def _called_with_locks(s: FaultState, out: Outcome) -> Optional[str]:
    _, _, unlocked = _replay_locks(out.events)
    return unlocked[0] if unlocked else None


# Events that act on the faulting PTE, or on the page as that PTE's page.
_ACTS_ON_PTE = frozenset(
    {Event.REUSE_PTE, Event.NEW_PAGE, Event.UFFD_WP_CLEAR, Event.SET_ANON_EXCLUSIVE, Event.MOVE_ANON_RMAP}
)


def _no_stale_pte(s: FaultState, out: Outcome) -> Optional[str]:
    if not s.pte_changes_while_sleeping:
        return None
    ptl, slept = True, None
    for i, e in enumerate(out.events):
        if e is Event.PTL_UNLOCK:
            ptl = False
        elif e is Event.PTL_LOCK:
            ptl = True
        elif e is Event.LOCK_PAGE and not ptl and slept is None:
            slept = i
        elif slept is not None and e in _ACTS_ON_PTE:
            return (
                f"event {i + 1} ({e.value}) comes after the handler slept in lock_page() (event {slept + 1}) with the "
                f"PTL dropped, and the PTE changed meanwhile: pte_same() fails there, so it must retry, not act on a "
                f"PTE it no longer owns (decision {out.decision.value})"
            )
    return None


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
            "every lock taken is released exactly once, and the PTL is released on every path",
            Severity.LOCKING,
            "do_wp_page() is entered with the PTL held and must leave without it, whichever way it decides "
            "(what must be done under the PTL, called-with-locks judges)",
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
        # ---- what a reviewer holds a do_wp_page() patch to (issue 15)
        Invariant(
            "private-write-copies",
            "a write fault in a private (COW) mapping never writes a file page or the zero page (or a PFN without "
            "a struct page) in place: only a VM_SHARED / VM_MAYSHARE mapping takes wp_page_shared() or "
            "wp_pfn_shared(); a private one copies",
            Severity.SECURITY,
            "every era keeps it: the shared paths are taken only when vma_shared() says so (from 6.2 first of all, "
            "b9086fde6d44), and anything but an anonymous page in a COW mapping is copied.  A write that reached "
            "the page cache through a MAP_PRIVATE mapping would change the file for every reader (the FOLL_FORCE "
            "form of it is Dirty COW, CVE-2016-5195, 19be0eaffa3a); one that made the zero page writable would "
            "change every process's zeros",
            _private_write_copies,
            cow_c="non-anonymous memory: Basic COW (shared zeropage, memfd, tmpfile: \"Other mapping modified\")",
        ),
        Invariant(
            "uffd-wp-reported-first",
            "a write to a uffd-wp PTE in a synchronous uffd-wp VMA goes to user space (handle_userfault()) before "
            "anything is reused, copied or changed; in an asynchronous one (UFFD_FEATURE_WP_ASYNC) the kernel "
            "resolves it and user space is not asked",
            Severity.CORRUPTION,
            "userfaultfd write-protect (5.7, the series of 292924b26024) opens do_wp_page() with the uffd-wp check: "
            "a monitor that write-protects memory (QEMU's live snapshot, CRIU's dirty tracking) must see a write "
            "before it happens, or the snapshot holds data newer than its moment.  Unshare faults are not writes and "
            "skip it (5.19); 6.7's async mode clears the bit in the kernel instead.  Every era keeps it",
            _uffd_wp_reported_first,
            requires="uffd-wp",
        ),
        Invariant(
            "called-with-locks",
            "every primitive the kernel documents or asserts as called with the page locked or with the PTL held "
            "is called so: freeing the swap cache and moving the anon_vma under the page lock, changing the PTE "
            "and PG_anon_exclusive under the PTL (the table invariants.NEEDS, read against the trace)",
            Severity.LOCKING,
            "folio_free_swap() and page_move_anon_rmap() assert the folio lock (VM_BUG_ON_FOLIO); 5.18 frees the "
            "swap cache only after a trylock under the PTL (53a05ad9f21d), 6.7 sets PG_anon_exclusive under the "
            "PTL alone (dec078cc2181).  Every era keeps it",
            _called_with_locks,
            fixed_by="53a05ad9f21d",
        ),
        Invariant(
            "no-stale-pte",
            "after sleeping on the page lock with the PTL dropped, a handler whose PTE changed meanwhile retries: it "
            "never makes that PTE writable, copies into it, or moves or marks the page as its own",
            Severity.CORRUPTION,
            "up to 5.8 the handler sleeps in lock_page() when the trylock fails, with the PTL dropped; another "
            "thread may zap, COW or remap the PTE meanwhile, so it retakes the PTL and rechecks pte_same(), "
            "returning 0 (the access faults again) on a change.  From 5.9 it never sleeps there.  Every era keeps it",
            _no_stale_pte,
        ),
        Invariant(
            "ksm-never-written",
            "a page that is still a KSM page is never reused in place: it becomes a plain anonymous page first "
            "(page_move_anon_rmap()) or is copied",
            Severity.SECURITY,
            "a KSM page is shared by every mm whose identical pages were merged into it.  5.1 - 5.8 reuse one only "
            "through reuse_ksm_page() (52d1e606ee73): mapped once, out of the swap cache, page_ref_freeze() to 1, "
            "then moved out of KSM; from 5.9 (1a0cf26323c8) KSM pages are always copied.  No cow.c case: "
            "ksm_functional_tests.c's unmerge tests check the same from user space.  Every era keeps it",
            _ksm_never_written,
            fixed_by="52d1e606ee73",
        ),
    )
}
