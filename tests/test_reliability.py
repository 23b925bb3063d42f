"""Issue 14: what a new user, a root CI container and a jq pipeline met.

Each test here failed on main before the fix it names: -o onto what is not
a regular file (item 1), replay's exit code after a fix (3b), Ctrl-C
(4), a crash (5), a broken pipe (6), the fields "kernel saw" shows (7),
compare's labels (8), the format of -o (9), --version, --era by release and
TAP (12).  Words as hex strings (2) and strict replay (3) are in
test_reports.py.
"""

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List

import pytest

from wpdiff.diff import cli, output
from wpdiff.diff.check import faithfulness_divergence
from wpdiff.diff.cli import main
from wpdiff.diff.render import divergence_text, tap
from wpdiff.diff.report import Compared, Divergence, EngineRun, Report, Verdict
from wpdiff.diff.targets import BadInput, Target, builtin
from wpdiff.impl.concretize import concretize
from wpdiff.impl.layout import FIELD, describe
from wpdiff.spec import ERAS
from wpdiff.spec.history import SOLE_MAPPING

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "tests") + os.pathsep + os.environ.get("PYTHONPATH", ""))
LAST = list(ERAS)[-1]


def wpdiff(*args: str, cwd: Path = ROOT, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wpdiff.diff.cli", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, **kwargs)


# ---------------------------------------------------------------- 1: -o


def check_into(path: str, capsys) -> tuple:
    code = main(["check", "--era", LAST, "-o", path])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.skipif(os.geteuid() != 0, reason="only root could replace /dev/null")
def test_o_onto_dev_null_as_root_leaves_a_character_device(capsys):
    before = os.stat("/dev/null")
    code, out, err = check_into("/dev/null", capsys)
    assert code == 0 and out == ""
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino
    assert err == f"wpdiff: verdict: nothing unexpected; text report written to /dev/null\n"


def test_o_onto_a_fifo_writes_into_it(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: List[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    code, _, _ = check_into(str(fifo), capsys)
    reader.join(30)
    assert code == 0 and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got and got[0].endswith("verdict: nothing unexpected\n")


def test_o_onto_a_symlink_writes_its_target_and_keeps_the_link(tmp_path, capsys):
    target = tmp_path / "report.txt"
    target.write_text("old\n")
    link = tmp_path / "link"
    link.symlink_to(target.name)
    code, _, err = check_into(str(link), capsys)
    assert code == 0 and link.is_symlink() and os.readlink(link) == target.name
    assert target.read_text().endswith("verdict: nothing unexpected\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "report.txt"]  # no temporary file left


def test_o_onto_a_read_only_file_is_refused_before_the_run(tmp_path, capsys):
    ro = tmp_path / "ro.txt"
    ro.write_text("keep\n")
    ro.chmod(0o444)
    start = time.perf_counter()
    code, out, err = check_into(str(ro), capsys)
    assert (code, out) == (2, "") and time.perf_counter() - start < 5
    assert err == f"wpdiff: error: -o {ro}: is read-only (mode 0444); expected a file that may be written\n"
    assert ro.read_text() == "keep\n" and stat.S_IMODE(os.stat(ro).st_mode) == 0o444


def test_o_dash_is_standard_output_and_an_empty_name_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = check_into("-", capsys)
    assert code == 0 and out.endswith("verdict: nothing unexpected\n") and err == ""
    assert not (tmp_path / "-").exists()
    code, out, err = check_into("", capsys)
    assert (code, out) == (2, "") and err == "wpdiff: error: -o '': expected a file name, or - for standard output\n"


def test_a_replaced_file_keeps_its_mode(tmp_path, capsys):
    path = tmp_path / "report.txt"
    path.write_text("old\n")
    path.chmod(0o640)
    assert check_into(str(path), capsys)[0] == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 and path.read_text().startswith("wpdiff check")


# ---------------------------------------------------------------- 3b: replay after a fix


def test_replay_exits_0_once_the_users_fast_path_is_fixed(tmp_path):
    """A report on a user's fast path over v5.9 also holds v5.9's own
    findings; after the fix they still happen, and replay exited 1 (3b)."""
    base = "v5.9"
    (tmp_path / "mycow.py").write_text("from wpdiff.impl.mutants import MUTANTS\n"
                                       "do_wp_page = MUTANTS['v5.9/missing-unlock'].load()\n")
    report = tmp_path / "r.json"
    run = wpdiff("check", "--fastpath", "mycow:do_wp_page", "--base", base, "-o", str(report), cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    data = json.loads(report.read_text())
    assert any(d["target"] == "mycow:do_wp_page" and not d["expected"] for d in data["divergences"])
    assert any(d["target"] == f"model:{base}" and d["expected"] for d in data["divergences"])  # the base's own
    run = wpdiff("replay", str(report), cwd=tmp_path)
    assert run.returncode == 1 and "of them not expected" in run.stdout
    (tmp_path / "mycow.py").write_text("from wpdiff.impl.fastpath import FASTPATHS\n"
                                       f"do_wp_page = FASTPATHS[{base!r}]\n")
    run = wpdiff("replay", str(report), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[reproduced exactly]" in run.stdout and "[no longer happens]" in run.stdout
    assert "history expects every one that does" in run.stdout


# ---------------------------------------------------------------- 4: Ctrl-C


def _group(pgid: int) -> List[int]:
    """The live processes of process group `pgid` (zombies are not: they are dead)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry))
    return found


def _children(pid: int) -> List[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _interrupt(args: List[str], tmp_path: Path, ready) -> None:
    """Start `wpdiff args -o out` in a process group of its own, wait until
    `ready(pid)` says its children run, send the group SIGINT (a terminal's
    Ctrl-C), and check how it ended."""
    out = tmp_path / "out.txt"
    proc = subprocess.Popen([sys.executable, "-m", "wpdiff.diff.cli", *args, "-o", str(out)], env=ENV, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        kids: List[int] = []
        while time.monotonic() < deadline and not kids:
            time.sleep(0.2)
            kids = ready(proc.pid)
        assert kids, "the check started no child process within a minute"
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert stderr == "wpdiff: interrupted; every process it started is stopped, no report written\n"
    assert stdout == "" and not out.exists() and list(tmp_path.iterdir()) == []
    assert _group(proc.pid) == []
    assert not [k for k in kids if Path(f"/proc/{k}").exists()]


def test_ctrl_c_stops_the_exhaustive_engine_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(ENV, "WPDIFF_NO_CACHE", "1")  # the models must run, in their worker processes
    _interrupt(["check", "--space", "full", "--jobs", "2"], tmp_path, _children)


@pytest.mark.slow
def test_ctrl_c_stops_every_crosshair_process(tmp_path):
    def crosshair(pid: int) -> List[int]:
        return [k for k in _children(pid) if b"crosshair" in Path(f"/proc/{k}/cmdline").read_bytes()]

    _interrupt(["check", "--engine", "crosshair", "--era", LAST, "--budget", "60", "--jobs", "2"], tmp_path, crosshair)


# ---------------------------------------------------------------- 5, 6: crashes and pipes


def test_an_internal_error_is_one_line_and_exit_4(monkeypatch, capsys):
    def broken(*args: object) -> int:
        return 1 // 0

    monkeypatch.setattr(cli, "cmd_eras", broken)
    code = main(["eras"])
    out, err = capsys.readouterr()
    assert code == cli.INTERNAL == 4 and out == ""
    assert err.startswith("wpdiff: internal error: ZeroDivisionError: integer division or modulo by zero at "
                          "test_reliability.py:") and "this is a bug in wpdiff, please report it" in err
    assert err.count("\n") == 1
    assert "4  internal error" in cli.EXIT_CODES and "130  interrupted" in cli.EXIT_CODES


@pytest.mark.parametrize("args", [["eras"], ["explain", "v5.9"], ["explain", "no-missed-cow"]])
def test_a_reader_that_stops_reading_ends_the_run_quietly(args):
    proc = subprocess.Popen([sys.executable, "-m", "wpdiff.diff.cli", *args], env=ENV, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # | head that has read what it wanted
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(30) == 0 and err == ""


# ---------------------------------------------------------------- 7, 8: what a report shows


def test_kernel_saw_shows_the_word_and_every_field_of_it():
    """Two words that differ in any one field -- ``large_mapcount``, the
    folio order, the maybe-mapped-shared bit among them -- read differently
    on the "kernel saw" line; the word itself is on it."""
    word = concretize(LAST, SOLE_MAPPING)
    target = builtin(LAST)
    plain = faithfulness_divergence(target, SOLE_MAPPING, word, target.fast(word), 1, "exhaustive")
    line = next(x for x in divergence_text(plain).splitlines() if "kernel saw:" in x)
    assert f"word {word:#x}:" in line
    for name in ("large_mapcount", "order", "mm_shared"):
        assert f"{name} " in line
    for name, f in FIELD.items():
        other = word ^ (1 << f.shift)
        d = Divergence(**{**plain.__dict__, "word": other, "kernel_saw": describe(LAST, other)})
        assert next(x for x in divergence_text(d).splitlines() if "kernel saw:" in x) != line, name


def test_compare_names_the_eras_and_says_what_differs_in_each_class():
    run = wpdiff("compare", "v5.9", "v5.18")
    assert run.returncode == 0
    heads = [x for x in run.stdout.splitlines() if x.startswith("v5.9: ")]
    assert heads and all(h.startswith("v5.9: differs from v5.18: ") for h in heads)
    assert "  spec:" not in run.stdout and "  v5.9:" in run.stdout and "  v5.18:" in run.stdout
    assert "-- expected" not in run.stdout and "v5.9 decides copy, v5.18 reuse" in run.stdout


def test_a_users_behaviour_change_is_called_one():
    word = concretize("v6.15", SOLE_MAPPING)
    target = Target("mypkg.cow:do_wp_page", "v6.15", lambda w: (w, 1), False)
    d = faithfulness_divergence(target, SOLE_MAPPING, word, (word, 1), 1, "exhaustive")
    head = divergence_text(d).splitlines()[0]
    assert head.startswith("v6.15: behaviour change from v6.15 in mypkg.cow:do_wp_page -- a change")
    assert "faithfulness" not in head and "expected" not in head


# ---------------------------------------------------------------- 9, 12: formats, versions, eras by release


def test_o_infers_the_format_from_the_suffix_and_the_console_says_how_it_ended(tmp_path):
    sarif = tmp_path / "out.sarif"
    run = wpdiff("check", "--era", LAST, "-o", str(sarif))
    assert run.returncode == 0 and json.loads(sarif.read_text())["version"] == "2.1.0"
    assert run.stderr == f"wpdiff: verdict: nothing unexpected; sarif report written to {sarif}\n"
    assert output.infer_format("r.tap", None) == "tap" and output.infer_format("r.log", None) == "text"
    with pytest.raises(BadInput, match="the suffix .json says json, but --format says junit"):
        output.infer_format("r.json", "junit")


def test_version():
    run = wpdiff("--version")
    assert run.returncode == 0 and run.stdout.startswith("wpdiff 0.")


@pytest.mark.parametrize("release", ["6.1", "v5.10"])
def test_an_era_by_a_release_it_spans(release):
    from wpdiff.spec import eras

    if not hasattr(eras, "for_kernel"):
        pytest.skip("eras with version spans (issue 10, section 1) have not landed")
    want = eras.era(release).id
    assert eras.era(release).contains(eras.KernelVersion.parse(release.lstrip("v"))) if hasattr(
        eras, "KernelVersion") else True
    run = wpdiff("check", "--era", release, "--format", "json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["eras"] == [want]


def test_tap_is_kselftest_shaped_with_xfail_and_skip():
    from tests.test_reports import model_finding
    from wpdiff.spec.history import PIPE_BEFORE_FORK

    report = Report("check", ["v5.7"], runs=[EngineRun("exhaustive", Verdict.DIVERGENCE, 10, 1.0),
                                             EngineRun("crosshair:builtin:v5.7", Verdict.BUDGET, 0, 9.0)],
                    divergences=[model_finding("v5.7", "no-missed-cow", PIPE_BEFORE_FORK)])
    lines = tap(report, ["v5.7:flush-before-copy (exhaustive)"]).splitlines()
    assert lines[0] == "TAP version 13" and lines[1].startswith("1..")
    points = [x for x in lines if x.startswith(("ok ", "not ok "))]
    assert len(points) == int(lines[1][3:])
    assert any(p.startswith("ok ") and "v5.7 no-missed-cow # XFAIL" in p for p in points)
    assert any(p.startswith("ok ") and "crosshair: v5.7 faithfulness # SKIP" in p for p in points)
    assert any(p.startswith("not ok ") and "v5.7 flush-before-copy" in p for p in points)
    assert all(x.startswith(("TAP", "1..", "ok ", "not ok ", "#")) for x in lines)
