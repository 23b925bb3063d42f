"""A report's counts are numbers of states: each state once per invariant.

Issue 15: "One report counted each of 158 states twice (316)."  A fast
path's result can break ``refs-conserved`` twice over on one state -- the
invariant's own check (refcount and mapcount after the fault are not what
the decision makes them) and the drift of the word after from its own
events (``impl.abstract.outcome_of``) -- and ``exhaustive.result_violations``
returned both.  ``regression.compare`` tallied violations, not states, so
``wpdiff check --fastpath ... --base v5.18`` of a change that breaks
refs-conserved on 18 states reported 36, in the table, the run's note and
the divergence's count.  Now the two are one violation with both reasons
(``result_violations``).  Every count here is held to a recount of
distinct states."""

from typing import Dict, List, Set

import numpy as np
import pytest

from wpdiff.diff import exhaustive, regression
from wpdiff.diff.check import run_exhaustive
from wpdiff.diff.report import Compared, Report
from wpdiff.diff.targets import Target
from wpdiff.impl.mutants import MUTANTS

# A change whose copy path frees a swap cache the page never had (PG_swapbacked not looked at): the word
# after drops a reference no event of the model explains, and refs-conserved's own check fires too.
DOUBLE = "v5.18/swapbacked-ignored"


def _target(mutant_id: str) -> Target:
    m = MUTANTS[mutant_id]
    return Target(f"mutant:{mutant_id}", m.era, m.load(), False)


def _recount(era: exhaustive.EraSweep, target: Target, states) -> Dict[str, Dict[str, Set[int]]]:
    """Per kind (regressions, inherited, fixes) and invariant, the set of
    admitted states (indices) it holds on, judged one state at a time."""
    after, trace = exhaustive.fast_results(target, era.words)
    out: Dict[str, Dict[str, Set[int]]] = {"regressions": {}, "inherited": {}, "fixes": {}}
    for i in np.flatnonzero(era.admitted_mask).tolist():
        j = regression.judge(era.era, states[i], (int(after[i]), int(trace[i])))
        for kind in out:
            for v in getattr(j, kind):
                out[kind].setdefault(v.invariant, set()).add(i)
    return out


@pytest.fixture(scope="module")
def small() -> exhaustive.Sweep:
    return exhaustive.sweep(["v5.18"], "small")


def test_judge_names_each_invariant_once_per_state(small):
    """The change breaks refs-conserved on a state in two ways; the
    judgement names it once, with both reasons."""
    era, states, target = small.eras["v5.18"], exhaustive.space("small"), _target(DOUBLE)
    after, trace = exhaustive.fast_results(target, era.words)
    twice = 0
    for i in np.flatnonzero(era.admitted_mask).tolist():
        result = (int(after[i]), int(trace[i]))
        raw = [v.invariant for v in exhaustive.result_violations("v5.18", states[i], result,
                                                                 exhaustive.applicable("v5.18"))]
        j = regression.judge("v5.18", states[i], result)
        for kind in (j.regressions, j.inherited, j.fixes):
            ids: List[str] = [v.invariant for v in kind]
            assert len(ids) == len(set(ids)), f"state {i}: {ids}"
        assert raw.count("refs-conserved") <= 1, f"state {i}: {raw}"
        both = [v for v in j.regressions if v.invariant == "refs-conserved"
                and "does not follow from its events" in v.message and "expected" in v.message]
        twice += len(both)
    assert twice > 0, f"{DOUBLE} no longer breaks refs-conserved two ways on one state: pick another mutant"


@pytest.mark.parametrize("mutant_id", [DOUBLE, "v5.18/no-free-swap", "v5.18/count-modulo-pin-bias"])
def test_compare_counts_states(small, mutant_id):
    """regression.compare's tallies are the number of states, recounted one
    state at a time."""
    era, states, target = small.eras["v5.18"], exhaustive.space("small"), _target(mutant_id)
    c = regression.compare_target(era, target, states)
    want = _recount(era, target, states)
    for kind in ("regressions", "inherited", "fixes"):
        got = {inv: t.count for inv, t in getattr(c, kind).items()}
        assert got == {inv: len(s) for inv, s in want[kind].items()}, kind
        for t in getattr(c, kind).values():
            assert t.count <= c.admitted


def test_check_report_counts_states(small):
    """What `wpdiff check --fastpath MUT --base v5.18` writes: the table cell,
    the divergence's count and the run's note say 18 states, not 36."""
    era, states, target = small.eras["v5.18"], exhaustive.space("small"), _target(DOUBLE)
    want = _recount(era, target, states)
    n = len(want["regressions"]["refs-conserved"])
    report = Report(command="check", eras=["v5.18"])
    run_exhaustive(report, ["v5.18"], [target], "small", 1)
    assert report.table["exhaustive"][target.name]["refs-conserved"] == n
    (d,) = [d for d in report.divergences
            if d.target == target.name and d.compared is Compared.SOUNDNESS and d.invariant == "refs-conserved"]
    assert d.count == n and not d.expected
    assert f"refs-conserved on {n}" in report.runs[-1].note
    # every cell of the change's row: the states breaking it, regressions and inherited together
    for inv, cell in report.table["exhaustive"][target.name].items():
        assert cell == len(want["regressions"].get(inv, set()) | want["inherited"].get(inv, set())), inv


# ---- an era asked for twice is checked once -------------------------------------------------------------
#
# `wpdiff check --era 5.10 --era v5.9` checks v5.9 once (diff/cli.py reads the names as one set); the pytest
# plugin's fixture ran every name it was given, so wpdiff_check(eras=["v5.9", "v5.9"]) reported each of
# v5.9's findings twice, and an alias or a release ("v6.10", "6.1") was a KeyError from inside wpdiff.

pytest_plugins = ["pytester"]

PLUGIN_TESTS = '''
def _blocks(text):
    return [line for line in text.splitlines() if " state(s), " in line]

def test_twice(wpdiff_check):
    once = wpdiff_check(eras=["v5.9"])
    assert _blocks(once) and _blocks(wpdiff_check(eras=["v5.9", "v5.9"])) == _blocks(once)
    assert _blocks(wpdiff_check(eras=["v5.10", "v5.9"])) == _blocks(once)

def test_alias_and_release(wpdiff_check):
    assert _blocks(wpdiff_check(eras=["v6.10", "6.12"])) == _blocks(wpdiff_check(eras=["v6.9"]))

def test_base_by_release(wpdiff_check):
    text = wpdiff_check("samecow:do_wp_page", base="6.1")
    assert "samecow:do_wp_page against v5.19: same" in text
'''


@pytest.fixture(scope="module")
def numba_loaded_before_the_runs():
    """As tests/test_plugin.py: an in-process pytester run forgets the modules
    first imported inside it, and Numba's must not be among them."""
    import numba

    assert numba.njit(lambda x: x + 1)(1) == 2


def test_the_plugin_checks_an_era_once_however_often_it_is_named(pytester, numba_loaded_before_the_runs):
    pytester.makepyfile(samecow="from wpdiff.impl.fastpath.v5_19 import do_wp_page\n", test_twice=PLUGIN_TESTS)
    pytester.syspathinsert()
    result = pytester.runpytest("--wpdiff-engine=exhaustive", "--wpdiff-space=small", "--wpdiff-jobs=1")
    result.assert_outcomes(passed=3)


def test_the_cli_report_counts_states_and_replays_exactly(small, tmp_path, monkeypatch, capsys):
    """End to end: `wpdiff check --fastpath ... --base v5.18 -o r.json` writes
    each state once (18 of the small space, where 36 were reported), and replaying it reproduces every divergence exactly
    (the merged reason is the one replay finds)."""
    import json

    from wpdiff.diff.cli import main
    from wpdiff.diff.replay import replay_file

    (tmp_path / "swapcow_counts.py").write_text(
        f"from wpdiff.impl.mutants import MUTANTS\ndo_wp_page = MUTANTS[{DOUBLE!r}].load()\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "r.json"
    assert main(["check", "--fastpath", "swapcow_counts:do_wp_page", "--base", "v5.18", "--jobs", "1",
                 "-o", str(out)]) == 1
    saved = json.loads(out.read_text())
    target = _target(DOUBLE)
    n = len(_recount(small.eras["v5.18"], target, exhaustive.space("small"))["regressions"]["refs-conserved"])
    assert saved["table"]["exhaustive"]["swapcow_counts:do_wp_page"]["refs-conserved"] == n
    assert f"refs-conserved on {n};" in saved["runs"][0]["note"]
    results, code = replay_file(str(out))
    assert code == 1 and results and all(r.exact for r in results), [(r.divergence.key, r.exact) for r in results]
