"""Era against era: every state where two eras act differently, in classes.

Two eras act differently on a state they both admit when they decide
differently, or decide alike by different kernel events (the seed patch
and its fix both reuse, but unlock in another order).  A class is the
kind of page and the two outcomes' decisions and events -- one kernel
behaviour against another; each comes with the number of states in it and
its smallest example.

>>> from wpdiff.diff.compare import compare
>>> classes = compare("v5.9", "v5.18", "small")
>>> [(d.spec.decision.value, d.other.decision.value) for d in classes][:2]
[('copy', 'reuse'), ('copy', 'reuse')]
"""

from typing import Dict, List, Tuple

from wpdiff.impl.concretize import concretize
from wpdiff.impl.layout import describe
from wpdiff.spec import era as spec_era
from wpdiff.spec.space import size

from . import exhaustive
from .ids import Model
from .report import Compared, Divergence


def compare(a: str, b: str, space: str = "small") -> List[Divergence]:
    era_a, era_b = spec_era(a), spec_era(b)
    classes: Dict[Tuple[str, tuple, tuple], list] = {}
    for state in exhaustive.space(space):
        if not (era_a.admits(state) and era_b.admits(state)):
            continue
        out_a, out_b = era_a(state), era_b(state)
        if (out_a.decision, out_a.events) == (out_b.decision, out_b.events):
            continue
        key = (state.page.kind.value, (out_a.decision, out_a.events), (out_b.decision, out_b.events))
        have = classes.get(key)
        if have is None:
            classes[key] = [1, state, out_a, out_b]
        else:
            have[0] += 1
            if size(state) < size(have[1]):
                have[1:] = [state, out_a, out_b]
    result = []
    # Decisions that differ first, then the same decisions by other events; larger classes first.
    def order(item: tuple) -> tuple:
        (kind, (da, _), (db, _)), (count, *_) = item
        return da is db, -count, kind

    for (kind, _, _), (count, state, out_a, out_b) in sorted(classes.items(), key=order):
        word = concretize(a, state)
        da, db = out_a.decision.value, out_b.decision.value
        how = f"{a}: {', '.join(e.value for e in out_a.events)}; {b}: {', '.join(e.value for e in out_b.events)}"
        if da == db:
            why = f"on {count} state(s) of {kind} pages both eras admit, both decide {da} but by other events ({how})"
        else:
            why = f"on {count} state(s) of {kind} pages both eras admit, {a} decides {da} and {b} {db} ({how})"
        result.append(
            Divergence(
                era=a,
                compared=Compared.ERAS,
                state=state,
                word=word,
                kernel_saw=describe(a, word),
                explanation=why,
                engine="exhaustive",
                target=str(Model(a)),
                expected=True,
                spec=out_a,
                other_era=b,
                other=out_b,
                count=count,
            )
        )
    return result


__all__ = ["compare"]
