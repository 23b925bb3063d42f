"""The stateful search: a Hypothesis rule-based state machine over the world.

Its rules come from the one table of operations (``OPS``), its invariants
are the data-level guarantees (``GUARANTEES``).  From scratch -- no
``@example``, no database -- it looks, per era, for a program that breaks a
guarantee; a step may also be raced against a write of another thread
(``||``), explored over every interleaving.  A finding is printed shrunk,
as a litmus file that ``wpdiff litmus`` replays with the same outcome
(``exists (broken ID)``), and is expected where history records it
(``EXPECTED``).

Status: the rules and the replay work, but with the ``dev`` budget (60
examples of 8 steps) the search has not yet found any historical finding
from scratch: random programs rarely line up fork, vmsplice, munmap, write
and the pipe read.  Not yet wired into ``wpdiff check``; no test claims it.
"""

import time
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Tuple

from dataclasses_json import DataClassJsonMixin
from hypothesis import HealthCheck, reject, settings, strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from wpdiff.spec.world.ops import OPS
from wpdiff.spec.world.program import Line, Loc, Program, Step, run_sequential
from wpdiff.spec.world.world import ProgramError

from .litmus.explore import explore
from .litmus.syntax import parse

# What history says each era breaks at the data level.
_LEAKS = frozenset({"no-leak-parent-to-child", "no-leak-child-to-parent"})
EXPECTED: Dict[str, FrozenSet[str]] = {
    "v5.7": _LEAKS,
    "v5.8": frozenset({"no-leak-child-to-parent"}),
    "v5.9-rc4": frozenset({"no-freed-page-touched", "pin-coherent"}) | _LEAKS,
    "v5.9": frozenset({"pin-coherent"}) | _LEAKS,
    "v5.18": frozenset({"pin-coherent"}),
}
PROFILES = {"dev": 60, "ci": 150, "thorough": 600}
_LOC = Loc("<stateful>", 0, 0)


@dataclass(frozen=True)
class StatefulFinding(DataClassJsonMixin):
    era: str
    guarantee: str
    expected: bool  # history records it
    litmus: str  # the shrunk program, as a litmus file
    seconds: float  # time to the first find


def litmus_text(name: str, steps: List[Line], gid: str) -> str:
    body = [" || ".join(s.text for s in line.steps) for line in steps]
    return "\n".join([f"COW {name}", "{ P0: anon a = 1; P0: large b = 1 }", *body, f"exists (broken {gid})", ""])


class _Found(AssertionError):
    def __init__(self, gid: str, text: str) -> None:
        super().__init__(f"{gid} broken:\n{text}")
        self.gid, self.text = gid, text


def machine(era_id: str, allowed: FrozenSet[str]):  # type: ignore[no-untyped-def]
    procs = ["P0", "P1", "P2"]

    class World(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.lines: List[Line] = []
            self.alive = ["P0"]
            self.n = 0

        def _program(self, lines: List[Line]) -> Program:
            from wpdiff.spec.world.program import Atom, Init
            init = (Init("P0", "anon", "a", 1, _LOC), Init("P0", "large", "b", 1, _LOC))
            return Program("stateful", init, tuple(lines), Atom("freed"), _LOC, (), _LOC)

        def _try(self, line: Line) -> None:
            lines = self.lines + [line]
            try:
                if len(line.steps) > 1:
                    x = explore(self._program(lines), era_id)
                    broken = [g for o in x.outcomes for g in o.execution.broken]
                else:
                    e, _ = run_sequential(self._program(lines), era_id)
                    broken = list(e.broken)
            except ProgramError:
                reject()
            self.lines = lines
            for gid in broken:
                if gid not in allowed:
                    raise _Found(gid, litmus_text(f"found-{era_id}-{gid}", self.lines, gid))

        @rule(data=st.data())
        def step(self, data) -> None:  # type: ignore[no-untyped-def]
            name = data.draw(st.sampled_from(sorted(n for n, op in OPS.items() if op.who != "party")))
            op = OPS[name]
            thread = data.draw(st.sampled_from(self.alive))
            if name == "exit" and thread == "P0":
                reject()  # P0 stays: the program needs a process to run
            args = []
            for kind in op.args:
                if kind == "addr":
                    args.append(data.draw(st.sampled_from([("a", 0), ("b", 0), ("b", 1)])))
                elif kind == "value":
                    self.n += 1
                    args.append(1 + self.n)
                elif kind == "reg":
                    args.append(f"r{len(self.lines)}")
                elif kind == "proc":
                    child = next((p for p in procs if p not in self.alive), None)
                    if child is None:
                        reject()
                    args.append(child)
                elif kind == "pipe":
                    args.append(data.draw(st.sampled_from(["pipe0", "pipe1"])))
                elif kind == "pin":
                    args.append(data.draw(st.sampled_from(["pin0", "pin1"])))
                elif kind == "access":
                    args.append(data.draw(st.sampled_from(["ro", "rw"])))
                elif kind == "duration":
                    args.append(data.draw(st.sampled_from(["longterm", "short"])))
                elif kind == "prot":
                    args.append(data.draw(st.sampled_from(["ro", "rw"])))
            thread_name = "" if op.who == "party" else thread
            self._try(Line((Step(thread_name, name, tuple(args), _LOC),), _LOC))
            if name == "fork":
                self.alive.append(str(args[0]))
            if name == "exit" and thread in self.alive:
                self.alive.remove(thread)

        @rule(data=st.data())
        def race(self, data) -> None:  # type: ignore[no-untyped-def]
            """A write raced against another thread's MADV_DONTNEED of the same mapping."""
            thread = data.draw(st.sampled_from(self.alive))
            addr = data.draw(st.sampled_from([("a", 0), ("b", 0)]))
            self.n += 1
            w = Step(thread, "write", (addr, 1 + self.n), _LOC)
            d = Step(f"{thread}.t1", "dontneed", ((addr[0], 0),), _LOC)
            self._try(Line((w, d), _LOC))

        @invariant()
        def alive_process(self) -> None:
            pass

    return World


def search(era_id: str, profile: str = "dev", seed: int = 0) -> List[StatefulFinding]:
    """Find what `era_id` breaks, one guarantee at a time, until nothing new
    is found within the profile's budget."""
    findings: List[StatefulFinding] = []
    allowed: FrozenSet[str] = frozenset()
    while True:
        t0 = time.perf_counter()
        cls = machine(era_id, allowed)
        try:
            run_state_machine_as_test(cls, settings=settings(
                max_examples=PROFILES[profile], database=None, derandomize=seed == 0, deadline=None,
                stateful_step_count=8, suppress_health_check=list(HealthCheck), print_blob=False))
            return findings
        except _Found as f:
            findings.append(StatefulFinding(era_id, f.gid, f.gid in EXPECTED.get(era_id, frozenset()), f.text,
                                            time.perf_counter() - t0))
            allowed = allowed | {f.gid}
        except Flaky:
            return findings


def replays(finding: StatefulFinding) -> bool:
    """The finding's litmus file, run by the litmus explorer, reaches its outcome."""
    x = explore(parse(finding.litmus, "<finding>"), finding.era)
    return x.positive > 0


def run_stateful(report, era_ids, profile: str = "dev", seed: int = 0) -> List[StatefulFinding]:  # type: ignore
    """Search every era; add the findings to `report` where it has room for
    results that are not one fault (``report.add_finding``), and return them."""
    out: List[StatefulFinding] = []
    for e in era_ids:
        out.extend(search(e, profile, seed))
    add = getattr(report, "add_finding", None)
    if add is not None:
        for f in out:
            add(f)
    return out
