"""The fault in the world, in atomic steps between its lock boundaries.

``handle_mm_fault()`` of a write (or a GUP with FOLL_WRITE, or an unshare)
on an address of an mm: no page -> ``do_anonymous_page()``; a swap PTE ->
``do_swap_page()`` with the era's swap-in rule; a read-only present PTE ->
the era's own model of ``do_wp_page()`` (``ERAS[e].do_wp_page``), run on a
:class:`WorldFault`.

:class:`WorldFault` is the spec's :class:`~wpdiff.spec.kernel.Fault` on the
state the world projects, with every action applied to the world as the
kernel applies it.  At each lock boundary the model passes through --
``pte_unmap_unlock()``, ``pte_offset_map_lock()``, ``trylock_page()``,
``lock_page()``, ``unlock_page()`` -- it calls the preemption hook, where
the explorer may run another thread's or party's pending step; afterwards
it re-projects the world, so that what the kernel re-reads (``pte_same()``,
``page_count()``, ``PageSwapCache()`` ...) is read live.  The era modules
are not rewritten: an era that releases the PTL and then touches the page
(the seed patch's ``unlock_page()``) is caught touching a page that another
thread's MADV_DONTNEED has freed meanwhile.

A fault decided by someone else (``decide``: the era's fast path, for the
faithfulness check in diff/) runs as one atomic step: the decision's kernel
events are applied to the world by :func:`apply_events`, the same effects
:class:`WorldFault` has.
"""

import threading
from dataclasses import replace
from typing import Callable, Generator, List, Optional, Tuple

from ..eras import ERAS
from ..kernel import Fault, new_anon_page
from ..outcome import Decision, Event, Outcome
from ..state import FaultKind, FaultState, PageKind, mapping as mapping_holder
from .results import FaultRecord, FaultResult
from .world import Folio, ProgramError, Pte, World, ZERO_TOKEN, sub_name

Wait = Optional[Callable[[], bool]]
Hook = Callable[[str, Wait], None]
Decide = Callable[[str, FaultState], Outcome]
Steps = Generator[Tuple[str, Wait], None, None]


class Task:
    """What one thread of a concurrent line is doing: the explorer reads its
    signature into the state key, so that two runs at the same point of the
    same fault are one state."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fault: Optional["WorldFault"] = None
        self.progress = 0

    def sig(self) -> Tuple:
        f = self.fault
        return (self.name, self.progress, None if f is None else (tuple(f.events), tuple(f.answers)))


class WorldFault(Fault):
    """Fault over the live world: queries re-read it after every boundary."""

    def __init__(self, world: World, thread: str, mm: int, addr: str, idx: int, kind: FaultKind, hook: Hook) -> None:
        pte = world.mms[mm].ptes[(addr, idx)]
        super().__init__(world.project(mm, addr, pte.sub, pte.folio, thread, kind))
        self.world, self.thread, self.mm, self.addr, self.idx = world, thread, mm, addr, idx
        self.folio: Folio = world.folios[pte.folio]
        self.sub = pte.sub
        self.orig = pte.key()
        self.hook = hook
        self.me = f"fault of {thread}"
        self.answers: List[Tuple[str, object]] = []
        self.installed = False

    # ---- boundaries ---------------------------------------------------------

    def _sync(self) -> None:
        f = self.folio
        self.holders = [] if f.freed else list(self.world.project_holders(f, self.sub, self.thread))
        self.flags["kind"] = PageKind.KSM if f.ksm else PageKind.ANON
        self.flags["anon_exclusive"] = f.ae[self.sub]
        self.flags["locked"] = f.lock is not None and f.lock != self.me

    def _preempt(self, where: str, wait: Wait = None) -> None:
        self.hook(where, wait)
        self._sync()

    def _touch(self, what: str) -> None:
        if self.folio.freed and not self.world.freed_page_touched:
            self.world.freed_page_touched = True
            if "no-freed-page-touched" not in self.world.broken:
                self.world.broken.append("no-freed-page-touched")
            self.world.explanations.append(
                f"{self.thread}'s fault on {self.addr}: {what}() on a page that was freed while the handler "
                f"held neither the PTL nor a reference")

    def pte_unmap_unlock(self) -> None:
        super().pte_unmap_unlock()
        self.world.ptl[self.mm] = None
        self._preempt("pte_unmap_unlock")

    def _take_ptl(self, where: str) -> None:
        world, mm = self.world, self.mm
        self._preempt(where, lambda: world.ptl[mm] is None)
        world.ptl[mm] = self.me

    def pte_offset_map_lock(self) -> None:
        self._take_ptl("pte_offset_map_lock")
        self._event(Event.PTL_LOCK)
        self.ptl_held = True

    def pte_same(self) -> bool:
        now = self.world.mms[self.mm].ptes.get((self.addr, self.idx))
        same = now is not None and now.key() == self.orig
        self.answers.append(("pte_same", same))
        return same

    def trylock_page(self) -> bool:
        self._touch("trylock_page")
        if self.folio.lock is not None:
            self._event(Event.TRYLOCK_FAIL)
            return False
        self.folio.lock = self.me
        self.page_locked = True
        self._event(Event.TRYLOCK_OK)
        self._preempt("trylock_page")
        return True

    def lock_page(self) -> None:
        self._touch("lock_page")
        folio = self.folio
        self._preempt("lock_page (sleeps)", lambda: folio.lock is None)
        folio.lock = self.me
        self._set(locked=False)
        self.page_locked = True
        self._event(Event.LOCK_PAGE)

    def unlock_page(self) -> None:
        self._touch("unlock_page")
        super().unlock_page()
        if self.folio.lock == self.me:
            self.folio.lock = None
        self._preempt("unlock_page")

    # ---- effects ----------------------------------------------------------------

    def get_page(self) -> None:
        super().get_page()
        self.folio.refs += 1

    def put_page(self) -> None:
        super().put_page()
        self.folio.refs -= 1
        self.world.maybe_free(self.folio)

    def lru_add_drain(self) -> None:
        self._event(Event.LRU_DRAIN)
        self.world.drain(self.world.cpu_of(self.thread))
        self._sync()

    def _delete_from_swap_cache(self) -> None:
        super()._delete_from_swap_cache()
        self.world.free_swap_cache(self.folio)

    def page_move_anon_rmap(self) -> None:
        self._touch("page_move_anon_rmap")
        super().page_move_anon_rmap()
        self.folio.ksm = False

    def SetPageAnonExclusive(self) -> None:
        self._touch("SetPageAnonExclusive")
        super().SetPageAnonExclusive()
        self.folio.ae[self.sub] = True

    def folio_maybe_mapped_shared(self) -> bool:
        answer = self.folio.nr > 1 and len({m for m, _, _ in self.world.mappers(self.folio.id)}) > 1
        self.answers.append(("folio_maybe_mapped_shared", answer))
        return answer

    def PageWriteback(self) -> bool:
        return False

    def _reuse_pte(self) -> None:
        self._event(Event.REUSE_PTE)
        self.pte = replace(self.pte, young=True, dirty=True, write=self.pte.write or self.vma.write)
        self.world.mms[self.mm].ptes[(self.addr, self.idx)].write = self.vma.write
        self.pte_unmap_unlock()

    def wp_page_copy(self, *, anon_exclusive: bool, free_swap_cache: bool) -> Outcome:
        """wp_page_copy() with its own window: the data is copied after the
        PTL is gone, and the copy is installed only if the PTE is unchanged
        when the PTL is retaken (else the new page is freed, and the access
        faults again)."""
        self.get_page()
        self.pte_unmap_unlock()
        token = self.folio.data[self.sub]  # __wp_page_copy_user(), under our reference
        self._take_ptl("wp_page_copy retakes the PTL")
        world = self.world
        now = world.mms[self.mm].ptes.get((self.addr, self.idx))
        if now is not None and now.key() == self.orig:
            self._event(Event.NEW_PAGE)
            if mapping_holder(self.mm) in self.holders:
                self.holders.remove(mapping_holder(self.mm))
            new = world.install_copy(self.mm, self.addr, self.idx, self.folio, world.cpu_of(self.thread),
                                     writable=self.vma.write and not self.unshare)
            new.data = [token]
            new.ae = [anon_exclusive]
            self.new_page = new_anon_page(self.mm, anon_exclusive)
            self.installed = True
            if self.unshare:
                self.pte = type(self.pte)(write=False, dirty=False, young=True, uffd_wp=self.pte.uffd_wp)
            else:
                self.pte = type(self.pte)(write=self.vma.write, dirty=True, young=True, uffd_wp=False)
        world.ptl[self.mm] = None
        self._sync()
        if free_swap_cache:
            self.free_swap_cache()
        self.put_page()
        return self._outcome(Decision.COPY)


_QUERIES = ("PageAnon", "PageKsm", "PageAnonExclusive", "PageSwapCache", "PageLRU", "page_count", "page_mapcount",
            "page_mapped", "folio_large_mapcount", "page_swapcount", "page_stable_node", "others_mapcount")


def _logged(name: str) -> Callable:
    base = getattr(Fault, name)

    def query(self: WorldFault):  # type: ignore[no-untyped-def]
        self._touch(name)
        answer = base(self)
        self.answers.append((name, answer))
        return answer

    query.__name__ = name
    query.__doc__ = base.__doc__
    return query


for _name in _QUERIES:
    setattr(WorldFault, _name, _logged(_name))


# ---- running the model in atomic steps ---------------------------------------


class _Abort(BaseException):
    """Unwinds a fault whose run the explorer abandons."""


class _Coroutine:
    """The era model runs to its next lock boundary in a thread of its own
    and waits there; only one side ever runs at a time."""

    def __init__(self, fn: Callable[[Hook], Outcome]) -> None:
        self.fn = fn
        self.thread: Optional[threading.Thread] = None
        self.go = threading.Semaphore(0)
        self.back = threading.Semaphore(0)
        self.done = False
        self.abort = False
        self.result: Optional[Outcome] = None
        self.error: Optional[BaseException] = None
        self.where = ""
        self.wait: Wait = None

    def _main(self) -> None:
        try:
            self.result = self.fn(self._yield)
        except _Abort:
            pass
        except BaseException as e:  # handed to the explorer's side
            self.error = e
        self.done = True
        self.back.release()

    def _yield(self, where: str, wait: Wait) -> None:
        self.where, self.wait = where, wait
        self.back.release()
        self.go.acquire()
        if self.abort:
            raise _Abort()

    def resume(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._main, daemon=True)
            self.thread.start()
        else:
            self.go.release()
        self.back.acquire()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if self.thread is None:
            return
        if not self.done:
            self.abort = True
            self.go.release()
        self.thread.join()


def _record(world: World, thread: str, mm: int, addr: str, idx: int, nr: int, step: int, kind: FaultKind,
            outcome: Outcome, installed: bool) -> None:
    d = outcome.decision
    if d in (Decision.REUSE, Decision.UNSHARE_REUSE):
        result = FaultResult.REUSED
    elif d is Decision.COPY and installed:
        result = FaultResult.COPIED
    else:
        result = FaultResult.OTHER
    world.faults.append(FaultRecord(world.mms[mm].name, sub_name(addr, idx, nr), step, result,
                                    kind is FaultKind.UNSHARE, tuple(e.value for e in outcome.events)))


def do_wp_page(world: World, task: Task, mm: int, addr: str, idx: int, step: int, kind: FaultKind,
               preemptible: bool, decide: Optional[Decide]) -> Steps:
    """Run the era's do_wp_page() on (mm, addr page idx), whose PTE is present
    and read-only; the PTL of `mm` is free when this starts."""
    vma_nr = world.mms[mm].vmas[addr].nr
    if decide is not None:
        pte = world.mms[mm].ptes[(addr, idx)]
        state = world.project(mm, addr, pte.sub, pte.folio, task.name, kind)
        outcome = decide(world.era, state)
        installed = apply_events(world, task.name, mm, addr, idx, kind, outcome)
        _record(world, task.name, mm, addr, idx, vma_nr, step, kind, outcome, installed)
        return
    model = ERAS[world.era].do_wp_page

    def run(hook: Hook) -> Tuple[Outcome, bool]:
        f = WorldFault(world, task.name, mm, addr, idx, kind, hook)
        task.fault = f
        world.ptl[mm] = f.me
        return model(f), f.installed

    world.in_fault.add(mm)
    try:
        if not preemptible:
            def hook(where: str, wait: Wait) -> None:
                if wait is not None and not wait():
                    raise ProgramError(f"{task.name}'s fault on {addr} waits at {where} for something no step "
                                       f"will ever release (run it concurrently with the step that does: '||')")
            outcome, installed = run(hook)
        else:
            co = _Coroutine(lambda hook: run(hook))  # type: ignore[arg-type,return-value]
            try:
                co.resume()
                while not co.done:
                    yield co.where, co.wait
                    co.resume()
            finally:
                co.close()
            outcome, installed = co.result  # type: ignore[misc]
    finally:
        world.in_fault.discard(mm)
        task.fault = None
    _record(world, task.name, mm, addr, idx, vma_nr, step, kind, outcome, installed)


def apply_events(world: World, thread: str, mm: int, addr: str, idx: int, kind: FaultKind, outcome: Outcome) -> bool:
    """Apply a decided fault's kernel events to the world, atomically: the
    same effects WorldFault has.  Returns whether a copy was installed."""
    pte = world.mms[mm].ptes[(addr, idx)]
    folio = world.folios[pte.folio]
    sub = pte.sub
    vma = world.mms[mm].vmas[addr]
    installed = False
    for e in outcome.events:
        if e is Event.LRU_DRAIN:
            world.drain(world.cpu_of(thread))
        elif e is Event.SWAP_FREE:
            world.free_swap_cache(folio)
        elif e is Event.MOVE_ANON_RMAP:
            folio.ksm = False
        elif e is Event.SET_ANON_EXCLUSIVE:
            folio.ae[sub] = True
        elif e is Event.REUSE_PTE:
            pte.write = vma.write
        elif e is Event.NEW_PAGE:
            unshare = kind is FaultKind.UNSHARE
            ae = outcome.new_page.anon_exclusive if outcome.new_page is not None else False
            new = world.install_copy(mm, addr, idx, folio, world.cpu_of(thread), writable=vma.write and not unshare)
            new.ae = [ae]
            installed = True
    world.maybe_free(folio)
    return installed


# ---- the rest of handle_mm_fault() --------------------------------------------


def do_anonymous_page(world: World, thread: str, mm: int, addr: str, idx: int) -> None:
    """A write to an address with no page: a fresh zeroed page, exclusive,
    in this CPU's LRU batch, mapped writable."""
    f = world.new_folio(1, ZERO_TOKEN, world.cpu_of(thread))
    world.mms[mm].ptes[(addr, idx)] = Pte(folio=f.id, sub=0, write=True)


def do_swap_page(world: World, thread: str, mm: int, addr: str, idx: int, write: bool) -> bool:
    """Swap-in on a swap PTE: the swap cache's page, or a fresh page read
    from swap (which enters the swap cache and this CPU's LRU batch), mapped
    read-only -- or writable on a write when the era's swap-in rule says the
    page is ours.  Returns whether the write is already satisfied."""
    m = world.mms[mm]
    spte = m.ptes[(addr, idx)]
    slot = spte.slot
    assert slot is not None
    folio = next((f for f in world.folios.values() if f.slot == slot and not f.freed), None)
    if folio is None:
        folio = world.new_folio(1, world.swap[slot][0], world.cpu_of(thread))
        folio.slot = slot
        folio.dirty = False
    exclusive = spte.exclusive
    m.ptes[(addr, idx)] = Pte(folio=folio.id, sub=0, write=False)  # swap_free(): this swap PTE is gone
    others = len(world.swap_ptes(slot))
    mapcount = len(world.mappers(folio.id))
    # page_count() as do_swap_page() sees it: the mappings, GUP references,
    # the swap cache (the LRU batch a fresh read sits in is not counted).
    refs = mapcount + len(world.refs_of(folio.id)) + (folio.slot is not None)
    if world.policy("swap-in-reuse-by-count"):
        if write and not folio.ksm and refs == 2 and others == 0 and folio.slot is not None:
            world.free_swap_cache(folio)  # should_try_to_free_swap(): R == 2 on a write fault
            refs -= 1
        ours = not folio.ksm and (refs == 1 or (exclusive and world.policy("anon-exclusive-flag")))
        if world.policy("anon-exclusive-flag"):
            folio.ae[0] = ours
        if write and ours:
            m.ptes[(addr, idx)].write = m.vmas[addr].write
            return True
        return False
    # reuse_swap_page(): mapcount + swapcount <= 1, the page count unread.
    if write and not folio.ksm and mapcount + others <= 1:
        if others == 0 and folio.slot is not None:
            world.free_swap_cache(folio)
        m.ptes[(addr, idx)].write = m.vmas[addr].write
        return True
    return False


def access(world: World, task: Task, addr: str, idx: int, write: bool, step: int, preemptible: bool,
           decide: Optional[Decide], kind: FaultKind = FaultKind.WRITE) -> Generator[Tuple[str, Wait], None, Folio]:
    """Fault the page in until the access can be done (a write or unshare:
    until the PTE is writable, or exclusive for an unshare); returns the
    folio the access lands on.  Between the fault's return and the access
    another thread may run (the access then faults again)."""
    mm = world.mm_of(task.name)
    if addr not in mm.vmas:
        raise ProgramError(f"{mm.name} has no mapping at {addr} (never mapped, or unmapped): SIGSEGV")
    if write and not mm.vmas[addr].write and kind is FaultKind.WRITE:
        raise ProgramError(f"{mm.name} writes {addr}, which is mapped read-only (mprotect ro): SIGSEGV")
    for attempt in range(4):
        task.progress = attempt
        if world.ptl[mm.id] is not None:
            yield "waiting for the PTL", (lambda: world.ptl[mm.id] is None)
        pte = mm.ptes.get((addr, idx))
        if pte is None:
            do_anonymous_page(world, task.name, mm.id, addr, idx)
            pte = mm.ptes[(addr, idx)]
        elif not pte.present:
            do_swap_page(world, task.name, mm.id, addr, idx, write and kind is FaultKind.WRITE)
            pte = mm.ptes[(addr, idx)]
        folio = world.folios[pte.folio]  # type: ignore[index]
        if kind is FaultKind.UNSHARE:
            if pte.write or folio.ae[pte.sub]:
                return folio
        elif pte.write or not write:
            return folio
        yield from do_wp_page(world, task, mm.id, addr, idx, step, kind, preemptible, decide)
        if preemptible:
            yield "fault returns", None
    raise ProgramError(f"{mm.name}'s access to {addr} faulted 4 times without being satisfied")
