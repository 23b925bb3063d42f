"""The pytest plugin (wpdiff.diff.pytest_plugin), run in pytester sessions.

The plugin is loaded through its ``pytest11`` entry point, in these sessions
as in a user's.  They run in process (``runpytest``): the exhaustive
engine over the small space, one worker.
"""

import numba
import pytest

from wpdiff.diff import exhaustive, hypo, options

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True, scope="module")
def numba_loaded_before_the_runs():
    """An in-process run forgets, when it ends, the modules first imported
    inside it.  Numba imports some of its own on its first compile and
    registers types as they load, so one forgotten and imported again breaks
    every later compile ("duplicate registration"), in whatever test comes
    next.  One compile here loads them for the whole session."""
    assert numba.njit(lambda x: x + 1)(1) == 2

FAST = ["--wpdiff-engine=exhaustive", "--wpdiff-space=small", "--wpdiff-jobs=1"]

# Fast paths as a user writes them: v6.15's own, under another name, and the
# "small optimisation" of tests/userpaths that reuses a large folio when its
# mapcount is below its refcount.
USER_FASTPATHS = {
    "samecow": "from wpdiff.impl.fastpath.v6_15 import do_wp_page\n",
    "badcow": (
        "from wpdiff.impl.mutants import MUTANTS\n"
        "do_wp_page = MUTANTS['v6.15/mapcount-below-refcount'].load()\n"
        "def raises(word):\n"
        "    raise KeyError('no such field')\n"
    ),
    # a fast path the probe (one page mapped once) cannot catch: it raises on a page mapped twice
    "latecow": (
        "from wpdiff.impl.fastpath.v6_15 import do_wp_page as base\n"
        "from wpdiff.impl.layout import FIELD\n"
        "def do_wp_page(word):\n"
        "    if (word >> FIELD['mapcount'].shift) & FIELD['mapcount'].mask == 1:\n"
        "        raise KeyError('no such field')\n"
        "    return base(word)\n"
    ),
}


@pytest.fixture
def user(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(**USER_FASTPATHS)
    pytester.syspathinsert()
    return pytester


def test_choices_are_the_engines_own():
    assert options.SPACES == exhaustive.SPACES
    assert options.PROFILES == tuple(hypo.PROFILES)


def test_a_faithful_copy_of_the_base_passes(user):
    result = user.runpytest("-v", "--wpdiff-fastpath=samecow:do_wp_page", "--wpdiff-base=v6.15", *FAST)
    result.stdout.fnmatch_lines(["*check?samecow:do_wp_page? PASSED*"])
    result.assert_outcomes(passed=1)


def test_a_fast_path_that_breaks_a_guarantee_fails_naming_it(user):
    result = user.runpytest("--wpdiff-fastpath=badcow:do_wp_page", "--wpdiff-base=v6.15", *FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "v6.15: exclusive-consistent (security) -- UNEXPECTED, * state(s), exhaustive",
        "v6.15: no-missed-cow (security) -- UNEXPECTED, * state(s), exhaustive",
        "verdict: 2 unexpected divergence(s)",
    ])
    assert "Traceback" not in result.stdout.str()


def test_the_fixture_in_a_users_own_tests(user):
    user.makepyfile(test_mine="""
        def test_same(wpdiff_check):
            assert wpdiff_check("samecow:do_wp_page", base="v6.15").endswith("verdict: nothing unexpected\\n")

        def test_bad(wpdiff_check):
            wpdiff_check("badcow:do_wp_page", base="v6.15")

        def test_unimportable(wpdiff_check):
            wpdiff_check("nosuchmodule:f", base="v6.15")

        def test_unknown_era(wpdiff_check):
            wpdiff_check(eras=["v9"])
    """)
    result = user.runpytest(*FAST)
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines([
        "*_ test_bad _*",
        "v6.15: no-missed-cow (security) -- UNEXPECTED, * state(s), exhaustive",
        "*_ test_unimportable _*",
        "wpdiff_check: fastpath 'nosuchmodule:f': cannot import nosuchmodule: ModuleNotFoundError*",
        "*_ test_unknown_era _*",
        "wpdiff_check: unknown era 'v9'; expected *v5.7, *",
    ])
    output = result.stdout.str()
    # The report is printed once per failure.  pytest's short summary repeats
    # the whole message when it runs under CI (the CI variable is set there),
    # so only the failures section is counted.
    failures = output.split("short test summary info")[0]
    assert failures.count("v6.15: no-missed-cow (security)") == 1
    assert "Traceback" not in output and "During handling" not in output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--wpdiff-fastpath=samecow:do_wp_page", "--wpdiff-base=v9"], "ERROR: --wpdiff-base: unknown era 'v9'; expected *v5.7*"),
        (["--wpdiff-fastpath=nosuchmodule:f", "--wpdiff-base=v6.15"],
         "ERROR: --wpdiff-fastpath 'nosuchmodule:f': cannot import nosuchmodule: ModuleNotFoundError*"),
        (["--wpdiff-fastpath=badcow:raises", "--wpdiff-base=v6.15"], "ERROR: fast path badcow:raises raised KeyError*"),
        (["--wpdiff-fastpath=samecow:do_wp_page"], "ERROR: --wpdiff-fastpath needs --wpdiff-base ERA*"),
        (["--wpdiff-base=v6.15"], "ERROR: --wpdiff-base is for --wpdiff-fastpath"),
        (["--wpdiff-space=huge"], "*--wpdiff-space: invalid choice: 'huge' (choose from *small*, *full*, *visible*)"),
        (["--wpdiff-profile=fast"], "*--wpdiff-profile: invalid choice: 'fast' (choose from *dev*, *ci*, *thorough*, *crosshair*)"),
        (["--wpdiff-engine=magic"], "*--wpdiff-engine: invalid choice: 'magic'*"),
        (["--wpdiff-jobs=0"], "*--wpdiff-jobs: expected a number of worker processes >= 1, got 0"),
        (["--wpdiff-budget=nan"], "*--wpdiff-budget: expected a number of seconds > 0, got nan"),
    ],
    ids=["unknown-base", "unimportable", "raises", "no-base", "base-alone", "space", "profile", "engine", "jobs",
         "budget"],
)
def test_bad_input_is_a_usage_error_without_a_traceback(user, args, message):
    result = user.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_a_fast_path_that_raises_on_a_later_state_fails_in_one_line(user):
    """Not the probe's state but a later one: a ~900-line pluggy traceback
    before (issue 14, item 6); now one line with the word and the user's
    file:line, as a session item and in the fixture."""
    for args in (["--wpdiff-fastpath=latecow:do_wp_page", "--wpdiff-base=v6.15"], ["test_late.py"]):
        if args == ["test_late.py"]:
            user.makepyfile(test_late="""
                def test_late(wpdiff_check):
                    wpdiff_check("latecow:do_wp_page", base="v6.15")
            """)
        result = user.runpytest(*args, *FAST)
        result.assert_outcomes(failed=1)
        failures = result.stdout.str().split("short test summary info")[0].split("= FAILURES =")[-1]
        result.stdout.fnmatch_lines(["*fast path latecow:do_wp_page raised KeyError: 'no such field' on the word 0x* "
                                     "(at latecow.py:5); a fast path must return (word after, trace word)"])
        assert "Traceback" not in failures and "pluggy" not in failures
        assert len([line for line in failures.splitlines() if "latecow" in line]) <= 2, failures


# ---- --wpdiff-kernel: a kernel tree's own do_wp_page() as a test item ------------------------------

import os  # noqa: E402
import shutil  # noqa: E402

MIRRORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel_mirrors")
DEBIAN_61 = "/usr/src/linux-source-6.1.tar.xz"


def test_a_kernel_mirror_that_agrees_with_its_era_passes(pytester):
    result = pytester.runpytest("-v", f"--wpdiff-kernel={os.path.join(MIRRORS, 'v5.9')}", *FAST)
    result.stdout.fnmatch_lines(["*kernel?*v5.9? PASSED*"])
    result.assert_outcomes(passed=1)


def test_a_patched_kernel_tree_fails_in_one_line_then_the_report(pytester, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(MIRRORS, "v5.18"), tree)
    memory = tree / "mm" / "memory.c"
    old = "if (PageKsm(page) || page_count(page) != 1) {"
    text = memory.read_text()
    line = text[: text.index(old)].count("\n") + 1
    memory.write_text(text.replace(old, "if (PageKsm(page) || page_mapcount(page) != 1) {"))
    result = pytester.runpytest(f"--wpdiff-kernel={tree}", *FAST)
    result.assert_outcomes(failed=1)
    failures = result.stdout.str().split("short test summary info")[0].split("= FAILURES =")[-1]
    body = [x for x in failures.splitlines() if x.strip() and not x.startswith(("_", "="))]
    assert body[0].startswith(f"wpdiff: kernel:{tree}, held to v5.18: ") and "unexpected divergence(s)" in body[0]
    result.stdout.fnmatch_lines([
        "v5.18: faithfulness -- UNEXPECTED, * state(s), exhaustive",
        f"*memory.c:{line} (page_mapcount()*",
        "  kernel C:*",
        "verdict: * unexpected divergence(s)",
    ])
    assert "Traceback" not in failures


def test_a_kernel_tree_checked_with_base_is_judged_by_the_guarantees(pytester, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(MIRRORS, "v5.18"), tree)
    memory = tree / "mm" / "memory.c"
    # a change that copies even when the page is ours alone: its differences from v5.18 are what a change
    # is for, but it gives up reusing an exclusive page, a guarantee v5.18 keeps
    memory.write_text(memory.read_text().replace("if (PageKsm(page) || page_count(page) != 1) {",
                                                 "if (1) {", 1))
    result = pytester.runpytest(f"--wpdiff-kernel={tree}", "--wpdiff-kernel-base=v5.18", *FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        f"wpdiff: kernel:{tree}, held to v5.18 (--wpdiff-kernel-base: its guarantees only): "
        "1 unexpected divergence(s)",
        "v5.18: reuse-when-exclusive (performance) -- UNEXPECTED, * state(s), exhaustive",
        f"v5.18: behaviour change from v5.18 in kernel:{tree} -- a change, judged by the guarantees, *",
    ])


@pytest.mark.parametrize("args, message", [
    (["--wpdiff-kernel=/no/such/tree"], "ERROR: --wpdiff-kernel /no/such/tree: no such file or directory*"),
    ([f"--wpdiff-kernel={MIRRORS}/v5.9", "--wpdiff-kernel-era=v5.9", "--wpdiff-kernel-base=v5.9"],
     "ERROR: --wpdiff-kernel-era and --wpdiff-kernel-base: give one*"),
    (["--wpdiff-kernel-era=v5.9"], "ERROR: --wpdiff-kernel-era is for --wpdiff-kernel"),
    ([f"--wpdiff-kernel={MIRRORS}/v5.9", "--wpdiff-kernel-era=v9"], "ERROR: --wpdiff-kernel-era: *v9*"),
    ([f"--wpdiff-kernel={MIRRORS}/v5.9", "--wpdiff-engine=crosshair"],
     "ERROR: --wpdiff-kernel with --wpdiff-engine=crosshair: a kernel tree is checked by exhaustive or hypothesis*"),
], ids=["missing", "era-and-base", "era-alone", "unknown-era", "crosshair"])
def test_kernel_bad_options_are_usage_errors(pytester, args, message):
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_a_directory_that_is_no_kernel_tree_fails_in_one_line(pytester, tmp_path):
    (tmp_path / "empty").mkdir()
    result = pytester.runpytest(f"--wpdiff-kernel={tmp_path / 'empty'}", *FAST)
    result.assert_outcomes(failed=1)
    failures = result.stdout.str().split("short test summary info")[0].split("= FAILURES =")[-1]
    body = [x for x in failures.splitlines() if x.strip() and not x.startswith(("_", "="))]
    assert len(body) == 1 and body[0].startswith("wpdiff: "), failures


@pytest.mark.ktree
def test_debian_61_as_a_test_item(pytester):
    if not os.path.exists(DEBIAN_61):
        pytest.skip(f"{DEBIAN_61} is not installed (apt-get install linux-source-6.1)")
    result = pytester.runpytest("-v", f"--wpdiff-kernel={DEBIAN_61}", *FAST)
    result.stdout.fnmatch_lines(["*kernel?*linux-source-6.1.tar.xz? PASSED*"])
    result.assert_outcomes(passed=1)


def test_a_world_engine_takes_no_fast_path_and_says_so_in_one_line(user):
    result = user.runpytest("--wpdiff-fastpath=samecow:do_wp_page", "--wpdiff-base=v6.15",
                            "--wpdiff-engine=stateful")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["wpdiff: --wpdiff-engine=stateful takes no fast path: it searches the world*"])
    assert "Traceback" not in result.stdout.str()
