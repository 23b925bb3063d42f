"""The pytest plugin: wpdiff checks as tests.

Installed with wpdiff (entry point ``pytest11``).  Two ways in:

- the ``wpdiff_check`` fixture, in your own test::

      def test_my_fast_path(wpdiff_check):
          wpdiff_check("mypkg.cow:do_wp_page", base="v6.15")

  fails, with the divergences as text, when the fast path breaks a
  guarantee its base era keeps (differences from the base are reported
  but are what a change is for);

- ``pytest --wpdiff-fastpath=mypkg.cow:do_wp_page --wpdiff-base=v6.15``
  adds that check as a test item of the session, and
  ``pytest --wpdiff-eras`` one item per era checking the built-in fast
  paths and the history.

Options (all ``--wpdiff-...``): ``--wpdiff-engine`` (exhaustive,
hypothesis, crosshair, all), ``--wpdiff-space``, ``--wpdiff-profile``,
``--wpdiff-budget``, ``--wpdiff-jobs``.
"""

import os
from typing import Callable, List, Optional

import pytest

ENGINES = ("exhaustive", "hypothesis", "crosshair", "all")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wpdiff", "wpdiff: check do_wp_page() fast paths against the spec")
    group.addoption("--wpdiff-fastpath", metavar="MODULE:FUNCTION", help="check this fast path as a test item")
    group.addoption("--wpdiff-base", metavar="ERA", help="the era the fast path changes")
    group.addoption("--wpdiff-eras", action="store_true", help="add one test item per era (built-in fast paths, history)")
    group.addoption("--wpdiff-engine", choices=ENGINES, default="exhaustive", help="engine (default: exhaustive)")
    group.addoption("--wpdiff-space", default="small", help="exhaustive space: small, full or visible")
    group.addoption("--wpdiff-profile", default="dev", help="Hypothesis profile: dev, ci, thorough, crosshair")
    group.addoption("--wpdiff-budget", type=float, default=None,
                    help="CrossHair seconds per proof, a quarter of it per era's soundness search (default: 120)")
    group.addoption("--wpdiff-jobs", type=int, default=os.cpu_count() or 1, help="worker processes")


class WpdiffFailure(Exception):
    pass


def _run(config: pytest.Config, eras: List[str], fastpath: Optional[str], base: Optional[str]) -> str:
    """Run the check; return the text report, raise WpdiffFailure with it if
    anything is unexpected."""
    from .check import missing_history, run_exhaustive
    from .render import text
    from .report import Report
    from .targets import builtin, load

    targets = [load(fastpath, base)] if fastpath else [builtin(e) for e in eras]
    engine = config.getoption("wpdiff_engine")
    engines = ("exhaustive", "hypothesis", "crosshair") if engine == "all" else (engine,)
    report = Report(command=f"pytest check {fastpath or ' '.join(eras)}", eras=eras)
    missing: List[str] = []
    for name in engines:
        if name == "exhaustive":
            run_exhaustive(report, eras, targets, config.getoption("wpdiff_space"), config.getoption("wpdiff_jobs"))
        elif name == "hypothesis":
            from .hypo import run_hypothesis

            run_hypothesis(report, eras, targets, config.getoption("wpdiff_profile"))
        else:
            from .symbolic import run_crosshair

            run_crosshair(report, eras, targets, config.getoption("wpdiff_budget"))
        if not fastpath:
            missing += missing_history(report, name, eras)
    rendered = text(report, missing)
    if report.unexpected() or missing or report.unproved():
        raise WpdiffFailure(rendered)
    return rendered


@pytest.fixture
def wpdiff_check(request: pytest.FixtureRequest) -> Callable[..., str]:
    """``wpdiff_check(fastpath, base=ERA)`` or ``wpdiff_check(eras=[...])``:
    run a check with the session's --wpdiff-* options; fail on anything
    unexpected, return the text report otherwise."""

    def check(fastpath: Optional[str] = None, base: Optional[str] = None, eras: Optional[List[str]] = None) -> str:
        from wpdiff.spec import ERAS

        try:
            return _run(request.config, [base] if fastpath else list(eras or ERAS), fastpath, base)
        except WpdiffFailure as e:
            pytest.fail(str(e), pytrace=False)

    return check


class WpdiffItem(pytest.Item):
    def __init__(self, *, eras: List[str], fastpath: Optional[str], base: Optional[str], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.eras, self.fastpath, self.base = eras, fastpath, base

    def runtest(self) -> None:
        _run(self.config, self.eras, self.fastpath, self.base)

    def repr_failure(self, excinfo: pytest.ExceptionInfo, style: object = None) -> str:
        if isinstance(excinfo.value, WpdiffFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):  # type: ignore[no-untyped-def]
        return self.path, None, f"wpdiff: {self.name}"


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: List[pytest.Item]) -> None:
    fastpath = config.getoption("wpdiff_fastpath")
    if fastpath:
        base = config.getoption("wpdiff_base")
        if not base:
            raise pytest.UsageError("--wpdiff-fastpath needs --wpdiff-base ERA")
        items.append(WpdiffItem.from_parent(session, name=f"check[{fastpath}]", eras=[base], fastpath=fastpath, base=base))
    if config.getoption("wpdiff_eras"):
        from wpdiff.spec import ERAS

        for era in ERAS:
            items.append(WpdiffItem.from_parent(session, name=f"check[{era}]", eras=[era], fastpath=None, base=None))
