"""The wpdiff command: exit codes, formats, bad input, replay."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from wpdiff.diff.cli import main

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "tests") + os.pathsep + os.environ.get("PYTHONPATH", ""))


def wpdiff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wpdiff.diff.cli", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd)


@pytest.fixture(scope="module")
def json_report(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.json"
    run = wpdiff("check", "--era", "v5.7", "--era", "v5.9-rc4", "--format", "json", "-o", str(path))
    assert run.returncode == 0, run.stderr
    return path


def test_help_documents_the_exit_codes():
    run = wpdiff("check", "--help")
    assert run.returncode == 0
    for code in ("0  nothing unexpected", "1  a divergence found", "2  bad input", "3  a symbolic proof"):
        assert code in run.stdout


def test_eras_and_explain(capsys):
    assert main(["eras"]) == 0
    assert "v5.9-rc4" in capsys.readouterr().out
    assert main(["explain", "no-wrong-cow"]) == 0
    out = capsys.readouterr().out
    assert "v5.9-rc4, v5.9, v5.18" in out and "6c287605fd56" in out
    assert main(["explain", "v5.18"]) == 0
    assert "53a05ad9f21d" in capsys.readouterr().out


def test_check_prints_the_table_and_nothing_unexpected():
    run = wpdiff("check", "--era", "v5.9", "--era", "v6.15")
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"exhaustive +v5\.9 +flush-before-copy \(72\), no-wrong-cow \(300\)", run.stdout)
    assert re.search(r"exhaustive +v6\.15 +nothing", run.stdout)
    assert run.stdout.rstrip().endswith("verdict: nothing unexpected")


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--era", "v5.20"], "--era v5.20: unknown era 'v5.20': 5.20 was never released"),
        (["check", "--engine", "crosshair", "--budget", "-5"], "--budget: expected a number of seconds > 0, got -5"),
        (["check", "--fastpath", "nosuchmodule:f", "--base", "v6.15"], "cannot import nosuchmodule"),
        (["check", "--fastpath", "userpaths:missing", "--base", "v6.15"], "has no function 'missing'"),
        (["check", "--fastpath", "userpaths:raises", "--base", "v6.15"], "raised KeyError: 'no such field'"),
        (["check", "--fastpath", "userpaths:returns_garbage", "--base", "v6.15"], "returned 'reuse'"),
        (["check", "--fastpath", "userpaths:returns_three", "--base", "v6.15"], "two ints in 0 .. 2**63 - 1"),
        *(
            (["check", "--fastpath", f"userpaths:{name}", "--base", "v6.15", "--engine", engine], message)
            for name, message in (
                ("raises_when_mapped_twice", "raised KeyError: 'no such field' on the word 0x"),
                ("negative_when_mapped_twice", "returned (-1, 0) for the word 0x"),
            )
            for engine in ("exhaustive", "hypothesis")
        ),
        (["check", "--fastpath", "userpaths:same_as_v6_15"], "needs --base ERA"),
        (["check", "--fastpath", "userpaths:same_as_v6_15", "--base", "v9"], "--base v9: unknown era 'v9'"),
        (["compare", "v5.9", "v7"], "unknown era 'v7'"),
        (["check", "--era", "v6.15", "-o", "/nonexistent/dir/report.txt"], "no directory /nonexistent/dir"),
        (["compare", "v5.9", "v5.18", "-o", str(ROOT)], "is a directory; expected a file name"),
        (["check", "--jobs", "0"], "--jobs: expected a number of worker processes >= 1, got 0"),
        (["check", "--jobs", "two"], "--jobs: expected a number of worker processes >= 1, got two"),
        (["check", "--engine", "crosshair", "--budget", "inf"], "--budget: expected a number of seconds > 0, got inf"),
        (["check", "--fastpath", "userpaths:same_as_v6_15", "--base", "v6.15", "--era", "v5.9"], "--era is for"),
        (["explain", "no-such-thing"], "neither an invariant"),
        # issue 14: -o names no file; a format the suffix contradicts; a bound poll() cannot wait for
        (["check", "--era", "v6.15", "-o", ""], "-o '': expected a file name, or - for standard output"),
        (["check", "--era", "v6.15", "-o", "x.sarif", "--format", "text"],
         "-o x.sarif: the suffix .sarif says sarif, but --format says text"),
        (["check", "--engine", "crosshair", "--budget", "1e9"],
         "--budget: expected a number of seconds > 0 and at most 604800 (a week), got 1e9"),
    ],
)
def test_bad_input_exits_2_with_the_reason(args, message):
    run = wpdiff(*args)
    assert run.returncode == 2, run.stdout + run.stderr
    assert message in run.stderr


def test_usage_errors_exit_2():
    assert wpdiff("check", "--engine", "magic").returncode == 2
    assert wpdiff().returncode == 2


def test_a_users_fast_path_that_keeps_the_guarantees_passes():
    run = wpdiff("check", "--fastpath", "userpaths:same_as_v6_15", "--base", "v6.15")
    assert run.returncode == 0, run.stdout


def test_a_users_fast_path_is_found_beside_the_user(tmp_path):
    # as the README has it: wpdiff check --fastpath mypkg.cow:do_wp_page, run where mypkg is
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "cow.py").write_text(
        "from wpdiff.impl.fastpath import FASTPATHS\n\ndo_wp_page = FASTPATHS['v6.15']\n")
    run = wpdiff("check", "--fastpath", "mypkg.cow:do_wp_page", "--base", "v6.15", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_visible_space_looks_only_for_history_without_other_mms():
    # its states give every reference to the faulting mm: no-missed-cow cannot show there
    from wpdiff.diff.check import missing_history
    from wpdiff.diff.report import Report

    empty = Report("test", ["v5.7"])
    assert "v5.7:no-missed-cow" in missing_history(empty, "exhaustive", ["v5.7"], "small")
    visible = missing_history(empty, "exhaustive", ["v5.7"], "visible")
    assert "v5.7:no-missed-cow" not in visible and "v5.7:flush-before-copy" in visible


def test_a_users_fast_path_that_breaks_a_guarantee_fails():
    run = wpdiff("check", "--fastpath", "userpaths:reuses_too_much", "--base", "v6.15")
    assert run.returncode == 1
    assert "v6.15: no-missed-cow (security) -- UNEXPECTED" in run.stdout
    assert "fast path:   reuse" in run.stdout


def test_json_report_round_trips_and_replays_exactly(json_report):
    data = json.loads(json_report.read_text())
    assert {d["era"] for d in data["divergences"]} == {"v5.7", "v5.9-rc4"}
    assert data["table"]["exhaustive"]["v5.9-rc4"]["unlock-before-ptl"] == 36
    run = wpdiff("replay", str(json_report))
    assert run.returncode == 0  # the divergences still happen, and history expects every one (issue 14, 3b)
    assert run.stdout.count("[reproduced exactly]") == len(data["divergences"])
    assert f"{len(data['divergences'])} of {len(data['divergences'])} divergence(s) still happen; history expects" \
        in run.stdout


def test_replay_of_a_single_divergence(json_report, tmp_path):
    one = json.loads(json_report.read_text())["divergences"][0]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(one))
    run = wpdiff("replay", str(path))
    assert run.returncode == 0 and "[reproduced exactly]" in run.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"divergences": [', "corrupt.json:1:18: not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"hello": 1}', "neither 'divergences' nor 'compared'"),
        ('{"divergences": [{"era": "v5.9"}]}', "corrupt.json: command: missing; a Report has command, eras"),
    ],
)
def test_a_corrupt_report_exits_2_naming_the_file(tmp_path, content, message):
    path = tmp_path / "corrupt.json"
    path.write_text(content)
    run = wpdiff("replay", str(path))
    assert run.returncode == 2
    assert message in run.stderr and "corrupt.json" in run.stderr


def test_a_report_with_an_impossible_state_exits_2(json_report, tmp_path):
    data = json.loads(json_report.read_text())
    data["divergences"][0]["state"]["page"]["anon_exclusive"] = True
    data["divergences"][0]["state"]["page"]["kind"] = "ksm"
    path = tmp_path / "impossible.json"
    path.write_text(json.dumps(data))
    run = wpdiff("replay", str(path))
    assert run.returncode == 2 and "a saved state cannot exist" in run.stderr


def test_sarif_and_junit(tmp_path):
    sarif = tmp_path / "out.sarif"
    junit = tmp_path / "out.xml"
    assert wpdiff("check", "--era", "v5.9", "--format", "sarif", "-o", str(sarif)).returncode == 0
    doc = json.loads(sarif.read_text())
    assert doc["version"] == "2.1.0"
    results = doc["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"no-wrong-cow", "reuse-when-exclusive"}
    assert all(r["level"] == "note" for r in results)  # expected: history
    assert wpdiff("check", "--era", "v5.9", "--format", "junit", "-o", str(junit)).returncode == 0
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) > 5


def test_output_is_written_whole_or_not_at_all(tmp_path):
    out = tmp_path / "never.json"
    run = wpdiff("check", "--era", "v5.20", "-o", str(out))
    assert run.returncode == 2 and not out.exists()
    assert not list(tmp_path.iterdir())


def test_compare_lists_classes_with_smallest_examples():
    run = wpdiff("compare", "v5.9", "v5.18")
    assert run.returncode == 0
    assert "v5.9 and v5.18 decide differently on" in run.stdout
    assert "decides copy and v5.18 reuse" in run.stdout


def test_compare_shows_eras_that_decide_alike_by_other_events():
    # the seed patch and its fix: the same reuse, the page unlocked after the PTL or before it
    run = wpdiff("compare", "v5.9-rc4", "v5.9")
    assert run.returncode == 0
    assert "decide differently on 0 admitted state(s)" in run.stdout
    assert "both decide reuse but by other events (v5.9-rc4: trylock_page, wp_page_reuse, pte_unmap_unlock, " \
           "unlock_page; v5.9: trylock_page, unlock_page, wp_page_reuse" in run.stdout


def test_a_proof_that_hit_its_budget_is_not_called_agreement():
    from wpdiff.diff.render import text
    from wpdiff.diff.report import EngineRun, Report, Verdict

    report = Report("test", ["v5.9"])
    report.runs.append(EngineRun("crosshair:builtin:v5.9", Verdict.EXHAUSTED, 0, 1.0))
    report.runs.append(EngineRun("crosshair:soundness:v6.15", Verdict.BUDGET, 0, 1.0))  # a search, not a proof
    assert "every fast path checked agrees" in text(report, [])
    assert report.unproved() == []
    report.runs.append(EngineRun("crosshair:wp_page_copy:v5.10", Verdict.BUDGET, 0, 1.0))
    assert "every fast path checked agrees" not in text(report, [])
    assert "1 symbolic check(s) hit the budget without a verdict" in text(report, [])
    assert [r.engine for r in report.unproved()] == ["crosshair:wp_page_copy:v5.10"]


def test_explain_reads_the_world_guarantees_through_the_one_catalogue(capsys):
    from wpdiff.diff.catalogue import CATALOGUE, FAULT, WORLD
    from wpdiff.spec import INVARIANTS
    from wpdiff.spec.world.guarantees import GUARANTEES

    assert set(CATALOGUE) == set(INVARIANTS) | set(GUARANTEES) and not set(INVARIANTS) & set(GUARANTEES)
    assert {r.kind for r in CATALOGUE.values() if r.id in GUARANTEES} == {WORLD}
    assert {r.kind for r in CATALOGUE.values() if r.id in INVARIANTS} == {FAULT}
    assert main(["explain", "no-leak-parent-to-child"]) == 0
    out = capsys.readouterr().out
    g = GUARANTEES["no-leak-parent-to-child"]
    assert out.startswith(f"no-leak-parent-to-child ({g.severity.value}, from v5.7, a data-level guarantee")
    assert "Eras that break it: v5.7, " in out and "(the litmus catalogue's Results)" in out
    assert "  v5.7: litmus/" in out and f"cow.c: {g.cow_c}" in out
    assert main(["explain", "nothing-such"]) == 2
    assert "a world guarantee (no-leak-parent-to-child, " in capsys.readouterr().err


def test_a_given_seed_is_not_announced_and_a_drawn_one_is(monkeypatch, capsys):
    """Issue 14, item 10: without --seed the Hypothesis run draws one, runs
    with it and prints it with the command that replays it."""
    from wpdiff.diff import hypo

    seeds = []

    def fake(report, era_ids, targets, profile, seed, progress=None, database=True):
        seeds.append(seed)

    monkeypatch.setattr(hypo, "run_hypothesis", fake)
    monkeypatch.setattr(hypo, "draw_seed", lambda: 1234)
    assert main(["check", "--engine", "hypothesis", "--era", "v5.9", "--seed", "7"]) == 1  # history not reproduced
    assert "seed" not in capsys.readouterr().err
    assert main(["check", "--engine", "hypothesis", "--era", "v5.9"]) == 1
    err = capsys.readouterr().err
    assert seeds == [7, 1234]
    assert ("wpdiff: Hypothesis ran with seed 1234 (drawn: none was given); to replay this run: "
            "wpdiff check --engine hypothesis --era v5.9 --seed 1234\n") in err
