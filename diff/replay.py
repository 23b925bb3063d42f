"""Replaying saved divergences: does it still happen, and exactly so?

``wpdiff replay FILE`` takes a report (``wpdiff check --format json``) or
one divergence from it, reruns each divergence on its abstract state --
the era's model, the fast path named as its target, the invariant -- and
says whether it reproduces and whether it reproduces exactly (the same
words, the same decision and events).

The file is checked whole before anything is replayed: a corrupt one is
refused (BadInput, exit code 2) with where in the file the problem is --
``divergences[0].other_era`` -- and what was expected there.  Every field
is required (``wpdiff.diff.schema`` reads them from the dataclasses): a
report missing one, or whose saved word is not what its saved state packs
to, is corrupt -- never a divergence that "no longer happens".

The exit code is 1 only if a divergence history does not expect still
happens: a report of a user's fast path on v5.9 also holds v5.9's own
findings, and those still happen after the user fixed theirs.
"""

import dataclasses
import json
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from wpdiff.impl import wordfault
from wpdiff.impl.concretize import concretize, concretize_outcome
from wpdiff.impl.layout import describe
from wpdiff.spec import ERAS, INVARIANTS
from wpdiff.spec.history import expected
from wpdiff.spec.outcome import Outcome
from wpdiff.spec.state import FaultState

from . import exhaustive, ids
from .report import READS, SCHEMA_VERSION, Compared, Divergence, FastResult, Report
from .schema import SchemaError, at, decode, fields_of, shown
from .targets import BadInput, Target, builtin, call, load


@dataclass
class Replayed:
    divergence: Divergence
    reproduced: bool
    exact: bool
    note: str


def _bad(path: str, e: SchemaError) -> BadInput:
    return BadInput(f"{path}: {e}")


def _divergence(path: str, where: str, item: object) -> Divergence:
    """One saved divergence, checked before it is decoded: first what one
    kind of divergence names and another leaves null (the rules between its
    fields), then every field against the dataclasses (``schema``), then the
    saved word and what the kernel saw against the saved state.  BadInput
    names the first field that is wrong and what it should be."""
    if not isinstance(item, dict):
        raise BadInput(f"{path}: {where}: expected a divergence (an object), got {shown(item)}")

    def bad(key: str, expected: str, why: str = "") -> BadInput:
        return BadInput(f"{path}: {at(where, key)}: expected {expected}, got {shown(item[key])}"
                        + (f": {why}" if why else ""))

    names = [f.name for f in dataclasses.fields(Divergence)]
    for key in names:
        if key not in item:
            raise BadInput(f"{path}: {at(where, key)}: missing; a divergence has {', '.join(names)}")
    era_id = item["era"]
    if not (isinstance(era_id, str) and era_id in ERAS):
        raise bad("era", f"an era, one of {', '.join(ERAS)}")
    compared = item["compared"]
    if not (isinstance(compared, str) and compared in [c.value for c in Compared]):
        raise bad("compared", "one of " + ", ".join(repr(c.value) for c in Compared))
    compared = Compared(compared)
    try:
        target = ids.target_id(item["target"])
    except ids.IdError:
        raise bad("target", f"'{ids.Model(era_id)}', '{ids.Builtin(era_id)}', a kernel tree's 'kernel:SOURCE' or "
                            "a fast path's 'package.module:function'") from None
    if isinstance(target, (ids.Model, ids.Builtin)) and target.era != era_id:
        raise bad("target", f"'{type(target)(era_id)}' (the divergence's era)")
    if compared is Compared.FAITHFULNESS and isinstance(target, ids.Model):
        raise bad("target", f"a fast path ('{ids.Builtin(era_id)}' or 'package.module:function')",
                  "a faithfulness divergence compares a fast path with its era's model")
    if item["state"] is None and compared is not Compared.FAITHFULNESS:
        raise bad("state", "the abstract state (an object)", "only a faithfulness divergence, found on a word "
                                                               "no well-formed state has, may have none")
    # What one kind of divergence names and the others leave null.
    for key, kind_, known, what, none in (
        ("invariant", Compared.SOUNDNESS, INVARIANTS, "the invariant broken", "no invariant"),
        ("other_era", Compared.ERAS, ERAS, "the era it is compared with", "no second era"),
    ):
        value = item[key]
        if compared is kind_ and not (isinstance(value, str) and value in known):
            raise bad(key, f"{what}, one of {', '.join(known)}")
        if compared is not kind_ and value is not None:
            raise bad(key, "null", f"a {compared.value} divergence names {none}")
    if isinstance(item["count"], int) and not isinstance(item["count"], bool) and item["count"] < 1:
        raise bad("count", "an integer >= 1")
    try:
        for key, cls in (("state", FaultState), ("spec", Outcome), ("other", Outcome), ("fast_path", FastResult)):
            if item[key] is not None:  # each on its own, so that an error names it, not the divergence
                decode(cls, item[key], at(where, key))
        d = decode(Divergence, item, where)
    except SchemaError as e:
        if e.where == where:  # the divergence as a whole, not one of its fields
            raise BadInput(f"{path}: {where or 'the divergence'}: {str(e)[len(where) + 2:]}") from None
        raise _bad(path, e) from None
    if d.state is not None:
        word = concretize(d.era, d.state)
        if word != d.word:
            raise BadInput(f"{path}: {at(where, 'word')}: expected {word:#x}, what the saved state packs to in "
                           f"{d.era}, got {shown(item['word'])}: the report was changed after wpdiff wrote it")
    saw = describe(d.era, d.word)
    if d.kernel_saw != saw:
        raise bad("kernel_saw", f"the word unpacked, as {d.era} packs it: {shown(saw)}")
    if d.fast_path is not None and d.fast_path.after_fields != describe(d.era, d.fast_path.after):
        raise BadInput(f"{path}: {at(where, 'fast_path.after_fields')}: expected the word after unpacked, "
                       f"{shown(describe(d.era, d.fast_path.after))}, got {shown(item['fast_path']['after_fields'])}")
    if isinstance(target, ids.Model) and d.compared is Compared.SOUNDNESS and d.expected != expected(d.era, d.invariant):
        raise bad("expected", f"{json.dumps(expected(d.era, d.invariant))}, what history (spec/history.py) says "
                              f"of {d.era} and {d.invariant}")
    return d


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
    except UnicodeDecodeError as e:
        raise BadInput(f"{path}: not JSON: not UTF-8 text at byte {e.start}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}:{e.lineno}:{e.colno}: not JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object (a wpdiff report or divergence), got {type(data).__name__}")
    if "divergences" in data:
        if "schema_version" in data and data["schema_version"] not in READS:
            raise BadInput(f"{path}: schema_version: expected {SCHEMA_VERSION} (the reports this wpdiff writes; "
                           f"{', '.join(str(v) for v in READS if v != SCHEMA_VERSION)} is read too), "
                           f"got {shown(data['schema_version'])}" + (
                               "; version 1 wrote words as JSON integers, which jq 1.6 and JavaScript round: "
                               "rerun the check" if data["schema_version"] == 1 else ""))
        if data.get("schema_version") == 2:  # version 2 had no world findings
            if "findings" in data:
                raise BadInput(f"{path}: findings: no such field in a version-2 report; version 3 has it")
            data = dict(data, findings=[])
        items, runs = data["divergences"], data.get("runs", [])
        if not isinstance(items, list):
            raise BadInput(f"{path}: divergences: expected a list of divergences, got {shown(items)}")
        if not isinstance(runs, list):
            raise BadInput(f"{path}: runs: expected a list of engine runs, got {shown(runs)}")
        try:
            fields_of(Report, data, "", skip=("divergences",))
        except SchemaError as e:
            raise _bad(path, e) from None
        return [(f"divergences[{i}]", _divergence(path, f"divergences[{i}]", item)) for i, item in enumerate(items)]
    if "compared" in data:
        return [("", _divergence(path, "", data))]
    raise BadInput(f"{path}: not a wpdiff report or divergence: it has neither 'divergences' nor 'compared'")


def _target(d: Divergence) -> Target:
    if isinstance(d.target_id, ids.Builtin):
        return builtin(d.era)
    if isinstance(d.target_id, ids.Kernel):  # a kernel tree's C, rebuilt from the tree the report names
        from .kernel import replay_target

        return replay_target(d.target, d.era)
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
    if word != d.word:  # read() refuses such a report: the saved word is what the saved state packs to
        raise BadInput(f"the saved word {d.word:#x} is not what the saved state packs to, {word:#x}")
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
    # an invariant broken two ways on one state is one violation with both reasons; a report written
    # before they were joined names one of them
    same = any(m == d.explanation or m.startswith(d.explanation + "; ") or m.endswith("; " + d.explanation)
               for m in messages)
    return Replayed(d, bool(messages), same, "")


def replay_file(path: str) -> Tuple[List[Replayed], int]:
    """Replay every divergence in `path`, after checking the whole file and
    loading every fast path it names; the exit code is 1 if any that is not
    expected still happens."""
    divergences = read(path)
    targets: Dict[Tuple[str, str], Target] = {}
    for where, d in divergences:
        if d.compared is Compared.ERAS or isinstance(d.target_id, ids.Model) or (d.target, d.era) in targets:
            continue
        try:
            targets[d.target, d.era] = _target(d)
        except BadInput as e:
            raise BadInput(f"{path}: {at(where, 'target')}: cannot load the fast path it names: {e}") from None
    results = []
    for where, d in divergences:
        try:
            results.append(replay(d, targets.get((d.target, d.era))))
        except BadInput as e:
            raise BadInput(f"{path}: {where or 'the divergence'}: {e}") from None
    return results, 1 if any(r.reproduced and not r.divergence.expected for r in results) else 0
