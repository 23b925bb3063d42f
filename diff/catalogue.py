"""Every guarantee wpdiff checks, in one catalogue: the invariants of one
fault and the world's data-level guarantees.

One fault's invariants (``wpdiff.spec.INVARIANTS``: no-missed-cow,
reuse-when-exclusive, ...) judge a decision of ``do_wp_page()`` on one
abstract state; the world's guarantees
(``wpdiff.spec.world.guarantees.GUARANTEES``: no-leak-parent-to-child,
pin-coherent, ...) judge what programs read, whatever the counters say, as
``cow.c`` does.  Both have an id, the guarantee in a sentence, a severity,
its history, the fixing commits and the ``cow.c`` case; only the
invariants have a ``check`` on one fault (the world checks its guarantees
where data is observed).  ``wpdiff explain ID`` and the SARIF rules read
them here, so that a finding of either kind has its rule; an id in both is
refused at import.

Which eras break a rule is history's to say: ``spec/history.py`` for the
invariants, the catalogue of litmus files (``stateful.history()``) for the
world's guarantees.
"""

from dataclasses import dataclass
from typing import Dict, List, Tuple

from wpdiff.spec import ERAS, INVARIANTS
from wpdiff.spec.invariants import Severity
from wpdiff.spec.world.guarantees import GUARANTEES

FAULT = "fault"  # an invariant of one fault (spec/invariants.py)
WORLD = "world"  # a data-level guarantee of the multi-process world (spec/world/guarantees.py)


@dataclass(frozen=True)
class Rule:
    id: str
    guarantee: str
    severity: Severity
    history: str
    fixed_by: str
    cow_c: str
    kind: str  # FAULT or WORLD
    since: str  # the first era it is defined in

    @property
    def source(self) -> str:
        return "spec/invariants.py" if self.kind == FAULT else "spec/world/guarantees.py"


def _merge() -> Dict[str, Rule]:
    rules = {inv.id: Rule(inv.id, inv.guarantee, inv.severity, inv.history, inv.fixed_by, inv.cow_c, FAULT,
                          inv.since)
             for inv in INVARIANTS.values()}
    first = next(iter(ERAS))
    for g in GUARANTEES.values():
        if g.id in rules:
            raise ImportError(f"spec/world/guarantees.py: guarantee id {g.id!r} is an invariant's id too "
                              "(spec/invariants.py); expected ids that name one rule")
        rules[g.id] = Rule(g.id, g.guarantee, g.severity, g.history, g.fixed_by, g.cow_c, WORLD, first)
    return rules


CATALOGUE: Dict[str, Rule] = _merge()


def broken_in(rule: Rule) -> List[Tuple[str, str]]:
    """(era, why) for each era history says breaks `rule`, in release order:
    spec/history.py's story for an invariant, the catalogue files recording
    it for a world guarantee."""
    if rule.kind == FAULT:
        from wpdiff.spec.history import FINDINGS

        found = [(f.era, f"{f.story}; smallest: {', '.join(str(h) for h in f.example.page.holders)}")
                 for f in FINDINGS if f.invariant == rule.id]
    else:
        from .stateful import history

        found = [(era_id, "litmus/" + ", litmus/".join(files))
                 for era_id, gs in history().items() for g, files in gs.items() if g == rule.id]
    order = list(ERAS)
    return sorted(found, key=lambda x: order.index(x[0]))
