"""The explorer: every interleaving of a program's concurrent steps, and of
the fault handler's atomic steps with them, without visiting a state twice.

Stateless, as herd7 and CHESS are: each node of the search re-runs the
program from its initial state with a prefix of choices.  At a choice point
the run's key (the line, the whole world, and where each thread stands --
inside a fault: the kernel events and answers so far) is looked up; a key
seen before contributes the executions it led to, with their counts,
without being explored again.  ``states`` counts the distinct keys
explored, ``interleavings`` the complete runs they stand for.
"""

import time
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from wpdiff.spec.world.fault import Decide
from wpdiff.spec.world.program import Program, Run
from wpdiff.spec.world.results import Execution, Exploration, Outcomes, verdict_of


@dataclass
class Stats:
    runs: int = 0  # programs re-run from the start
    seconds: float = 0.0


def explore(program: Program, era_id: str, decide: Optional[Decide] = None, source: str = "model",
            stats: Optional[Stats] = None) -> Exploration:
    """Every execution of `program` on `era_id`; ProgramError if a step cannot run."""
    memo: Dict[Tuple, Counter] = {}
    found: Dict[Tuple, Tuple[Execution, Tuple[str, ...]]] = {}
    counter = {"states": 0, "runs": 0}
    t0 = time.perf_counter()

    def node(prefix: List[int]) -> Counter:
        run = Run(program, era_id, decide)
        counter["runs"] += 1
        try:
            ready = run.enabled()
            for c in prefix:
                run.step(c)
                ready = run.enabled()
            if not ready:
                e = run.execution()
                k = e.key()
                if k not in found:
                    found[k] = (e, tuple(run.trace))
                return Counter({k: 1})
            key = run.key()
        finally:
            run.close()
        if key in memo:
            return memo[key]
        counter["states"] += 1
        total: Counter = Counter()
        for c in ready:
            total.update(node(prefix + [c]))
        memo[key] = total
        return total

    counts = node([])
    outcomes = []
    for k, n in sorted(counts.items(), key=lambda kv: str(kv[0])):
        e, witness = found[k]
        outcomes.append(Outcomes(e, n, program.exists.holds(e), witness))
    pos = sum(o.count for o in outcomes if o.positive)
    neg = sum(o.count for o in outcomes if not o.positive)
    if stats is not None:
        stats.runs += counter["runs"]
        stats.seconds += time.perf_counter() - t0
    return Exploration(program.name, era_id, tuple(outcomes), verdict_of(pos, neg), pos + neg,
                       max(counter["states"], 1), source, program.expected(era_id))
