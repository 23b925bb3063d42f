"""The numbers and tables the README states are the code's (issue 10,
section 5): the history table, the space sizes."""

import re
from pathlib import Path

from wpdiff.diff import exhaustive
from wpdiff.spec import ERAS
from wpdiff.spec.history import FINDINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_the_history_table_is_spec_history():
    rows = re.findall(r"^\| (v[^|]+) \| ([^|]+) \|$", README, re.M)
    assert rows, "no history table in the README"
    stated = {}
    for eras, broken in rows:
        names = set() if broken.strip() == "nothing" else {re.sub(r" \(.*\)", "", b).strip() for b in broken.split(",")}
        for era_id in eras.split(","):
            stated[era_id.strip()] = names
    assert stated == {e: {f.invariant for f in FINDINGS if f.era == e} for e in ERAS}


def test_the_space_sizes_are_the_spaces():
    for name, words in (("small", "default; "), ("full", ""), ("visible", "")):
        n = len(exhaustive.space(name))
        assert re.search(rf"{name}` \(({words})?{n:,}", README), f"the README does not say {name} has {n:,} states"


def test_the_eras_table_is_the_eras():
    rows = re.findall(r"^\| (v\d[\w.-]*) \| ([^|]+) \| [^|]+ \|$", README, re.M)
    assert [(e, span.strip()) for e, span in rows] == [(e.id, e.span) for e in ERAS.values()]


def test_the_layers_the_readme_names_exist():
    root = Path(__file__).resolve().parent.parent
    for layer in re.findall(r"^- \*\*`(\w+)/`\*\*", README, re.M):
        assert (root / layer).is_dir(), layer


def test_the_power_figures_count_the_broken_mutants():
    from wpdiff.impl.mutants import BEHAVIOUR_ONLY, MUTANTS

    broken = len(MUTANTS) - len(BEHAVIOUR_ONLY)
    figures = re.findall(r"(\d+)/(\d+)", README[README.index("python -m bench.power"):])
    assert len(figures) >= 3 and all(int(total) == broken for _, total in figures[:3]), (figures[:3], broken)
