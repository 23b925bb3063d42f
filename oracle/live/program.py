"""A COW litmus program as the live helper runs it: processes, anonymous
mappings, steps in order (concurrent ones share a group), and the exists
condition.

The world's ``Program`` (``wpdiff.spec.world``) is the semantic object behind
a litmus file; :func:`from_world` lowers it to this form, and the tests build
these directly, so the runner can be exercised without the parser.  Each
operation is spelled as in the litmus syntax; what has no user-space form
on a kernel left as it is (swap out without swap, a KSM merge with
``ksm/run=0``, another party's page lock) says so in :data:`NO_LIVE_FORM`.
The operation names are those of the world's table
(``wpdiff.spec.world.ops.OPS``).
"""

from dataclasses import dataclass, field
from typing import Optional, Tuple


@dataclass(frozen=True)
class Mapping:
    """``{ P0: anon a = 1 }``: a private anonymous page (or a PTE-mapped
    large folio, ``large=True``) that process `process` maps at the start."""

    process: str
    name: str
    init: int
    large: bool = False


@dataclass(frozen=True)
class Step:
    """One step of one thread, named as in the world's ``OPS`` table.  `who`
    is "P0" or "P0.t1"; `op` the operation ("write", "pin", "pipe-read" ...);
    `var` the address it acts on ("a", "a[2]"); `value` the byte a write
    stores; `obj` the pipe or pin it creates or uses ("pipe0", "pin0");
    `reg` the register a read sets ("r0"); `child` the process a fork
    creates; `prot` ("ro"/"rw") for mprotect; `access` ("ro"/"rw") and
    `duration` ("longterm"/"short") for a pin.  Steps with the same `group`
    run concurrently (``||``)."""

    who: str
    op: str
    group: int
    var: Optional[str] = None
    value: Optional[int] = None
    obj: Optional[str] = None
    reg: Optional[str] = None
    child: Optional[str] = None
    prot: Optional[str] = None
    access: Optional[str] = None
    duration: Optional[str] = None
    line: int = 0  # where the step is in its litmus file, for messages
    text: str = ""  # the step as written

    @property
    def process(self) -> str:
        return self.who.split(".")[0]

    @property
    def form(self) -> str:
        """The live form: the op, with what decides how it runs
        ("mprotect ro", "pin rw longterm")."""
        if self.op == "mprotect":
            return f"mprotect {self.prot}"
        if self.op == "pin":
            return f"pin {self.access} {self.duration}"
        return self.op


@dataclass(frozen=True)
class Term:
    """One conjunct of ``exists (...)``: ``P1:r0 = 2`` (kind "reg"),
    ``P0:copied a`` (kind "copied"), ``freed-page-touched`` (kind "freed")."""

    kind: str
    process: str = ""
    name: str = ""
    value: int = 0


@dataclass(frozen=True)
class LiveProgram:
    name: str
    mappings: Tuple[Mapping, ...]
    steps: Tuple[Step, ...]
    exists: Tuple[Term, ...]  # a conjunction
    source: str = ""  # the litmus file, when there is one
    # the step index the world's Program gives each of ours (same by default)
    step_ids: Tuple[int, ...] = field(default_factory=tuple)
    # the world's exists expression, when the program came from a litmus
    # file (and/or/not over atoms); None: `exists` is the whole condition
    condition: Optional[object] = None
    exists_line: int = 0

    @property
    def concurrent(self) -> bool:
        groups = [s.group for s in self.steps]
        return len(groups) != len(set(groups))

    @property
    def processes(self) -> Tuple[str, ...]:
        seen = ["P0"]
        for m in self.mappings:
            seen.append(m.process)
        for s in self.steps:
            seen.append(s.process)
            if s.child:
                seen.append(s.child)
        return tuple(sorted(set(seen), key=lambda p: int(p[1:])))


# live form -> helper op code (see helper.c, enum op)
OPS = {
    "fork": 1, "exit": 2, "write": 3, "read": 4, "vmsplice": 5, "pipe-read": 6, "munmap": 7,
    "dontneed": 8, "dontfork": 9, "mprotect ro": 10, "mprotect rw": 10,
    "pin rw longterm": 11, "pin ro short": 12, "pin-read": 13, "unpin": 14,
    "lru-drain": 15,  # implicit: the runs are pinned to one CPU, whose batch the fault drains itself
    "dofork": 16, "pin-write": 17,
}

# Operations this machine cannot perform without changing a system setting,
# or that have no user-space form: the program is skipped, with the reason.
NO_LIVE_FORM = {
    "pageout": "swap out needs swap (SwapTotal is 0 here) and wpdiff never configures it",
    "ksm-merge": "a KSM merge needs /sys/kernel/mm/ksm/run=1 and wpdiff never changes a system setting",
    "lock": "another party holding the page lock has no user-space form",
    "unlock": "another party holding the page lock has no user-space form",
    "pin ro longterm": "a long-term R/O pin needs gup_test (CONFIG_GUP_TEST is not set; lockdown refuses it)",
    "pin rw short": "a short-term R/W pin (an O_DIRECT read in flight) cannot be held across steps from user space",
}


def cve_2020_29374() -> LiveProgram:
    """litmus-examples/vmsplice-child-unmap.litmus, step by step."""
    return LiveProgram(
        "vmsplice-child-unmap",
        (Mapping("P0", "a", 1),),
        (Step("P0", "fork", 0, child="P1"), Step("P1", "vmsplice", 1, var="a", obj="pipe0"),
         Step("P1", "munmap", 2, var="a"), Step("P0", "write", 3, var="a", value=2),
         Step("P1", "pipe-read", 4, obj="pipe0", reg="r0")),
        (Term("reg", "P1", "r0", 2),))


def iouring_pin_mprotect() -> LiveProgram:
    """litmus-examples/iouring-pin-mprotect.litmus."""
    return LiveProgram(
        "iouring-pin-mprotect",
        (Mapping("P0", "a", 1),),
        (Step("P0", "pin", 0, var="a", obj="pin0", access="rw", duration="longterm"),
         Step("P0", "mprotect", 1, var="a", prot="ro"), Step("P0", "mprotect", 2, var="a", prot="rw"),
         Step("P0", "write", 3, var="a", value=2), Step("P0", "pin-read", 4, obj="pin0", reg="r0")),
        (Term("reg", "P0", "r0", 1),))


def seed_unlock_after_ptl() -> LiveProgram:
    """litmus-examples/seed-unlock-after-ptl.litmus."""
    return LiveProgram(
        "seed-unlock-after-ptl",
        (Mapping("P0", "a", 1),),
        (Step("P0", "fork", 0, child="P1"), Step("P1", "exit", 1),
         Step("P0", "write", 2, var="a", value=2), Step("P0.t1", "dontneed", 2, var="a")),
        (Term("freed"),))


def _atoms(expr: object) -> Tuple[object, ...]:
    if hasattr(expr, "args") and hasattr(expr, "op"):
        return tuple(a for sub in expr.args for a in _atoms(sub))  # type: ignore[attr-defined]
    return (expr,)


def from_world(program: object) -> LiveProgram:
    """The world's ``Program`` (``wpdiff.spec.world.program``), as the live
    helper runs it.  Step indices are the world's (its steps in order,
    concurrent ones in the order written), so that live and model faults
    line up by step."""
    from wpdiff.spec.world.ops import addr_text

    mappings = tuple(Mapping(i.process, i.addr, int(i.value), i.kind == "large") for i in program.init)  # type: ignore[attr-defined]
    steps = []
    for group, line in enumerate(program.lines):  # type: ignore[attr-defined]
        for st in line.steps:
            args = st.args
            text = st.text
            common = dict(who=st.thread or "P0", op=st.op, group=group, line=st.loc.line, text=text)
            if st.op == "fork":
                steps.append(Step(child=str(args[0]), **common))
            elif st.op in ("write",):
                steps.append(Step(var=addr_text(args[0]), value=int(args[1]), **common))
            elif st.op == "read":
                steps.append(Step(var=addr_text(args[0]), reg=str(args[1]), **common))
            elif st.op == "vmsplice":
                steps.append(Step(var=addr_text(args[0]), obj=str(args[1]), **common))
            elif st.op in ("pipe-read", "pin-read"):
                steps.append(Step(obj=str(args[0]), reg=str(args[1]), **common))
            elif st.op == "pin":
                steps.append(Step(var=addr_text(args[0]), access=str(args[1]), duration=str(args[2]),
                                  obj=str(args[3]), **common))
            elif st.op == "pin-write":
                steps.append(Step(obj=str(args[0]), value=int(args[1]), **common))
            elif st.op == "unpin":
                steps.append(Step(obj=str(args[0]), **common))
            elif st.op == "mprotect":
                steps.append(Step(var=addr_text(args[0]), prot=str(args[1]), **common))
            elif st.op in ("munmap", "dontneed", "dontfork", "dofork", "pageout"):
                steps.append(Step(var=addr_text(args[0]), **common))
            else:  # exit, lru-drain, and the parties (ksm-merge, lock, unlock): no address of ours
                steps.append(Step(**common))
    terms = []
    for atom in _atoms(program.exists):  # type: ignore[attr-defined]
        kind = getattr(atom, "kind", "")
        if kind == "reg":
            terms.append(Term("reg", atom.who, atom.name, atom.value))  # type: ignore[attr-defined]
        elif kind == "copied":
            terms.append(Term("copied", atom.who, atom.name))  # type: ignore[attr-defined]
        else:
            terms.append(Term(kind, getattr(atom, "who", ""), getattr(atom, "name", "")))
    return LiveProgram(program.name, mappings, tuple(steps), tuple(terms),  # type: ignore[attr-defined]
                       source=program.loc.file, condition=program.exists,  # type: ignore[attr-defined]
                       exists_line=program.exists_loc.line)  # type: ignore[attr-defined]
