"""Reports: JUnit XML and SARIF built from hand-made reports, and
`wpdiff replay` refusing corrupt report files (exit 2, where and what)."""

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import List

import pytest

from wpdiff.diff.check import faithfulness_divergence, soundness_divergence
from wpdiff.diff.cli import main
from wpdiff.diff.render import junit, sarif
from wpdiff.diff.report import Compared, Divergence, EngineRun, Report, Verdict
from wpdiff.diff.targets import builtin
from wpdiff.impl.concretize import concretize
from wpdiff.impl.layout import describe
from wpdiff.spec import ERAS, INVARIANTS
from wpdiff.spec.history import FRESH_IN_LRU_BATCH, PIPE_BEFORE_FORK, SOLE_MAPPING
from wpdiff.spec.state import FaultState, Page, mapping

TESTS = Path(__file__).resolve().parent


def model_finding(era_id: str, invariant: str, state: FaultState, engine: str = "exhaustive") -> Divergence:
    """The divergence an engine reports when `era_id`'s model breaks `invariant` on `state`."""
    message = INVARIANTS[invariant].check(state, ERAS[era_id](state))
    assert message is not None
    return soundness_divergence(era_id, invariant, state, concretize(era_id, state), message, 1, engine,
                                f"model:{era_id}")


def unfaithful(era_id: str, engine: str) -> Divergence:
    """A built-in fast path's (made-up) disagreement with its era's model: unexpected."""
    target = builtin(era_id)
    word = concretize(era_id, SOLE_MAPPING)
    return faithfulness_divergence(target, SOLE_MAPPING, word, target.fast(word), 1, engine)


def era_vs_era(a: str, b: str, state: FaultState) -> Divergence:
    word = concretize(a, state)
    return Divergence(era=a, compared=Compared.ERAS, state=state, word=word, kernel_saw=describe(a, word),
                      explanation=f"{a} and {b} decide differently", engine="exhaustive", target=f"model:{a}",
                      expected=True, spec=ERAS[a](state), other_era=b, other=ERAS[b](state))


def suites(xml: str) -> dict:
    return {s.get("name"): s for s in ET.fromstring(xml).findall("testsuite")}


def case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    found = [tc for tc in suite.findall("testcase") if (tc.get("classname"), tc.get("name")) == (classname, name)]
    assert len(found) == 1, f"{classname} {name}: {len(found)} test cases"
    return found[0]


# ---------------------------------------------------------------- JUnit XML


def test_junit_counts_a_crosshair_divergence_in_the_crosshair_suite():
    report = Report("check --engine crosshair --era v5.9", ["v5.9"])
    report.runs += [EngineRun("crosshair:builtin:v5.9", Verdict.DIVERGENCE, 0, 3.0),
                    EngineRun("crosshair:soundness:v5.9", Verdict.DIVERGENCE, 700, 30.0)]
    report.divergences.append(unfaithful("v5.9", "crosshair"))
    by_name = suites(junit(report, []))
    assert list(by_name) == ["crosshair"]  # one suite per engine, not per run
    crosshair = by_name["crosshair"]
    assert crosshair.get("failures") == "1"
    assert crosshair.get("time") == "33.0"
    failure = case(crosshair, "wpdiff.crosshair.v5.9", "faithfulness").find("failure")
    assert failure is not None and "builtin:v5.9 disagrees with the v5.9 model" in failure.get("message")
    # every case of the era is there once: its faithfulness and the invariants its search decides
    names = [tc.get("name") for tc in crosshair.findall("testcase")]
    assert sorted(names) == sorted(["faithfulness"] + [i.id for i in INVARIANTS.values() if i.applies_to("v5.9")])
    assert crosshair.get("tests") == str(len(names))


def test_junit_expected_findings_pass_and_show_in_system_out():
    report = Report("check --era v5.7", ["v5.7"], runs=[EngineRun("exhaustive", Verdict.DIVERGENCE, 10, 1.0)],
                    divergences=[model_finding("v5.7", "no-missed-cow", PIPE_BEFORE_FORK)])
    suite = suites(junit(report, []))["exhaustive"]
    assert suite.get("failures") == "0" and suite.get("skipped") == "0"
    tc = case(suite, "wpdiff.exhaustive.v5.7", "no-missed-cow")
    assert tc.find("failure") is None and "-- expected" in tc.find("system-out").text


def test_junit_missing_history_is_one_failure_in_its_engines_suite():
    report = Report("check --era v5.7 --engine all", ["v5.7"])
    report.runs += [EngineRun("exhaustive", Verdict.DIVERGENCE, 10, 1.0),
                    EngineRun("hypothesis", Verdict.CLEAN, 10, 1.0)]
    report.divergences.append(model_finding("v5.7", "no-missed-cow", PIPE_BEFORE_FORK))
    by_name = suites(junit(report, ["v5.7:no-missed-cow (hypothesis)"]))
    assert by_name["exhaustive"].get("failures") == "0"
    assert by_name["hypothesis"].get("failures") == "1"
    failures = ET.fromstring(junit(report, ["v5.7:no-missed-cow (hypothesis)"])).iter("failure")
    assert len(list(failures)) == 1
    failure = case(by_name["hypothesis"], "wpdiff.hypothesis.v5.7", "no-missed-cow").find("failure")
    assert "the hypothesis engine did not reproduce it" in failure.get("message")


def test_junit_missing_history_without_an_engine_goes_to_a_history_suite():
    report = Report("check --era v5.7", ["v5.7"], runs=[EngineRun("exhaustive", Verdict.CLEAN, 10, 1.0)])
    by_name = suites(junit(report, ["v5.7:no-missed-cow"]))
    assert by_name["exhaustive"].get("failures") == "0"
    assert by_name["history"].get("failures") == "1"
    assert case(by_name["history"], "wpdiff.history.v5.7", "no-missed-cow").find("failure") is not None


def test_junit_a_run_that_hit_its_budget_is_skipped_not_passed():
    report = Report("check --engine crosshair --era v5.9", ["v5.9"])
    report.runs += [EngineRun("crosshair:wp_page_copy:v5.9", Verdict.BUDGET, 0, 120.0, "the copy lemma of v5.9"),
                    EngineRun("crosshair:builtin:v5.9", Verdict.BUDGET, 0, 120.0, "faithfulness up to wp_page_copy()"),
                    EngineRun("crosshair:soundness:v5.9", Verdict.BUDGET, 900, 30.0, "30 s budget")]
    suite = suites(junit(report, []))["crosshair"]
    invariants = [i.id for i in INVARIANTS.values() if i.applies_to("v5.9")]
    assert suite.get("failures") == "0"
    assert suite.get("skipped") == str(2 + len(invariants)) == suite.get("tests")
    skipped = case(suite, "wpdiff.crosshair.v5.9", "faithfulness").find("skipped")
    assert skipped.get("message") == ("crosshair:builtin:v5.9: budget hit, no verdict "
                                      "(faithfulness up to wp_page_copy())")
    assert "the copy lemma" in case(suite, "wpdiff.crosshair", "wp_page_copy:v5.9").find("skipped").get("message")
    assert case(suite, "wpdiff.crosshair.v5.9", "no-wrong-cow").find("skipped") is not None


def test_junit_a_search_of_a_users_fast_path_decides_its_base_eras_invariants():
    report = Report("check --engine crosshair --fastpath mypkg.cow:fast --base v6.15", ["v6.15"])
    report.runs.append(EngineRun("crosshair:soundness:mypkg.cow:fast", Verdict.BUDGET, 800, 30.0))
    suite = suites(junit(report, []))["crosshair"]
    invariants = [i.id for i in INVARIANTS.values() if i.applies_to("v6.15")]
    assert [(tc.get("classname"), tc.get("name")) for tc in suite.findall("testcase")] == [
        ("wpdiff.crosshair.v6.15", inv) for inv in invariants]
    assert suite.get("skipped") == str(len(invariants))


def test_junit_a_run_that_decides_no_grid_case_is_a_case_of_its_own():
    report = Report("check --engine crosshair --fastpath mypkg.cow:fast --base v6.15", ["v6.15"])
    report.runs.append(EngineRun("crosshair:mypkg.cow:fast", Verdict.EXHAUSTED, 0, 2.0, "faithfulness whole"))
    tc = case(suites(junit(report, []))["crosshair"], "wpdiff.crosshair", "mypkg.cow:fast")
    assert tc.find("skipped") is None and tc.find("failure") is None
    assert "all paths exhausted" in tc.find("system-out").text


def test_junit_of_a_comparison_lists_its_classes():
    report = Report("compare v5.9 v5.18", ["v5.9", "v5.18"],
                    divergences=[era_vs_era("v5.9", "v5.18", FRESH_IN_LRU_BATCH)])
    suite = suites(junit(report, []))["exhaustive"]
    tc = case(suite, "wpdiff.exhaustive.v5.9", "differs from v5.18")
    assert suite.get("failures") == "0" and "decide differently" in tc.find("system-out").text


# ---------------------------------------------------------------- SARIF


def check_sarif(doc: dict) -> None:
    """The required properties of SARIF 2.1.0 for the objects wpdiff writes,
    and every rule and notification referred to is described."""
    assert doc["version"] == "2.1.0" and isinstance(doc["runs"], list)
    for run in doc["runs"]:
        driver = run["tool"]["driver"]
        assert isinstance(driver["name"], str)
        rules = [r["id"] for r in driver["rules"]]
        assert len(rules) == len(set(rules))
        for result in run["results"]:
            assert isinstance(result["message"]["text"], str)
            assert result["ruleId"] in rules
            assert result["level"] in ("none", "note", "warning", "error")
            for location in result["locations"]:
                assert "physicalLocation" in location or location["logicalLocations"]
                if "physicalLocation" in location:
                    assert isinstance(location["physicalLocation"]["artifactLocation"]["uri"], str)
        notes = [n["id"] for n in driver.get("notifications", [])]
        for invocation in run.get("invocations", []):
            assert isinstance(invocation["executionSuccessful"], bool)
            for n in invocation.get("toolExecutionNotifications", []):
                assert isinstance(n["message"]["text"], str)
                assert n["descriptor"]["id"] in notes
                assert n["level"] in ("none", "note", "warning", "error")


def uris(result: dict) -> List[str]:
    return [loc["physicalLocation"]["artifactLocation"]["uri"]
            for loc in result["locations"] if "physicalLocation" in loc]


def test_sarif_has_no_placeholder_uri_and_is_valid():
    report = Report("check --era v5.7", ["v5.7"], runs=[EngineRun("exhaustive", Verdict.DIVERGENCE, 10, 1.0)],
                    divergences=[model_finding("v5.7", "no-missed-cow", PIPE_BEFORE_FORK),
                                 unfaithful("v5.7", "exhaustive"), era_vs_era("v5.9", "v5.18", FRESH_IN_LRU_BATCH)])
    text = sarif(report, [])
    assert "example.invalid" not in text and "informationUri" not in text
    doc = json.loads(text)
    check_sarif(doc)
    results = doc["runs"][0]["results"]
    assert [uris(r) for r in results] == [["spec/eras/v5_7.py"], ["impl/fastpath/v5_7.py"], ["spec/eras/v5_9.py"]]
    assert doc["runs"][0]["invocations"][0]["commandLine"] == "wpdiff check --era v5.7"


def test_sarif_reports_missing_history_and_budget_hits():
    report = Report("check --engine crosshair --era v5.7", ["v5.7"])
    report.runs += [EngineRun("crosshair:builtin:v5.7", Verdict.BUDGET, 0, 120.0, "faithfulness"),
                    EngineRun("crosshair:soundness:v5.7", Verdict.BUDGET, 900, 30.0, "30 s budget"),
                    EngineRun("crosshair:wp_page_copy:v5.7", Verdict.EXHAUSTED, 0, 10.0)]
    doc = json.loads(sarif(report, ["v5.7:no-missed-cow (crosshair)"]))
    check_sarif(doc)
    (result,) = doc["runs"][0]["results"]
    assert result["ruleId"] == "history-not-reproduced" and result["level"] == "error"
    assert result["properties"] == {"era": "v5.7", "invariant": "no-missed-cow", "engine": "crosshair"}
    assert uris(result) == ["spec/eras/v5_7.py"]
    notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    # a proof that hit its budget is a warning (exit 3); a search always ends on its budget: a note
    assert [(n["properties"]["engine"], n["level"]) for n in notes] == [
        ("crosshair:builtin:v5.7", "warning"), ("crosshair:soundness:v5.7", "note")]
    assert notes[0]["message"]["text"] == "crosshair:builtin:v5.7: budget hit, no verdict (faithfulness)"


def users_finding(target: str) -> Divergence:
    word = concretize("v6.15", SOLE_MAPPING)
    return Divergence(era="v6.15", compared=Compared.FAITHFULNESS, state=SOLE_MAPPING,
                      word=word, kernel_saw=describe("v6.15", word),
                      explanation=f"{target} decides differently from v6.15 on 1 state(s)", engine="exhaustive",
                      target=target, expected=True)


@pytest.fixture
def users_module(tmp_path, monkeypatch) -> Path:
    """A user's fast-path module, wpdiff_users_cow.py, importable from tmp_path/src."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "wpdiff_users_cow.py").write_text("def fast(word):\n    return word, 0\n")
    monkeypatch.syspath_prepend(str(src))
    return src / "wpdiff_users_cow.py"


def test_sarif_points_at_a_users_module_relative_to_the_current_directory(users_module, monkeypatch):
    monkeypatch.chdir(users_module.parent.parent)
    doc = json.loads(sarif(Report("check", ["v6.15"], divergences=[users_finding("wpdiff_users_cow:fast")]), []))
    check_sarif(doc)
    (result,) = doc["runs"][0]["results"]
    assert uris(result) == ["src/wpdiff_users_cow.py"]
    assert result["locations"][0]["logicalLocations"] == [{"fullyQualifiedName": "wpdiff_users_cow:fast",
                                                           "kind": "function"}]


def test_sarif_points_at_a_users_module_outside_the_current_directory(users_module, monkeypatch, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (result,) = json.loads(sarif(Report("check", ["v6.15"], divergences=[users_finding("wpdiff_users_cow:fast")]),
                                 []))["runs"][0]["results"]
    assert uris(result) == [users_module.resolve().as_uri()]


def test_sarif_of_a_users_module_that_cannot_be_found_names_the_function_only():
    doc = json.loads(sarif(Report("check", ["v6.15"], divergences=[users_finding("no_such_pkg.cow:fast")]), []))
    check_sarif(doc)
    (result,) = doc["runs"][0]["results"]
    assert result["locations"] == [{"logicalLocations": [{"fullyQualifiedName": "no_such_pkg.cow:fast",
                                                          "kind": "function"}]}]


# ---------------------------------------------------------------- replay


@pytest.fixture(scope="module")
def saved() -> dict:
    """A report as wpdiff writes it: a model's finding, an era-vs-era class
    and a built-in fast path's faithfulness divergence."""
    report = Report("check", ["v5.7", "v5.9"], runs=[EngineRun("exhaustive", Verdict.DIVERGENCE, 10, 1.0)],
                    divergences=[model_finding("v5.7", "no-missed-cow", PIPE_BEFORE_FORK),
                                 era_vs_era("v5.9", "v5.18", FRESH_IN_LRU_BATCH), unfaithful("v5.9", "exhaustive")])
    return json.loads(report.to_json())


def replay(path: Path, capsys) -> tuple:
    code = main(["replay", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_saved_report_replays(saved, tmp_path, capsys):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(saved))
    code, out, err = replay(path, capsys)
    # the two that still happen are history's: nothing unexpected is left (issue 14, 3b)
    assert (code, err) == (0, "")
    assert out.count("[reproduced exactly]") == 2 and out.count("[no longer happens]") == 1
    assert out.endswith("2 of 3 divergence(s) still happen; history expects every one that does\n")


def test_words_are_hex_strings_and_survive_a_tool_that_rounds_integers(saved, tmp_path, capsys):
    """jq 1.6 and JavaScript round every JSON integer above 2**53 to a double;
    the words travel as strings, so a report read and written back by such a
    tool replays exactly as before (issue 14, item 2)."""
    words = [saved["divergences"][i]["word"] for i in range(3)] + [saved["divergences"][2]["fast_path"]["after"]]
    assert all(isinstance(w, str) and w.startswith("0x") for w in words)
    assert any(int(w, 16) > 2**53 for w in words)
    rounded = json.loads(json.dumps(saved), parse_int=lambda text: int(float(text)))
    path = tmp_path / "rounded.json"
    path.write_text(json.dumps(rounded))
    assert replay(path, capsys)[:2] == (0, replay_saved(saved, tmp_path, capsys)[1])


def replay_saved(saved: dict, tmp_path: Path, capsys) -> tuple:
    path = tmp_path / "as-saved.json"
    path.write_text(json.dumps(saved))
    return replay(path, capsys)


def test_a_word_rounded_as_an_integer_is_a_corrupt_report(saved, tmp_path, capsys):
    """What jq 1.6 made of a schema-1 report: the word an integer, rounded.
    Replay said "no longer happens ... the layout changed" and exited 0; a
    saved word that is not what its saved state packs to is now a corrupt
    report, exit 2, naming it (issue 14, item 2)."""
    data = copy.deepcopy(saved)
    word = int(data["divergences"][0]["word"], 16)
    assert word > 2**53
    for bad, message in ((int(float(word)), "divergences[0].word: expected the packed word: a hex string"),
                         (f"{word ^ (1 << 40):#x}", f"divergences[0].word: expected {word:#x}, what the saved state "
                                                    "packs to in v5.7, got")):
        data["divergences"][0]["word"] = bad
        path = tmp_path / "rounded.json"
        path.write_text(json.dumps(data))
        code, out, err = replay(path, capsys)
        assert (code, out) == (2, "") and err.startswith(f"wpdiff: error: {path}: {message}"), err
        assert "no longer happens" not in out + err


@pytest.mark.parametrize("where", ["divergences.0.state.vma", "divergences.0.state.page.holders",
                                   "divergences.0.state.vma.uffd_wp", "divergences.1.other.pte", "divergences.0.seed",
                                   "divergences.2.fast_path.trace", "table", "runs.0.note"])
def test_every_field_is_required_and_a_missing_one_is_named(saved, tmp_path, capsys, where):
    """A deleted ``state.vma`` was filled in with a default VMA, and the
    finding called fixed (issue 14, item 3): every field is required."""
    data = copy.deepcopy(saved)
    drop(where)(data)
    path = tmp_path / "missing.json"
    path.write_text(json.dumps(data))
    code, out, err = replay(path, capsys)
    shown = re.sub(r"\.(\d+)", r"[\1]", where)
    assert (code, out) == (2, "") and err.startswith(f"wpdiff: error: {path}: {shown}: missing; "), err


def set_(where: str, value: object):
    """An edit of the saved report: set the value at `where` ("divergences.0.word")."""
    def edit(data: dict) -> None:
        *path, last = where.split(".")
        for key in path:
            data = data[int(key) if isinstance(data, list) else key]
        data[int(last) if isinstance(data, list) else last] = value
    return edit


def drop(where: str):
    def edit(data: dict) -> None:
        *path, last = where.split(".")
        for key in path:
            data = data[int(key) if isinstance(data, list) else key]
        del data[last]
    return edit


ERA_LIST = ", ".join(ERAS)


@pytest.mark.parametrize(
    "edit, message",
    [
        (set_("divergences", None), "divergences: expected a list of divergences, got null"),
        (set_("divergences.2", 5), "divergences[2]: expected a divergence (an object), got 5"),
        (set_("divergences.1.other_era", "v9"),
         f"divergences[1].other_era: expected the era it is compared with, one of {ERA_LIST}, got \"v9\""),
        (set_("divergences.1.other_era", None), "divergences[1].other_era: expected the era it is compared with"),
        (set_("divergences.0.other_era", "v5.8"),
         "divergences[0].other_era: expected null, got \"v5.8\": a soundness divergence names no second era"),
        (set_("divergences.0.state", None),
         "divergences[0].state: expected the abstract state (an object), got null: only a faithfulness divergence"),
        (set_("divergences.0.era", 5.9), f"divergences[0].era: expected an era, one of {ERA_LIST}, got 5.9"),
        (set_("divergences.0.era", ["v5.7"]), "divergences[0].era: expected an era, one of v5.7"),
        (set_("divergences.0.era", "v5.20"), "divergences[0].era: expected an era, one of v5.7"),
        (set_("divergences.0.word", -1),
         'divergences[0].word: expected the packed word: a hex string from "0x0" to "0x7fffffffffffffff", got -1'),
        (set_("divergences.0.word", f"{2**63:#x}"), "divergences[0].word: expected the packed word: a hex string "
                                                    f'from "0x0" to "0x7fffffffffffffff", got "{2**63:#x}"'),
        (set_("divergences.0.word", "16"), "divergences[0].word: expected the packed word"),
        (set_("divergences.0.word", "0x1F"), "divergences[0].word: expected the packed word"),
        (set_("divergences.0.word", 16), "divergences[0].word: expected the packed word"),
        (set_("divergences.0.word", True), "divergences[0].word: expected the packed word"),
        (drop("divergences.0.word"), "divergences[0].word: missing; a divergence has era, compared, state, word"),
        (set_("divergences.0.compared", "magic"),
         "divergences[0].compared: expected one of 'faithfulness', 'soundness', 'era-vs-era', got \"magic\""),
        (set_("divergences.0.invariant", "no-such"), "divergences[0].invariant: expected the invariant broken, one of "
                                                     + ", ".join(INVARIANTS)),
        (set_("divergences.0.invariant", None), "divergences[0].invariant: expected the invariant broken"),
        (set_("divergences.2.invariant", "no-missed-cow"),
         "divergences[2].invariant: expected null, got \"no-missed-cow\": "
         "a faithfulness divergence names no invariant"),
        (set_("divergences.2.target", "model:v5.9"), "divergences[2].target: expected a fast path"),
        (set_("divergences.0.target", "builtin:v5.9"),
         "divergences[0].target: expected 'builtin:v5.7' (the divergence's era)"),
        (set_("divergences.0.target", 5), "divergences[0].target: expected 'model:v5.7', 'builtin:v5.7', a kernel "
                                          "tree's 'kernel:SOURCE' or a fast path's 'package.module:function', got 5"),
        (set_("divergences.0.target", "my pkg:f"), "divergences[0].target: expected 'model:v5.7', 'builtin:v5.7', "
                                                   "a kernel tree's 'kernel:SOURCE' or a fast path's"),
        (set_("divergences.0.kernel_saw", {}), "divergences[0].kernel_saw: expected the word unpacked"),
        (set_("divergences.0.count", 0), "divergences[0].count: expected an integer >= 1, got 0"),
        (set_("divergences.0.explanation", None), "divergences[0].explanation: expected a string, got null"),
        (set_("divergences.0.state.page.nr_pages", 3),
         "divergences[0].state: a saved state cannot exist: Page.nr_pages"),
        (set_("divergences.0.state.refcount", 2),
         "divergences[0].state.refcount: no such field; a FaultState has page, vma, pte"),
        (set_("divergences.0.state.vma.write", 1), "divergences[0].state.vma.write: expected true or false, got 1"),
        (set_("divergences.0.spec", {"decision": "maybe"}),
         "divergences[0].spec.events: missing; an Outcome has decision, events"),
        (set_("divergences.0.spec.decision", "maybe"), "divergences[0].spec.decision: expected one of 'reuse'"),
        (set_("divergences.0.kernel_saw.refcount", 3), "divergences[0].kernel_saw: expected the word unpacked"),
        (set_("divergences.2.fast_path.after_fields.refcount", 3),
         "divergences[2].fast_path.after_fields: expected the word after unpacked"),
        (set_("divergences.0.expected", False),
         "divergences[0].expected: expected true, what history (spec/history.py) says of v5.7 and no-missed-cow"),
        (set_("divergences.2.fast_path", "reuse"),
         "divergences[2].fast_path: expected a FastResult (an object), got \"reuse\""),
        (set_("runs.0.verdict", "maybe"), "runs[0].verdict: expected one of 'divergence found', 'all paths exhausted'"),
        (set_("runs", None), "runs: expected a list of engine runs, got null"),
        (set_("schema_version", 1), "schema_version: expected 3 (the reports this wpdiff writes; 2 is read too), got 1; version 1 "
                                    "wrote words as JSON integers"),
        (set_("schema_version", 4), "schema_version: expected 3 (the reports this wpdiff writes; 2 is read too), got 4"),
        (drop("schema_version"), "schema_version: missing; a Report has command, eras, runs"),
    ],
)
def test_a_corrupt_report_exits_2_saying_where_and_what(saved, tmp_path, capsys, edit, message):
    data = copy.deepcopy(saved)
    edit(data)
    path = tmp_path / "corrupt.json"
    path.write_text(json.dumps(data))
    code, out, err = replay(path, capsys)
    assert code == 2
    assert err.startswith(f"wpdiff: error: {path}: ") and message in err, err
    assert out == ""  # nothing replayed before the file was refused


def test_a_corrupt_single_divergence_names_the_field(saved, tmp_path, capsys):
    one = dict(saved["divergences"][1], other_era="v9")
    path = tmp_path / "one.json"
    path.write_text(json.dumps(one))
    code, out, err = replay(path, capsys)
    assert code == 2 and err.startswith(f"wpdiff: error: {path}: other_era: expected the era it is compared with")


def test_a_fast_path_that_cannot_be_loaded_exits_2_before_any_replay(saved, tmp_path, capsys):
    data = copy.deepcopy(saved)
    data["divergences"][2]["target"] = "no_such_pkg.cow:fast"
    path = tmp_path / "users.json"
    path.write_text(json.dumps(data))
    code, out, err = replay(path, capsys)
    assert code == 2 and out == ""
    assert f"{path}: divergences[2].target: cannot load the fast path it names:" in err
    assert "cannot import no_such_pkg.cow" in err


@pytest.mark.parametrize("name, message", [
    ("raises_when_mapped_twice", "raised KeyError: 'no such field' on the word {word:#x} saved in the report"),
    ("negative_when_mapped_twice", "returned (-1, 0) for the word {word:#x} saved in the report"),
])
def test_a_fast_path_that_fails_on_the_saved_word_exits_2(tmp_path, capsys, monkeypatch, name, message):
    monkeypatch.syspath_prepend(str(TESTS))
    state = FaultState(page=Page(holders=(mapping(0), mapping(1))))  # mapped twice: the probe's state is not
    word = concretize("v6.15", state)
    saved = dict(users_finding(f"userpaths:{name}").to_dict(encode_json=True), state=json.loads(state.to_json()),
                 word=f"{word:#x}", kernel_saw=describe("v6.15", word))
    path = tmp_path / "fails.json"
    path.write_text(json.dumps(saved))
    code, out, err = replay(path, capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"wpdiff: error: {path}: the divergence: fast path userpaths:{name} ")
    assert message.format(word=word) in err
    if "raised" in message:  # the user's own line that raised (issue 14, item 6)
        assert re.search(r"saved in the report \(at (tests/)?userpaths/__init__\.py:\d+\); ", err) or \
            f"(at {TESTS}/userpaths/__init__.py:" in err, err


# ---------------------------------------------------------------- results that are not one fault


def litmus_report() -> Report:
    from wpdiff.diff.report import LitmusResult, Observation

    results = [LitmusResult("litmus/pin.litmus", 12, "pin-then-fork", "v5.9", "litmus", Observation.SOMETIMES, 3, 8,
                            Observation.SOMETIMES, True),
               LitmusResult("litmus/pin.litmus", 12, "pin-then-fork", "v6.15", "litmus", Observation.SOMETIMES, 3, 8,
                            Observation.NEVER, False)]
    return Report("litmus", ["v5.9", "v6.15"], runs=[EngineRun("litmus", Verdict.DIVERGENCE, 16, 0.5)],
                  results=results)


def test_litmus_results_render_in_every_format_without_a_divergence():
    from wpdiff.diff.render import render, tap, text

    report = litmus_report()
    assert report.divergences == [] and len(report.not_as_stated()) == 1
    out = text(report, [])
    assert "v6.15: litmus pin-then-fork (litmus/pin.litmus:12) -- NOT AS STATED, litmus: sometimes (3 of 8 " \
           "executions); Result: never" in out
    assert "v5.9: litmus pin-then-fork (litmus/pin.litmus:12) -- as stated" in out
    assert out.endswith("verdict: 1 litmus result(s) not as stated\n")
    doc = json.loads(sarif(report, []))
    check_sarif(doc)
    found = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "litmus-result"]
    assert [(r["level"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in found] == [
        ("note", 12), ("error", 12)]
    suite = suites(junit(report, []))["litmus"]
    assert suite.get("failures") == "1"
    assert case(suite, "wpdiff.litmus.v6.15", "litmus pin-then-fork").find("failure") is not None
    assert case(suite, "wpdiff.litmus.v5.9", "litmus pin-then-fork").find("failure") is None
    points = [x for x in tap(report, []).splitlines() if x.startswith(("ok", "not ok"))]
    assert points == ["ok 1 litmus: v5.9 litmus pin-then-fork", "not ok 2 litmus: v6.15 litmus pin-then-fork"]
    assert json.loads(render(report, "json", []))["results"][1]["stated"] == "never"


def test_a_report_with_results_is_read_strictly(tmp_path, capsys):
    data = json.loads(litmus_report().to_json())
    path = tmp_path / "litmus.json"
    path.write_text(json.dumps(data))
    assert replay(path, capsys)[0] == 0  # nothing to replay: results are not faults
    del data["results"][1]["line"]
    path.write_text(json.dumps(data))
    code, out, err = replay(path, capsys)
    assert code == 2 and "results[1].line: missing; a LitmusResult has file, line, test" in err, err


# ---- a kernel tree's C in the shared faces: the text, SARIF and replay ------------------------------


def test_a_kernel_trees_divergence_in_text_sarif_and_replay(tmp_path, capsys):
    """A tree held to its own era (no --base) that decides otherwise is
    UNEXPECTED, labelled "kernel C"; SARIF points at the user's memory.c and
    the deciding line; replay rebuilds the tree and reproduces it exactly."""
    import shutil

    from wpdiff.diff.kernel import check_tree
    from wpdiff.diff.render import divergence_text

    tree = tmp_path / "tree"
    shutil.copytree(TESTS / "kernel_mirrors" / "v5.9", tree)
    memory = tree / "mm" / "memory.c"
    text = memory.read_text()
    memory.write_text(text.replace("if (PageKsm(page) || page_count(page) != 1)\n",
                                   "if (PageKsm(page) || page_count(page) > 2)\n"))
    report, _ = check_tree(str(tree), place=False)
    d = next(x for x in report.divergences if x.compared is Compared.FAITHFULNESS)
    shown = divergence_text(d)
    assert shown.startswith("v5.9: faithfulness -- UNEXPECTED, "), shown
    assert f"  kernel C:    {d.fast_path.decision}: " in shown and "  fast path:" not in shown
    doc = json.loads(sarif(report, []))
    check_sarif(doc)
    result = next(r for r in doc["runs"][0]["results"] if r["ruleId"] == "faithfulness")
    where = result["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == str(memory) and where["region"]["startLine"] > 1
    path = tmp_path / "report.json"
    path.write_text(report.to_json())
    code = main(["replay", str(path)])
    out = capsys.readouterr().out
    assert code == 1 and "[reproduced exactly] v5.9: faithfulness -- UNEXPECTED" in out, out


# ---- schema 3: world findings; a version-2 report still reads -------------------------------------------


def test_a_version_2_report_reads_as_one_without_findings(saved, tmp_path, capsys):
    old = copy.deepcopy(saved)
    del old["findings"]
    old["schema_version"] = 2
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(old))
    code, out, err = replay(path, capsys)
    assert (code, err) == (0, "") and out.count("[reproduced exactly]") == 2
    old["findings"] = []  # version 2 had no such field: a report claiming both is not one wpdiff wrote
    path.write_text(json.dumps(old))
    code, out, err = replay(path, capsys)
    assert code == 2 and "findings: no such field in a version-2 report; version 3 has it" in err, err


def test_a_world_finding_is_read_strictly(saved, tmp_path, capsys):
    from wpdiff.diff.report import Observation, WorldFinding

    data = copy.deepcopy(saved)
    f = WorldFinding("v5.8", "pin-coherent", "corruption", True, "stateful", "COW x\n", Observation.ALWAYS, 4, 0.5,
                     1, "the pin reads 1", ["iouring-fork.litmus"])
    data["findings"] = [json.loads(f.to_json())]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    assert replay(path, capsys)[0] == 0
    del data["findings"][0]["litmus"]
    path.write_text(json.dumps(data))
    code, out, err = replay(path, capsys)
    assert code == 2 and "findings[0].litmus: missing; a WorldFinding has era, guarantee, severity" in err, err
    data["findings"][0]["litmus"], data["findings"][0]["observed"] = "COW x\n", "often"
    path.write_text(json.dumps(data))
    code, out, err = replay(path, capsys)
    assert code == 2 and "findings[0].observed: expected one of 'never', 'sometimes', 'always'" in err, err


def test_a_litmus_run_renders_through_the_shared_renderers():
    """What ``wpdiff litmus`` explores, as the one LitmusResult type of
    Report.results: every format, SARIF at the file's exists line."""
    from wpdiff.diff.litmus.explore import explore
    from wpdiff.diff.litmus.herd import LitmusFile as PerFile
    from wpdiff.diff.litmus.syntax import parse
    from wpdiff.diff.render import junit, tap, text
    from wpdiff.diff.report import Observation, litmus_report

    path = TESTS.parent / "litmus" / "iouring-fork.litmus"
    program = parse(path.read_text(), str(path))
    xs = tuple(explore(program, e) for e in ("v5.8", "v5.9"))
    per_file = PerFile(str(path), program.name, program.exists_loc.line, program.exists_loc.col, str(program.exists), xs)
    report = litmus_report("litmus " + str(path), [per_file], 0.1)
    assert [(r.era, r.observed, r.stated, r.matches) for r in report.results] == [
        ("v5.8", Observation.ALWAYS, Observation.ALWAYS, True), ("v5.9", Observation.NEVER, Observation.NEVER, True)]
    line = path.read_text().splitlines().index("exists (P0:r0 = 1)") + 1
    assert {r.line for r in report.results} == {line} and not report.failed()
    doc = json.loads(sarif(report, []))
    check_sarif(doc)
    regions = [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in doc["runs"][0]["results"]]
    assert regions == [line, line]
    assert f"v5.8: litmus iouring-fork ({path}:{line}) -- as stated, litmus: always" in text(report, [])
    assert "testcase" in junit(report, []) and "ok 1 litmus: v5.8 litmus iouring-fork" in tap(report, [])
    # a Result the exploration does not bear out fails, in the one type
    wrong = PerFile(str(path), program.name, line, 1, "", (xs[0].__class__(**{**xs[0].__dict__, "expected": xs[1].verdict}),))
    assert litmus_report("litmus", [wrong]).not_as_stated()
