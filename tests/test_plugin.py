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
