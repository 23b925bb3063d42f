"""The stateful search finds history from scratch (no @example, no database),
fixed seeds, within seconds; prints each finding as a litmus file that
``wpdiff litmus`` replays; finds nothing on v6.15."""

import time

import pytest

from wpdiff.diff import stateful as S
from wpdiff.diff.cli import main as wpdiff
from wpdiff.diff.litmus.explore import explore
from wpdiff.diff.litmus.syntax import parse
from wpdiff.diff.report import Report
from wpdiff.spec.eras import ERAS
from wpdiff.spec.world.results import Verdict

SEED = 2


def test_expected_set_is_read_from_the_catalogue():
    # what the issue says history records, as the catalogue's Results give it
    assert {"no-leak-parent-to-child", "no-leak-child-to-parent", "pin-coherent"} <= S.expected("v5.7")
    assert "no-leak-child-to-parent" in S.expected("v5.8")  # the parent's side: vmsplice before fork
    assert "no-leak-parent-to-child" not in S.expected("v5.8")  # 17839856fd58 closed the child's side
    assert "no-freed-page-touched" in S.expected("v5.9-rc4")
    assert "no-freed-page-touched" not in S.expected("v5.9")  # be068f29034f
    assert all("pin-coherent" in S.expected(e) for e in ("v5.9-rc4", "v5.9", "v5.18"))
    assert not S.expected("v6.15") and not S.expected("v7.3")
    # every era's set is backed by named catalogue files whose Result says so
    for era_id, gids in S.history().items():
        for gid, files in gids.items():
            assert files and all(f.endswith(".litmus") for f in files), (era_id, gid)


def _found(era_id, gid, seconds=10.0):
    start = time.perf_counter()
    f = S.find(era_id, gid, "dev", seed=SEED)
    took = time.perf_counter() - start
    assert f is not None, f"{gid} not found on {era_id} from scratch (seed {SEED})"
    assert f.era == era_id and f.guarantee == gid and f.expected, f
    assert f.seconds < seconds and took < 3 * seconds, (f.seconds, took)
    assert f.verdict in ("Sometimes", "Always")
    return f


def _replays_with_wpdiff_litmus(f, tmp_path):
    path = tmp_path / f"{f.era}-{f.guarantee}.litmus"
    path.write_text(f.litmus)
    program = parse(path.read_text(), str(path))
    x = explore(program, f.era)
    assert x.verdict.value == f.verdict and x.positive > 0
    assert program.expected(f.era) is x.verdict  # the Result: line says what the search saw
    assert S.replays(f)
    assert wpdiff(["litmus", str(path), "--era", f.era]) == 0  # as the command replays it: every Result as stated


def test_finds_the_57_leak_from_scratch(tmp_path, capsys):
    f = _found("v5.7", "no-leak-parent-to-child")
    assert "vmsplice" in f.litmus and "fork" in f.litmus and "read pipe" in f.litmus
    _replays_with_wpdiff_litmus(f, tmp_path)
    assert "Observation stateful-v5.7-no-leak-parent-to-child Always" in capsys.readouterr().out


def test_finds_the_seed_patch_touching_a_freed_page(tmp_path, capsys):
    f = _found("v5.9-rc4", "no-freed-page-touched")
    assert "||" in f.litmus and "dontneed" in f.litmus  # the handler's steps raced against MADV_DONTNEED
    assert f.verdict == "Sometimes"
    _replays_with_wpdiff_litmus(f, tmp_path)
    program = parse(f.litmus)
    assert program.expected("v5.9") is Verdict.NEVER  # the fix, be068f29034f, as the printed Result says
    capsys.readouterr()


def test_finds_a_59_pin_no_longer_coherent(tmp_path, capsys):
    f = _found("v5.9", "pin-coherent")
    assert "pin " in f.litmus
    _replays_with_wpdiff_litmus(f, tmp_path)
    assert parse(f.litmus).expected("v5.19") is Verdict.NEVER  # PG_anon_exclusive and unsharing
    capsys.readouterr()


def test_finds_nothing_on_615_within_a_small_budget():
    s = S.EraSearch("v6.15")
    found = S._run(S.machine("v6.15", frozenset(), s, time.perf_counter()), S.Budget(120, 10), SEED)
    assert found == [], [b.gid for b in found]
    assert s.cases >= 120 and s.rules > 500  # it did search
    assert not s.first_seen


def test_report_gets_findings_and_a_run(monkeypatch):
    monkeypatch.setitem(S.PROFILES, "tiny", S.Budget(150, 8))
    report = Report("test", ["v5.8"])
    found = S.run_stateful(report, ["v5.8"], "tiny", seed=SEED)
    assert {f.guarantee for f in found} & S.expected("v5.8"), "none of v5.8's history found"
    for f in found:  # expected exactly where the catalogue records it
        assert f.expected is (f.guarantee in S.expected("v5.8")), f.guarantee
    added = getattr(report, "findings", None) or report.divergences
    assert len(added) == len(found)
    if added is report.divergences:
        assert all(d.engine == "stateful" and d.invariant for d in report.divergences)
        assert [d.expected for d in report.divergences] == [f.expected for f in found]
    (run,) = report.runs
    assert run.engine == "stateful:v5.8" and run.checked > 0


def test_litmus_ranges_round_trip():
    order = list(ERAS)
    verdicts = [(e, Verdict.ALWAYS if i < 2 else Verdict.NEVER) for i, e in enumerate(order)]
    text = S._ranges(verdicts)
    assert text == f"{order[0]}..{order[1]} Always; {order[2]}.. Never"
    p = parse(f"COW t\n(* Result: {text} *)\n{{ P0: anon a = 1 }}\nP0: read a -> r0\nexists (P0:r0 = 1)\n")
    assert dict(p.results) == dict(verdicts)
    assert S._ranges([(e, Verdict.NEVER) for e in order]) == "Never"
