"""The stateful search: a Hypothesis rule-based state machine over the world
that finds, from scratch, what each era breaks at the data level.

Its rules come from the one table of operations (``OPS``: one rule per
operation, its arguments drawn from what the world holds *now* -- the live
processes and threads, their mappings, the pipes that hold a page, the pins
-- so that every drawn step can run), and from a few rules shaped like the
programs that matter: a fork then a vmsplice() in the child (the CVE,
CVE-2020-29374), a vmsplice() or a pin before fork (the parent's side that
17839856fd58 left open in 5.8; the RDMA pins of 5.9-5.18), fork and exit
(a previously shared page), the mprotect(R) / mprotect(RW) dance that makes
the next write fault on an exclusive page (cow.c's "mprotect() optimization"
cases), and a write raced against another thread's MADV_DONTNEED (``||``:
every interleaving of the handler's atomic steps with it, where the seed
patch 09854ba94c6a unlocks a page freed meanwhile).  Its invariants are
the data-level guarantees (``GUARANTEES``), one per id.

What raises its power, besides the budget:

- *observation*: after every rule the program is run once more with every
  pipe, pin and mapping read at its end; a guarantee those reads break
  adds the reads to the program.  The search only has to reach a bad
  state; it does not also have to guess the read that shows it;
- *preconditions, not no-ops*: a rule is offered only when the world has
  an argument it can run on (a pipe to read, a writable mapping ...);
- *swarm testing* (Groce et al. 2012): each test case draws which world
  features it uses -- a large folio, threads of a process, short pins --
  on top of Hypothesis' own swarm over the rules;
- ``hypothesis.target()``: how many references (pipe buffers, pins) sit on a
  page that some process maps read-only, i.e. whose next write fault
  decides between reuse and copy with a foreign holder present.

Generation stops at the first program that breaks a guarantee; it is
shrunk by deleting every step it does not need (with what the step made:
a fork with everything its child does, a splice with its read) until no
single deletion keeps the guarantee broken -- milliseconds, where
Hypothesis' own shrinker re-runs the machine per attempt for tens of
seconds (``_run(shrink=True)`` still offers it).  The finding is printed
as a litmus file with a ``Result:`` for
every era it runs on -- ``wpdiff litmus FILE`` replays it with the same
verdicts -- and added to a report.  What each era is *expected* to break
is not a second table: it is read from the catalogue (``litmus/*.litmus``),
the guarantees broken by the positive executions of every data-level file
(an ``exists`` on data, not on ``copied``) whose era's Result is Sometimes
or Always.
"""

import copy
import glob
import os
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from dataclasses_json import DataClassJsonMixin
from hypothesis import HealthCheck, Phase, Verbosity, settings, strategies as st, target
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from hypothesis.stateful import run_state_machine_as_test

from wpdiff.spec.eras import ERAS
from wpdiff.spec.world.guarantees import GUARANTEES
from wpdiff.spec.world.ops import OPS
from wpdiff.spec.world.program import Atom, Init, Line, Loc, Program, Run, Step, run_sequential
from wpdiff.spec.world.results import Verdict
from wpdiff.spec.world.world import ProgramError, World

from .litmus.explore import explore
from .litmus.syntax import parse

ENGINE = "stateful"
_LOC = Loc("<stateful>", 0, 0)


# ---- what history says each era breaks: the catalogue's Results -----------------


def catalogue_dir() -> str:
    import wpdiff.litmus

    return os.path.dirname(os.path.abspath(wpdiff.litmus.__file__))


def _atoms(e) -> List[Atom]:  # type: ignore[no-untyped-def]
    return [e] if isinstance(e, Atom) else [a for x in e.args for a in _atoms(x)]


@lru_cache(maxsize=None)
def history() -> Dict[str, Dict[str, Tuple[str, ...]]]:
    """era id -> guarantee id -> the catalogue files that record it broken
    there: every file whose ``exists`` observes data (a register, a freed
    page, a broken guarantee -- not ``copied``, a performance observation)
    and whose Result for the era is Sometimes or Always, by the guarantees
    its positive executions break."""
    found: Dict[str, Dict[str, List[str]]] = {e: {} for e in ERAS}
    for path in sorted(glob.glob(os.path.join(catalogue_dir(), "*.litmus"))):
        with open(path) as f:
            program = parse(f.read(), path)
        if any(a.kind == "copied" for a in _atoms(program.exists)):
            continue
        for era_id in ERAS:
            if program.expected(era_id) not in (Verdict.SOMETIMES, Verdict.ALWAYS):
                continue
            x = explore(program, era_id)
            for gid in sorted({g for o in x.outcomes if o.positive for g in o.execution.broken}):
                found[era_id].setdefault(gid, []).append(os.path.basename(path))
    return {e: {g: tuple(fs) for g, fs in gs.items()} for e, gs in found.items()}


def expected(era_id: str) -> FrozenSet[str]:
    """The guarantees history (the catalogue) says `era_id` breaks."""
    return frozenset(history().get(era_id, {}))


# ---- budgets -----------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    examples: int  # test cases (programs) per Hypothesis run
    steps: int  # rules per test case
    target: bool = False  # Hypothesis' target phase: hill-climb on closeness() (slow: thorough only)


PROFILES: Dict[str, Budget] = {
    "dev": Budget(300, 10),
    "ci": Budget(800, 12),
    "thorough": Budget(3000, 14, target=True),
}


# ---- findings ------------------------------------------------------------------------


@dataclass(frozen=True)
class StatefulFinding(DataClassJsonMixin):
    """A program that breaks a data-level guarantee on one era."""

    era: str
    guarantee: str  # a GUARANTEES id
    severity: str
    expected: bool  # the catalogue records this era breaking it
    litmus: str  # the shrunk program, as a litmus file (Result: for every era it runs on)
    verdict: str  # Never / Sometimes / Always of its exists on `era`
    steps: int  # steps of the shrunk program
    seconds: float  # from the start of the era's search to the first program that broke it
    seed: Optional[int]
    explanation: str  # what the world said when the guarantee broke
    history: Tuple[str, ...] = ()  # the catalogue files recording it
    fixed_by: str = ""
    cow_c: str = ""
    engine: str = ENGINE

    @property
    def key(self) -> str:
        return f"{self.era}:stateful:{self.guarantee}"


@dataclass
class EraSearch:
    """One era's search: its findings and what it cost."""

    era: str
    findings: List[StatefulFinding] = field(default_factory=list)
    first_seen: Dict[str, float] = field(default_factory=dict)  # guarantee -> seconds to the first break
    cases: int = 0  # test cases (programs) run
    rules: int = 0  # rules run
    dropped: int = 0  # rules whose steps could not run after all (the program was left as it was)
    seconds: float = 0.0


# ---- the machine -----------------------------------------------------------------------

FEATURES = ("large", "threads", "short-pins", "party")  # swarm: what a test case's world may use
_WHOLE = frozenset({"munmap", "dontneed", "dontfork", "dofork", "mprotect", "pageout"})  # act on a mapping


class Broken(AssertionError):
    """A guarantee broke: the program so far (init, lines) shows it."""

    def __init__(self, gid: str, init: Tuple[Init, ...], lines: Tuple[Line, ...], why: str) -> None:
        super().__init__(f"{gid} broken: {why}")
        self.gid, self.init, self.lines, self.why = gid, init, lines, why


# One class per guarantee: Hypothesis tells bugs apart by exception type, so
# that each is shrunk on its own and one run reports every one it met.
_BROKEN = {gid: type("Broken_" + re.sub(r"\W", "_", gid), (Broken,), {}) for gid in GUARANTEES}


class _Done(BaseException):
    """Every guarantee looked for was seen (time-to-first-find: stop early)."""


def program(init: Tuple[Init, ...], lines: Sequence[Line], name: str = "stateful") -> Program:
    return Program(name, init, tuple(lines), Atom("freed"), _LOC, (), _LOC)


def _step(thread: str, op: str, *args: object) -> Step:
    return Step(thread, op, tuple(args), _LOC)


def _line(*steps: Step) -> Line:
    return Line(tuple(steps), _LOC)


def _broken(init: Tuple[Init, ...], lines: Sequence[Line], era_id: str) -> Tuple[Dict[str, str], Optional[World]]:
    """Run the program: guarantee -> explanation for every guarantee some
    execution breaks, and the world of the sequential run (None: a step
    cannot run).  A program with a concurrent line is explored."""
    p = program(init, lines)
    try:
        e, world = run_sequential(p, era_id)
    except ProgramError:
        return {}, None
    except Exception as crash:  # the world itself failed on a program it accepted: a bug of the model
        _model_error(crash, era_id, init, lines)
        return {}, None
    out = {g: _why(world.explanations, g) for g in e.broken}
    if any(len(line.steps) > 1 for line in lines):
        try:
            x = explore(p, era_id)
        except ProgramError:
            return out, world
        except Exception as crash:
            _model_error(crash, era_id, init, lines)
            return out, world
        for o in x.outcomes:
            for g in o.execution.broken:
                out.setdefault(g, "in some interleaving of the concurrent steps")
    return out, world


def _dup(x):  # type: ignore[no-untyped-def]
    """A copy of a world, container by container and object by object:
    what ``copy.deepcopy`` gives for the world's plain objects (no object
    is reachable twice; tuples and frozen dataclasses are values), at a
    fraction of its cost."""
    if isinstance(x, (int, str, float, bool, tuple, type(None), frozenset)):
        return x
    if isinstance(x, dict):
        return {k: _dup(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_dup(v) for v in x]
    if isinstance(x, set):
        return set(x)
    params = getattr(x, "__dataclass_params__", None)
    if params is not None and params.frozen:
        return x
    obj = copy.copy(x)
    names = getattr(type(x), "__slots__", None) or vars(x)
    for name in names:
        setattr(obj, name, _dup(getattr(x, name)))
    return obj


def _start_from(world: World, lines: Sequence[Line], era_id: str) -> Run:
    """A run of `lines` that starts from (a copy of) `world`."""
    run = Run(program((), lines), era_id)
    run.world = _dup(world)
    return run


def _extend(world: World, lines: Sequence[Line], era_id: str) -> Tuple[Dict[str, str], Optional[World]]:
    """Run `lines` (sequential ones) from `world`: what they newly break,
    and the world after (None: a step cannot run).  The same as running
    the whole program again, without running it again."""
    run = _start_from(world, lines, era_id)
    before = set(run.world.broken)
    try:
        while True:
            ready = run.enabled()
            if not ready:
                break
            run.step(ready[0])
    except ProgramError:
        return {}, None
    except Exception as crash:
        _model_error(crash, era_id, (), lines)
        return {}, None
    finally:
        run.close()
    w = run.world
    return {g: _why(w.explanations, g) for g in w.broken if g not in before}, w


def _explore_from(world: World, lines: Sequence[Line], era_id: str) -> Dict[str, str]:
    """What some interleaving of `lines`, run from `world`, newly breaks:
    the litmus explorer's search (stateless, a prefix of choices per node,
    a state never explored twice), started where the program stands
    instead of at its beginning."""
    before = set(world.broken)
    race = any(len(line.steps) > 1 for line in lines)
    seen: Dict[Tuple, FrozenSet[str]] = {}
    why: Dict[str, str] = {}

    def node(prefix: List[int]) -> FrozenSet[str]:
        run = _start_from(world, lines, era_id)
        try:
            ready = run.enabled()
            for c in prefix:
                run.step(c)
                ready = run.enabled()
            if not ready:
                new = frozenset(run.world.broken) - before
                for g in new:
                    why.setdefault(g, _why(run.world.explanations, g) + (" (in some interleaving)" if race else ""))
                return new
            key = run.key()
        finally:
            run.close()
        if key not in seen:
            seen[key] = frozenset().union(*(node(prefix + [c]) for c in ready))
        return seen[key]

    try:
        return {g: why[g] for g in sorted(node([]))}
    except ProgramError:
        return {}
    except Exception as crash:
        _model_error(crash, era_id, (), lines)
        return {}


# Crashes of the world on programs it accepted (message -> era, init, lines):
# not findings about a kernel, bugs of the model, kept to be shown.
MODEL_ERRORS: Dict[str, Tuple[str, Tuple[Init, ...], Tuple[Line, ...]]] = {}


def _model_error(crash: Exception, era_id: str, init: Sequence[Init], lines: Sequence[Line]) -> None:
    """Keep the first program on which the world itself failed with `crash`: a bug of the model."""
    MODEL_ERRORS.setdefault(f"{type(crash).__name__}: {crash}", (era_id, tuple(init), tuple(lines)))


def _why(explanations: Sequence[str], gid: str) -> str:
    return next((x.split(": ", 1)[1] for x in explanations if x.startswith(gid + ": ")), gid)


def observe(world: World, fresh: Callable[[str], str]) -> List[Line]:
    """Steps that read everything the world lets a program read: every
    mapping of every live process, every pin the device can read, then
    every pipe (a pipe read lets its page go)."""
    lines: List[Line] = []
    for mm in world.mms.values():
        if not mm.alive:
            continue
        for (name, idx) in sorted(mm.ptes):
            if name in mm.vmas:
                lines.append(_line(_step(mm.name, "read", (name, idx), fresh(mm.name))))
    for ref in sorted(world.pins.values(), key=lambda r: r.name):
        owner = world.mms[ref.owner]
        if owner.alive and ref.attached:
            lines.append(_line(_step(owner.name, "pin-read", ref.name, fresh(owner.name))))
    for ref in sorted(world.pipes.values(), key=lambda r: r.name):
        owner = world.mms[ref.owner]
        if owner.alive:
            lines.append(_line(_step(owner.name, "pipe-read", ref.name, fresh(owner.name))))
    return lines


def pending_writes(world: World, value: int) -> List[Line]:
    """The write faults still to come that some other holder makes
    interesting: a write to each page a process maps read-only (or has
    swapped out) in a writable mapping, when the page is also held by
    another mm's mapping, a pipe, a pin or the swap cache -- on a large
    folio, the pages those references name (else its first page)."""
    out = []
    for mm in world.mms.values():
        if not mm.alive:
            continue
        tried = set()
        for (name, idx), pte in sorted(mm.ptes.items()):
            if name not in mm.vmas or not mm.vmas[name].write or pte.write:
                continue
            if pte.present:
                f = world.folios[pte.folio]  # type: ignore[index]
                refs = world.refs_of(f.id)
                others = refs or f.slot is not None or any(m != mm.id for m, _, _ in world.mappers(f.id))
                if not others:
                    continue
                named = {r.page for r in refs}
                if f.nr > 1 and (pte.sub not in named if named else f.id in tried):
                    continue
                tried.add(f.id)
            out.append(_line(_step(mm.name, "write", (name, idx), value)))
    return out


def pending_swapins(world: World, value: int) -> List[List[Line]]:
    """MADV_PAGEOUT then a write, for each small page in a writable
    mapping that something else holds too: the write then goes through
    do_swap_page()'s own reuse rule (the CVE's swap variant, 5.9-5.17)."""
    out = []
    for mm in world.mms.values():
        if not mm.alive:
            continue
        for (name, idx), pte in sorted(mm.ptes.items()):
            vma = mm.vmas.get(name)
            if vma is None or vma.nr > 1 or not vma.write or not pte.present:
                continue
            f = world.folios[pte.folio]  # type: ignore[index]
            if world.refs_of(f.id) or any(m != mm.id for m, _, _ in world.mappers(f.id)):
                out.append([_line(_step(mm.name, "pageout", (name, 0))),
                            _line(_step(mm.name, "write", (name, idx), value))])
    return out


def closeness(world: World) -> int:
    """How close the world is to breaking a guarantee: references (pipe
    buffers, pins) counted once, and once more for every process that maps
    their page read-only -- its next write fault decides, with a holder the
    kernel cannot attribute, between reusing the page and copying it."""
    score = 0
    for ref in list(world.pipes.values()) + list(world.pins.values()):
        score += 1
        for mm in world.mms.values():
            if mm.alive and any(p.folio == ref.folio and not p.write for p in mm.ptes.values()):
                score += 1
    return score


def machine(era_id: str, allowed: FrozenSet[str], search: EraSearch, start: float,
            stop_when: Optional[FrozenSet[str]] = None) -> type:
    """The state machine for `era_id`.  A guarantee in `allowed` is known
    already: it is recorded (``search.first_seen``) but does not fail the
    test case.  With `stop_when`, the run ends once all of those were seen."""

    class WorldMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.init: Tuple[Init, ...] = (Init("P0", "anon", "a", 1, _LOC),)
            self.features: FrozenSet[str] = frozenset()
            self.lines: List[Line] = []
            self.world: World = run_sequential(program(self.init, []), era_id)[1]
            self.broken: Dict[str, str] = {}
            self.value = 1
            self.counters: Dict[str, int] = {}
            self.best = 0
            search.cases += 1

        # ---- names and arguments, from the live world ----------------------------

        def fresh(self, kind: str) -> str:
            """A name not used yet: a child P1, pipe0, pin0, or a register per thread."""
            if kind == "proc":
                n = 1
                while f"P{n}" in self.world.names:
                    n += 1
                return f"P{n}"
            if kind in ("pipe", "pin"):
                n = self.counters.get(kind, 0)
                self.counters[kind] = n + 1
                return f"{kind}{n}"
            n = self.counters.get("reg:" + kind, 0)
            self.counters["reg:" + kind] = n + 1
            return f"r{n}"

        def trial_fresh(self) -> Callable[[str], str]:
            saved = dict(self.counters)

            def f(thread: str) -> str:
                n = saved.get("reg:" + thread, 0)
                saved["reg:" + thread] = n + 1
                return f"r{n}"

            return f

        def processes(self) -> List[str]:
            return [m.name for m in self.world.mms.values() if m.alive]

        def threads(self) -> List[str]:
            procs = self.processes()
            if "threads" in self.features:
                return procs + [f"{p}.t1" for p in procs]
            return procs

        def addrs(self, thread: str, op: str) -> List[Tuple[str, int]]:
            """The addresses `op` can run on for `thread`'s process."""
            mm = self.world.mms[self.world.names[thread.split(".")[0]]]
            out = []
            for name, vma in sorted(mm.vmas.items()):
                if op in ("write",) and not vma.write:
                    continue
                if op == "pageout" and vma.nr > 1:
                    continue
                for idx in range(1 if op in _WHOLE else vma.nr):
                    out.append((name, idx))
            return out

        def paddrs(self, unlocked: bool = True) -> List[Tuple[str, str, int]]:
            out = []
            for mm in self.world.mms.values():
                if not mm.alive:
                    continue
                for (name, idx), pte in sorted(mm.ptes.items()):
                    if pte.present and (not unlocked or self.world.folios[pte.folio].lock is None):  # type: ignore
                        out.append((mm.name, name, idx))
            return out

        def args(self, data, thread: str, op: str, chosen: Tuple[object, ...] = ()):  # type: ignore
            """Draw `op`'s arguments, kind by kind as OPS lists them; None
            when the world has none for some kind."""
            args: List[object] = []
            for kind in OPS[op].args[len(chosen):]:
                if kind == "addr":
                    pool = self.addrs(thread, op)
                    if not pool:
                        return None
                    args.append(data.draw(st.sampled_from(pool), label="addr"))
                elif kind == "value":
                    self.value += 1
                    args.append(self.value)
                elif kind == "reg":
                    args.append(self.fresh(thread))
                elif kind == "proc":
                    args.append(self.fresh("proc"))
                elif kind in ("pipe", "pin") and op in ("vmsplice", "pin"):
                    args.append(self.fresh(kind))
                elif kind == "access":
                    name = (list(chosen) + args)[0][0]  # type: ignore[index]
                    mm = self.world.mms[self.world.names[thread.split(".")[0]]]
                    args.append(data.draw(st.sampled_from(["ro", "rw"] if mm.vmas[name].write else ["ro"]),
                                          label="access"))
                elif kind == "duration":
                    args.append(data.draw(st.sampled_from(["longterm", "short"]), label="duration")
                                if "short-pins" in self.features else "longterm")
                elif kind == "prot":
                    args.append(data.draw(st.sampled_from(["ro", "rw"]), label="prot"))
                else:  # pipe / pin to read, paddr: chosen by the rule itself
                    return None
            return tuple(chosen) + tuple(args)

        # ---- running ----------------------------------------------------------------

        def add(self, *lines: Line) -> bool:
            """Append `lines` if they run (else leave the program as it was),
            then observe: a guarantee broken by reading everything, or by a
            pending write and then reading everything, adds those steps."""
            search.rules += 1
            cand = self.lines + list(lines)
            broken, world = _extend(self.world, lines, era_id)  # the sequential schedule goes on
            if world is None:
                search.dropped += 1
                return False
            before, self.lines, self.world = self.world, cand, world
            self.best = max(self.best, closeness(world))
            if self._record(broken):
                return True
            reads = observe(world, self.trial_fresh())
            if any(len(line.steps) > 1 for line in lines):  # every interleaving, then every read
                seen = _explore_from(before, list(lines) + reads, era_id)
                if self._take(seen, cand, reads, None):
                    return True
            writes = [[]] + [[w] for w in pending_writes(world, self.value + 1)] + pending_swapins(world, self.value + 1)
            for ahead in writes:
                trial = ahead + reads
                if trial:
                    seen, after = _extend(world, trial, era_id)
                    if after is not None and self._take(seen, cand, trial, after):
                        break
            return True

        def _take(self, seen: Dict[str, str], cand: List[Line], trial: List[Line], after: Optional[World]) -> bool:
            """The trial steps broke something new: they join the program."""
            if not self._record(seen):
                return False
            for line in trial:  # take the value and the registers the trial used
                step = line.steps[0]
                if step.op == "write":
                    self.value += 1
                elif step.op.endswith("read"):
                    self.fresh(step.thread)
            self.lines = cand + trial
            self.world = after if after is not None else _extend(self.world, trial, era_id)[1] or self.world
            return True

        def _record(self, broken: Dict[str, str]) -> bool:
            """Note what broke; True if something not yet allowed did."""
            new = False
            for gid, why in broken.items():
                if gid not in search.first_seen:
                    search.first_seen[gid] = time.perf_counter() - start
                if gid not in allowed and gid not in self.broken:
                    self.broken[gid] = why
                    new = True
            if stop_when is not None and stop_when <= set(search.first_seen):
                raise _Done()
            return new

        # ---- the world a test case uses (swarm) ------------------------------------------

        @initialize(features=st.fixed_dictionaries({f: st.booleans() for f in FEATURES}))
        def start(self, features: Dict[str, bool]) -> None:
            self.features = frozenset(f for f, on in features.items() if on)
            init = [Init("P0", "anon", "a", 1, _LOC)]
            if "large" in self.features:
                init.append(Init("P0", "large", "b", 1, _LOC))
            self.init = tuple(init)
            self.world = run_sequential(program(self.init, []), era_id)[1]

        # ---- rules shaped like the programs that matter --------------------------------

        def _thread(self, data) -> str:  # type: ignore[no-untyped-def]
            return data.draw(st.sampled_from(self.threads()), label="thread")

        @rule(data=st.data(), unmap=st.booleans())
        def fork_then_splice_in_child(self, data, unmap: bool) -> None:  # type: ignore[no-untyped-def]
            """fork(); the child vmsplice()s a page it now shares, and maybe
            unmaps it (CVE-2020-29374)."""
            parent = data.draw(st.sampled_from(self.processes()), label="parent")
            child = self.fresh("proc")
            pool = [a for a in self.addrs(parent, "vmsplice")
                    if not self.world.mms[self.world.names[parent]].vmas[a[0]].dontfork]
            if not pool:
                self.add(_line(_step(parent, "fork", child)))
                return
            addr = data.draw(st.sampled_from(pool), label="addr")
            lines = [_line(_step(parent, "fork", child)), _line(_step(child, "vmsplice", addr, self.fresh("pipe")))]
            self.add(*lines, *([_line(_step(child, "munmap", (addr[0], 0)))] if unmap else []))

        @precondition(lambda self: any(self.addrs(p, "vmsplice") for p in self.processes()))
        @rule(data=st.data(), pin=st.booleans())
        def reference_then_fork(self, data, pin: bool) -> None:  # type: ignore[no-untyped-def]
            """vmsplice() or pin a page, then fork(): the reference was taken on
            an exclusive page (5.8's GUP-side fix does not see it; 5.9 copies a
            pinned page for the child)."""
            parent = data.draw(st.sampled_from([p for p in self.processes() if self.addrs(p, "vmsplice")]),
                               label="parent")
            op = "pin" if pin else "vmsplice"
            args = self.args(data, parent, op)
            if args is None:
                return
            self.add(_line(_step(parent, op, *args)), _line(_step(parent, "fork", self.fresh("proc"))))

        @rule(data=st.data())
        def fork_then_exit(self, data) -> None:  # type: ignore[no-untyped-def]
            """fork() and the child exits: the parent's pages were shared once."""
            parent = data.draw(st.sampled_from(self.processes()), label="parent")
            child = self.fresh("proc")
            self.add(_line(_step(parent, "fork", child)), _line(_step(child, "exit")))

        @precondition(lambda self: any(self.addrs(p, "mprotect") for p in self.processes()))
        @rule(data=st.data())
        def mprotect_ro_rw(self, data) -> None:  # type: ignore[no-untyped-def]
            """mprotect(R) then mprotect(RW): the PTEs stay read-only, the next
            write faults on a page that may well be exclusive."""
            proc = data.draw(st.sampled_from([p for p in self.processes() if self.addrs(p, "mprotect")]),
                             label="proc")
            addr = data.draw(st.sampled_from(self.addrs(proc, "mprotect")), label="addr")
            self.add(_line(_step(proc, "mprotect", addr, "ro")), _line(_step(proc, "mprotect", addr, "rw")))

        @precondition(lambda self: any(self.addrs(p, "write") for p in self.processes()))
        @rule(data=st.data(), dance=st.booleans())
        def write_racing_dontneed(self, data, dance: bool) -> None:  # type: ignore[no-untyped-def]
            """A write raced against MADV_DONTNEED of the same mapping by
            another thread -- every interleaving with the handler's atomic
            steps -- on a page whose PTE is read-only (after the mprotect
            dance, if `dance`), so that the write goes through do_wp_page()."""
            proc = data.draw(st.sampled_from([p for p in self.processes() if self.addrs(p, "write")]),
                             label="proc")
            addr = data.draw(st.sampled_from(self.addrs(proc, "write")), label="addr")
            self.value += 1
            race = _line(_step(proc, "write", addr, self.value), _step(f"{proc}.t1", "dontneed", (addr[0], 0)))
            if dance:
                self.add(_line(_step(proc, "mprotect", (addr[0], 0), "ro")),
                         _line(_step(proc, "mprotect", (addr[0], 0), "rw")), race)
            else:
                self.add(race)

        @precondition(lambda self: "party" in self.features and bool(self.paddrs()))
        @rule(data=st.data())
        def write_racing_unlock(self, data) -> None:  # type: ignore[no-untyped-def]
            """Another party holds the page lock while the owner writes, and lets
            go concurrently (the handler trylocks, or sleeps on the lock)."""
            pool = [p for p in self.paddrs() if self.world.mms[self.world.names[p[0]]].vmas[p[1]].write]
            if not pool:
                return
            proc, name, idx = data.draw(st.sampled_from(pool), label="paddr")
            self.value += 1
            self.add(_line(_step("", "lock", (proc, name, idx))),
                     _line(_step(proc, "write", (name, idx), self.value), _step("", "unlock", (proc, name, idx))))

        # ---- the world's invariants: the data-level guarantees -------------------------

        def teardown(self) -> None:
            target(float(self.best), label="references on read-only mapped pages")

    # One rule per operation of OPS, with its arguments from the live world.
    def op_rule(op: str) -> Callable:
        def runnable(self) -> bool:  # type: ignore[no-untyped-def]
            if op == "pipe-read":
                return bool(self.world.pipes)
            if op in ("unpin", "pin-read"):
                return bool(self.world.pins)
            if op == "pin-write":
                return any(r.writable for r in self.world.pins.values())
            if op == "lock":
                return "party" in self.features and bool(self.paddrs())
            if op == "unlock":
                return bool(self.world.party_locks)
            if op == "ksm-merge":
                return bool(self._ksm_pairs())
            if op == "exit":
                return len(self.processes()) > 1
            if OPS[op].args and OPS[op].args[0] == "addr":
                return any(self.addrs(t, op) for t in self.processes())
            return True

        def run(self, data) -> None:  # type: ignore[no-untyped-def]
            world = self.world
            if op in ("pipe-read", "unpin", "pin-read", "pin-write"):
                table = world.pipes if op == "pipe-read" else world.pins
                names = sorted(n for n, r in table.items() if op != "pin-write" or r.writable)
                name = data.draw(st.sampled_from(names), label=op)
                owner = world.mms[table[name].owner].name
                rest = self.args(data, owner, op, (name,))
                self.add(_line(_step(owner, op, *rest)))
                return
            if op in ("lock", "unlock"):
                if op == "lock":
                    paddr = data.draw(st.sampled_from(self.paddrs()), label="paddr")
                else:
                    key = data.draw(st.sampled_from(sorted(world.party_locks)), label="paddr")
                    proc, rest_text = key.split(":", 1)
                    m = re.match(r"(\w+)(?:\[(\d+)\])?$", rest_text)
                    paddr = (proc, m.group(1), int(m.group(2) or 0))  # type: ignore[union-attr]
                self.add(_line(_step("", op, paddr)))
                return
            if op == "ksm-merge":
                a, b = data.draw(st.sampled_from(self._ksm_pairs()), label="pair")
                self.add(_line(_step("", op, a, b)))
                return
            if op == "lru-drain":
                who = data.draw(st.sampled_from([""] + self.threads()), label="cpu")
                self.add(_line(_step(who, op)))
                return
            threads = [t for t in self.threads() if not OPS[op].args or OPS[op].args[0] != "addr"
                       or self.addrs(t, op)]
            if op == "exit":
                threads = [t for t in self.processes()]
            thread = data.draw(st.sampled_from(threads), label="thread")
            args = self.args(data, thread, op)
            if args is None:
                return
            self.add(_line(_step(thread, op, *args)))

        run.__name__ = "op_" + re.sub(r"\W", "_", op)
        run.__doc__ = f"{OPS[op].spelling} (OPS[{op!r}])"
        return precondition(runnable)(rule(data=st.data())(run))

    def ksm_pairs(self) -> List[Tuple[Tuple[str, str, int], Tuple[str, str, int]]]:  # type: ignore[no-untyped-def]
        """Two small pages in memory with equal data, nothing but mappings
        holding them: the pairs ksmd would merge."""
        w = self.world
        pages = []
        for p in self.paddrs():
            pte = w.mms[w.names[p[0]]].ptes[(p[1], p[2])]
            f = w.folios[pte.folio]
            if f.nr == 1 and not w.refs_of(f.id) and f.slot is None and not f.ksm:
                pages.append((p, f.id, f.data[0][0]))
        return [(a, b) for i, (a, fa, va) in enumerate(pages) for (b, fb, vb) in pages[i + 1:] if fa != fb and va == vb]

    WorldMachine._ksm_pairs = ksm_pairs  # type: ignore[attr-defined]
    for name in OPS:
        setattr(WorldMachine, "op_" + re.sub(r"\W", "_", name), op_rule(name))

    def guarantee(gid: str) -> Callable:
        def holds(self) -> None:  # type: ignore[no-untyped-def]
            if gid in self.broken:
                raise _BROKEN[gid](gid, self.init, tuple(self.lines), self.broken[gid])

        holds.__name__ = "guarantee_" + re.sub(r"\W", "_", gid)
        holds.__doc__ = GUARANTEES[gid].guarantee
        return invariant()(holds)

    for gid in GUARANTEES:
        setattr(WorldMachine, "guarantee_" + re.sub(r"\W", "_", gid), guarantee(gid))
    WorldMachine.__name__ = WorldMachine.__qualname__ = "World_" + re.sub(r"\W", "_", era_id)
    return WorldMachine


# ---- shrinking the program further, and printing it ----------------------------------


def _breaks(init: Tuple[Init, ...], lines: Sequence[Line], era_id: str, gid: str) -> bool:
    return gid in _broken(init, lines, era_id)[0]


def _closure(lines: Sequence[Line], i: int) -> set:
    """Line `i` and every later line that needs what it made: the child a
    fork made (and its children), the pipe or pin it filled."""
    made: set = set()
    cut = {i}
    for j in range(i, len(lines)):
        steps = lines[j].steps
        uses = {s.thread.split(".")[0] for s in steps} | {str(a) for s in steps for a in s.args if isinstance(a, str)}
        uses |= {a[0] for s in steps for a in s.args if isinstance(a, tuple) and len(a) == 3}
        if j == i or uses & made:
            cut.add(j)
            for s in steps:
                for kind, a in zip(OPS[s.op].args, s.args):
                    if kind in ("proc", "pipe", "pin") and s.op in ("fork", "vmsplice", "pin"):
                        made.add(str(a))
    return cut


def minimize(init: Tuple[Init, ...], lines: Sequence[Line], era_id: str, gid: str) -> Tuple[Tuple[Init, ...], List[Line]]:
    """Delete every step (and initial mapping) the program does not need to
    break `gid`: Hypothesis shrinks rules, a rule may add several steps."""
    lines = list(lines)
    changed = True
    while changed:
        changed = False
        for i in reversed(range(len(lines))):
            if i >= len(lines):
                continue
            for cut in (_closure(lines, i), {i}):
                cand = [line for j, line in enumerate(lines) if j not in cut]
                if _breaks(init, cand, era_id, gid):
                    lines, changed = cand, True
                    break
    for i in reversed(range(len(init))):
        if len(init) == 1:
            break
        cand_init = init[:i] + init[i + 1:]
        if _breaks(cand_init, lines, era_id, gid):
            init = cand_init
    return init, lines


def _renamed(init: Tuple[Init, ...], lines: Sequence[Line]) -> List[Line]:
    """Children P1, P2 ..., pipes, pins and registers numbered in the order
    they appear, values 2, 3 ... in the order written."""
    procs = {i.process: i.process for i in init}
    names: Dict[str, str] = {}
    counts: Dict[str, int] = {}
    values: Dict[int, int] = {}

    def proc(p: str) -> str:
        base, _, thread = p.partition(".")
        return procs.get(base, base) + ("." + thread if thread else "")

    def fresh(kind: str, old: str) -> str:
        key = f"{kind}:{old}"
        if key not in names:
            n = counts.get(kind, 0)
            counts[kind] = n + 1
            names[key] = f"{kind.split(':')[0]}{n}"
        return names[key]

    out = []
    for line in lines:
        steps = []
        for s in line.steps:
            thread = proc(s.thread) if s.thread else ""
            args: List[object] = []
            for kind, a in zip(OPS[s.op].args, s.args):
                if kind == "proc":
                    procs[str(a)] = f"P{len(set(procs.values()))}"
                    args.append(procs[str(a)])
                elif kind in ("pipe", "pin"):
                    args.append(fresh(kind, str(a)))
                elif kind == "reg":
                    args.append(fresh(f"r:{thread}", str(a)))
                elif kind == "value":
                    values.setdefault(int(a), len(values) + 2)  # type: ignore[call-overload]
                    args.append(values[int(a)])  # type: ignore[call-overload]
                elif kind == "paddr":
                    args.append((proc(a[0]),) + tuple(a[1:]))  # type: ignore[index]
                else:
                    args.append(a)
            steps.append(Step(thread, s.op, tuple(args), s.loc))
        out.append(Line(tuple(steps), line.loc))
    return out


def _ranges(verdicts: Sequence[Tuple[str, Verdict]]) -> str:
    """era -> verdict as Result: clauses: "v5.7 Always; v5.8.. Never"."""
    order = list(ERAS)
    runs: List[Tuple[List[str], Verdict]] = []
    for era_id, v in verdicts:
        if runs and runs[-1][1] is v and order.index(runs[-1][0][-1]) + 1 == order.index(era_id):
            runs[-1][0].append(era_id)
        else:
            runs.append(([era_id], v))
    by_verdict: Dict[Verdict, List[str]] = {}
    for eras_, v in runs:
        if len(eras_) == 1:
            span = eras_[0]
        elif eras_[-1] == order[-1]:
            span = f"{eras_[0]}.."
        else:
            span = f"{eras_[0]}..{eras_[-1]}"
        by_verdict.setdefault(v, []).append(span)
    if len(by_verdict) == 1 and len(verdicts) == len(order):
        return next(iter(by_verdict)).value
    first = {v: order.index(sp[0].split("..")[0] or order[0]) for v, sp in by_verdict.items()}
    return "; ".join(f"{', '.join(sp)} {v.value}" for v, sp in sorted(by_verdict.items(), key=lambda kv: first[kv[0]]))


def litmus_text(name: str, init: Tuple[Init, ...], lines: Sequence[Line], gid: str, comment: str) -> str:
    """The program as a litmus file whose exists is `broken gid`, with a
    Result: for every era the program runs on (as the explorer finds it)."""
    lines = _renamed(init, lines)
    body = [" || ".join(s.text for s in line.steps) for line in lines]
    inits = "; ".join(f"{i.process}: {i.kind} {i.addr} = {i.value}" for i in init)
    exists = f"exists (broken {gid})"
    probe = "\n".join([f"COW {name}", "{ " + inits + " }", *body, exists, ""])
    p = parse(probe, name)
    verdicts: List[Tuple[str, Verdict]] = []
    skipped: List[str] = []
    for era_id in ERAS:
        try:
            verdicts.append((era_id, explore(p, era_id).verdict))
        except ProgramError:
            skipped.append(era_id)
    note = f"\n   It cannot run on {', '.join(skipped)}." if skipped else ""
    text = comment.replace("(*", "( *").replace("*)", "* )").replace("Result:", "Result -")
    wrapped = _wrap(text + note.replace("\n   ", " "))
    head = [f"COW {name}", "(* " + "\n   ".join(wrapped), f"   Result: {_ranges(verdicts)} *)"]
    return "\n".join(head + ["{ " + inits + " }", *body, exists, ""])


def _wrap(text: str, width: int = 72) -> List[str]:
    out: List[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split():
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    return out


def finding(era_id: str, b: Broken, seconds: float, seed: Optional[int]) -> StatefulFinding:
    """The shrunk program behind `b`, minimized, renamed, as a litmus file."""
    gid = b.gid
    init, lines = minimize(b.init, b.lines, era_id, gid)
    g = GUARANTEES[gid]
    recorded = history().get(era_id, {}).get(gid, ())
    why = _explore_from(run_sequential(program(init, []), era_id)[1], lines, era_id).get(gid, b.why)
    hist = (f"History records it: {', '.join(recorded)}." if recorded
            else "NOT in the catalogue's history for this era.")
    comment = (f"Found from scratch by the stateful search on {era_id} (seed {seed}), first after {seconds:.2f} s, "
               f"shrunk to {len(lines)} steps.  It breaks {gid}: {g.guarantee}.  {why}.  {hist}")
    name = f"stateful-{era_id}-{gid}"
    text = litmus_text(name, init, lines, gid, comment)
    x = explore(parse(text, name), era_id)
    return StatefulFinding(era_id, gid, g.severity.value, bool(recorded), text, x.verdict.value, len(lines),
                           round(seconds, 3), seed, why, recorded, g.fixed_by, g.cow_c)


def replays(f: StatefulFinding) -> bool:
    """The finding's litmus file, parsed and explored on its era, reaches
    its outcome with the verdict printed, and every stated Result holds."""
    p = parse(f.litmus, f"<{f.key}>")
    for era_id, stated in p.results:
        x = explore(p, era_id)
        if x.verdict is not stated:
            return False
    return p.expected(f.era) is not None and p.expected(f.era).value == f.verdict and f.verdict != "Never"


# ---- the search ----------------------------------------------------------------------


def _settings(budget: Budget, shrink: bool) -> settings:
    """Generation stops at the first failure: the program is then shrunk by
    :func:`minimize` (Hypothesis' own shrinker, ``shrink=True``, re-runs the
    machine for every attempt and takes tens of seconds where deleting
    steps takes milliseconds)."""
    phases = [Phase.generate] + ([Phase.target] if budget.target else []) + ([Phase.shrink] if shrink else [])
    return settings(max_examples=budget.examples, stateful_step_count=budget.steps, database=None, deadline=None,
                    derandomize=False, suppress_health_check=list(HealthCheck), print_blob=False,
                    report_multiple_bugs=shrink, phases=phases, verbosity=Verbosity.quiet)


def _run(cls: type, budget: Budget, seed: Optional[int], shrink: bool = False) -> List[Broken]:
    """Run the machine; the guarantees it broke (with ``shrink``, every
    distinct one, each shrunk by Hypothesis; else the first)."""
    if seed is not None:
        cls._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    try:
        run_state_machine_as_test(cls, settings=_settings(budget, shrink))
    except Broken as b:
        return [b]
    except BaseExceptionGroup as group:  # report_multiple_bugs: one per guarantee
        found = [e for e in group.exceptions if isinstance(e, Broken)]
        if len(found) < len(group.exceptions):
            raise
        return found
    except Flaky:  # a replay that did not reproduce: nothing trustworthy to report
        return []
    return []


def search(era_id: str, profile: str = "dev", seed: Optional[int] = None) -> EraSearch:
    """Find what `era_id` breaks: run the machine, shrink each guarantee it
    broke, allow those, and run again until a run finds nothing new."""
    budget = PROFILES[profile]
    s = EraSearch(era_id)
    start = time.perf_counter()
    allowed: FrozenSet[str] = frozenset()
    rounds = 0
    while True:
        rounds += 1
        found = _run(machine(era_id, allowed, s, start), budget, None if seed is None else seed + rounds - 1)
        new = [b for b in found if b.gid not in allowed]
        if not new:
            break
        for b in new:
            s.findings.append(finding(era_id, b, s.first_seen.get(b.gid, time.perf_counter() - start), seed))
        allowed = allowed | {b.gid for b in new}
    s.seconds = time.perf_counter() - start
    return s


def find(era_id: str, gid: str, profile: str = "dev", seed: Optional[int] = None) -> Optional[StatefulFinding]:
    """Search `era_id` for a program that breaks `gid` alone (the other
    guarantees are recorded, not failed on); the shrunk finding, or None
    within the profile's budget."""
    s = EraSearch(era_id)
    start = time.perf_counter()
    found = _run(machine(era_id, frozenset(GUARANTEES) - {gid}, s, start), PROFILES[profile], seed)
    b = next((b for b in found if b.gid == gid), None)
    return None if b is None else finding(era_id, b, s.first_seen[gid], seed)


def time_to_find(era_id: str, gids: Iterable[str], seed: int, profile: str = "thorough") -> Dict[str, float]:
    """Seconds from a fresh start (no database, no examples given, no
    shrinking) until the search first breaks each of `gids` on `era_id`;
    a guarantee not broken within the profile's budget is left out."""
    want = frozenset(gids)
    s = EraSearch(era_id)
    start = time.perf_counter()
    cls = machine(era_id, frozenset(GUARANTEES), s, start, stop_when=want)
    try:
        _run(cls, PROFILES[profile], seed, shrink=False)
    except _Done:
        pass
    return {g: t for g, t in s.first_seen.items() if g in want}


def run_stateful(report, era_ids: Sequence[str], profile: str = "dev", seed: Optional[int] = None,
                 progress: Optional[Callable[[str, int, int], None]] = None) -> List[StatefulFinding]:  # type: ignore
    """Search every era in `era_ids`; add each finding to `report` (through
    ``report.add_finding`` where the report has it, else as a Divergence)
    with one EngineRun per era, and return the findings."""
    from .report import Compared, Divergence, EngineRun, Verdict as RunVerdict

    out: List[StatefulFinding] = []
    for i, era_id in enumerate(era_ids):
        if progress is not None:
            progress(ENGINE, i, len(era_ids))
        s = search(era_id, profile, seed)
        out.extend(s.findings)
        if report is None:
            continue
        add = getattr(report, "add_finding", None)
        for f in s.findings:
            if add is not None:
                add(f)
            else:
                report.divergences.append(Divergence(
                    era=era_id, compared=Compared.SOUNDNESS, state=None, word=0, kernel_saw={},
                    explanation=f"{f.explanation}\n{f.litmus}", engine=ENGINE, target=f"model:{era_id}",
                    invariant=f.guarantee, severity=f.severity, expected=f.expected, fixed_by=f.fixed_by,
                    cow_c=f.cow_c, seed=seed))
        missing = sorted(expected(era_id) - {f.guarantee for f in s.findings})
        note = (f"{s.cases} programs, {s.rules} rules ({s.dropped} dropped), profile {profile}"
                + (f"; history not reproduced: {', '.join(missing)}" if missing else ""))
        report.runs.append(EngineRun(f"{ENGINE}:{era_id}", RunVerdict.DIVERGENCE if s.findings else RunVerdict.CLEAN,
                                     s.cases, round(s.seconds, 3), note))
    if progress is not None:
        progress(ENGINE, len(era_ids), len(era_ids))
    return out
