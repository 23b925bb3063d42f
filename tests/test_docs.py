"""The prose cannot drift from the code: every example in the docs runs."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import wpdiff.diff
import wpdiff.impl
import wpdiff.spec

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(
    m.name
    for package in (wpdiff.spec, wpdiff.impl, wpdiff.diff)
    for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    if m.name != "wpdiff.diff.pytest_plugin"  # loaded by pytest itself
)


@pytest.mark.parametrize("path", ["spec/explanation.md"])
def test_document(path):
    result = doctest.testfile(str(ROOT / path), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 20
    assert result.failed == 0


@pytest.mark.parametrize("name", ["wpdiff.spec"] + MODULES)
def test_module_docstrings(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_every_era_tells_its_story_with_commits():
    from wpdiff.spec import ERAS

    for era in ERAS.values():
        assert len(era.story) > 400, era.id
        # an era whose mainline ids are not known yet says so, and names its patches
        assert era.commits or "mainline commit ids are not\npinned" in era.story, f"{era.id} cites no commit"
        for commit in era.commits:
            assert commit in era.story, (era.id, commit)
