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
    assert re.search(r"exhaustive +v5\.9 +flush-before-copy \(64\), no-wrong-cow \(300\)", run.stdout)
    assert re.search(r"exhaustive +v6\.15 +nothing", run.stdout)
    assert run.stdout.rstrip().endswith("verdict: nothing unexpected")


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--era", "v5.20"], "--era: unknown era 'v5.20'; expected one of v5.7"),
        (["check", "--engine", "crosshair", "--budget", "-5"], "--budget: expected a number of seconds > 0, got -5"),
        (["check", "--fastpath", "nosuchmodule:f", "--base", "v6.15"], "cannot import nosuchmodule"),
        (["check", "--fastpath", "userpaths:missing", "--base", "v6.15"], "has no function 'missing'"),
        (["check", "--fastpath", "userpaths:raises", "--base", "v6.15"], "raised KeyError: 'no such field'"),
        (["check", "--fastpath", "userpaths:returns_garbage", "--base", "v6.15"], "returned 'reuse'"),
        (["check", "--fastpath", "userpaths:returns_three", "--base", "v6.15"], "two non-negative ints"),
        (["check", "--fastpath", "userpaths:same_as_v6_15"], "needs --base ERA"),
        (["check", "--fastpath", "userpaths:same_as_v6_15", "--base", "v9"], "--base: unknown era 'v9'"),
        (["compare", "v5.9", "v7"], "unknown era 'v7'"),
        (["explain", "no-such-thing"], "neither an invariant"),
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
    assert run.returncode == 1  # the divergences still happen
    assert run.stdout.count("[reproduced exactly]") == len(data["divergences"])


def test_replay_of_a_single_divergence(json_report, tmp_path):
    one = json.loads(json_report.read_text())["divergences"][0]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(one))
    run = wpdiff("replay", str(path))
    assert run.returncode == 1 and "[reproduced exactly]" in run.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"divergences": [', "corrupt.json:1:18: not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"hello": 1}', "neither 'divergences' nor 'compared'"),
        ('{"divergences": [{"era": "v5.9"}]}', "not a wpdiff report or divergence"),
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
