"""Programs: the semantic object behind a COW litmus file, and one run of it.

A :class:`Program` is the initial mappings, a sequence of lines -- each one
step, or concurrent steps joined by ``||`` -- and one final condition that
names the bad outcome.  Every node keeps its :class:`Loc` (file:line:col).

A :class:`Run` executes a program on one era of the world.  Lines of one
step run to their end; on a line of concurrent steps the run stops at every
point where more than one thread could go next and lets the caller choose
(the explorer in ``wpdiff.diff.litmus`` chooses every way, statelessly: it
re-runs from the start with a prefix of choices, as herd7 and CHESS do, and
uses :meth:`Run.key` to never explore a state twice).
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

from dataclasses_json import DataClassJsonMixin

from ..state import STRICT_JSON
from . import guarantees as G
from .fault import Decide, Task, Wait
from .ops import OPS, Ctx, init_world
from .results import Execution, FaultResult, Verdict
from .world import ProgramError, World


@dataclass(frozen=True)
class Loc(DataClassJsonMixin):
    dataclass_json_config = STRICT_JSON

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Init:
    process: str
    kind: str  # "anon" (one page) or "large" (a PTE-mapped 4-page folio)
    addr: str
    value: int
    loc: Loc


@dataclass(frozen=True)
class Step:
    thread: str  # "P0", "P0.t1"; "" for a party no process is (ksm, lock, unlock, lru drain)
    op: str  # a key of OPS
    args: Tuple[object, ...]
    loc: Loc

    @property
    def text(self) -> str:
        body = OPS[self.op].spell(self.args)
        return f"{self.thread}: {body}" if self.thread else body


@dataclass(frozen=True)
class Line:
    steps: Tuple[Step, ...]  # more than one: concurrent (joined by ||)
    loc: Loc


@dataclass(frozen=True)
class Atom:
    kind: str  # "reg" (Pn:rK = v), "copied" (Pn:copied a), "freed" (freed-page-touched), "broken" (broken ID)
    who: str = ""  # the thread (reg) or process (copied)
    name: str = ""  # the register, the address, or the guarantee id
    value: int = 0
    loc: Optional[Loc] = None

    def holds(self, e: Execution) -> bool:
        if self.kind == "reg":
            return e.register(f"{self.who}:{self.name}") == self.value
        if self.kind == "copied":
            f = e.last_fault(self.who, self.name)
            return f is not None and f.result is FaultResult.COPIED
        if self.kind == "freed":
            return e.freed_page_touched
        return self.name in e.broken

    def __str__(self) -> str:
        if self.kind == "reg":
            return f"{self.who}:{self.name} = {self.value}"
        if self.kind == "copied":
            return f"{self.who}:copied {self.name}"
        if self.kind == "freed":
            return "freed-page-touched"
        return f"broken {self.name}"


@dataclass(frozen=True)
class Cond:
    op: str  # "and", "or", "not"
    args: Tuple["Expr", ...]

    def holds(self, e: Execution) -> bool:
        if self.op == "and":
            return all(a.holds(e) for a in self.args)
        if self.op == "or":
            return any(a.holds(e) for a in self.args)
        return not self.args[0].holds(e)

    def __str__(self) -> str:
        if self.op == "not":
            return f"~{self.args[0]}"
        return "(" + (r" /\ " if self.op == "and" else r" \/ ").join(str(a) for a in self.args) + ")"


Expr = Union[Atom, Cond]


@dataclass(frozen=True)
class Program:
    name: str
    init: Tuple[Init, ...]
    lines: Tuple[Line, ...]
    exists: Expr
    exists_loc: Loc
    results: Tuple[Tuple[str, Verdict], ...]  # era id -> the stated verdict, for every era Result: names
    loc: Loc  # the COW header
    comment: str = ""

    def expected(self, era_id: str) -> Optional[Verdict]:
        return dict(self.results).get(era_id)

    @property
    def steps(self) -> Tuple[Step, ...]:
        return tuple(s for line in self.lines for s in line.steps)


class _Slot:
    """One step of the current line, as it runs."""

    def __init__(self, step: Step, index: int) -> None:
        self.step = step
        self.index = index
        self.task = Task(step.thread)
        self.gen = None  # type: ignore[var-annotated]
        self.wait: Wait = None
        self.where = ""
        self.done = False

    def sig(self) -> Tuple:
        return (self.index, self.done, self.gen is not None, self.where, self.task.sig())


class Run:
    """One run of `program` on era `era_id`: call :meth:`enabled` to see who
    may go next, :meth:`step` to let one go; :meth:`execution` at the end."""

    def __init__(self, program: Program, era_id: str, decide: Optional[Decide] = None) -> None:
        self.program = program
        self.decide = decide
        try:
            self.world: World = init_world(era_id, tuple((i.process, i.kind, i.addr, i.value) for i in program.init))
        except ProgramError as e:
            raise ProgramError(f"{program.init[0].loc if program.init else program.loc}: {e}") from None
        self.line = 0
        self.slots: List[_Slot] = []
        self.trace: List[str] = []
        self._index = 0

    # ---- running --------------------------------------------------------------

    def _fail(self, slot: _Slot, e: ProgramError) -> ProgramError:
        return ProgramError(f"{slot.step.loc}: step '{slot.step.text}' cannot run in {self.world.era}: {e}")

    def _ready(self, s: _Slot) -> bool:
        if s.done:
            return False
        if s.gen is None:
            return OPS[s.step.op].ready(self.world, s.task, s.step.args)
        return s.wait is None or s.wait()

    def _advance(self, s: _Slot) -> None:
        concurrent = len(self.slots) > 1
        try:
            if s.gen is None:
                ctx = Ctx(s.index, concurrent, self.decide)
                s.gen = OPS[s.step.op].run(self.world, s.task, s.step.args, ctx)
            s.where, s.wait = next(s.gen)  # type: ignore[arg-type]
            if concurrent:
                self.trace.append(f"{s.step.text}  [to {s.where}]")
        except StopIteration:
            s.done = True
            if concurrent:
                self.trace.append(f"{s.step.text}  [done]")
        except ProgramError as e:
            raise self._fail(s, e) from None

    def enabled(self) -> List[int]:
        """Who may go next (indices into the current line); [] when the run is over."""
        while True:
            if not self.slots:
                if self.line >= len(self.program.lines):
                    return []
                line = self.program.lines[self.line]
                self.slots = []
                for st in line.steps:
                    self.slots.append(_Slot(st, self._index))
                    self._index += 1
                if len(self.slots) == 1:
                    s = self.slots[0]
                    self.trace.append(s.step.text)
                    while not s.done:
                        if not self._ready(s):
                            raise self._fail(s, ProgramError(f"it waits at {s.where or 'its start'} for something "
                                                             "no step will ever release"))
                        self._advance(s)
            ready = [i for i, s in enumerate(self.slots) if self._ready(s)]
            if all(s.done for s in self.slots):
                G.check_world(self.world)
                self.slots = []
                self.line += 1
                continue
            if not ready:
                waiting = "; ".join(f"'{s.step.text}' at {s.where or 'its start'}" for s in self.slots if not s.done)
                raise ProgramError(f"{self.program.lines[self.line].loc}: deadlock in {self.world.era}: {waiting}")
            if len(ready) == 1:
                self._advance(self.slots[ready[0]])
                continue
            return ready

    def step(self, i: int) -> None:
        self._advance(self.slots[i])

    def key(self) -> Tuple:
        return (self.line, self.world.key(), tuple(s.sig() for s in self.slots))

    def execution(self) -> Execution:
        w = self.world
        return Execution(tuple(sorted(w.registers.items())), tuple(w.faults), w.freed_page_touched,
                         tuple(w.broken))

    def close(self) -> None:
        """Abandon the run: every fault still in flight is unwound."""
        for s in self.slots:
            if s.gen is not None and not s.done:
                s.gen.close()
        self.slots = []


def run_sequential(program: Program, era_id: str, decide: Optional[Decide] = None) -> Tuple[Execution, World]:
    """Run with the first ready thread always going first (a smoke run)."""
    r = Run(program, era_id, decide)
    try:
        while True:
            ready = r.enabled()
            if not ready:
                return r.execution(), r.world
            r.step(ready[0])
    finally:
        r.close()


STATED: Dict[str, Verdict] = {v.value: v for v in Verdict}
