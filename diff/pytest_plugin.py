"""The pytest plugin: wpdiff checks as tests.

Installed with wpdiff (entry point ``pytest11``).  Two ways in:

- the ``wpdiff_check`` fixture, in your own test::

      def test_my_fast_path(wpdiff_check):
          wpdiff_check("mypkg.cow:do_wp_page", base="v6.15")

  fails, with the divergences as text, when the fast path breaks a
  guarantee its base era keeps (differences from the base are reported
  but are what a change is for);

- ``pytest --wpdiff-fastpath=mypkg.cow:do_wp_page --wpdiff-base=v6.15``
  adds that check as a test item of the session,
  ``pytest --wpdiff-eras`` one item per era checking the built-in fast
  paths and the history, and ``pytest --wpdiff-kernel=SOURCE`` one item
  checking a kernel tree's own do_wp_page(), compiled
  (``wpdiff.diff.kernel.check_tree``; ``--wpdiff-kernel-era`` holds it to
  another era than its Makefile's, ``--wpdiff-kernel-base`` judges a
  patched tree by its base era's guarantees only).

Options (all ``--wpdiff-...``): ``--wpdiff-engine`` (exhaustive,
hypothesis, crosshair, stateful -- every engine of the registry,
``wpdiff.diff.engines`` -- or all), ``--wpdiff-space``, ``--wpdiff-profile``,
``--wpdiff-budget``, ``--wpdiff-jobs``.

Input a check cannot work with -- an unknown era, a fast path that cannot be
imported, or that raises or returns no result when first called -- is a
usage error for the options (exit 4) and fails the test for the fixture,
with the reason in one line.  A fast path that raises or returns garbage on
a later state fails its test in one line too, naming the word and the
user's file:line that raised.
"""

import os
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence

import pytest

from .engines import Engine, Settings, selected
from .options import ENGINES, PROFILES, SPACES, jobs, seconds

if TYPE_CHECKING:
    from .report import Report
    from .targets import Target


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wpdiff", "wpdiff: check do_wp_page() fast paths against the spec")
    group.addoption("--wpdiff-fastpath", metavar="MODULE:FUNCTION", help="check this fast path as a test item")
    group.addoption("--wpdiff-base", metavar="ERA", help="the era the fast path changes")
    group.addoption("--wpdiff-eras", action="store_true", help="add one test item per era (built-in fast paths, history)")
    group.addoption("--wpdiff-kernel", metavar="SOURCE",
                    help="check this kernel tree's own do_wp_page() as a test item (a tree, a tarball, a memory.c)")
    group.addoption("--wpdiff-kernel-era", metavar="ERA",
                    help="the era to hold the tree to (default: the one its Makefile's release is in)")
    group.addoption("--wpdiff-kernel-base", metavar="ERA",
                    help="the era a patched tree changes: only its guarantees are held")
    group.addoption("--wpdiff-engine", choices=ENGINES + ("all",), default="exhaustive", help="engine (default: exhaustive)")
    group.addoption("--wpdiff-space", choices=SPACES, default="small", help="exhaustive space (default: small)")
    group.addoption("--wpdiff-profile", choices=PROFILES, default="dev", help="Hypothesis profile (default: dev)")
    group.addoption("--wpdiff-budget", type=seconds, default=None,
                    help="CrossHair seconds per proof, a quarter of it per era's soundness search (default: 120)")
    group.addoption("--wpdiff-jobs", type=jobs, default=os.cpu_count() or 1,
                    help="worker processes, or CrossHair processes at a time (default: all cores)")


class WpdiffFailure(Exception):
    pass


def _run(config: pytest.Config, targets: Sequence["Target"]) -> str:
    """Check `targets` against their eras' models (the built-in fast paths
    against the history too); return the text report, raise WpdiffFailure
    with it if anything is unexpected."""
    from .render import text
    from .report import Report
    from .targets import BadInput

    eras = [t.era for t in targets]
    builtins = all(t.builtin for t in targets)
    engines = selected(config.getoption("wpdiff_engine"))
    report = Report(command="pytest check " + " ".join(eras if builtins else [t.name for t in targets]), eras=eras)
    missing: List[str] = []
    try:
        _engines(config, report, engines, eras, targets, builtins, missing)
    except BadInput as e:  # a fast path that raises, or returns garbage, on a state after the probe: one line
        raise WpdiffFailure(f"wpdiff: {e}") from None
    rendered = text(report, missing)
    if report.failed() or missing or report.unproved():
        raise WpdiffFailure(rendered)
    return rendered


def _engines(config: pytest.Config, report: "Report", engines: Sequence[Engine], eras: List[str],
             targets: Sequence["Target"], builtins: bool, missing: List[str]) -> None:
    """Run each engine the registry (``wpdiff.diff.engines``) gives, with the session's options."""
    from .check import missing_history

    settings = Settings(space=config.getoption("wpdiff_space"), profile=config.getoption("wpdiff_profile"),
                        budget=config.getoption("wpdiff_budget"), jobs=config.getoption("wpdiff_jobs"))
    ran = [e for e in engines if e.faults or builtins]  # a world search takes no user's fast path
    if not ran:
        raise WpdiffFailure(f"wpdiff: --wpdiff-engine={engines[0].name} takes no fast path: it searches the world, "
                            "whose faults the era's model decides (wpdiff litmus --fastpath runs programs on the "
                            "fast paths)")
    for engine in ran:
        engine.run(report, eras, targets, settings, None)
        if builtins:
            missing += missing_history(report, engine.name, eras, settings=settings)


@pytest.fixture
def wpdiff_check(request: pytest.FixtureRequest) -> Callable[..., str]:
    """``wpdiff_check(fastpath, base=ERA)`` or ``wpdiff_check(eras=[...])``:
    run a check with the session's --wpdiff-* options; fail on anything
    unexpected or on input it cannot check, return the text report otherwise."""

    def check(fastpath: Optional[str] = None, base: Optional[str] = None, eras: Optional[List[str]] = None) -> str:
        from wpdiff.spec import ERAS, UnknownEra

        from .targets import BadInput, builtin, load

        # The failures are pytest.fail()'s, raised from None: the message
        # says it all, once (not again as the exception being handled).
        try:
            if fastpath:
                if not base:
                    raise BadInput("a fast path needs base=ERA: the era it changes")
                targets = [load(fastpath, base, option="")]
            else:
                # each era once, in release order, however it is named: an era asked for twice (or by its id
                # and a release it spans) would be run twice and every one of its findings reported twice
                wanted = {builtin(e).era for e in eras or ERAS}
                targets = [builtin(e) for e in ERAS if e in wanted]
        except (BadInput, UnknownEra) as e:
            raise pytest.fail.Exception(f"wpdiff_check: {e}", pytrace=False) from None
        try:
            return _run(request.config, targets)
        except WpdiffFailure as e:
            raise pytest.fail.Exception(str(e), pytrace=False) from None

    return check


class _Item(pytest.Item):
    """A wpdiff check collected as a test: a failure is its own message (the report), not a traceback."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo, style: object = None) -> str:
        if isinstance(excinfo.value, WpdiffFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):  # type: ignore[no-untyped-def]
        return self.path, None, f"wpdiff: {self.name}"


class WpdiffItem(_Item):
    def __init__(self, *, targets: Sequence["Target"], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.targets = targets

    def runtest(self) -> None:
        _run(self.config, self.targets)


KERNEL_ENGINES = ("exhaustive", "hypothesis")  # what check_tree() runs; "all" is both


class KernelItem(_Item):
    """A kernel tree's own do_wp_page() against its era's model: fails on
    an unexpected divergence with one line, then the text report; on a tree
    it cannot use (not a tree, no compiler, a release no era covers) with
    that one line alone."""

    def __init__(self, *, source: str, era: Optional[str], base: Optional[str], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.source, self.era, self.base = source, era, base

    def runtest(self) -> None:
        from .kernel import check_tree
        from .render import text
        from .targets import BadInput

        engine = self.config.getoption("wpdiff_engine")
        try:
            report, tree = check_tree(
                self.source, self.era, self.base, KERNEL_ENGINES if engine == "all" else (engine,),
                self.config.getoption("wpdiff_space"), self.config.getoption("wpdiff_jobs"),
                self.config.getoption("wpdiff_profile"), command=f"pytest kernel {self.source}", place=False)
        except BadInput as e:
            raise WpdiffFailure(f"wpdiff: {e}") from None
        unexpected = report.unexpected()
        if unexpected:
            raise WpdiffFailure(f"wpdiff: {tree.name}, held to {tree.era}"
                                + (" (--wpdiff-kernel-base: its guarantees only)" if tree.base else "")
                                + f": {len(unexpected)} unexpected divergence(s)\n" + text(report, []))


def _kernel_item(session: pytest.Session, config: pytest.Config) -> Optional[KernelItem]:
    source = config.getoption("wpdiff_kernel")
    era, base = config.getoption("wpdiff_kernel_era"), config.getoption("wpdiff_kernel_base")
    if not source:
        if era or base:
            raise pytest.UsageError(f"--wpdiff-kernel-{'era' if era else 'base'} is for --wpdiff-kernel")
        return None
    if era and base:
        raise pytest.UsageError("--wpdiff-kernel-era and --wpdiff-kernel-base: give one (--wpdiff-kernel-base "
                                "holds a changed tree to an era's guarantees)")
    if not os.path.exists(source):
        raise pytest.UsageError(f"--wpdiff-kernel {source}: no such file or directory; expected a kernel tree, "
                                "a source tarball or a memory.c")
    engine = config.getoption("wpdiff_engine")
    if engine not in KERNEL_ENGINES + ("all",):
        raise pytest.UsageError(f"--wpdiff-kernel with --wpdiff-engine={engine}: a kernel tree is checked by "
                                f"{' or '.join(KERNEL_ENGINES)} (or all: both)")
    from .kernel import resolve_era
    from .targets import BadInput

    try:
        for value, option in ((era, "--wpdiff-kernel-era"), (base, "--wpdiff-kernel-base")):
            if value:
                resolve_era(value, option)
    except BadInput as e:
        raise pytest.UsageError(str(e)) from None
    return KernelItem.from_parent(session, name=f"kernel[{source}]", source=source, era=era, base=base)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: List[pytest.Item]) -> None:
    fastpath = config.getoption("wpdiff_fastpath")
    base = config.getoption("wpdiff_base")
    if fastpath:
        from .targets import BadInput, load

        if not base:
            raise pytest.UsageError("--wpdiff-fastpath needs --wpdiff-base ERA: the era your fast path changes")
        try:
            target = load(fastpath, base, option="--wpdiff-")
        except BadInput as e:
            raise pytest.UsageError(str(e)) from None
        items.append(WpdiffItem.from_parent(session, name=f"check[{fastpath}]", targets=[target]))
    elif base:
        raise pytest.UsageError("--wpdiff-base is for --wpdiff-fastpath")
    kernel = _kernel_item(session, config)
    if kernel is not None:
        items.append(kernel)
    if config.getoption("wpdiff_eras"):
        from wpdiff.spec import ERAS

        from .targets import builtin

        for era in ERAS:
            items.append(WpdiffItem.from_parent(session, name=f"check[{era}]", targets=[builtin(era)]))
