"""COW litmus tests: the catalogue on every era, the examples as written, bad input."""

import glob
import os
import subprocess
import sys

import pytest

from wpdiff.diff.litmus.explore import explore
from wpdiff.diff.litmus.faithful import differences
from wpdiff.diff.litmus.syntax import LitmusError, parse
from wpdiff.spec.eras import ERAS
from wpdiff.spec.world.results import Verdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE = sorted(glob.glob(os.path.join(ROOT, "litmus", "*.litmus")))
EXAMPLES = sorted(glob.glob("/work/shared/litmus-examples/*.litmus"))
WPDIFF = os.path.join(os.path.dirname(sys.executable), "wpdiff")


def _program(path):
    with open(path) as fh:
        return parse(fh.read(), path)


def test_catalogue_is_large_enough_and_documented():
    assert len(CATALOGUE) >= 24
    with open(os.path.join(ROOT, "litmus", "README.md")) as fh:
        readme = fh.read()
    for path in CATALOGUE:
        assert f"`{os.path.basename(path)}`" in readme, f"{path} has no paragraph in litmus/README.md"


@pytest.mark.parametrize("path", CATALOGUE, ids=os.path.basename)
def test_catalogue_result_as_stated_on_every_era(path):
    program = _program(path)
    assert dict(program.results), f"{path} states no Result:"
    for era_id in ERAS:
        x = explore(program, era_id)
        assert x.expected is not None, f"{path}: Result: says nothing about {era_id}"
        assert x.verdict is x.expected, f"{path} on {era_id}: observed {x.verdict.value}, stated {x.expected.value}"


@pytest.mark.skipif(not EXAMPLES, reason="/work/shared/litmus-examples is not on this machine")
@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_shared_examples_as_written(path):
    program = _program(path)
    for era_id in ERAS:
        assert explore(program, era_id).as_stated, era_id


def test_seed_race_is_found_only_by_interleaving():
    program = _program(os.path.join(ROOT, "litmus", "seed-unlock-after-ptl.litmus"))
    x = explore(program, "v5.9-rc4")
    assert x.verdict is Verdict.SOMETIMES and x.positive >= 1 and x.negative >= 1
    pos = next(o for o in x.outcomes if o.positive)
    assert any("pte_unmap_unlock" in s for s in pos.witness)  # the race happens after the PTL is dropped


@pytest.mark.parametrize("name", ["vmsplice-child-unmap", "iouring-fork", "swapin-copy", "large-folio-waste",
                                  "ksm-merged-write", "lru-batch-remote-copy"])
def test_fast_paths_give_identical_executions(name):
    program = _program(os.path.join(ROOT, "litmus", f"{name}.litmus"))
    for era_id in ERAS:
        assert differences(program, era_id) == [], era_id


BAD = [
    ("COW x\n{ P0: anon a = 1 }\nP0: frobnicate a\nexists (P0:r0 = 1)\n", "3:5", "unknown operation 'frobnicate'"),
    ("COW x\n{ P0: anon a = 1 }\nP0: write a = 2\nexists (P0:r0 = 1)\n", "4:9", "register P0:r0 is never written"),
    ("COW x\n{ P0: anon a = 1 }\nP0: read pipe0 -> r0\nexists (P0:r0 = 1)\n", "3:1", "never vmspliced"),
    ("COW x\n(* Result: v5.20 Never *)\n{ P0: anon a = 1 }\nP0: read a -> r0\nexists (P0:r0 = 1)\n", "2:12",
     "unknown era 'v5.20'"),
    ("COW x\n(* Result: Never \n{ P0: anon a = 1 }\nP0: read a -> r0\nexists (P0:r0 = 1)\n", "2:1", "never closed"),
    ("COW x\n{ P0: anon a = 1 }\nP1: read a -> r0\nexists (P1:r0 = 1)\n", "3:1", "P1 does not exist"),
    ("COW x\n{ P0: anon a = 1 }\nP0: write b = 2\nexists (P0:copied a)\n", "3:1", "no mapping 'b'"),
    ("COW x\n{ P0: anon a = 1 }\nP0: ksm merge P0:a P0:a\nexists (P0:copied a)\n", "3:1", "run by no process"),
]


@pytest.mark.parametrize("text,where,what", BAD)
def test_bad_input_names_line_and_column(text, where, what):
    with pytest.raises(LitmusError) as e:
        parse(text, "t.litmus")
    assert str(e.value).startswith(f"t.litmus:{where}:"), str(e.value)
    assert what in str(e.value)


def test_cli_exit_codes_and_nothing_half_written(tmp_path):
    bad = tmp_path / "bad.litmus"
    bad.write_text(BAD[0][0])
    out = tmp_path / "out.json"
    r = subprocess.run([WPDIFF, "litmus", str(bad), "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 2 and "bad.litmus:3:5:" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()
    wrong = tmp_path / "wrong.litmus"
    wrong.write_text("COW wrong\n(* Result: Never *)\n{ P0: anon a = 1 }\nP0: fork P1\nP1: vmsplice a -> pipe0\n"
                     "P1: munmap a\nP0: write a = 2\nP1: read pipe0 -> r0\nexists (P1:r0 = 2)\n")
    r = subprocess.run([WPDIFF, "litmus", str(wrong), "--era", "v5.7"], capture_output=True, text=True)
    assert r.returncode == 1 and "Observation wrong Always 1 0" in r.stdout and "NOT AS STATED" in r.stdout
    r = subprocess.run([WPDIFF, "litmus", str(wrong), "--era", "v5.9", "--format", "sarif"], capture_output=True,
                       text=True)
    assert r.returncode == 0


def test_program_that_cannot_run_says_which_step(tmp_path):
    f = tmp_path / "gone.litmus"
    f.write_text("COW gone\n{ P0: anon a = 1 }\nP0: munmap a\nP0: write a = 2\nexists (P0:copied a)\n")
    r = subprocess.run([WPDIFF, "litmus", str(f), "--era", "v6.15"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "gone.litmus:4:1: step 'P0: write a = 2' cannot run in v6.15" in r.stderr and "no mapping at a" in r.stderr


def test_sarif_points_at_the_exists_line(tmp_path):
    path = os.path.join(ROOT, "litmus", "vmsplice-child-unmap.litmus")
    r = subprocess.run([WPDIFF, "litmus", path, "--era", "v5.7", "--format", "sarif"], capture_output=True, text=True)
    import json
    sarif = json.loads(r.stdout)
    (res,) = sarif["runs"][0]["results"]
    assert res["locations"][0]["physicalLocation"]["region"]["startLine"] == _program(path).exists_loc.line
