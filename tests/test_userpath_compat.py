"""A user's fast path keeps working across a rename: the public names a fast
path may import (README, "Your own fast path") are those of today's fast
paths, and an era's old name still names it."""

import subprocess
import sys
from pathlib import Path

from wpdiff.impl.concretize import concretize
from wpdiff.impl.fastpath import FASTPATHS
from wpdiff.spec.history import LARGE_OWN_FOLIO, SOLE_MAPPING

from .userpaths import written_for_v6_10

ROOT = Path(__file__).resolve().parents[1]


def test_a_fast_path_written_for_v6_10_still_imports_and_decides_as_v6_9():
    assert written_for_v6_10.builtin_v6_10 is FASTPATHS["v6.9"]
    for state in (SOLE_MAPPING, LARGE_OWN_FOLIO):
        word = concretize("v6.10", state)
        assert word == concretize("v6.9", state)
        assert written_for_v6_10.do_wp_page(word) == FASTPATHS["v6.9"](word)


def test_wpdiff_check_takes_it_with_the_old_base_name():
    run = subprocess.run(
        [sys.executable, "-m", "wpdiff.diff.cli", "check", "--fastpath",
         "tests.userpaths.written_for_v6_10:do_wp_page", "--base", "v6.10"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "v6.10 is an alias of v6.9" in run.stdout + run.stderr
