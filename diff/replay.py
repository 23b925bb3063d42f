"""Replaying saved divergences: does it still happen, and exactly so?

``wpdiff replay FILE`` takes a report (``wpdiff check --format json``) or
one divergence from it, reruns each divergence on its abstract state --
the era's model, the fast path named as its target, the invariant -- and
says whether it reproduces and whether it reproduces exactly (the same
words, the same decision and events).

The file is checked whole before anything is replayed: a corrupt one is
refused (BadInput, exit code 2) with where in the file the problem is --
``divergences[0].other_era`` -- and what was expected there.
"""

import json
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple, Type

from dataclasses_json import DataClassJsonMixin
from dataclasses_json.undefined import UndefinedParameterError

from wpdiff.impl import wordfault
from wpdiff.impl.concretize import concretize, concretize_outcome
from wpdiff.impl.layout import WORD_BITS
from wpdiff.spec import ERAS, INVARIANTS, StateError
from wpdiff.spec.outcome import Outcome
from wpdiff.spec.state import FaultState

from . import exhaustive
from .report import SCHEMA_VERSION, Compared, Divergence, EngineRun, FastResult, Report
from .targets import BadInput, Target, builtin, call, load


@dataclass
class Replayed:
    divergence: Divergence
    reproduced: bool
    exact: bool
    note: str


def _shown(value: object) -> str:
    """`value` as it stands in the file, cut short."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _decode(path: str, where: str, cls: Type[DataClassJsonMixin], value: object, what: str) -> DataClassJsonMixin:
    """`value` decoded as `cls`; BadInput naming `where` if it is not one."""
    if not isinstance(value, dict):
        raise BadInput(f"{path}: {where}: expected {what} (an object), got {_shown(value)}")
    try:
        return cls.from_dict(value)
    except StateError as e:
        raise BadInput(f"{path}: {where}: a saved state cannot exist: {e}") from None
    except UndefinedParameterError as e:  # a key that no field has
        raise BadInput(f"{path}: {where}: not {what}: {e}") from None
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise BadInput(f"{path}: {where}: not {what}: {type(e).__name__}: {e}") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_names(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


# The word unpacked, as the report shows it: the fields the report reads.
KERNEL_SAW = {"refcount": _is_int, "mapcount": _is_int, "swapcount": _is_int, "mapping": _is_str,
              "flags": _is_names, "pte": _is_names, "vma": _is_names}
# The plain fields of a divergence: what each must hold, said for the message.
PLAIN: Dict[str, Tuple[Callable[[object], bool], str]] = {
    "explanation": (_is_str, "a string"),
    "engine": (_is_str, "a string"),
    "severity": (lambda v: v is None or _is_str(v), "a string or null"),
    "expected": (lambda v: isinstance(v, bool), "true or false"),
    "fixed_by": (_is_str, "a string"),
    "cow_c": (_is_str, "a string"),
    "seed": (lambda v: v is None or _is_int(v), "an integer or null"),
    "count": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
}
REQUIRED = ("era", "compared", "state", "word", "kernel_saw", "explanation", "engine", "target")


def _divergence(path: str, where: str, item: object) -> Divergence:
    """One saved divergence, checked field by field before it is decoded:
    BadInput names the first field that is wrong and what it should be."""
    if not isinstance(item, dict):
        raise BadInput(f"{path}: {where}: expected a divergence (an object), got {_shown(item)}")

    def bad(key: str, expected: str, why: str = "") -> BadInput:
        return BadInput(f"{path}: {_at(where, key)}: expected {expected}, got {_shown(item[key])}"
                        + (f": {why}" if why else ""))

    for key in REQUIRED:
        if key not in item:
            raise BadInput(f"{path}: {_at(where, key)}: missing; a divergence has {', '.join(REQUIRED)}")
    era_id = item["era"]
    if not (isinstance(era_id, str) and era_id in ERAS):
        raise bad("era", f"an era, one of {', '.join(ERAS)}")
    compared = item["compared"]
    if not (isinstance(compared, str) and compared in [c.value for c in Compared]):
        raise bad("compared", "one of " + ", ".join(repr(c.value) for c in Compared))
    compared = Compared(compared)
    target = item["target"]
    kind, sep, name = target.partition(":") if isinstance(target, str) else ("", "", "")
    if kind in ("model", "builtin"):
        if name != era_id:
            raise bad("target", f"'{kind}:{era_id}' (the divergence's era)")
    elif not (sep and kind and name):
        raise bad("target", f"'model:{era_id}', 'builtin:{era_id}' or a fast path's 'package.module:function'")
    if compared is Compared.FAITHFULNESS and kind == "model":
        raise bad("target", f"a fast path ('builtin:{era_id}' or 'package.module:function')",
                  "a faithfulness divergence compares a fast path with its era's model")
    word = item["word"]
    if not (_is_int(word) and 0 <= word < 1 << WORD_BITS):
        raise bad("word", f"the packed word: an integer from 0 to 2**{WORD_BITS} - 1")
    if item["state"] is None and compared is not Compared.FAITHFULNESS:
        raise bad("state", "the abstract state (an object)", "only a faithfulness divergence, found on a word "
                                                               "no well-formed state has, may have none")
    # What one kind of divergence names and the others leave null.
    for key, kind, names, what, none in (
        ("invariant", Compared.SOUNDNESS, INVARIANTS, "the invariant broken", "no invariant"),
        ("other_era", Compared.ERAS, ERAS, "the era it is compared with", "no second era"),
    ):
        value = item.get(key)
        if compared is kind and not (isinstance(value, str) and value in names):
            raise bad(key, f"{what}, one of {', '.join(names)}")
        if compared is not kind and value is not None:
            raise bad(key, "null", f"a {compared.value} divergence names {none}")
    saw = item["kernel_saw"]
    if not (isinstance(saw, dict) and all(ok(saw.get(k)) for k, ok in KERNEL_SAW.items())):
        raise bad("kernel_saw", "the word unpacked: an object with the integers refcount, mapcount and swapcount, "
                                "the string mapping and the lists of names flags, pte and vma")
    for key, (ok, expected) in PLAIN.items():
        if key in item and not ok(item[key]):
            raise bad(key, expected)
    if item["state"] is not None:
        _decode(path, _at(where, "state"), FaultState, item["state"], "an abstract state")
    for key, cls, what in (("spec", Outcome, "an outcome"), ("other", Outcome, "an outcome"),
                           ("fast_path", FastResult, "a fast path's result")):
        if item.get(key) is not None:
            _decode(path, _at(where, key), cls, item[key], what)
    return _decode(path, where or "the divergence", Divergence, item, "a divergence")


def read(path: str) -> List[Tuple[str, Divergence]]:
    """The divergences in a report or divergence file, each with where it is
    in the file ("divergences[3]"; "" for a file that is one divergence).
    BadInput, naming the file, where in it and what was expected, if any
    part of it is not what wpdiff writes."""
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
    if "divergences" in data:
        if data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise BadInput(f"{path}: schema_version: expected {SCHEMA_VERSION} (the reports this wpdiff writes), "
                           f"got {_shown(data['schema_version'])}")
        items, runs = data["divergences"], data.get("runs", [])
        if not isinstance(items, list):
            raise BadInput(f"{path}: divergences: expected a list of divergences, got {_shown(items)}")
        if not isinstance(runs, list):
            raise BadInput(f"{path}: runs: expected a list of engine runs, got {_shown(runs)}")
        for i, run in enumerate(runs):
            _decode(path, f"runs[{i}]", EngineRun, run, "an engine run")
        _decode(path, "the file", Report, {**data, "divergences": [], "runs": []}, "a wpdiff report")
        return [(f"divergences[{i}]", _divergence(path, f"divergences[{i}]", item)) for i, item in enumerate(items)]
    if "compared" in data:
        return [("", _divergence(path, "", data))]
    raise BadInput(f"{path}: not a wpdiff report or divergence: it has neither 'divergences' nor 'compared'")


def _target(d: Divergence) -> Target:
    if d.target.startswith("builtin:"):
        return builtin(d.era)
    return load(d.target, d.era, option="")


def _fast(target: Target, word: int) -> Tuple[int, int]:
    """The fast path's result on the saved word; BadInput if it raises or returns no result."""
    return call(target, word, " saved in the report")


def replay(d: Divergence, target: Optional[Target]) -> Replayed:
    """Rerun `d`, as read() returns it, with `target`: the fast path it names
    (None when it names the era's model)."""
    era = ERAS[d.era]
    state = d.state
    if state is None:  # a word-level divergence: the fast path against the model run on the word
        got, want = _fast(target, d.word), wordfault.run(d.era, d.word)
        saved = (d.fast_path.after, d.fast_path.trace) if d.fast_path else None
        return Replayed(d, got != want, got != want and got == saved, "on a word no well-formed state has")
    word = concretize(d.era, state)
    if word != d.word:
        return Replayed(d, False, False, f"the state now packs to {word:#x}, not the saved {d.word:#x}: the layout changed")
    if d.compared is Compared.ERAS:
        other = ERAS[d.other_era](state)
        mine = era(state)
        return Replayed(d, mine.decision is not other.decision, (mine, other) == (d.spec, d.other), "")
    if d.compared is Compared.FAITHFULNESS:
        got = _fast(target, word)
        want = concretize_outcome(d.era, state, era(state))
        saved = (d.fast_path.after, d.fast_path.trace) if d.fast_path else None
        return Replayed(d, got != want, got != want and got == saved and era(state) == d.spec, "")
    if target is None:
        outcome = era(state)
        message = INVARIANTS[d.invariant].check(state, outcome)
        return Replayed(d, message is not None, message == d.explanation and outcome == d.spec, "")
    found = exhaustive.result_violations(d.era, state, _fast(target, word), [INVARIANTS[d.invariant]])
    messages = [v.message for v in found if v.invariant == d.invariant]
    return Replayed(d, bool(messages), d.explanation in messages, "")


def replay_file(path: str) -> Tuple[List[Replayed], int]:
    """Replay every divergence in `path`, after checking the whole file and
    loading every fast path it names; the exit code is 1 if any still happens."""
    divergences = read(path)
    targets: Dict[Tuple[str, str], Target] = {}
    for where, d in divergences:
        if d.compared is Compared.ERAS or d.target.startswith("model:") or (d.target, d.era) in targets:
            continue
        try:
            targets[d.target, d.era] = _target(d)
        except BadInput as e:
            raise BadInput(f"{path}: {_at(where, 'target')}: cannot load the fast path it names: {e}") from None
    results = []
    for where, d in divergences:
        try:
            results.append(replay(d, targets.get((d.target, d.era))))
        except BadInput as e:
            raise BadInput(f"{path}: {where or 'the divergence'}: {e}") from None
    return results, 1 if any(r.reproduced for r in results) else 0
