"""The kernel's own do_wp_page(), compiled against the shim (wpdiff kernel).

Real trees (Debian's linux-source-6.1 and -6.12 tarballs, read at run time,
never stored) must agree with their era's model; patched copies of 6.1 must
fail naming the patched line; the project's own C mirrors exercise the shim
generations no packaged tree covers; bad input is one line and exit 2.
"""

import os
import shutil

import pytest

from wpdiff.diff import cli
from wpdiff.diff.kernel import check_tree, open_tree
from wpdiff.diff.report import Compared
from wpdiff.diff.targets import BadInput
from wpdiff.oracle.ktree import build as kbuild
from wpdiff.oracle.ktree.extract import extract
from wpdiff.oracle.ktree.source import open_source, release_of

HERE = os.path.dirname(os.path.abspath(__file__))
MIRRORS = os.path.join(HERE, "kernel_mirrors")
TARBALLS = {"6.1": "/usr/src/linux-source-6.1.tar.xz", "6.12": "/usr/src/linux-source-6.12.tar.xz"}


def tarball(version: str) -> str:
    path = TARBALLS[version]
    if not os.path.exists(path):
        pytest.skip(f"{path} is not installed (apt-get install linux-source-{version}; .ci/run does)")
    return path


@pytest.fixture(scope="module")
def memory_61() -> str:
    return open_source(tarball("6.1")).texts["mm/memory.c"]


def unexpected(report):
    return [d for d in report.unexpected()]


# ---- the project's own mirrors: no tree needed --------------------------------------------


@pytest.mark.parametrize("era, generation", [("v5.7", "page"), ("v5.9", "page"), ("v5.18", "page"), ("v6.15", "large-reuse")])
def test_mirror_agrees_with_its_era(era, generation):
    report, tree = check_tree(os.path.join(MIRRORS, era), space="small", place=False)
    assert tree.era == era and tree.unit.generation.name == generation
    assert not [d for d in report.divergences if d.compared is Compared.FAITHFULNESS]
    assert not unexpected(report), [d.explanation for d in unexpected(report)]


def test_mirror_copy_frees_swap_cache_by_what_wp_page_copy_calls():
    assert not open_tree(os.path.join(MIRRORS, "v5.9")).unit.copy_frees_swap_cache
    assert open_tree(os.path.join(MIRRORS, "v5.18")).unit.copy_frees_swap_cache


def test_mirror_patched_to_decide_on_mapcount_is_caught(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(MIRRORS, "v5.18"), tree)
    memory = tree / "mm" / "memory.c"
    text = memory.read_text()
    old = "if (PageKsm(page) || page_count(page) != 1) {"
    line = text[: text.index(old)].count("\n") + 1
    memory.write_text(text.replace(old, "if (PageKsm(page) || page_mapcount(page) != 1) {"))
    report, _ = check_tree(str(tree), place=False)
    found = [d for d in unexpected(report) if d.compared is Compared.FAITHFULNESS]
    assert found and f"memory.c:{line} (page_mapcount()" in found[0].explanation
    assert any(d.invariant == "no-missed-cow" for d in unexpected(report))


# ---- extraction -------------------------------------------------------------------------------


def test_extraction_keeps_the_if_chain_and_lines():
    ex = extract(open(os.path.join(MIRRORS, "v6.15", "mm", "memory.c")).read(), "m.c",
                 ["__wp_can_reuse_large_anon_folio", "do_wp_page"], ["do_wp_page"])
    assert len([1 for line in ex.text.splitlines() if line.startswith("#ifdef CONFIG_TRANSPARENT_HUGEPAGE")]) == 1
    assert "#else" in ex.text and "#endif" in ex.text and "wpdiff_user_do_wp_page" in ex.text
    first = ex.functions["do_wp_page"].line
    assert f'#line {first} "m.c"' in ex.text


def test_release_of_a_makefile():
    assert release_of("VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\nEXTRAVERSION =\n", "Makefile") == "6.1.192"
    with pytest.raises(ValueError, match="Makefile: not a kernel's top-level Makefile"):
        release_of("all:\n\ttrue\n", "Makefile")


# ---- bad input: one line, exit 2 ---------------------------------------------------------------


def _cli(capsys, *argv):
    code = cli.main(["kernel", *argv])
    err = capsys.readouterr().err.strip()
    return code, err


def test_not_a_kernel_tree(tmp_path, capsys):
    code, err = _cli(capsys, str(tmp_path))
    assert code == 2 and "not a kernel tree" in err and len(err.splitlines()) == 1


def test_no_do_wp_page(tmp_path, capsys):
    f = tmp_path / "memory.c"
    f.write_text("static int other(void) { return 0; }\n")
    code, err = _cli(capsys, str(f), "--era", "v5.9")
    assert code == 2 and "no do_wp_page() in this file" in err and str(f) in err


def test_lone_memory_c_needs_an_era(capsys):
    code, err = _cli(capsys, os.path.join(MIRRORS, "v5.9", "mm", "memory.c"))
    assert code == 2 and "expected --era ERA" in err


def test_release_no_era_covers(tmp_path, capsys):
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(MIRRORS, "v5.9"), tree)
    (tree / "Makefile").write_text("VERSION = 4\nPATCHLEVEL = 19\nSUBLEVEL = 0\nEXTRAVERSION =\n")
    code, err = _cli(capsys, str(tree))
    assert code == 2 and "release 4.19.0" in err and "--era" in err


def test_an_api_the_shim_does_not_model_is_named_with_its_line(tmp_path, capsys):
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(MIRRORS, "v5.9"), tree)
    memory = tree / "mm" / "memory.c"
    text = memory.read_text()
    old = "if (!trylock_page(page))"
    line = text[: text.index(old)].count("\n") + 1
    memory.write_text(text.replace(old, "if (!trylock_page(page) || page_frobnicate(page))"))
    code, err = _cli(capsys, str(tree))
    assert code == 2 and len(err.splitlines()) == 1
    assert f"{memory}:{line}:" in err and "page_frobnicate()" in err and "oracle/ktree/shim/" in err


def test_a_missing_compiler(tmp_path, capsys, monkeypatch):
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(MIRRORS, "v5.9"), tree)
    memory = tree / "mm" / "memory.c"
    memory.write_text(memory.read_text().replace("/* a cheap look first;", f"/* {tmp_path} a cheap look first;"))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    code, err = _cli(capsys, str(tree))
    assert code == 2 and "no C compiler" in err


# ---- real trees ---------------------------------------------------------------------------------


@pytest.mark.ktree
@pytest.mark.parametrize("version, era", [("6.1", "v5.19"), ("6.12", "v6.9")])
def test_debian_tree_agrees_with_its_era(version, era):
    report, tree = check_tree(tarball(version), space="small", place=False)
    assert tree.era == era and tree.source.release.startswith(version + ".")
    assert not [d for d in report.divergences if d.compared is Compared.FAITHFULNESS]
    assert not unexpected(report), [d.explanation for d in unexpected(report)]


@pytest.mark.ktree
def test_debian_61_is_placed_in_its_era(capsys):
    code = cli.main(["kernel", tarball("6.1"), "--space", "small", "--jobs", "2"])
    out = capsys.readouterr().out
    assert code == 0 and "held to v5.19" in out and "decides like v5.19 best (0 of" in out


def _patched(tmp_path, text: str, old: str, new: str) -> tuple:
    assert text.count(old) == 1, old
    line = text[: text.index(old)].count("\n") + 1
    f = tmp_path / "memory.c"
    f.write_text(text.replace(old, new))
    return str(f), line


@pytest.mark.ktree
def test_61_deciding_on_mapcount_again_is_caught(tmp_path, memory_61, capsys):
    path, line = _patched(tmp_path, memory_61, "if (folio_test_ksm(folio) || folio_ref_count(folio) != 1) {",
                          "if (folio_test_ksm(folio) || page_mapcount(vmf->page) != 1) {")
    code = cli.main(["kernel", path, "--era", "v5.19", "--format", "json", "--jobs", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{path}:{line} (page_mapcount()" in out and "no-missed-cow" in out


@pytest.mark.ktree
def test_61_unlocking_after_reuse_is_caught(tmp_path, memory_61):
    old = "\t\tpage_move_anon_rmap(vmf->page, vma);\n\t\tfolio_unlock(folio);\n"
    new = ("\t\tpage_move_anon_rmap(vmf->page, vma);\n"
           "\t\tif (!unshare) { wp_page_reuse(vmf); folio_unlock(folio); return VM_FAULT_WRITE; }\n"
           "\t\tfolio_unlock(folio);\n")
    path, line = _patched(tmp_path, memory_61, old, new)
    report, _ = check_tree(path, era="v5.19", place=False)
    bad = unexpected(report)
    assert any(d.invariant == "unlock-before-ptl" for d in bad), [d.invariant for d in bad]
    assert any(f"wp_page_reuse() at {path}:{line + 1}" in d.explanation for d in bad)


@pytest.mark.ktree
def test_61_with_base_judges_only_guarantees(tmp_path, memory_61):
    path, _ = _patched(tmp_path, memory_61, "folio_ref_count(folio) > 3)", "folio_ref_count(folio) > 2)")
    report, tree = check_tree(path, base="v5.19", place=False)
    assert tree.base
    assert all(d.expected for d in report.divergences if d.compared is Compared.FAITHFULNESS)


def test_the_library_is_cached_by_its_text():
    source = open_source(os.path.join(MIRRORS, "v5.9"))
    from wpdiff.impl.layout import PAGE_FLAGS

    unit = kbuild.compose(source, PAGE_FLAGS["v5.9"])
    assert kbuild.build(unit) == kbuild.build(unit)
    other = kbuild.compose(source, PAGE_FLAGS["v6.15"])
    assert kbuild.digest(other) != kbuild.digest(unit)


def test_57_mirror_takes_its_helpers_from_swapfile_and_ksm():
    tree = open_tree(os.path.join(MIRRORS, "v5.7"))
    assert tree.unit.functions[:3] == ("page_trans_huge_map_swapcount", "reuse_swap_page", "reuse_ksm_page")
    assert not tree.unit.copy_frees_swap_cache


def test_57_without_swapfile_c_is_refused(tmp_path, capsys):
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(MIRRORS, "v5.7"), tree)
    (tree / "mm" / "swapfile.c").unlink()
    code, err = _cli(capsys, str(tree))
    assert code == 2 and "reuse_swap_page(), which lives in mm/swapfile.c" in err


def test_a_saved_divergence_replays_and_has_a_sarif_line(tmp_path):
    from wpdiff.diff.kernel import replay_target, sarif_location
    from wpdiff.diff.report import Report

    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(MIRRORS, "v5.9"), tree)
    memory = tree / "mm" / "memory.c"
    text = memory.read_text()
    old = "if (PageKsm(page) || page_count(page) != 1)\n"
    line = text[: text.index(old)].count("\n") + 1
    memory.write_text(text.replace(old, "if (PageKsm(page) || page_count(page) > 2)\n"))
    report, _ = check_tree(str(tree), place=False)
    saved = Report.from_json(report.to_json())
    d = next(x for x in saved.divergences if x.compared is Compared.FAITHFULNESS)
    assert replay_target(d.target, d.era).fast(d.word) == (d.fast_path.after, d.fast_path.trace)
    where = sarif_location(d)["physicalLocation"]
    assert where["artifactLocation"]["uri"] == str(memory)
    recheck = text[: text.index("if (PageKsm(page) || page_mapcount(page) != 1")].count("\n") + 1
    assert where["region"]["startLine"] in (line, recheck)


def test_hypothesis_engine_finds_a_patched_mirror_and_its_line(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(MIRRORS, "v5.9"), tree)
    memory = tree / "mm" / "memory.c"
    text = memory.read_text()
    old = "if (PageKsm(page) || page_mapcount(page) != 1 || page_count(page) != 1) {"
    line = text[: text.index(old)].count("\n") + 1
    memory.write_text(text.replace(old, "if (PageKsm(page) || page_mapcount(page) != 1) {"))
    memory.write_text(memory.read_text().replace("if (PageKsm(page) || page_count(page) != 1)\n", "if (PageKsm(page))\n"))
    report, _ = check_tree(str(tree), engines=("hypothesis",), seed=3)
    found = [d for d in unexpected(report) if d.compared is Compared.FAITHFULNESS]
    assert found and f"memory.c:{line} (page_mapcount()" in found[0].explanation


def test_the_kernels_own_vm_bug_on_is_evaluated_and_named(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(MIRRORS, "v6.15"), tree)
    memory = tree / "mm" / "memory.c"
    text = memory.read_text()
    bug = "VM_BUG_ON(folio_test_anon(folio) && !PageAnonExclusive(vmf->page));"
    line = text[: text.index(bug)].count("\n") + 1
    # forget to mark the page exclusive before reusing it
    memory.write_text(text.replace("\t\t\tSetPageAnonExclusive(vmf->page);\n", "\t\t\t;\n"))
    report, _ = check_tree(str(tree), place=False)
    fired = [d for d in unexpected(report) if "VM_BUG_ON at" in d.explanation]
    assert fired and f"VM_BUG_ON at {memory}:{line}" in fired[0].explanation
