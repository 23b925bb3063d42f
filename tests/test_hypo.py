"""The Hypothesis engine keeps what it finds, one key per search, and every
profile's run is judged against history under the same engine name."""

import json

from hypothesis.database import DirectoryBasedExampleDatabase

from wpdiff.diff import cli, hypo, options
from wpdiff.diff.check import missing_history
from wpdiff.diff.hypo import ENGINE, Found, run_hypothesis, search
from wpdiff.diff.report import Compared, Report
from wpdiff.diff.targets import builtin
from wpdiff.spec import ERAS, violations
from wpdiff.spec.history import FINDINGS


def _entries(path):
    return {p.relative_to(path) for p in path.rglob("*") if p.is_file()}


def test_found_examples_stay_in_the_database_and_replay_first(tmp_path):
    db = DirectoryBasedExampleDatabase(tmp_path)
    report = Report("test", ["v5.9"])
    run_hypothesis(report, ["v5.9"], [builtin("v5.9")], "dev", database=db)
    first = next(d for d in report.divergences if d.compared is Compared.SOUNDNESS)
    saved = _entries(tmp_path)
    # the run's last search, which ignores every kind found, deletes none of them
    assert saved, "the v5.9 run left the example database empty"

    # another era's searches leave v5.9's examples alone
    run_hypothesis(Report("test", ["v6.15"]), ["v6.15"], [builtin("v6.15")], "dev", database=db)
    assert saved <= _entries(tmp_path)

    # v5.9's first search replays its example first: one call to find it, one
    # to report it (no shrinking here)
    found, tried = search("v5.9", [builtin("v5.9")], "dev", shrink=False, database=db)
    assert [f.key for f in found] == [first.invariant]
    assert tried <= 2


def test_a_seeded_search_uses_no_database(tmp_path):
    db = DirectoryBasedExampleDatabase(tmp_path)
    found, _ = search("v5.9", [builtin("v5.9")], "dev", seed=0, database=db)
    assert found and not _entries(tmp_path)


def _history_search(profiles, finds=None):
    """A stand-in for ``hypo.search`` that finds the era's history findings
    (the first `finds` of them, or all) on their history examples, one per
    search, and records the profile it was asked for."""

    def fake(era_id, targets, profile="dev", seed=None, known=frozenset(), database=True, **_):
        profiles.append(profile)
        for f in [f for f in FINDINGS if f.era == era_id][:finds]:
            if f.invariant not in known:
                v = next(v for v in violations(ERAS[era_id], f.example) if v.invariant == f.invariant)
                return [Found(f.invariant, f.example, v)], 1
        return [], 1

    return fake


def test_the_crosshair_profile_is_checked_against_history_as_hypothesis(monkeypatch, tmp_path, capsys):
    profiles = []
    monkeypatch.setattr(hypo, "search", _history_search(profiles))
    out = tmp_path / "report.json"
    argv = ["check", "--engine", "hypothesis", "--profile", "crosshair", "--era", "v5.18", "--format", "json",
            "-o", str(out)]
    assert cli.main(argv) == 0
    assert set(profiles) == {"crosshair"}
    data = json.loads(out.read_text())
    # no --seed: the run drew one, ran with it, and says so with the command that replays it
    seed = data["runs"][0]["note"].rpartition(", seed ")[2]
    assert [(r["engine"], r["note"]) for r in data["runs"]] == [(ENGINE, f"profile crosshair, seed {seed}")]
    assert f"to replay this run: wpdiff {' '.join(argv)} --seed {seed}\n" in capsys.readouterr().err
    # every finding is filed under an engine name `wpdiff check --engine` accepts, the name history is
    # checked under: a run filing them under another would leave history "not reproduced" (exit 1)
    assert data["divergences"] and {d["engine"] for d in data["divergences"]} == {ENGINE}
    assert ENGINE in options.ENGINES


def test_history_the_crosshair_profile_misses_is_named(monkeypatch):
    monkeypatch.setattr(hypo, "search", _history_search([], finds=1))
    report = Report("test", ["v5.18"])
    run_hypothesis(report, ["v5.18"], [builtin("v5.18")], "crosshair")
    assert missing_history(report, "hypothesis", ["v5.18"]) == ["v5.18:reuse-large-when-exclusive"]
