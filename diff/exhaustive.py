"""The exhaustive engine: every state of a bounded space, every era.

For each era the reference model runs on every state of the space (in
``jobs`` worker processes), which gives the soundness findings -- the
invariants it breaks on states it admits, each with its smallest example --
and the expected packed result of every state.  The fast paths then run on
all the words (one by one, or through the batch path, compiled by Numba,
where there are enough words to pay for the compile: ``BATCH_PAYS``) and
are compared with the expected results, word for word.

Three spaces: ``small`` (the default: ``wpdiff.spec.space`` with one GUP
reference per page, 18,987 states), ``full`` (the same with two, 63,339
states) and ``visible`` (``wpdiff.impl.visible``: every combination of what
the kernel sees, 155,172 states).  The first two vary who holds the page,
which the invariants need; the third varies the counters and flags, which
is what faithfulness needs.
"""

import multiprocessing
import os
import pickle
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from wpdiff.impl.abstract import ResultError, outcome_of
from wpdiff.impl.concretize import concretize, concretize_outcome
from wpdiff.impl.layout import PAGE_FLAGS, WORD_BITS
from wpdiff.impl.visible import visible_states
from wpdiff.spec import ERAS, INVARIANTS, Violation, violations
from wpdiff.spec.eras import ORDER, admitted_by as eras_admitting
from wpdiff.spec.invariants import Invariant
from wpdiff.spec.space import Bounds, size, states as spec_states
from wpdiff.spec.state import FaultState

from . import children
from .targets import Target, call, check_result

FastPath = Callable[[int], Tuple[int, int]]
SPACES = ("small", "full", "visible")


@lru_cache(maxsize=None)
def space(name: str) -> Tuple[FaultState, ...]:
    if name == "small":
        return tuple(spec_states(Bounds(gup=1)))
    if name == "full":
        return tuple(spec_states(Bounds()))
    if name == "visible":
        return visible_states()
    raise ValueError(f"unknown space {name!r}; expected one of {', '.join(SPACES)}")


@dataclass
class Finding:
    """An invariant broken on some admitted states: how many, and the smallest."""

    invariant: str
    count: int
    state: FaultState
    message: str


@dataclass
class EraSweep:
    era: str
    states: int
    admitted: int
    findings: Dict[str, Finding]
    words: np.ndarray  # uint64, one per state
    after: np.ndarray  # the model's word after
    trace: np.ndarray  # the model's trace word
    admitted_mask: np.ndarray  # bool


@dataclass
class Mismatch:
    """A fast path that disagrees with its model: how many states, the smallest."""

    era: str
    target: str
    count: int
    state: FaultState
    word: int
    expected: Tuple[int, int]
    got: Tuple[int, int]


@dataclass
class Sweep:
    space: str
    eras: Dict[str, EraSweep] = field(default_factory=dict)
    seconds: float = 0.0


def _record(findings: Dict[str, Finding], state: FaultState, found: List[Violation]) -> None:
    for v in found:
        have = findings.get(v.invariant)
        if have is None:
            findings[v.invariant] = Finding(v.invariant, 1, state, v.message)
        else:
            have.count += 1
            if size(state) < size(have.state):
                have.state, have.message = state, v.message


_STATES: Tuple[FaultState, ...] = ()  # the space, shared with forked workers


def _model_chunk(args: Tuple[Sequence[str], int, int]) -> Dict[str, tuple]:
    era_ids, lo, hi = args
    chunk = _STATES[lo:hi]
    out = {}
    admitted_by = [eras_admitting(state) for state in chunk]
    numbering: Dict[str, List[int]] = {}
    results: Dict[Tuple[object, str], Tuple[list, list, list]] = {}
    for era_id in era_ids:
        era = ERAS[era_id]
        key = PAGE_FLAGS[era_id].name
        if key not in numbering:
            numbering[key] = [concretize(era_id, s) for s in chunk]
        # eras that run the same function (v5.8 runs v5.7's) share outcomes
        same = (era.do_wp_page, key)
        if same not in results:
            outcomes = [era(state) for state in chunk]
            packed = [concretize_outcome(era_id, s, o) for s, o in zip(chunk, outcomes)]
            results[same] = (outcomes, [a for a, _ in packed], [t for _, t in packed])
        outcomes, after, trace = results[same]
        admitted = []
        findings: Dict[str, Finding] = {}
        index = ORDER.index(era_id)
        for state, outcome, by in zip(chunk, outcomes, admitted_by):
            ok = by[index]
            admitted.append(ok)
            if ok:
                _record(findings, state, violations(era, state, outcome))
        out[era_id] = (numbering[key], after, trace, admitted, findings)
    return out


# ---- the models' results, kept between runs -------------------------------------
#
# A sweep is a pure function of the spec (the models, the invariants, the
# space), the abstraction function and this module: its result is kept in
# ~/.cache/wpdiff/sweep/ (XDG_CACHE_HOME honoured), one file per era and
# space, under a hash of every source file of wpdiff.spec and wpdiff.impl
# and of this file.  Any edit to any of them is a new key; a file that
# cannot be read is computed again.  WPDIFF_NO_CACHE=1 turns it off.  Most
# of a warm `wpdiff check` was the models; with this it is the fast paths.


@lru_cache(maxsize=1)
def _code_hash() -> str:
    import hashlib
    from pathlib import Path

    import wpdiff.impl
    import wpdiff.spec

    h = hashlib.sha256()
    roots = [Path(wpdiff.spec.__file__).parent, Path(wpdiff.impl.__file__).parent]
    files = sorted(p for root in roots for p in root.rglob("*.py")) + [Path(__file__)]
    for p in files:
        h.update(str(p.relative_to(p.parents[1])).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:20]


def _cache_dir() -> Optional[str]:
    if os.environ.get("WPDIFF_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "wpdiff", "sweep")


def _path(folder: str, space_name: str, era_id: str) -> str:
    return os.path.join(folder, f"{_code_hash()}-{space_name}-{era_id}.pickle")


def _cached(space_name: str, era_id: str) -> Optional["EraSweep"]:
    folder = _cache_dir()
    if folder is None:
        return None
    path = _path(folder, space_name, era_id)
    try:
        with open(path, "rb") as f:
            found = pickle.load(f)
    except Exception:  # absent, or not what this code writes: compute it again
        return None
    return found if isinstance(found, EraSweep) and found.era == era_id else None


def _keep(space_name: str, era: "EraSweep") -> None:
    folder = _cache_dir()
    if folder is None:
        return
    try:
        os.makedirs(folder, exist_ok=True)
        path = _path(folder, space_name, era.era)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(era, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # whole or not at all: a reader never sees half a file
    except OSError:
        pass  # a cache that cannot be written costs the next run its time, nothing else


def sweep(
    era_ids: Sequence[str],
    space_name: str = "small",
    jobs: int = 1,
    progress: Optional[Callable[[int, int], None]] = None,
) -> Sweep:
    """Run every era's model over the space (the soundness findings and the
    expected results for faithfulness), or take what an earlier run of the
    same code computed (see above)."""
    start = time.perf_counter()
    kept = {e: _cached(space_name, e) for e in era_ids}
    missing = [e for e in era_ids if kept[e] is None]
    result = Sweep(space_name)
    if missing:
        computed = _sweep(missing, space_name, jobs, progress)
        for era_id, era in computed.eras.items():
            _keep(space_name, era)
            kept[era_id] = era
    elif progress:
        progress(1, 1)
    result.eras = {e: kept[e] for e in era_ids}  # type: ignore[misc]
    result.seconds = time.perf_counter() - start
    return result


def _sweep(
    era_ids: Sequence[str],
    space_name: str = "small",
    jobs: int = 1,
    progress: Optional[Callable[[int, int], None]] = None,
) -> Sweep:
    global _STATES
    start = time.perf_counter()
    _STATES = space(space_name)
    n = len(_STATES)
    jobs = max(1, min(jobs, os.cpu_count() or 1))
    pieces = max(1, jobs * 8)
    bounds = [(n * i // pieces, n * (i + 1) // pieces) for i in range(pieces)]
    tasks = [(tuple(era_ids), lo, hi) for lo, hi in bounds if hi > lo]
    parts: List[Dict[str, tuple]] = []
    if jobs == 1:
        for i, task in enumerate(tasks):
            parts.append(_model_chunk(task))
            if progress:
                progress(i + 1, len(tasks))
    else:
        with multiprocessing.get_context("fork").Pool(jobs, initializer=children.quiet_worker) as pool:
            for i, part in enumerate(pool.imap(_model_chunk, tasks)):
                parts.append(part)
                if progress:
                    progress(i + 1, len(tasks))
    result = Sweep(space_name)
    for era_id in era_ids:
        words, after, trace, admitted = [], [], [], []
        findings: Dict[str, Finding] = {}
        for part in parts:
            w, a, t, ok, f = part[era_id]
            words += w
            after += a
            trace += t
            admitted += ok
            for inv, found in f.items():
                have = findings.get(inv)
                if have is None:
                    findings[inv] = found
                else:
                    have.count += found.count
                    if size(found.state) < size(have.state):
                        have.state, have.message = found.state, found.message
        result.eras[era_id] = EraSweep(
            era_id,
            n,
            int(sum(admitted)),
            findings,
            np.array(words, dtype=np.uint64),
            np.array(after, dtype=np.uint64),
            np.array(trace, dtype=np.uint64),
            np.array(admitted, dtype=bool),
        )
    result.seconds = time.perf_counter() - start
    return result


# Compiling pays only on many words.  Measured (bench, 2 cores): a fast path
# runs in about 2 us a word in plain Python, 0.04 s for the small space's
# 18,987 words; Numba compiles one era's fast path in 4 to 5 s cold (47 s
# for the eleven eras of the first `wpdiff check`), and its outer loop, a
# closure, is compiled again on every run (about 1 s an era, warm).  Below
# this many words the scalar path is faster even with a warm cache.
BATCH_PAYS = 2_000_000


def _scalar(target: Target, words: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    after = np.empty_like(words)
    trace = np.empty_like(words)
    for i, w in enumerate(words.tolist()):
        after[i], trace[i] = call(target, w)
    return after, trace


def fast_results(target: Target, words: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The fast path over all words: one by one, or compiled when there are
    enough words to pay for it (``BATCH_PAYS``) and Numba can; BadInput,
    naming the first word, if it raises or returns no result."""
    if words.size < BATCH_PAYS:
        return _scalar(target, words)
    from wpdiff.impl import batch  # Numba takes half a second to import

    try:
        after, trace = batch.run(target.fast, words)
    except Exception:  # not Numba-compilable (a user's fast path may not be), or it raised: run it scalar
        return _scalar(target, words)
    bad = np.flatnonzero((after >> np.uint64(WORD_BITS)) | (trace >> np.uint64(WORD_BITS)))
    if bad.size:  # compiled code wraps a negative or too large int into the top bit
        i = int(bad[0])
        check_result(target, int(words[i]), call(target, int(words[i])))
    return after, trace


def faithfulness(era: EraSweep, target: Target, states: Sequence[FaultState]) -> Optional[Mismatch]:
    """Compare `target` with the era's model; the smallest mismatch, if any.

    A built-in fast path mirrors its era's C, which runs on any word: it is
    compared on every state of the space.  A user's change is compared on
    the states its base admits, as its guarantees are judged
    (``diff.regression``) and as the kernel-C harness counts: a difference
    on a state the base never reaches is no behaviour of the change."""
    after, trace = fast_results(target, era.words)
    differs = (after != era.after) | (trace != era.trace)
    bad = np.flatnonzero(differs if target.builtin else differs & era.admitted_mask)
    if bad.size == 0:
        return None
    best = min(bad.tolist(), key=lambda i: size(states[i]))
    return Mismatch(
        era.era,
        target.name,
        int(bad.size),
        states[best],
        int(era.words[best]),
        (int(era.after[best]), int(era.trace[best])),
        (int(after[best]), int(trace[best])),
    )


def result_violations(
    era_id: str, state: FaultState, result: object, invariants: Sequence[Invariant]
) -> List[Violation]:
    """The invariants a fast path's `result` on `state` breaks, judged on the
    outcome it stands for, each once; a word the events do not explain breaks
    refs-conserved (with the invariant's own reason, if it has one too)."""
    try:
        outcome, drift = outcome_of(era_id, state, result)
    except ResultError as e:
        return [Violation("refs-conserved", f"not a result: {e}")]
    found = [Violation(inv.id, m) for inv in invariants if (m := inv.check(state, outcome)) is not None]
    if drift:
        refs = next((i for i, v in enumerate(found) if v.invariant == "refs-conserved"), None)
        if refs is None:
            found.append(Violation("refs-conserved", drift))
        else:  # one state, one invariant: a report counts it once
            found[refs] = Violation("refs-conserved", f"{found[refs].message}; {drift}")
    return found


def applicable(era_id: str) -> List[Invariant]:
    return [inv for inv in INVARIANTS.values() if inv.applies_to(era_id)]
