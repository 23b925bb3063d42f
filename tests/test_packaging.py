"""A wheel-installed wpdiff works (issue 10, section 5): the wheel is built
from the committed tree, installed with ``--no-deps`` into a fresh venv
whose only other path is the project venv's site-packages (the
dependencies, not wpdiff: a plain path there is not a site directory, so
the editable install's finder is not loaded), and ``wpdiff check`` runs
from it, outside the repository.  The wheel holds every package and data
file the tree has: a subpackage forgotten by the packaging imports in the
editable install and would be missing here."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("spec", "impl", "oracle", "diff", "litmus")
DATA = (".md", ".litmus", ".c", ".h", ".json")


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    archive = run("git", "archive", "--format=tar", "-o", str(tmp / "src.tar"), "HEAD", cwd=ROOT)
    if archive.returncode != 0:
        pytest.skip(f"not a git checkout: {archive.stderr.strip()}")
    run("tar", "-xf", str(tmp / "src.tar"), "-C", str(src))
    built = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(src))
    if built.returncode != 0:
        pytest.skip(f"pip cannot build the wheel here (it needs setuptools>=68 from an index): {built.stderr[-500:]}")
    (whl,) = (tmp / "dist").glob("wpdiff-*.whl")
    return whl


def _committed() -> list:
    return run("git", "ls-files", *LAYERS, cwd=ROOT).stdout.split()


@pytest.mark.slow
def test_the_wheel_holds_every_package_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = [f"wpdiff/{p}" for p in _committed() if p.endswith((".py",) + DATA)
              and not Path(p).parts[-2:-1] == ("tests",)]
    missing = [p for p in wanted if p not in names]
    assert not missing, f"{len(missing)} committed file(s) missing from the wheel: {missing[:10]}"


@pytest.mark.slow
def test_wpdiff_check_runs_from_a_wheel_in_a_fresh_venv(wheel, tmp_path):
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", str(venv)).returncode == 0
    python = venv / "bin" / "python"
    site = run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    Path(site, "wpdiff_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run(sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    "--no-index", str(wheel))
    assert installed.returncode == 0, installed.stderr
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = run(str(python), "-c", "import wpdiff.diff.cli as c; print(c.__file__)", cwd=away, env=env)
    assert where.stdout.startswith(site), (where.stdout, where.stderr)  # the wheel's, not the checkout's
    check = run(str(venv / "bin" / "wpdiff"), "check", "--era", "v6.15", cwd=away, env=env)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    assert check.stdout.endswith("verdict: nothing unexpected\n")
    explain = run(str(venv / "bin" / "wpdiff"), "--version", cwd=away, env=env)
    assert explain.stdout.startswith("wpdiff ")
