"""Typed identifiers (wpdiff.diff.ids): every id a report holds round-trips
through the string the JSON has always held, and a string that is no id is
refused, saying what was expected."""

import pytest

from wpdiff.diff import ids
from wpdiff.diff.ids import (
    Builtin, IdError, Kernel, Lemma, Missing, Model, Mutant, PerEra, Proof, Search, UserPath, Whole, run_id,
    target_id,
)
from wpdiff.diff.engines import names
from wpdiff.diff.report import SEARCH_RUN, EngineRun, Verdict
from wpdiff.impl.layout import PAGE_FLAGS
from wpdiff.impl.mutants import MUTANTS
from wpdiff.spec import ERAS
from wpdiff.spec.history import FINDINGS


def targets():
    yield from (Model(e) for e in ERAS)
    yield from (Builtin(e) for e in ERAS)
    yield from (Mutant(m) for m in MUTANTS)
    yield Kernel("/usr/src/linux-source-6.1.tar.xz")
    yield Kernel("/home/me/linux")
    yield UserPath("mypkg.cow", "do_wp_page")
    yield UserPath("samecow", "do_wp_page")


def runs():
    yield from (Whole(e) for e in names())
    for t in targets():
        if not isinstance(t, Model):
            yield Proof(t)
    yield from (Search(e) for e in ERAS)
    yield Search(UserPath("mypkg.cow", "do_wp_page"))
    yield from (Search(Mutant(m)) for m in MUTANTS)
    yield from (Lemma(pg.name) for pg in {PAGE_FLAGS[e].name: PAGE_FLAGS[e] for e in ERAS}.values())
    yield from (PerEra("stateful", e) for e in ERAS)


@pytest.mark.parametrize("t", list(targets()), ids=str)
def test_every_target_round_trips(t):
    assert target_id(str(t)) == t


@pytest.mark.parametrize("r", list(runs()), ids=str)
def test_every_run_round_trips(r):
    assert run_id(str(r)) == r
    assert EngineRun(str(r), Verdict.CLEAN, 0, 0.0).id == r


def test_every_missing_history_entry_round_trips():
    for f in FINDINGS:
        for m in (Missing(f.era, f.invariant), Missing(f.era, f.invariant, "exhaustive"),
                  Missing(f.era, f.invariant).by("stateful")):
            assert Missing.parse(str(m)) == m and ids.missing(str(m)) == m and ids.missing(m) is m


def test_the_strings_are_the_ones_the_json_has_always_held():
    """The report schema did not change with the records: the same strings."""
    assert str(Model("v5.9")) == "model:v5.9" and str(Builtin("v5.9")) == "builtin:v5.9"
    assert str(Proof(Builtin("v5.9"))) == "crosshair:builtin:v5.9"
    assert str(Proof(UserPath("mypkg.mod", "do_wp_page"))) == "crosshair:mypkg.mod:do_wp_page"
    assert str(Search("v5.9")) == "crosshair:soundness:v5.9" == SEARCH_RUN + "v5.9"
    assert str(Search(UserPath("mypkg.mod", "do_wp_page"))) == "crosshair:soundness:mypkg.mod:do_wp_page"
    assert str(Lemma("v5.10")) == "crosshair:wp_page_copy:v5.10"
    assert str(PerEra("stateful", "v5.9")) == "stateful:v5.9"
    assert str(Missing("v5.9", "no-missed-cow", "exhaustive")) == "v5.9:no-missed-cow (exhaustive)"
    assert ids.engine_of("crosshair:builtin:v5.9") == "crosshair" and ids.engine_of("hypothesis") == "hypothesis"


def test_a_search_is_not_a_proof():
    """The split that decides whether a budget hit is an unfinished proof."""
    assert isinstance(run_id("crosshair:soundness:v5.9"), Search)
    assert isinstance(run_id("crosshair:soundness:mypkg.mod:do_wp_page"), Search)
    assert isinstance(run_id("crosshair:mypkg.mod:do_wp_page"), Proof)
    assert run_id("crosshair:soundness:v5.9").era == "v5.9"
    assert run_id("crosshair:soundness:mypkg.mod:do_wp_page").era is None


@pytest.mark.parametrize("text, message", [
    ("v5.9", "target 'v5.9': expected 'model:ERA', 'builtin:ERA', 'kernel:SOURCE', 'mutant:ID' or a fast path's"),
    ("model:", "target 'model:': expected"),
    ("my pkg:f", "target 'my pkg:f': expected"),
    ("pkg.mod:f(x)", "target 'pkg.mod:f(x)': expected"),
])
def test_a_string_that_is_no_target_is_refused(text, message):
    with pytest.raises(IdError, match=None) as e:
        target_id(text)
    assert str(e.value).startswith(message), str(e.value)


@pytest.mark.parametrize("text, message", [
    ("", "run '': expected an engine's name"),
    ("Crosshair", "run 'Crosshair': expected an engine's name"),
    ("stateful:", "run 'stateful:': expected what the run checked after 'stateful:'"),
    ("crosshair:soundness:model:v5.9", "run 'crosshair:soundness:model:v5.9': a search is of an era, a mutant"),
    ("crosshair:v5.9", "target 'v5.9': expected"),
])
def test_a_string_that_is_no_run_is_refused(text, message):
    with pytest.raises(IdError) as e:
        run_id(text)
    assert str(e.value).startswith(message), str(e.value)


@pytest.mark.parametrize("text", ["v5.9", "v5.9: no-missed-cow", "v5.9:no-missed-cow (", ""])
def test_a_string_that_is_no_missing_entry_is_refused(text):
    with pytest.raises(IdError, match="expected 'ERA:INVARIANT' or 'ERA:INVARIANT \\(ENGINE\\)'"):
        Missing.parse(text)
