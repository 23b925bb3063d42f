"""Eras are objects: spans of releases, features by name, one ordered list
from which the fast paths, the page-flag numbering and history follow."""

import importlib
import subprocess
import sys
from dataclasses import replace

import pytest

from wpdiff.impl import fastpath as fastpath_package
from wpdiff.impl.fastpath import FASTPATHS, HELPERS, OLD_NAMES, module_name
from wpdiff.impl.layout import CURRENT, NUMBERINGS, PAGE_FLAGS, V5_10, V6_7, V6_10, numbering
from wpdiff.spec import eras as eras_package
from wpdiff.spec.eras import ALIASES, ERAS, FEATURE_NAMES, ORDER, UnknownEra, era, for_kernel, resolve
from wpdiff.spec.eras.version import KernelVersion
from wpdiff.spec.history import FINDINGS, eras as history_eras
from wpdiff.spec.kernel import REREAD, Fault, KernelPrimitives, primitives


@pytest.mark.parametrize("release, era_id", [
    ("5.7", "v5.7"), ("5.7.19", "v5.7"), ("5.8", "v5.8"), ("5.9-rc3", "v5.8"), ("5.9-rc4", "v5.9-rc4"),
    ("5.9-rc6", "v5.9-rc4"), ("5.9-rc7", "v5.9"), ("5.9", "v5.9"), ("5.10.13", "v5.9"), ("5.17", "v5.9"),
    ("5.18-rc1", "v5.18"), ("6.0", "v5.19"), ("6.1", "v5.19"), ("6.1.0-28-amd64", "v5.19"), ("6.2", "v6.2"),
    ("6.8.12", "v6.7"), ("6.9", "v6.9"), ("6.9-rc1", "v6.9"), ("6.12.117", "v6.9"), ("6.14", "v6.9"),
    ("6.15", "v6.15"), ("6.18.44-fc-v669", "v6.15"), ("7.2", "v6.15"), ("7.3", "v7.3"), ("8.0", "v7.3"),
])
def test_a_release_finds_the_era_whose_span_holds_it(release, era_id):
    assert for_kernel(release).id == era_id


@pytest.mark.parametrize("release, why", [
    ("5.6", "no era before v5.7"), ("4.19.300", "no era before v5.7"), ("linux", "not a kernel release"),
    ("6", "not a kernel release"), ("", "not a kernel release"),
])
def test_a_release_no_era_holds_is_refused_with_the_reason(release, why):
    with pytest.raises(UnknownEra, match=why):
        for_kernel(release)


def test_the_spans_tile_the_releases_in_order():
    eras = list(ERAS.values())
    assert [e.id for e in eras] == list(ORDER)
    assert eras[-1].last is None
    releases = [KernelVersion(major, minor, rc) for major, top in ((5, 19), (6, 19), (7, 9))
                for minor in range(7 if major == 5 else 0, top + 1) for rc in (*range(1, 9), None)]
    for release in releases:  # every release candidate and release from 5.7 on is in exactly one span
        holders = [e.id for e in eras if e.contains(release)]
        assert len(holders) == 1, (str(release), holders)
        assert for_kernel(str(release)).id == holders[0]
    index = [ORDER.index(for_kernel(str(r)).id) for r in releases]
    assert index == sorted(index)


def test_the_old_name_of_the_6_9_era_keeps_working_and_says_so():
    assert era("v6.10") is ERAS["v6.9"]
    e, note = resolve("v6.10")
    assert e.id == "v6.9" and "alias" in note and "cd197c3a2040" in note
    assert resolve("6.1") == (ERAS["v5.19"], "6.1 is in the v5.19 era (5.19 - 6.1)")
    assert PAGE_FLAGS["v6.10"] is PAGE_FLAGS["v6.9"]
    assert importlib.import_module("wpdiff.impl.fastpath.v6_10").do_wp_page is FASTPATHS["v6.9"]
    assert set(ALIASES) == {"v6.10"}


def test_every_feature_an_era_declares_is_named_and_asked_by_name():
    for e in ERAS.values():
        assert e.features <= set(FEATURE_NAMES), e.id
    assert [e.id for e in ERAS.values() if e.has("anon-exclusive")][0] == "v5.19"
    with pytest.raises(KeyError, match="no era feature"):
        ERAS["v6.15"].has("anon_exclusive")


def test_no_code_decides_by_the_place_of_an_era_in_the_order():
    # "ORDER.index" was how features were decided before eras declared them
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    offenders = [str(p.relative_to(root)) for layer in ("spec", "impl", "oracle", "diff")
                 for p in (root / layer).rglob("*.py") if "ORDER.index(" in p.read_text()
                 and p.name not in ("history.py", "exhaustive.py")]  # ranges of eras and row indices, not features
    assert offenders == []


def test_page_flag_numbering_follows_the_released_trees():
    assert numbering("6.1") is V5_10 and numbering("6.8") is V6_7 and numbering("6.9") is V6_7
    assert numbering("6.11.2") is V6_10 and numbering("6.12") is CURRENT and numbering("7.3") is CURRENT
    assert (V6_7.owner_priv_1, V6_7.anon_exclusive, V6_7.swapbacked) == (12, 17, 19)
    assert (V6_10.owner_priv_1, V6_10.anon_exclusive, V6_10.swapbacked) == (11, 16, 18)
    assert (CURRENT.owner_priv_1, CURRENT.anon_exclusive, CURRENT.swapbacked) == (10, 11, 17)
    for e in ERAS.values():  # an era packs its words in its first release's numbering
        assert PAGE_FLAGS[e.id] is numbering(str(e.first)), e.id
    assert [first for first, _ in NUMBERINGS] == sorted(first for first, _ in NUMBERINGS)


def test_every_era_has_its_fast_path_and_every_fast_path_an_era():
    assert list(FASTPATHS) == list(ERAS)
    modules = {m.name for m in __import__("pkgutil").iter_modules(fastpath_package.__path__)}
    assert modules == {module_name(e) for e in ERAS} | set(HELPERS) | set(OLD_NAMES)
    assert {module_name(e) for e in ERAS} == {e.module.__name__.rpartition(".")[2] for e in ERAS.values()}


def test_an_era_without_a_fast_path_is_refused_at_import(monkeypatch):
    ghost = replace(ERAS["v7.3"], id="v9.1", module=type(sys)("wpdiff.spec.eras.v9_1"))
    monkeypatch.setitem(ERAS, "v9.1", ghost)
    with pytest.raises(ImportError, match="eras without a fast path .*v9.1"):
        fastpath_package._load()


def test_a_fast_path_that_is_no_eras_is_refused_at_import(monkeypatch):
    monkeypatch.delitem(ERAS, "v7.3")
    with pytest.raises(ImportError, match="no era's: \\['v7_3'\\]"):
        fastpath_package._load()


def test_an_era_module_missing_its_first_release_or_features_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(eras_package, "__path__", list(eras_package.__path__) + [str(tmp_path)])
    body = 'ID = "v9.1"\nTITLE = "x"\nCOMMITS = ()\ndef do_wp_page(f):\n    return f.retry()\n'
    (tmp_path / "v9_1.py").write_text(body + 'FEATURES = frozenset()\n')
    with pytest.raises(ImportError, match="v9.1.*lacks FIRST"):
        eras_package._load()
    sys.modules.pop("wpdiff.spec.eras.v9_1")
    (tmp_path / "v9_1.py").write_text(body + 'FIRST = "9.1"\nFEATURES = frozenset({"cow-v2"})\n')
    with pytest.raises(ImportError, match="unknown features \\['cow-v2'\\]"):
        eras_package._load()
    sys.modules.pop("wpdiff.spec.eras.v9_1")


def test_history_ranges_come_from_the_order():
    assert history_eras("v5.9-rc4", "v6.9") == ORDER[ORDER.index("v5.9-rc4"): ORDER.index("v6.9") + 1]
    assert {f.era for f in FINDINGS} <= set(ERAS)
    assert not [f for f in FINDINGS if f.era in ("v6.15", "v7.3")]


def test_every_implementation_provides_exactly_the_kernel_primitives():
    from wpdiff.impl.wordfault import WordFault

    want = primitives(KernelPrimitives)
    assert len(want) == 47
    for cls in (Fault, WordFault):
        assert primitives(cls) == want, (cls.__name__, primitives(cls) ^ want)
    assert REREAD <= want and "pte_same" in REREAD and "vma_shared" not in REREAD


def test_v7_3_decides_as_v6_15_but_copies_without_draining_where_its_first_cut_fires():
    from wpdiff.spec import Event, FaultState, Page, lru_batch, mapping

    batched = FaultState(page=Page(holders=(mapping(0), mapping(1), lru_batch())))
    old, new = ERAS["v6.15"](batched), ERAS["v7.3"](batched)
    assert old.decision is new.decision
    assert Event.LRU_DRAIN in old.events and Event.LRU_DRAIN not in new.events
    assert lru_batch() in new.page.holders and lru_batch() not in old.page.holders  # still in this CPU's batch


def test_v7_3_differs_from_v6_15_only_by_the_drain(full_sweep):
    v615, v73 = full_sweep.eras["v6.15"], full_sweep.eras["v7.3"]
    from wpdiff.impl.layout import decode_trace

    differ = 0
    for t_old, t_new in zip(v615.trace.tolist(), v73.trace.tolist()):
        if t_old != t_new:
            differ += 1
            (d_old, e_old), (d_new, e_new) = decode_trace(t_old), decode_trace(t_new)
            assert d_old is d_new
            assert [e for e in e_old if e.value != "lru_add_drain"] == e_new
    assert differ > 0


def test_eras_kernel_prints_the_era_of_a_release():
    run = [sys.executable, "-m", "wpdiff.diff.cli", "eras", "--kernel"]
    out = subprocess.run(run + ["6.18.44-fc-v669"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("v6.15") and "6.15 - 7.2" in out.stdout
    bad = subprocess.run(run + ["5.6"], capture_output=True, text=True)
    assert bad.returncode == 2 and "no era before v5.7" in bad.stderr and "Traceback" not in bad.stderr


def test_kernel_version_order():
    v = KernelVersion.parse
    assert v("5.9-rc4") < v("5.9-rc7") < v("5.9") < v("5.10")
    assert v("5.9.14") == v("5.9") and v("v6.1") == v("6.1")
    assert v("6.1.0-rc3-amd64") == KernelVersion(6, 1, 3)
