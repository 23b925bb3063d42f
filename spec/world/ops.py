"""The one table of operations on the world, ``OPS``.

Each :class:`Op` has its litmus spelling, who runs it (a thread of a
process, or a party no process is: ``ksm merge P0:a P1:b``, ``lock P0:a``),
the kinds of its arguments (from which the stateful machine draws them and
the parser reads them), when it may run concurrently (``ready``: the locks
it needs are free), its semantics (``run``: a generator that yields at the
lock boundaries of the faults it takes), its ``cow.c`` analogue and the
form the live runner gives it.  The litmus parser, the stateful machine and
the live runner all read this table.

Addresses are ``a`` (page 0 of the mapping) or ``a[k]`` (page k of a large
folio); a party names them with their process, ``P0:a``.
"""

from dataclasses import dataclass
from typing import Callable, Dict, Generator, Optional, Tuple

from ..state import FaultKind
from . import guarantees as G
from .fault import Decide, Task, Wait, access
from .world import DEVICE, LARGE, ProgramError, Pte, Ref, Vma, World, ZERO_TOKEN

Args = Tuple[object, ...]
Steps = Generator[Tuple[str, Wait], None, None]


@dataclass(frozen=True)
class Ctx:
    """How a step runs: its index in the program, whether faults may be
    preempted at their lock boundaries, and who decides faults (None: the
    era's model)."""

    step: int
    preemptible: bool
    decide: Optional[Decide] = None


@dataclass(frozen=True)
class Op:
    name: str
    spelling: str  # the litmus form, {0}, {1} ... are the arguments
    args: Tuple[str, ...]  # argument kinds: addr, value, reg, proc, pipe, pin, access, duration, prot, paddr
    who: str  # "thread", "party" or "either"
    run: Callable[[World, Task, Args, Ctx], Steps]
    ready: Callable[[World, Task, Args], bool]
    cow_c: str = ""  # what tools/testing/selftests/mm/cow.c does for it
    live: str = ""  # how the live runner performs it

    def spell(self, args: Args) -> str:
        return self.spelling.format(*(addr_text(a) if isinstance(a, tuple) else a for a in args))


def addr_text(a: object) -> str:
    if isinstance(a, tuple) and len(a) == 3:
        return f"{a[0]}:{addr_text(a[1:])}"
    if isinstance(a, tuple):
        name, idx = a
        return name if idx == 0 else f"{name}[{idx}]"
    return str(a)


def _always(world: World, task: Task, args: Args) -> bool:
    return True


def _mm_quiet(world: World, task: Task, args: Args) -> bool:
    """mmap_lock for write: no fault of this mm in flight."""
    mm = world.names.get(task.name.split(".")[0])
    return mm is None or (mm not in world.in_fault and world.ptl[mm] is None)


def _ptl_free(world: World, task: Task, args: Args) -> bool:
    mm = world.names.get(task.name.split(".")[0])
    return mm is None or world.ptl[mm] is None


def _nothing() -> Steps:
    return
    yield  # pragma: no cover  (a generator that yields nothing)


def _vma(world: World, task: Task, addr: Tuple[str, int]):  # type: ignore[no-untyped-def]
    mm = world.mm_of(task.name)
    name, idx = addr
    if name not in mm.vmas:
        raise ProgramError(f"{mm.name} has no mapping at {name} (never mapped, or unmapped)")
    if idx >= mm.vmas[name].nr:
        raise ProgramError(f"{name} has {mm.vmas[name].nr} page(s), so {addr_text(addr)} is outside it")
    return mm, mm.vmas[name]


# ---- process memory ---------------------------------------------------------------


def _write(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    addr, value = args
    mm, _ = _vma(world, task, addr)  # type: ignore[arg-type]
    name, idx = addr  # type: ignore[misc]
    folio = yield from access(world, task, name, idx, True, ctx.step, ctx.preemptible, ctx.decide)
    pte = mm.ptes[(name, idx)]
    token = world.new_token(int(value), mm.id)  # type: ignore[call-overload]
    world.folios[pte.folio].data[pte.sub] = token  # type: ignore[index]
    world.shadow[(mm.id, name, idx)] = token
    del folio


def _read(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    addr, reg = args
    mm, _ = _vma(world, task, addr)  # type: ignore[arg-type]
    name, idx = addr  # type: ignore[misc]
    pte = mm.ptes.get((name, idx))
    if pte is None:
        token = ZERO_TOKEN  # an untouched (or zapped) page reads as zeroes
    else:
        yield from access(world, task, name, idx, False, ctx.step, ctx.preemptible, ctx.decide)
        pte = mm.ptes[(name, idx)]
        token = world.folios[pte.folio].data[pte.sub]  # type: ignore[index]
    world.registers[f"{task.name}:{reg}"] = token[0]
    G.check_read(world, mm.id, name, idx, token)


def _gup(world: World, task: Task, addr: Tuple[str, int], writable: bool, pin: bool, ctx: Ctx):  # type: ignore
    """get_user_pages() of one page: FOLL_WRITE write-faults first; 5.8
    breaks COW for read-only references too; from 5.19 a R/O pin of a page
    not exclusive unshares it first.  Returns (folio, page, taken_while_shared)."""
    mm, vma = _vma(world, task, addr)
    name, idx = addr
    if writable and not vma.write:
        raise ProgramError(f"a writable GUP of {name} needs a writable mapping (it is mprotect ro)")
    if writable or (world.policy("gup-breaks-cow") and vma.write):
        yield from access(world, task, name, idx, True, ctx.step, ctx.preemptible, ctx.decide)
    elif pin and world.policy("unshare-fault"):
        yield from access(world, task, name, idx, True, ctx.step, ctx.preemptible, ctx.decide, FaultKind.UNSHARE)
    else:
        yield from access(world, task, name, idx, False, ctx.step, ctx.preemptible, ctx.decide)
    pte = mm.ptes[(name, idx)]
    folio = world.folios[pte.folio]  # type: ignore[index]
    if writable or pte.write:
        shared = False
    elif world.policy("anon-exclusive-flag"):
        shared = not folio.ae[pte.sub]
    else:
        shared = any(m != mm.id for m, _, _ in world.mappers(folio.id)) or (
            folio.slot is not None and any(m != mm.id for m, _, _ in world.swap_ptes(folio.slot)))
    return folio, pte.sub, shared


def _vmsplice(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    addr, pipe = args
    if pipe in world.pipes:
        raise ProgramError(f"{pipe} already holds a page (read it first)")
    folio, page, shared = yield from _gup(world, task, addr, False, False, ctx)  # type: ignore[arg-type]
    mm = world.mm_of(task.name)
    name, idx = addr  # type: ignore[misc]
    world.pipes[str(pipe)] = Ref(str(pipe), mm.id, name, idx, folio.id, page, taken_while_shared=shared,
                                 expect=world.shadow.get((mm.id, name, idx), ZERO_TOKEN))


def _pin(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    addr, acc, duration, pin = args
    if pin in world.pins:
        raise ProgramError(f"{pin} is already a pin (unpin it first)")
    writable = acc == "rw"
    folio, page, shared = yield from _gup(world, task, addr, writable, True, ctx)  # type: ignore[arg-type]
    mm = world.mm_of(task.name)
    name, idx = addr  # type: ignore[misc]
    world.pins[str(pin)] = Ref(str(pin), mm.id, name, idx, folio.id, page, writable=writable,
                               longterm=duration == "longterm", taken_while_shared=shared)
    mm.has_pinned = True


def _pipe_read(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    pipe, reg = args
    ref = world.pipes.pop(str(pipe), None)
    if ref is None:
        raise ProgramError(f"{pipe} holds no page: nothing was vmspliced into it (or it was read already)")
    folio = world.folios[ref.folio]
    token = folio.data[ref.page]
    world.registers[f"{task.name}:{reg}"] = token[0]
    G.check_pipe_read(world, ref, token)
    world.maybe_free(folio)
    return _nothing()


def _pin_ref(world: World, pin: object) -> Ref:
    ref = world.pins.get(str(pin))
    if ref is None:
        raise ProgramError(f"{pin} is not a pin (never pinned, or unpinned)")
    return ref


def _pin_read(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    pin, reg = args
    ref = _pin_ref(world, pin)
    token = world.folios[ref.folio].data[ref.page]
    world.registers[f"{task.name}:{reg}"] = token[0]
    G.check_pin_read(world, ref, token)
    return _nothing()


def _pin_write(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    pin, value = args
    ref = _pin_ref(world, pin)
    if not ref.writable:
        raise ProgramError(f"{pin} is a read-only pin: the device cannot write through it")
    token = world.new_token(int(value), DEVICE)  # type: ignore[call-overload]
    world.folios[ref.folio].data[ref.page] = token
    if ref.attached:
        world.shadow[(ref.owner, ref.addr, ref.sub)] = token
    return _nothing()


def _unpin(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    ref = _pin_ref(world, args[0])
    del world.pins[ref.name]
    world.maybe_free(world.folios[ref.folio])
    return _nothing()


# ---- the address space ------------------------------------------------------------------


def _zap(world: World, mm_id: int, name: str, idx: int) -> None:
    mm = world.mms[mm_id]
    pte = mm.ptes.pop((name, idx), None)
    for r in world.pins.values():
        if r.owner == mm_id and r.addr == name and r.sub == idx:
            r.attached = False
    if pte is None:
        return
    if pte.present:
        world.maybe_free(world.folios[pte.folio])  # type: ignore[index]
    else:
        slot = pte.slot
        folio = next((f for f in world.folios.values() if f.slot == slot and not f.freed), None)
        if folio is not None:
            world.maybe_free(folio)
        elif not world.swap_ptes(slot):  # type: ignore[arg-type]
            world.swap.pop(slot, None)  # type: ignore[arg-type]


def _munmap(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    mm, vma = _vma(world, task, args[0])  # type: ignore[arg-type]
    for idx in range(vma.nr):
        _zap(world, mm.id, vma.name, idx)
        world.shadow.pop((mm.id, vma.name, idx), None)
    del mm.vmas[vma.name]
    return _nothing()


def _dontneed(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    mm, vma = _vma(world, task, args[0])  # type: ignore[arg-type]
    for idx in range(vma.nr):
        _zap(world, mm.id, vma.name, idx)
        world.shadow[(mm.id, vma.name, idx)] = ZERO_TOKEN
    return _nothing()


def _dontfork(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    _, vma = _vma(world, task, args[0])  # type: ignore[arg-type]
    vma.dontfork = True
    return _nothing()


def _dofork(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    _, vma = _vma(world, task, args[0])  # type: ignore[arg-type]
    vma.dontfork = False
    return _nothing()


def _mprotect(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    addr, prot = args
    mm, vma = _vma(world, task, addr)  # type: ignore[arg-type]
    vma.write = prot == "rw"
    if not vma.write:
        for (name, _), pte in mm.ptes.items():
            if name == vma.name:
                pte.write = False
    return _nothing()


def _pageout(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    """MADV_PAGEOUT: reclaim the pages of the mapping now.  Every PTE of the
    page becomes a swap PTE (exclusive if the page was, 5.19+); the page
    stays in the swap cache while anything else holds it."""
    mm, vma = _vma(world, task, args[0])  # type: ignore[arg-type]
    for idx in range(vma.nr):
        pte = mm.ptes.get((vma.name, idx))
        if pte is None or not pte.present:
            continue
        folio = world.folios[pte.folio]  # type: ignore[index]
        if folio.nr > 1:
            raise ProgramError(f"swapping out the large folio at {vma.name} is outside the modelled bounds "
                               "(swap PTEs are modelled for small pages)")
        if world.pinned(folio) or folio.ksm or folio.lock is not None:
            continue  # pinned pages stay (feb889fb40fa); a locked page is skipped by reclaim
        folio.batch = None
        if folio.slot is None:
            folio.slot = world.next_slot
            world.next_slot += 1
        world.swap[folio.slot] = (folio.data[0],)
        exclusive = folio.ae[0] and world.policy("anon-exclusive-flag")
        for m, a, s in world.mappers(folio.id):
            world.mms[m].ptes[(a, s)] = Pte(slot=folio.slot, exclusive=exclusive)
        folio.ae[0] = False
        if not world.refs_of(folio.id) and not folio.refs:
            folio.slot = None  # written out and freed; the data lives in the swap slot
            folio.freed = True
    return _nothing()


def _fork(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    child_name = str(args[0])
    if child_name in world.names:
        raise ProgramError(f"{child_name} exists already")
    parent = world.mm_of(task.name)
    child = world.add_mm(child_name, parent.id)
    cpu = world.cpu_of(task.name)
    for name, vma in parent.vmas.items():
        if vma.dontfork:
            continue
        child.vmas[name] = Vma(name, vma.nr, vma.write, False)
        for idx in range(vma.nr):
            key = (name, idx)
            world.shadow[(child.id, name, idx)] = world.shadow.get((parent.id, name, idx), ZERO_TOKEN)
            pte = parent.ptes.get(key)
            if pte is None:
                continue
            if not pte.present:
                child.ptes[key] = Pte(slot=pte.slot)
                pte.exclusive = False
                continue
            folio = world.folios[pte.folio]  # type: ignore[index]
            if world.policy("copy-on-fork-if-pinned") and parent.has_pinned and world.pinned(folio):
                # copy_present_page(): the child gets its own copy, mapped writable
                copy = world.new_folio(1, folio.data[pte.sub], cpu)
                child.ptes[key] = Pte(folio=copy.id, sub=0, write=vma.write)
                continue
            if world.policy("anon-exclusive-flag"):
                folio.ae[pte.sub] = False  # page_try_dup_anon_rmap()
            pte.write = False
            child.ptes[key] = Pte(folio=folio.id, sub=pte.sub, write=False)
    return _nothing()


def _exit(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    mm = world.mm_of(task.name)
    for name, vma in list(mm.vmas.items()):
        for idx in range(vma.nr):
            _zap(world, mm.id, name, idx)
            world.shadow.pop((mm.id, name, idx), None)
    mm.vmas.clear()
    for table in (world.pipes, world.pins):
        for rname, ref in list(table.items()):
            if ref.owner == mm.id:
                del table[rname]
                world.maybe_free(world.folios[ref.folio])
    mm.alive = False
    return _nothing()


# ---- other parties -------------------------------------------------------------------


def _folio_at(world: World, paddr: Tuple[str, str, int]):  # type: ignore[no-untyped-def]
    proc, name, idx = paddr
    mm = world.mm_of(proc)
    pte = mm.ptes.get((name, idx))
    if pte is None or not pte.present:
        raise ProgramError(f"{proc}:{addr_text((name, idx))} maps no page in memory")
    return world.folios[pte.folio], pte  # type: ignore[index]


def _lock_ready(world: World, task: Task, args: Args) -> bool:
    try:
        folio, _ = _folio_at(world, args[0])  # type: ignore[arg-type]
    except ProgramError:
        return True  # the step will say why it cannot run
    return folio.lock is None


def _lock(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    folio, _ = _folio_at(world, args[0])  # type: ignore[arg-type]
    if folio.lock is not None:
        yield "lock_page by another party", (lambda: folio.lock is None)
    folio.lock = "party"
    world.party_locks[addr_text(args[0])] = folio.id


def _unlock(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    fid = world.party_locks.pop(addr_text(args[0]), None)
    if fid is None or world.folios[fid].lock != "party":
        raise ProgramError(f"unlock {addr_text(args[0])}: the other party does not hold that page lock")
    world.folios[fid].lock = None
    world.maybe_free(world.folios[fid])
    return _nothing()


def _ksm_ready(world: World, task: Task, args: Args) -> bool:
    return all(world.ptl[world.names[p[0]]] is None for p in args if p[0] in world.names)  # type: ignore[index]


def _ksm_merge(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    """ksmd merges two pages of equal content into one KSM page, mapped
    read-only by both.  It backs off a page anything but its mappings (and
    the swap cache) holds -- write_protect_page() compares page_count() with
    mapcount -- and a page locked by another."""
    (fa, pa), (fb, pb) = (_folio_at(world, a) for a in args)  # type: ignore[arg-type]
    if fa is fb or fa.nr > 1 or fb.nr > 1 or fa.data[pa.sub][0] != fb.data[pb.sub][0]:
        return _nothing()
    for f in (fa, fb):
        if world.refs_of(f.id) or f.lock is not None or f.slot is not None:
            return _nothing()
    fa.batch = fb.batch = None
    for f in (fa, fb):
        for m, a, s in world.mappers(f.id):
            world.mms[m].ptes[(a, s)] = Pte(folio=fa.id, sub=0, write=False)
    fa.ksm = True
    fa.ae = [False]
    world.maybe_free(fb)
    return _nothing()


def _lru_drain(world: World, task: Task, args: Args, ctx: Ctx) -> Steps:
    world.drain(None if task.name == "" else world.cpu_of(task.name))
    return _nothing()


OPS: Dict[str, Op] = {
    op.name: op
    for op in (
        Op("fork", "fork {0}", ("proc",), "thread", _fork, _mm_quiet, "fork()", "fork()"),
        Op("exit", "exit", (), "thread", _exit, _mm_quiet, "child exits", "_exit(0)"),
        Op("write", "write {0} = {1}", ("addr", "value"), "thread", _write, _always, "memset()", "store"),
        Op("read", "read {0} -> {1}", ("addr", "reg"), "thread", _read, _always, "memcmp()", "load"),
        Op("vmsplice", "vmsplice {0} -> {1}", ("addr", "pipe"), "thread", _vmsplice, _always,
           "vmsplice()", "vmsplice(pipe, iov, 1, 0)"),
        Op("pipe-read", "read {0} -> {1}", ("pipe", "reg"), "thread", _pipe_read, _always,
           "read() from the pipe", "read(pipe)"),
        Op("pin", "pin {0} {1} {2} -> {3}", ("addr", "access", "duration", "pin"), "thread", _pin, _always,
           "io_uring_register_buffers() / PIN_LONGTERM_TEST_START", "io_uring fixed buffer (rw longterm), "
           "O_DIRECT (ro short)"),
        Op("unpin", "unpin {0}", ("pin",), "thread", _unpin, _always, "io_uring_unregister_buffers()",
           "unregister"),
        Op("pin-read", "read {0} -> {1}", ("pin", "reg"), "thread", _pin_read, _always,
           "io_uring write_fixed / PIN_LONGTERM_TEST_READ", "write_fixed to a file, read back"),
        Op("pin-write", "write {0} = {1}", ("pin", "value"), "thread", _pin_write, _always,
           "io_uring read_fixed (the device writes)", "read_fixed from a file"),
        Op("munmap", "munmap {0}", ("addr",), "thread", _munmap, _mm_quiet, "munmap()", "munmap()"),
        Op("dontneed", "madvise {0} dontneed", ("addr",), "thread", _dontneed, _ptl_free,
           "madvise(MADV_DONTNEED)", "madvise(MADV_DONTNEED)"),
        Op("dontfork", "madvise {0} dontfork", ("addr",), "thread", _dontfork, _mm_quiet,
           "madvise(MADV_DONTFORK)", "madvise(MADV_DONTFORK)"),
        Op("dofork", "madvise {0} dofork", ("addr",), "thread", _dofork, _mm_quiet,
           "madvise(MADV_DOFORK)", "madvise(MADV_DOFORK)"),
        Op("pageout", "madvise {0} pageout", ("addr",), "thread", _pageout, _ptl_free,
           "madvise(MADV_PAGEOUT) (the swapped-out cases)", "madvise(MADV_PAGEOUT), skipped without swap"),
        Op("mprotect", "mprotect {0} {1}", ("addr", "prot"), "thread", _mprotect, _mm_quiet,
           "mprotect(PROT_READ) / mprotect(PROT_READ|PROT_WRITE)", "mprotect()"),
        Op("ksm-merge", "ksm merge {0} {1}", ("paddr", "paddr"), "party", _ksm_merge, _ksm_ready,
           "ksm_functional_tests.c: MADV_MERGEABLE", "skipped: needs /sys/kernel/mm/ksm/run"),
        Op("lock", "lock {0}", ("paddr",), "party", _lock, _lock_ready, "", "skipped: no user-space page lock"),
        Op("unlock", "unlock {0}", ("paddr",), "party", _unlock, _always, "", "skipped"),
        Op("lru-drain", "lru drain", (), "either", _lru_drain, _always, "", "implicit"),
    )
}


def init_world(era_id: str, mappings: Tuple[Tuple[str, str, str, int], ...]) -> World:
    """The initial world: each (process, kind, address, value) a private
    anonymous mapping ("anon": one page; "large": a PTE-mapped 4-page
    folio), written once by its process (exclusive, on the LRU)."""
    world = World(era_id)
    for proc, kind, addr, value in mappings:
        mm = world.mms[world.names[proc]] if proc in world.names else world.add_mm(proc, None)
        nr = LARGE if kind == "large" else 1
        if addr in mm.vmas:
            raise ProgramError(f"{proc} maps {addr} twice")
        mm.vmas[addr] = Vma(addr, nr)
        token = world.new_token(value, mm.id)
        folio = world.new_folio(nr, token, None)
        for idx in range(nr):
            mm.ptes[(addr, idx)] = Pte(folio=folio.id, sub=idx, write=True)
            world.shadow[(mm.id, addr, idx)] = token
    return world
