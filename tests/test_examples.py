"""The worked example of the README's "Your own fast path" (issue 14, item
11), run exactly as the README shows it, in a directory outside the
repository, from the files a clean clone has (``git ls-files examples``)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_lines() -> list:
    """The command lines of the README's worked example."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Your own fast path\n", 1)[1].split("\n### ", 1)[0]
    block = re.search(r"\n\n((?:    .*\n)+)", section)
    assert block, "the README's 'Your own fast path' has no indented command block"
    return [line[4:] for line in block.group(1).splitlines()]


def clean_clone_files() -> list:
    run = subprocess.run(["git", "ls-files", "examples"], cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        pytest.skip(f"not a git checkout: {run.stderr.strip()}")
    return run.stdout.split()


@pytest.mark.slow  # four checks, about 35 s
def test_the_worked_example_runs_as_the_readme_shows(tmp_path):
    lines = readme_lines()
    copy, commands = lines[0], lines[1:]
    match = re.fullmatch(r"cp -r examples (\S+) && cd \1", copy)
    assert match, f"the first line copies the example out of the repository: {copy!r}"
    files = clean_clone_files()
    if not files:
        pytest.skip("examples/ is not committed yet")
    where = tmp_path / "cow-example"  # the README's /tmp/... stands for any directory outside the repository
    for name in files:
        (where / Path(name).relative_to("examples")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, where / Path(name).relative_to("examples"))
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("PYTHONPATH", None)
    assert commands and all(c.split()[0] in ("wpdiff", "python") for c in commands)
    for command in commands:
        line, _, comment = command.partition("#")
        want = int(re.search(r"exit (\d)", comment).group(1)) if "exit" in comment else 0
        run = subprocess.run(line, shell=True, cwd=where, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == want, f"{command}: exit {run.returncode}\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
        if "no-missed-cow" in comment:
            assert "no-missed-cow (security) -- UNEXPECTED" in run.stdout
