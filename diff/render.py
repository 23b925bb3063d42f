"""Reports as text (for people), JSON (for tools), SARIF 2.1.0 (for code
scanning), JUnit XML (for CI dashboards) and TAP 13 (for kselftest-style
harnesses): ``render(report, fmt, missing)``.

Each format is a module of its own -- ``diff/text.py``, ``diff/sarif.py``,
``diff/junit.py``, ``diff/tap.py``, with the test cases JUnit and TAP share
in ``diff/cases.py``; writing the file is ``diff/output.py``'s, and the
names a report holds are read through ``diff/ids.py``.  Their public names
stay importable from here."""

from .cases import _Case, _case, _covers, _run_text, _suites  # noqa: F401
from .ids import engine_of as _engine  # noqa: F401
from .junit import junit
from .report import Report
from .sarif import (  # noqa: F401
    BUDGET_NOTIFICATION, HISTORY_RULE, LITMUS_RULE, _era_file, _location, _user_file, sarif,
)
from .tap import tap
from .text import (  # noqa: F401
    Missed, _aligned, _holders, _seen, _what, divergence_text, finding_text, not_reproduced as _not_reproduced,
    result_text, text, verdict_line,
)

FORMATS = ("text", "json", "sarif", "junit", "tap")


def render(report: Report, fmt: str, missing: Missed) -> str:
    if fmt == "text":
        return text(report, missing)
    if fmt == "json":
        return report.to_json(indent=2) + "\n"
    if fmt == "sarif":
        return sarif(report, missing) + "\n"
    if fmt == "junit":
        return junit(report, missing)
    if fmt == "tap":
        return tap(report, missing)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
