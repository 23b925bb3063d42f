"""Replaying saved divergences: does it still happen, and exactly so?

``wpdiff replay FILE`` takes a report (``wpdiff check --format json``) or
one divergence from it, reruns each divergence on its abstract state --
the era's model, the fast path named as its target, the invariant -- and
says whether it reproduces and whether it reproduces exactly (the same
words, the same decision and events).
"""

import json
from dataclasses import dataclass
from typing import List, Tuple

from dataclasses_json.undefined import UndefinedParameterError

from wpdiff.impl import wordfault
from wpdiff.impl.concretize import concretize, concretize_outcome
from wpdiff.spec import ERAS, INVARIANTS, StateError

from . import exhaustive
from .report import Compared, Divergence, Report
from .targets import BadInput, Target, builtin, load


@dataclass
class Replayed:
    divergence: Divergence
    reproduced: bool
    exact: bool
    note: str


def read(path: str) -> List[Divergence]:
    """The divergences in a report or divergence file; BadInput, naming the
    file and what is wrong, if it is neither."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}:{e.lineno}:{e.colno}: not JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object (a wpdiff report or divergence), got {type(data).__name__}")
    try:
        if "divergences" in data:
            return Report.from_dict(data).divergences
        if "compared" in data:
            return [Divergence.from_dict(data)]
    except StateError as e:
        raise BadInput(f"{path}: a saved state cannot exist: {e}") from None
    except UndefinedParameterError as e:  # a key that no field has
        raise BadInput(f"{path}: not a wpdiff report or divergence: {e}") from None
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise BadInput(f"{path}: not a wpdiff report or divergence: {type(e).__name__}: {e}") from None
    raise BadInput(f"{path}: not a wpdiff report or divergence: it has neither 'divergences' nor 'compared'")


def _target(d: Divergence) -> Target:
    if d.target.startswith("builtin:"):
        return builtin(d.target.split(":", 1)[1])
    return load(d.target, d.era)


def replay(d: Divergence) -> Replayed:
    if d.era not in ERAS:
        raise BadInput(f"divergence names an unknown era {d.era!r}")
    era = ERAS[d.era]
    state = d.state
    if state is None:  # a word-level divergence: the fast path against the model run on the word
        got, want = _target(d).fast(d.word), wordfault.run(d.era, d.word)
        saved = (d.fast_path.after, d.fast_path.trace) if d.fast_path else None
        return Replayed(d, got != want, got == saved, "on a word no well-formed state has")
    word = concretize(d.era, state)
    if word != d.word:
        return Replayed(d, False, False, f"the state now packs to {word:#x}, not the saved {d.word:#x}: the layout changed")
    if d.compared is Compared.ERAS:
        other = ERAS[d.other_era](state)
        mine = era(state)
        return Replayed(d, mine.decision is not other.decision, (mine, other) == (d.spec, d.other), "")
    if d.compared is Compared.FAITHFULNESS:
        target = _target(d)
        got = target.fast(word)
        want = concretize_outcome(d.era, state, era(state))
        saved = (d.fast_path.after, d.fast_path.trace) if d.fast_path else None
        return Replayed(d, got != want, got == saved and era(state) == d.spec, "")
    if d.invariant not in INVARIANTS:
        raise BadInput(f"divergence names an unknown invariant {d.invariant!r}")
    if d.target.startswith("model:"):
        outcome = era(state)
        message = INVARIANTS[d.invariant].check(state, outcome)
        return Replayed(d, message is not None, message == d.explanation and outcome == d.spec, "")
    target = _target(d)
    found = exhaustive.result_violations(d.era, state, target.fast(word), [INVARIANTS[d.invariant]])
    messages = [v.message for v in found if v.invariant == d.invariant]
    return Replayed(d, bool(messages), d.explanation in messages, "")


def replay_file(path: str) -> Tuple[List[Replayed], int]:
    """Replay every divergence in `path`; the exit code is 1 if any still happens."""
    results = [replay(d) for d in read(path)]
    return results, 1 if any(r.reproduced for r in results) else 0
