"""The data-level guarantees: what a program must see, whatever the counters say.

The kernel's own ``cow.c`` judges COW by data, never by counters: "Leak
from parent into child", "Longterm R/W pin is not reliable".  These are the
world's guarantees, with stable ids like the invariants of one fault.  They
are checked where data is observed -- a read through a mapping, a pipe or a
pin -- against the world's shadow memory (what each process should read),
and after every step for the bookkeeping.
"""

from dataclasses import dataclass
from typing import Dict, Optional

from ..invariants import Severity
from .world import DEVICE, Ref, Token, World, ZERO_TOKEN


@dataclass(frozen=True)
class Guarantee:
    id: str
    guarantee: str
    severity: Severity
    history: str
    cow_c: str = ""
    fixed_by: str = ""


GUARANTEES: Dict[str, Guarantee] = {
    g.id: g
    for g in (
        Guarantee("no-leak-parent-to-child",
                  "a process never reads, through its memory or a pipe it spliced, data another process (its "
                  "parent or an ancestor) wrote after fork() separated them",
                  Severity.SECURITY,
                  "CVE-2020-29374: the child's vmsplice() reference survives munmap(); 5.7 reuses the parent's page "
                  "on mapcount 1 and the pipe returns the parent's later write; 5.9-5.17 still via swap-in "
                  "(reuse_swap_page() in do_swap_page(), fixed by c145e0b47c77 in 5.18)",
                  "vmsplice() + unmap in child", "17839856fd58, 09854ba94c6a, c145e0b47c77"),
        Guarantee("no-leak-child-to-parent",
                  "a process never reads data a child (or another descendant) wrote after fork()",
                  Severity.SECURITY,
                  "the parent's pipe from before fork() sees the child's write when 5.7/5.8 reuse on mapcount 1 "
                  "(17839856fd58 only closed the child's side)",
                  "vmsplice() before fork(), unmap in parent after fork()", "09854ba94c6a"),
        Guarantee("pin-coherent",
                  "a pin stays coherent with the memory it pins while the pinner maps it: a R/W pin's device sees "
                  "the process's writes and the process sees the device's; a R/O pin sees later writes",
                  Severity.CORRUPTION,
                  "5.9-5.18 decide on page_count(), so the pin's bias looks like a foreign user and the next write "
                  "after mprotect(), fork() or a R/O pin of a previously shared page copies the page away from "
                  "its pin (RDMA, io_uring, bz 215616); PG_anon_exclusive and unsharing (5.19) fix it",
                  "R/O-mapping a page registered as iouring fixed buffer; R/O GUP pin on R/O-mapped "
                  "previously-shared page", "6c287605fd56, a7f226604170"),
        Guarantee("no-freed-page-touched",
                  "nothing touches a page after it was freed",
                  Severity.LOCKING,
                  "the seed patch 09854ba94c6a unlocked the page after wp_page_reuse() dropped the PTL; a "
                  "concurrent MADV_DONTNEED frees it first ('Bad page state')",
                  "", "be068f29034f"),
        Guarantee("no-write-lost",
                  "a process reads back its own last write (or what the device last wrote through its pin)",
                  Severity.CORRUPTION,
                  "a copy installed over a page another writer still updates loses that write",
                  "Basic COW after fork()"),
        Guarantee("counters-consistent",
                  "after every step the references equal what the holders imply: a page nothing holds is freed, a "
                  "freed page is held by nothing, the handler holds no reference once its fault is done",
                  Severity.ACCOUNTING,
                  "counters are all the kernel sees: a drift is a leak or a use after free later"),
    )
}


def broke(world: World, gid: str, why: str) -> None:
    assert gid in GUARANTEES, gid
    if gid not in world.broken:
        world.broken.append(gid)
    world.explanations.append(f"{gid}: {why}")


def _descends(world: World, child: int, ancestor: int) -> bool:
    m: Optional[int] = world.mms[child].parent
    while m is not None:
        if m == ancestor:
            return True
        m = world.mms[m].parent
    return False


def _leak(world: World, reader: int, got: Token, how: str) -> bool:
    writer = got[1]
    if writer < 0 or writer == reader:
        return False
    gid = "no-leak-parent-to-child" if _descends(world, reader, writer) else "no-leak-child-to-parent"
    broke(world, gid, f"{world.mms[reader].name} reads {got[0]} {how}, written by {world.mms[writer].name}")
    return True


def check_read(world: World, mm: int, addr: str, idx: int, got: Token) -> None:
    want = world.shadow.get((mm, addr, idx), ZERO_TOKEN)
    if got[0] == want[0]:
        return
    name = world.mms[mm].name
    if _leak(world, mm, got, f"at {addr}"):
        return
    if want[1] == DEVICE:
        broke(world, "pin-coherent", f"{name} reads {got[0]} at {addr}, but the device wrote {want[0]} through its pin")
    else:
        broke(world, "no-write-lost", f"{name} reads {got[0]} at {addr}, but its last write there was {want[0]}")


def check_pipe_read(world: World, ref: Ref, got: Token) -> None:
    """A pipe returns what was spliced, or a later write of the splicer's own."""
    if ref.expect is not None and got[0] != ref.expect[0]:
        _leak(world, ref.owner, got, f"from {ref.name}")


def check_pin_read(world: World, ref: Ref, got: Token) -> None:
    if not ref.attached:
        return
    want = world.shadow.get((ref.owner, ref.addr, ref.sub), ZERO_TOKEN)
    if got[0] != want[0]:
        broke(world, "pin-coherent", f"the device reads {got[0]} through {ref.name}, but "
                                     f"{world.mms[ref.owner].name} holds {want[0]} at {ref.addr}")


def check_world(world: World) -> None:
    """Bookkeeping after a step (counters-consistent)."""
    for f in world.folios.values():
        if f.refs:
            broke(world, "counters-consistent", f"folio {f.id} still holds {f.refs} handler reference(s) after the step")
        held = world.refcount(f) - f.refs
        if f.freed and held:
            broke(world, "counters-consistent", f"folio {f.id} was freed but {held} holder(s) still reach it")
        elif not f.freed and held == 0:
            broke(world, "counters-consistent", f"folio {f.id} is held by nothing but was never freed")
