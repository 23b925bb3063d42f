"""The CrossHair engine: symbolic checks, with honest verdicts.

Faithfulness.  For each era, a contract says that the fast path and the
era's own model -- run on the packed word through ``impl.wordfault`` --
return the same result, for *every* value of every field the fast paths
read: ``crosshair check`` explores the paths of both symbolically.  Its
verdict is one of "all paths exhausted" (CrossHair's "Confirmed over all
paths": no input makes them differ), "divergence found" (with the input),
or "budget hit, no verdict".  A built-in fast path is proved in two
parts: up to where either side enters ``wp_page_copy()``, comparing what it
is entered with, and ``wp_page_copy()`` itself as a lemma, once per
page-flag numbering (see "the cut" below).  The bridge it relies on -- the
model through WordFault equals the model on the abstract state,
concretized -- is checked by the exhaustive engine on every state of its
spaces.

Soundness.  The era models -- and a user's fast path, judged on the states
its base era admits (``judge``) -- against the invariants: CrossHair
searches a fixed-shape description of the state (``diff.shapes``) for an
admitted state on which one breaks an invariant, noting the first state that
breaks each one and going on, for the budget (30 s per era).  Its paths are
the branches of building the state; the model and the invariants run on
the realized state untraced, where tracing them would only cost time.
Every noted state is checked again on plain values, and made smaller
there.  Absence of a finding within the budget is "budget hit, no
verdict", never a proof.

Budgets are CrossHair's per-condition timeouts; a run that takes more than
twice its budget and a minute (``STARTUP``) in wall-clock time is stopped
and has no verdict.  An exception CrossHair reports from a user's fast path
is bad input.

The contracts keep the word symbolic without a 63-bit integer: each field
is a separate argument, and the word is an ``impl.fieldword.FieldWord``
that the fast paths and the models read and write field by field.  The
fields range over every value their width allows; page-flag bits the fast
paths never read stay clear.

Where each part is: the contracts (``diff/symbolic_contract.py``), the
cut at wp_page_copy() and the copy lemma (``diff/symbolic_cut.py``), the
CrossHair subprocess and its output (``diff/symbolic_run.py``), the proofs
(``diff/symbolic_proof.py``), the soundness search and its shrinker
(``diff/symbolic_search.py``); this module runs them all into a report, and
keeps their public names importable from here.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Callable, Dict, List, Optional, Sequence

from wpdiff.impl.concretize import WitnessError, concretize, witness
from wpdiff.impl.layout import PAGE_FLAGS
from wpdiff.spec import ERAS

from . import children
from .check import faithfulness_divergence, soundness_divergence
from .ids import Lemma, Model, Mutant, Proof as ProofRun, Search as SearchRun, UserPath, target_id
from .report import Divergence, EngineRun, Report, Verdict
from .symbolic_contract import (  # noqa: F401
    _BITS, _CONTRACT, _COUNTERS, _FLAGS, _HIGH, _NAMES, _SINGLE, _bounds, _fast_source, _fields, _signature,
    _word, contract_source, word_of_call,
)
from .symbolic_cut import (  # noqa: F401
    LEMMA_EVENTS, _LEMMA, _fast_copy_entry, _model_copy_entry, cut_at_copy, lemma_eras, lemma_source,
)
from .symbolic_proof import Proof, check_copy_lemma, check_faithfulness  # noqa: F401
from .symbolic_run import _ERROR, _FALSE, STARTUP, STOPPED, _crosshair, _last, _verdict  # noqa: F401
from .symbolic_search import (  # noqa: F401
    _FOUND, _PATHS, _SOUNDNESS, Found, Search, _breaks, _smaller, judge, search_soundness,
)
from .targets import Target

DEFAULT_BUDGET = 120.0  # seconds per faithfulness proof or copy lemma
SEARCH_SHARE = 0.25  # of the budget, per era's soundness search: a search has no verdict to reach


def run_crosshair(
    report: Report,
    era_ids: Sequence[str],
    targets: Sequence[Target],
    budget: Optional[float] = None,
    progress: Optional[Callable[[str, int, int], None]] = None,
    jobs: int = os.cpu_count() or 1,
) -> None:
    """Faithfulness proofs (with the copy lemmas the built-in ones rely on)
    and soundness searches, all in one pool of `jobs` CrossHair processes."""
    budget = budget or DEFAULT_BUDGET
    search_budget = budget * SEARCH_SHARE
    # Eras that share both their fast path and their model (v5.8 and v5.7)
    # share one proof.
    same: Dict[tuple, List[Target]] = {}
    for t in targets:
        same.setdefault((t.fast, ERAS[t.era].do_wp_page), []).append(t)
    lemmas = lemma_eras([t.era for t in targets if t.builtin])
    lemma_of = {e: first for first, eras in lemmas.items() for e in eras}
    # Soundness: each era's model, and each user's fast path on its base era's states.
    searched = [(e, e, None) for e in era_ids] + [(t.name, t.era, t) for t in targets if not t.builtin]
    done, total = 0, len(same) + len(lemmas) + len(searched)

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress("crosshair", done, total)

    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        _collect(report, pool, same, lemmas, lemma_of, searched, budget, search_budget, tick)
    except BaseException:  # Ctrl-C, or an error: no queued proof may start, no CrossHair process outlive the check
        pool.shutdown(wait=False, cancel_futures=True)
        children.stop_all()
        pool.shutdown(wait=True)
        children.reset()
        raise
    pool.shutdown(wait=True)


def proof_divergence(target: Target, word: int) -> Divergence:
    """The divergence a faithfulness proof found on `word`.  CrossHair ranges
    over every word, not the states the era reaches: the explanation says so
    when the word is no state the era admits, naming the rule that excludes
    it, or when it is no well-formed state at all."""
    try:
        state = witness(target.era, word)
    except WitnessError:
        state = None  # reported on the word alone; the explanation says it is no state
    found = faithfulness_divergence(target, state, word, target.fast(word), 1, "crosshair")
    if state is not None and not ERAS[target.era].admits(state):
        found = replace(found, explanation=f"{found.explanation}; the word is one {target.era} does "
                        f"not reach: {ERAS[target.era].unreachable(state)}")
    return found


def _collect(report: Report, pool: ThreadPoolExecutor, same: Dict[tuple, List[Target]], lemmas: Dict[str, List[str]],
             lemma_of: Dict[str, str], searched: list, budget: float, search_budget: float,
             tick: Callable[[], None]) -> None:
    """Submit every CrossHair run of :func:`run_crosshair` to `pool` and add
    what each finds to `report`, in a fixed order."""
    # the longest first, so that no core idles at the end: the lemmas,
    # the searches, then the proofs from the latest era (the longest)
    lemma_runs = {first: pool.submit(check_copy_lemma, first, budget) for first in lemmas}
    searches = [(key, era_id, target, pool.submit(search_soundness, era_id, search_budget, target))
                for key, era_id, target in searched]
    proofs = {group[0]: pool.submit(check_faithfulness, group[0], budget) for group in reversed(same.values())}
    proofs = dict(reversed(proofs.items()))

    lemma_verdicts: Dict[str, Verdict] = {}
    for first, future in lemma_runs.items():
        verdict, seconds, last = future.result()
        tick()
        lemma_verdicts[first] = verdict
        report.runs.append(EngineRun(
            str(Lemma(PAGE_FLAGS[first].name)), verdict, 0, round(seconds, 2),
            f"the copy lemma of {', '.join(lemmas[first])}, {budget:g} s budget: {last.split(': ', 1)[-1]}"))
    for first, future in proofs.items():
        proof = future.result()
        tick()
        if proof.cut and proof.verdict is not Verdict.DIVERGENCE:
            lemma = lemma_verdicts[lemma_of[first.era]]
            if lemma is Verdict.DIVERGENCE:  # the cut cannot be trusted: prove the fast path whole
                whole = check_faithfulness(first, budget, cut=False)
                proof = replace(whole, seconds=proof.seconds + whole.seconds)
            elif lemma is Verdict.BUDGET:
                proof = replace(proof, verdict=Verdict.BUDGET)
        note = (f"faithfulness {'up to wp_page_copy()' if proof.cut else 'whole'}, {budget:g} s budget: "
                f"{proof.last.split(': ', 1)[-1]}")
        if proof.cut:
            note += f"; the copy lemma: {lemma_verdicts[lemma_of[first.era]].value}"
        for target in same[(first.fast, ERAS[first.era].do_wp_page)]:
            if proof.word is not None:
                report.divergences.append(proof_divergence(target, proof.word))
            report.runs.append(EngineRun(str(ProofRun(target_id(target.name))), proof.verdict, 0,
                                         round(proof.seconds, 2), note))

    table = report.table.setdefault("crosshair", {})
    for key, era_id, target, future in searches:
        search = future.result()
        tick()
        table[key] = {f.invariant: 1 for f in search.found}
        for f in search.found:
            # a user's fast path is searched for regressions only (symbolic_search.judge): what it
            # breaks on a state where its base's model keeps the guarantee
            report.divergences.append(soundness_divergence(
                era_id, f.invariant, f.state, concretize(era_id, f.state), f.message, 1, "crosshair",
                target.name if target else str(Model(era_id)),
                inherited=False,
                fast=target.fast if target else None,
            ))
        note = f"{search_budget:g} s budget"
        if search.found:
            note += "; first found: " + ", ".join(f"{f.invariant} at path {f.path}" for f in search.found)
        if search.verdict is Verdict.BUDGET:
            note += "; no new finding within the budget is not a proof"
        subject = key if target is None else target_id(target.name)
        assert isinstance(subject, (str, UserPath, Mutant)), subject  # an era's model, or a user's fast path
        report.runs.append(EngineRun(str(SearchRun(subject)), Verdict.DIVERGENCE if search.found else search.verdict,
                                     search.paths, round(search.seconds, 2), note))
    from . import regression

    regression.mark_informational(report)  # a change's equivalence proof says that it fails nothing
