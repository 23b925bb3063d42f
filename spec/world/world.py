"""The world: processes, their anonymous memory, and everything that holds a page.

A *folio* is one page or a PTE-mapped large folio of 4 pages, with a data
token per page.  It is held by present PTEs of one or more mms, by
vmsplice() pipe buffers (FOLL_GET), by pins (FOLL_PIN: R/O or R/W,
long-term like an io_uring fixed buffer or short like an O_DIRECT write in
flight), by the swap cache, by a per-CPU LRU batch (a page fresh from a
fault or a copy sits in the faulting CPU's batch until drained), and by the
fault handler's own references while it runs.  Another party may hold its
page lock; KSM may merge it.

The kernel never sees these objects, only counters.  :meth:`World.project`
gives the abstract :class:`~wpdiff.spec.state.FaultState` of a fault at
(mm, address): the holders come from the objects (``pipe0`` is
``get(mm1, ro)``), so the era's model of ``do_wp_page()`` decides on
exactly what the kernel of that era would count.

Data is observable: every write stores a token ``(value, writer, serial)``;
a read through a mapping, a pipe or a pin returns the token the page holds
at that moment.  A *shadow* memory keeps what each process should read (its
own writes and what it inherited at fork; what a device wrote through a
R/W pin); the data-level guarantees (``guarantees.py``) compare the two.

Simplifications, each chosen so that no decision of ``do_wp_page()`` is
lost: a read of an address with no page returns 0 without mapping the zero
page; initial pages are on the LRU (drained); ``mprotect(RW)`` leaves PTEs
read-only (the next write faults, as ``cow.c`` arranges by clearing
soft-dirty); MADV_PAGEOUT drains the batches of the page first and never
swaps out a pinned page (feb889fb40fa, 5.11, for every era); swap PTEs are
modelled for small pages only.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Set, Tuple

from ..eras import ERAS
from ..state import FaultKind, FaultState, Holder, Page, PageKind, Pte as SpecPte, Vma as SpecVma
from ..state import get as get_holder, ksm_stable_node, lru_batch, mapping as mapping_holder, pin as pin_holder
from ..state import swap_cache, swap_pte
from .policy import in_force
from .results import FaultRecord

LARGE = 4  # pages of a large folio: the smallest anonymous mTHP (order 2)
ZERO_TOKEN = (0, -1, 0)
DEVICE = -2  # writer id of a device writing through a R/W pin

Token = Tuple[int, int, int]  # (value, writer mm or DEVICE, serial)


class ProgramError(ValueError):
    """A step that cannot run in this era, or on this world: the message
    says which step and why."""


class Folio:
    __slots__ = ("id", "nr", "data", "ae", "ksm", "freed", "slot", "lock", "dirty", "refs", "batch")

    def __init__(self, fid: int, nr: int, token: Token, ae: bool, batch: Optional[int]) -> None:
        self.id = fid
        self.nr = nr
        self.data: List[Token] = [token] * nr
        self.ae: List[bool] = [ae] * nr
        self.ksm = False
        self.freed = False
        self.slot: Optional[int] = None  # swap slot while in the swap cache
        self.lock: Optional[str] = None  # "party" or a fault's id
        self.dirty = True
        self.refs = 0  # the fault handler's own references (get_page())
        self.batch: Optional[int] = batch  # the CPU whose LRU batch holds it

    def key(self) -> Tuple:
        return (self.id, self.nr, tuple(self.data), tuple(self.ae), self.ksm, self.freed, self.slot, self.lock,
                self.dirty, self.refs, self.batch)


@dataclass
class Pte:
    folio: Optional[int] = None  # present: the folio ...
    sub: int = 0  # ... and which of its pages
    write: bool = False
    slot: Optional[int] = None  # a swap PTE: the swap slot
    exclusive: bool = False  # swap PTE: the exclusive bit (5.19+)

    @property
    def present(self) -> bool:
        return self.folio is not None

    def key(self) -> Tuple:
        return (self.folio, self.sub, self.write, self.slot, self.exclusive)


@dataclass
class Vma:
    name: str
    nr: int  # pages
    write: bool = True
    dontfork: bool = False

    def key(self) -> Tuple:
        return (self.name, self.nr, self.write, self.dontfork)


class Mm:
    def __init__(self, mid: int, name: str, parent: Optional[int]) -> None:
        self.id = mid
        self.name = name
        self.parent = parent
        self.alive = True
        self.vmas: Dict[str, Vma] = {}
        self.ptes: Dict[Tuple[str, int], Pte] = {}
        self.has_pinned = False  # MMF_HAS_PINNED (5.9+: mm_struct.has_pinned)

    def key(self) -> Tuple:
        return (self.id, self.alive, tuple(sorted((k, v.key()) for k, v in self.vmas.items())),
                tuple(sorted((k, v.key()) for k, v in self.ptes.items())), self.has_pinned)


@dataclass
class Ref:
    """A pipe buffer (vmsplice(): FOLL_GET) or a pin (FOLL_PIN) on one page."""

    name: str
    owner: int  # the mm that took it
    addr: str
    sub: int  # the page of the mapping at `addr`
    folio: int
    page: int = 0  # ... and which page of the folio that is
    writable: bool = False
    longterm: bool = False
    taken_while_shared: bool = False
    expect: Optional[Token] = None  # pipe: the data at splice time
    attached: bool = True  # pin: the owner still maps what it pinned

    def key(self) -> Tuple:
        return (self.name, self.owner, self.addr, self.sub, self.folio, self.page, self.writable, self.longterm,
                self.taken_while_shared, self.expect, self.attached)


class World:
    """Everything one program run can change.  Mutable; :meth:`key` is the
    part two runs must agree on to be the same state."""

    def __init__(self, era_id: str) -> None:
        self.era = era_id
        self.mms: Dict[int, Mm] = {}
        self.names: Dict[str, int] = {}  # "P0" -> mm id
        self.cpus: Dict[str, int] = {}  # "P0", "P0.t1" -> CPU
        self.folios: Dict[int, Folio] = {}
        self.pipes: Dict[str, Ref] = {}
        self.pins: Dict[str, Ref] = {}
        self.swap: Dict[int, Tuple[Token, ...]] = {}  # slot -> data written to swap
        self.ptl: Dict[int, Optional[str]] = {}  # mm -> who holds its page-table lock
        self.registers: Dict[str, int] = {}
        self.shadow: Dict[Tuple[int, str, int], Token] = {}
        self.faults: List[FaultRecord] = []
        self.broken: List[str] = []  # guarantee ids, in the order they broke
        self.explanations: List[str] = []
        self.freed_page_touched = False
        self.serial = 0
        self.next_folio = 0
        self.next_slot = 0
        self.in_fault: Set[int] = set()
        self.party_locks: Dict[str, int] = {}  # "P0:a" -> the folio another party locked there  # mms with a fault in flight (they hold mmap_lock for read)

    # ---- identity ----------------------------------------------------------

    def key(self) -> Tuple:
        return (
            tuple(m.key() for m in self.mms.values()),
            tuple(f.key() for f in self.folios.values() if not f.freed or f.refs),
            tuple(sorted((k, v.key()) for k, v in self.pipes.items())),
            tuple(sorted((k, v.key()) for k, v in self.pins.items())),
            tuple(sorted(self.swap.items())), tuple(sorted(self.ptl.items())),
            tuple(sorted(self.registers.items())), tuple(sorted(self.shadow.items())),
            tuple(sorted(self.party_locks.items())),
            tuple((f.process, f.address, f.step, f.result, f.unshare) for f in self.faults),
            tuple(self.broken), self.freed_page_touched, self.serial,
        )

    def has(self, feature: str) -> bool:
        era = ERAS[self.era]
        return era.has(feature) if hasattr(era, "has") else False

    def policy(self, name: str) -> bool:
        return in_force(name, self.era)

    # ---- processes ----------------------------------------------------------

    def add_mm(self, name: str, parent: Optional[int]) -> Mm:
        mid = len(self.mms)
        mm = Mm(mid, name, parent)
        self.mms[mid] = mm
        self.names[name] = mid
        self.ptl[mid] = None
        self.cpu_of(name)
        return mm

    def cpu_of(self, thread: str) -> int:
        if thread not in self.cpus:
            self.cpus[thread] = len(self.cpus)
        return self.cpus[thread]

    def mm_of(self, thread: str) -> Mm:
        name = thread.split(".")[0]
        if name not in self.names:
            raise ProgramError(f"{name} does not exist (yet): expected a process created by the initial state or fork")
        mm = self.mms[self.names[name]]
        if not mm.alive:
            raise ProgramError(f"{name} has exited")
        return mm

    def new_token(self, value: int, writer: int) -> Token:
        self.serial += 1
        return (value, writer, self.serial)

    def new_folio(self, nr: int, token: Token, cpu: Optional[int]) -> Folio:
        f = Folio(self.next_folio, nr, token, self.policy("anon-exclusive-flag"), cpu)
        self.next_folio += 1
        self.folios[f.id] = f
        return f

    # ---- who holds a folio ------------------------------------------------------

    def mappers(self, fid: int) -> List[Tuple[int, str, int]]:
        """(mm, address, page of the mapping) -- the key of its PTE -- of every
        present PTE mapping folio `fid`."""
        return [(m.id, a, s) for m in self.mms.values() for (a, s), p in m.ptes.items() if p.folio == fid]

    def mapped_pages(self, fid: int) -> List[Tuple[int, int]]:
        """(mm, page of the folio) of every present PTE mapping folio `fid`:
        after a DONTNEED and a new fault, page 1 of a mapping may be a folio
        of one page, its page 0."""
        return [(m.id, p.sub) for m in self.mms.values() for p in m.ptes.values() if p.folio == fid]

    def swap_ptes(self, slot: int) -> List[Tuple[int, str, int]]:
        return [(m.id, a, s) for m in self.mms.values() for (a, s), p in m.ptes.items() if p.slot == slot]

    def refs_of(self, fid: int) -> List[Ref]:
        return [r for r in list(self.pipes.values()) + list(self.pins.values()) if r.folio == fid]

    def refcount(self, f: Folio) -> int:
        """References (not counting the pin bias): what keeps the folio alive."""
        return (len(self.mappers(f.id)) + len(self.refs_of(f.id)) + (f.slot is not None) + (f.batch is not None)
                + f.refs)

    def maybe_free(self, f: Folio) -> None:
        """Put the last reference: the folio goes back to the allocator.  A
        swap cache nobody's swap PTE names any more lets go first."""
        if f.freed:
            return
        if f.slot is not None and not self.swap_ptes(f.slot) and f.lock is None \
                and not self.mappers(f.id) and not self.refs_of(f.id):
            self.swap.pop(f.slot, None)
            f.slot = None
        if self.refcount(f) == 0:
            f.freed = True
            f.ae = [False] * f.nr  # the allocator clears PG_anon_exclusive (PAGE_FLAGS_CHECK_AT_PREP)

    def pinned(self, f: Folio) -> bool:
        """page_maybe_dma_pinned(): refcount >= 1024 on a small folio, _pincount on a large one."""
        return any(r.folio == f.id for r in self.pins.values())

    # ---- the projection ---------------------------------------------------------

    def project(self, mm: int, addr: str, sub: int, fid: int, thread: str,
                fault: FaultKind = FaultKind.WRITE) -> FaultState:
        """The abstract state of a fault by `thread` of mm `mm` on page `sub`
        of `addr`, which maps page `sub` of folio `fid` (the faulting page is
        page 0 of the abstract folio: pages `sub` and 0 swap numbers)."""
        f = self.folios[fid]
        return FaultState(page=self.project_page(f, sub, thread), vma=SpecVma(write=self.mms[mm].vmas[addr].write),
                          pte=SpecPte(write=False, dirty=False, young=True), fault=fault, mm=mm)

    def project_holders(self, f: Folio, sub: int, thread: str) -> Tuple[Holder, ...]:
        def renumber(s: int) -> int:
            return 0 if s == sub else (sub if s == 0 else s)

        holders: List[Holder] = [mapping_holder(m, renumber(s)) for m, s in self.mapped_pages(f.id)]
        for r in self.pipes.values():
            if r.folio == f.id:
                holders.append(get_holder(r.owner, writable=r.writable, taken_while_shared=r.taken_while_shared))
        for r in self.pins.values():
            if r.folio == f.id:
                holders.append(pin_holder(r.owner, writable=r.writable, longterm=r.longterm,
                                          taken_while_shared=r.taken_while_shared))
        if f.slot is not None:
            holders.append(swap_cache())
            holders.extend(swap_pte(m) for m, _, _ in self.swap_ptes(f.slot))
        if f.batch is not None:
            holders.append(lru_batch(remote=f.batch != self.cpu_of(thread)))
        if f.ksm:
            holders.append(ksm_stable_node())
        return tuple(holders)

    def project_page(self, f: Folio, sub: int, thread: str) -> Page:
        holders = self.project_holders(f, sub, thread)
        mms = {m for m, _, _ in self.mappers(f.id)}
        return Page(kind=PageKind.KSM if f.ksm else PageKind.ANON, holders=holders, nr_pages=f.nr,
                    anon_exclusive=f.ae[sub], locked=f.lock == "party", dirty=f.dirty,
                    maybe_mapped_shared=f.nr > 1 and len(mms) > 1)

    # ---- effects the fault handler has on the world (WorldFault and apply_events) ----

    def drain(self, cpu: Optional[int]) -> None:
        """lru_add_drain() on `cpu` (None: lru_add_drain_all())."""
        for f in list(self.folios.values()):
            if f.batch is not None and (cpu is None or f.batch == cpu):
                f.batch = None
                self.maybe_free(f)

    def free_swap_cache(self, f: Folio) -> None:
        """delete_from_swap_cache(): the swap copy is stale from now on."""
        if f.slot is not None:
            self.swap.pop(f.slot, None)
            f.slot = None
            f.dirty = True

    def install_copy(self, mm: int, addr: str, idx: int, old: Folio, cpu: int, writable: bool) -> Folio:
        """wp_page_copy() once the PTE is found unchanged: a new small page
        with a copy of the data replaces, in the PTE of page `idx` of the
        mapping, the page of `old` that PTE maps (not always page `idx` of
        the folio: after a DONTNEED a mapping's page 1 may be a small folio)."""
        page = self.mms[mm].ptes[(addr, idx)].sub
        new = self.new_folio(1, old.data[page], cpu)
        new.ae = [self.policy("anon-exclusive-flag")]
        self.mms[mm].ptes[(addr, idx)] = Pte(folio=new.id, sub=0, write=writable)
        self.maybe_free(old)
        return new


def sub_name(addr: str, sub: int, nr: int) -> str:
    """How a program names page `sub` of the mapping at `addr`: a, a[1] ..."""
    return addr if sub == 0 else f"{addr}[{sub}]"
