"""Era against era: every state where two eras decide differently, in classes.

A class is the pair of decisions and the kind of page; each comes with the
number of states in it and its smallest example.

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
from .report import Compared, Divergence


def compare(a: str, b: str, space: str = "small") -> List[Divergence]:
    era_a, era_b = spec_era(a), spec_era(b)
    classes: Dict[Tuple[str, str, str], list] = {}
    for state in exhaustive.space(space):
        if not (era_a.admits(state) and era_b.admits(state)):
            continue
        out_a, out_b = era_a(state), era_b(state)
        if out_a.decision is out_b.decision:
            continue
        key = (out_a.decision.value, out_b.decision.value, state.page.kind.value)
        have = classes.get(key)
        if have is None:
            classes[key] = [1, state, out_a, out_b]
        else:
            have[0] += 1
            if size(state) < size(have[1]):
                have[1:] = [state, out_a, out_b]
    result = []
    for (da, db, kind), (count, state, out_a, out_b) in sorted(classes.items(), key=lambda kv: (-kv[1][0], kv[0])):
        word = concretize(a, state)
        result.append(
            Divergence(
                era=a,
                compared=Compared.ERAS,
                state=state,
                word=word,
                kernel_saw=describe(a, word),
                explanation=f"on {count} state(s) of {kind} pages both eras admit, {a} decides {da} and {b} {db}",
                engine="exhaustive",
                target=f"model:{a}",
                expected=True,
                spec=out_a,
                other_era=b,
                other=out_b,
                count=count,
            )
        )
    return result


__all__ = ["compare"]
