"""The Hypothesis and CrossHair engines reproduce history and catch broken fast paths."""

import json
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from wpdiff.diff.check import missing_history
from wpdiff.diff.hypo import run_hypothesis, search
from wpdiff.diff.report import Compared, Report, Verdict
from wpdiff.diff.shapes import ARGS, build
from wpdiff.diff import symbolic
from wpdiff.diff.symbolic import (
    DEFAULT_BUDGET,
    SEARCH_SHARE,
    check_copy_lemma,
    check_faithfulness,
    lemma_eras,
    search_soundness,
)
from wpdiff.diff.targets import BadInput, Target, builtin
from wpdiff.impl import wordfault
from wpdiff.impl.layout import PAGE_FLAGS
from wpdiff.impl.mutants import MUTANTS
from wpdiff.spec import ERAS, violations
from wpdiff.spec.history import FINDINGS


@pytest.mark.slow
def test_hypothesis_reproduces_the_history_table():
    report = Report("test", list(ERAS))
    run_hypothesis(report, list(ERAS), [builtin(e) for e in ERAS], "dev", seed=0, database=False)
    assert missing_history(report, "hypothesis", list(ERAS)) == []
    assert report.unexpected() == []
    found = {(d.era, d.invariant) for d in report.divergences}
    assert found == {(f.era, f.invariant) for f in FINDINGS}
    assert not [d for d in report.divergences if d.compared is Compared.FAITHFULNESS]


@pytest.mark.slow
def test_hypothesis_catches_95_percent_of_the_broken_fast_paths():
    missed = []
    for m in MUTANTS.values():
        target = Target(f"mutant:{m.id}", m.era, m.load(), False)
        found, _ = search(m.era, [target], "dev", seed=0, soundness=False, database=False)
        if not (found and found[0].key.startswith("faithfulness")):
            missed.append(m.id)
    assert len(missed) <= 0.05 * len(MUTANTS), missed


@pytest.mark.slow
@pytest.mark.parametrize("era_id", ["v5.9", "v5.18"])
def test_crosshair_exhausts_a_faithfulness_proof_up_to_the_copy(era_id):
    proof = check_faithfulness(builtin(era_id), 300.0)
    assert proof.verdict is Verdict.EXHAUSTED, proof.last
    assert proof.cut and proof.word is None


@pytest.mark.slow
def test_crosshair_proves_the_copy_lemma_of_each_flag_numbering():
    # with the v5.10 numbering's, the cut proofs above cover v5.9 and v5.18 whole;
    # both at once, as on 2 cores
    with ThreadPoolExecutor(2) as pool:
        lemmas = {era_id: pool.submit(check_copy_lemma, era_id, 300.0) for era_id in ("v5.9", "v6.15")}
    for era_id, future in lemmas.items():
        verdict, seconds, last = future.result()
        assert verdict is Verdict.EXHAUSTED, (era_id, last)


@pytest.fixture(scope="module")
def user_search():
    """CrossHair's search of a user's fast path, at the default budget: run
    beside the eras' searches below (eleven eras leave one of the two cores
    idle for a round), and checked in its own test."""
    m = MUTANTS["v6.15/mapcount-below-refcount"]  # reuses a large folio another mm still reaches
    return lambda: search_soundness("v6.15", DEFAULT_BUDGET * SEARCH_SHARE,
                                    Target(f"mutant:{m.id}", m.era, m.load(), False))


_SEARCHES: dict = {}


@pytest.mark.slow
def test_crosshair_search_reproduces_the_history_table(user_search):
    # at the default search budget, two searches at a time as on 2 cores
    with ThreadPoolExecutor(2) as pool:
        searches = {e: pool.submit(search_soundness, e, DEFAULT_BUDGET * SEARCH_SHARE) for e in ERAS}
        _SEARCHES["user"] = pool.submit(user_search)
    for era_id, future in searches.items():
        search = future.result()
        assert {f.invariant for f in search.found} == {f.invariant for f in FINDINGS if f.era == era_id}, era_id
        assert search.verdict is Verdict.BUDGET  # a search ends on its budget, never on a proof
        for f in search.found:  # each state noted does break it, on plain values
            assert ERAS[era_id].admits(f.state)
            assert f.invariant in {v.invariant for v in violations(ERAS[era_id], f.state)}
            assert 1 <= f.path <= search.paths


@settings(max_examples=1000, deadline=None)
@given(st.fixed_dictionaries({name: st.booleans() for name in ARGS}))
def test_every_combination_of_the_search_shape_is_a_state(args):
    build(**args)  # raises StateError for a state that cannot exist


class _Branch:
    """An argument that is only a truth value: the soundness search builds the state untraced and forks only
    where the shape reads an argument through bool() (symbolic_search._Read); one that flowed into the state
    as a value would be a symbolic bool there, which no state field accepts."""

    def __init__(self, value: bool) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return self.value


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({name: st.booleans() for name in ARGS}))
def test_the_shape_reads_its_arguments_only_as_branches(args):
    assert build(**{name: _Branch(v) for name, v in args.items()}) == build(**args)


def test_one_copy_lemma_per_page_flag_numbering():
    lemmas = lemma_eras(list(ERAS))
    assert sorted(map(sorted, lemmas.values())) == sorted(
        sorted(e for e in ERAS if PAGE_FLAGS[e] is flags) for flags in {PAGE_FLAGS[e] for e in ERAS}
    )
    # one per numbering (the v5.10 one, 6.7's, the current one ...), named after it: none proved twice
    assert len(lemmas) == len({PAGE_FLAGS[e].name for e in ERAS}) >= 2


def test_a_crosshair_example_on_a_word_its_era_does_not_reach_says_so():
    # CrossHair's faithfulness proof ranges over every word; its example is told apart from a state the era
    # reaches (with the rule that excludes it) and from a word no well-formed state has
    from wpdiff.diff import exhaustive
    from wpdiff.impl.concretize import concretize

    era = ERAS["v5.8"]
    states = exhaustive.space("small")
    unreached = next(s for s in states if not era.admits(s))
    reached = next(s for s in states if era.admits(s))
    target = builtin("v5.8")
    said = symbolic.proof_divergence(target, concretize("v5.8", unreached))
    assert said.state == unreached
    assert f"the word is one v5.8 does not reach: {era.unreachable(unreached)}" in said.explanation
    assert "does not reach" not in symbolic.proof_divergence(target, concretize("v5.8", reached)).explanation
    nothing = symbolic.proof_divergence(target, 0x7FFF_FFFF_FFFF_FFFF)
    assert nothing.state is None and "which no well-formed state has" in nothing.explanation


@pytest.mark.slow
def test_crosshair_finds_a_broken_fast_path():
    m = MUTANTS["v5.9/count-flipped"]
    proof = check_faithfulness(Target(f"mutant:{m.id}", m.era, m.load(), False), 120.0)
    assert proof.verdict is Verdict.DIVERGENCE, proof.last
    assert not proof.cut  # a fast path from outside the package is proved whole
    assert m.load()(proof.word) != wordfault.run("v5.9", proof.word)  # the word CrossHair found does tell them apart


@pytest.mark.slow
def test_crosshair_searches_a_users_fast_path_for_broken_invariants(user_search):
    search = _SEARCHES["user"].result() if "user" in _SEARCHES else user_search()  # run alone, it runs here
    found = {f.invariant: f for f in search.found}
    assert "no-missed-cow" in found, search
    state = found["no-missed-cow"].state
    assert ERAS["v6.15"].admits(state) and state.foreign_holders()


@pytest.mark.slow
def test_a_users_fast_path_that_raises_under_crosshair_is_bad_input(tmp_path, monkeypatch):
    (tmp_path / "raising_cow.py").write_text(
        "from wpdiff.impl.fastpath import FASTPATHS\n"
        "from wpdiff.impl.layout import MAPCOUNT\n\n"
        "def do_wp_page(w):\n"
        "    if (w >> MAPCOUNT) & 3 == 2:\n"
        "        raise KeyError('no such field')\n"
        "    return FASTPATHS['v6.15'](w)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import raising_cow

    with pytest.raises(BadInput, match=r"fast path raising_cow:do_wp_page failed under CrossHair .*KeyError"):
        check_faithfulness(Target("raising_cow:do_wp_page", "v6.15", raising_cow.do_wp_page, False), 60.0)


_SLEEPS = '''
import select


def sleeps(x: int) -> bool:
    """
    post: __return__
    """
    select.select([], [], [], 60)  # a wait in C, which CrossHair's own timeouts cannot interrupt
    return True
'''


def test_a_crosshair_run_far_over_its_budget_is_stopped_without_a_verdict(monkeypatch):
    from wpdiff.diff import symbolic_run

    monkeypatch.setattr(symbolic_run, "STARTUP", 5.0)  # read where the subprocess is run
    start = time.perf_counter()
    out, seconds, code = symbolic._crosshair(_SLEEPS, "sleeps", 1.0)
    assert code == symbolic.STOPPED and seconds < 30 and time.perf_counter() - start < 30
    assert "stopped after" in out
    assert symbolic._verdict(out, code, "a contract that sleeps") is Verdict.BUDGET


# ---------------------------------------------------------------- the registry (issue 10, section 4)


def test_both_faces_read_one_registry():
    from wpdiff.diff import engines, options

    assert options.ENGINES == engines.names() and engines.names()[:3] == ("exhaustive", "hypothesis", "crosshair")
    assert engines.selected("all") == tuple(engines.ENGINES.values())


def test_a_registered_engine_runs_and_is_held_against_history(monkeypatch, capsys):
    """An engine is one entry: `wpdiff check --engine NAME` runs it, and the
    history it can see (``Engine.sees``) and did not reproduce fails the run."""
    from wpdiff.diff import cli, engines
    from wpdiff.diff.report import EngineRun

    ran = []

    def run(report, era_ids, targets, settings, progress):
        ran.append((tuple(era_ids), settings.space))
        report.runs.append(EngineRun("fake", Verdict.CLEAN, 0, 0.0))

    for sees, code in ((lambda f, s: True, 1), (lambda f, s: False, 0)):
        monkeypatch.setitem(engines.ENGINES, "fake", engines.Engine("fake", "finds nothing", run, (), sees))
        assert cli.main(["check", "--engine", "fake", "--era", "v5.9"]) == code
        out = capsys.readouterr().out
        wanted = sorted(f"history not reproduced: v5.9:{f.invariant} (fake)" for f in FINDINGS if f.era == "v5.9")
        assert sorted(x for x in out.splitlines() if x.startswith("history not reproduced")) == (wanted if code else [])
    assert ran == [(("v5.9",), "small")] * 2


# ---------------------------------------------------------------- the stateful engine, on the registry

IOURING_FORK = Path(__file__).resolve().parents[1] / "litmus" / "iouring-fork.litmus"


def _world_search(found_on: dict):
    """stateful.search standing in: era -> the guarantees it "finds", each a
    finding whose program is the catalogue's iouring-fork.litmus."""
    from wpdiff.diff import stateful

    def fake(era_id, profile="dev", seed=None):
        s = stateful.EraSearch(era_id, cases=3, rules=12, seconds=0.01)
        for gid in found_on.get(era_id, ()):
            recorded = stateful.history().get(era_id, {}).get(gid, ())
            s.findings.append(stateful.StatefulFinding(
                era_id, gid, "corruption", bool(recorded), IOURING_FORK.read_text(), "Always", 4, 0.5, seed,
                "the pin reads 1 after P0 wrote 2", recorded))
        return s

    return fake


def test_stateful_is_an_engine_of_the_registry_with_the_catalogues_history(monkeypatch, tmp_path, capsys):
    """`wpdiff check --engine stateful`: its findings land in the report's
    findings, every format renders them, and the history it is held to is
    the catalogue's (what it did not reproduce fails the run, naming it)."""
    from wpdiff.diff import cli, engines, stateful

    assert "stateful" in engines.names() and not engines.ENGINES["stateful"].faults
    monkeypatch.setattr(stateful, "search", _world_search({"v5.8": ["pin-coherent"]}))
    expected_58 = set(stateful.history()["v5.8"])
    assert "pin-coherent" in expected_58 and len(expected_58) > 1  # one found, the others missing
    out = tmp_path / "r.json"
    assert cli.main(["check", "--engine", "stateful", "--era", "v5.8", "--seed", "5", "-o", str(out)]) == 1
    data = json.loads(out.read_text())
    assert data["schema_version"] == 3 and [f["guarantee"] for f in data["findings"]] == ["pin-coherent"]
    assert data["findings"][0]["expected"] and data["findings"][0]["observed"] == "always"
    assert [r["engine"] for r in data["runs"]] == ["stateful:v5.8"] and data["divergences"] == []
    text_out = tmp_path / "r.txt"
    assert cli.main(["check", "--engine", "stateful", "--era", "v5.8", "--seed", "5", "-o", str(text_out)]) == 1
    text = text_out.read_text()
    assert "v5.8: pin-coherent (corruption) -- expected, stateful: always (4 steps" in text
    assert "    COW iouring-fork" in text and "    exists (P0:r0 = 1)" in text
    missed = sorted(expected_58 - {"pin-coherent"})
    assert [x for x in text.splitlines() if x.startswith("history not reproduced")] == [
        f"history not reproduced: v5.8:{g} (stateful)" for g in missed]
    capsys.readouterr()
    # a finding the catalogue does not record is unexpected: exit 1 even with nothing missing
    monkeypatch.setattr(stateful, "search", _world_search({"v6.15": ["pin-coherent"]}))
    assert stateful.history()["v6.15"] == {}
    assert cli.main(["check", "--engine", "stateful", "--era", "v6.15", "--seed", "5"]) == 1
    text = capsys.readouterr().out
    assert "v6.15: pin-coherent (corruption) -- UNEXPECTED" in text
    assert text.rstrip().endswith("verdict: 1 unexpected world finding(s)")


def test_world_findings_in_junit_tap_and_sarif(monkeypatch):
    from wpdiff.diff import stateful
    from wpdiff.diff.render import junit, render, sarif, tap

    monkeypatch.setattr(stateful, "search", _world_search({"v5.8": ["pin-coherent"], "v6.15": ["pin-coherent"]}))
    report = Report("check --engine stateful", ["v5.8", "v6.15"])
    stateful.run_stateful(report, ["v5.8", "v6.15"], "dev", 5)
    assert [(f.era, f.expected) for f in report.findings] == [("v5.8", True), ("v6.15", False)]
    assert report.failed() and report.unexpected_findings() == [report.findings[1]]
    root = ET.fromstring(junit(report, []))
    suite = root.find("testsuite[@name='stateful']")
    assert suite is not None and suite.get("failures") == "1"
    failed = suite.find("testcase[@classname='wpdiff.stateful.v6.15'][@name='pin-coherent']/failure")
    assert failed is not None and "COW iouring-fork" in failed.text
    assert suite.find("testcase[@classname='wpdiff.stateful.v5.8'][@name='pin-coherent']/system-out") is not None
    points = tap(report, []).splitlines()
    assert any(p.startswith("not ok ") and p.endswith("stateful: v6.15 pin-coherent") for p in points)
    assert any(p.endswith("stateful: v5.8 pin-coherent # XFAIL 1 finding(s) history records") for p in points)
    doc = json.loads(sarif(report, []))
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["pin-coherent"]["properties"]["kind"] == "world"  # the catalogue's world guarantee
    assert rules["no-missed-cow"]["properties"]["kind"] == "fault"
    levels = {(r["properties"]["era"], r["level"]) for r in doc["runs"][0]["results"] if r["ruleId"] == "pin-coherent"}
    assert levels == {("v5.8", "note"), ("v6.15", "error")}
    assert set(json.loads(render(report, "json", []))["findings"][0]) >= {"litmus", "history", "observed"}


def test_stateful_takes_no_fast_path(capsys):
    from wpdiff.diff import cli

    assert cli.main(["check", "--engine", "stateful", "--fastpath", "x:y", "--base", "v6.15"]) == 2
    assert "--engine stateful takes no --fastpath" in capsys.readouterr().err


@pytest.mark.slow
def test_stateful_engine_from_the_command_line_finds_what_history_records(tmp_path):
    """The real search (about 20 s on 2 cores): v5.18 breaks pin-coherent, as the catalogue records."""
    from wpdiff.diff import cli

    out = tmp_path / "r.json"
    code = cli.main(["check", "--engine", "stateful", "--era", "v5.18", "--seed", "1", "-o", str(out)])
    data = json.loads(out.read_text())
    assert [(f["guarantee"], f["expected"]) for f in data["findings"]] == [("pin-coherent", True)], data["findings"]
    assert code == 0


def test_the_models_results_are_kept_between_runs_and_any_edit_is_a_new_key(tmp_path, monkeypatch):
    from wpdiff.diff import exhaustive

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fresh = exhaustive.sweep(["v5.9"], "small")
    kept = list((tmp_path / "wpdiff" / "sweep").iterdir())
    assert [p.name.split("-", 1)[1] for p in kept] == ["small-v5.9.pickle"]
    again = exhaustive.sweep(["v5.9"], "small")
    for name in ("words", "after", "trace", "admitted_mask"):
        assert (getattr(again.eras["v5.9"], name) == getattr(fresh.eras["v5.9"], name)).all()
    assert again.eras["v5.9"].findings.keys() == fresh.eras["v5.9"].findings.keys()
    # a file that is not what the code writes is computed again, not trusted
    kept[0].write_bytes(b"not a pickle")
    assert exhaustive.sweep(["v5.9"], "small").eras["v5.9"].admitted == fresh.eras["v5.9"].admitted
    # the key follows every source file of spec/ and impl/
    monkeypatch.setattr(exhaustive, "_code_hash", lambda: "another-code")
    exhaustive.sweep(["v5.9"], "small")
    assert len(list((tmp_path / "wpdiff" / "sweep").iterdir())) == 2
    monkeypatch.setenv("WPDIFF_NO_CACHE", "1")
    assert exhaustive._cache_dir() is None
