"""Faithfulness inside the world: the same program, every fault decided by
the era's fast path on the concretized projected state, must produce the
identical executions as with every fault decided by the era's model.

Both runs take each fault as one atomic step (a fast path over a packed
word cannot be preempted); the preemptible model run is the explorer's
own.  This lives in diff/ so that spec/ never imports impl/.
"""

from typing import List, Tuple

from wpdiff.impl.abstract import outcome_of
from wpdiff.impl.concretize import concretize
from wpdiff.impl.fastpath import FASTPATHS
from wpdiff.spec.eras import ERAS
from wpdiff.spec.outcome import Outcome
from wpdiff.spec.state import FaultState
from wpdiff.spec.world.program import Program

from .explore import explore


def model_decides(era_id: str, state: FaultState) -> Outcome:
    return ERAS[era_id](state)


def fastpath_decides(era_id: str, state: FaultState) -> Outcome:
    outcome, drift = outcome_of(era_id, state, FASTPATHS[era_id](concretize(era_id, state)))
    if drift is not None:
        raise AssertionError(f"the {era_id} fast path's word after disagrees with its events: {drift}")
    return outcome


def differences(program: Program, era_id: str) -> List[str]:
    """Where the fast-path run differs from the model run ([] if identical)."""
    if era_id not in FASTPATHS:
        return [f"{era_id}: no fast path"]
    a = explore(program, era_id, decide=model_decides, source="model")
    b = explore(program, era_id, decide=fastpath_decides, source="fastpath")

    def table(x) -> List[Tuple]:  # type: ignore[no-untyped-def]
        return sorted((o.execution.to_json(), o.count) for o in x.outcomes)

    if table(a) == table(b):
        return []
    only_a = {e for e, _ in table(a)} - {e for e, _ in table(b)}
    only_b = {e for e, _ in table(b)} - {e for e, _ in table(a)}
    return [f"{era_id}: the model alone reaches {e}" for e in sorted(only_a)] + \
           [f"{era_id}: the fast path alone reaches {e}" for e in sorted(only_b)] or \
           [f"{era_id}: the same executions, reached by different numbers of interleavings"]
