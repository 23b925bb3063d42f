"""Reports as text (for people), JSON (for tools), SARIF 2.1.0 (for code
scanning), JUnit XML (for CI dashboards) and TAP 13 (for kselftest-style
harnesses): ``render(report, fmt, missing)``.

Each format is a module of its own -- ``diff/text.py``, ``diff/sarif.py``,
``diff/junit.py``, ``diff/tap.py``, with the test cases JUnit and TAP share
in ``diff/cases.py``; writing the file is ``diff/output.py``'s, and the
names a report holds are read through ``diff/ids.py``.  The renderers and
the text report's blocks the CLI prints stay importable from here."""

from .junit import junit
from .report import Report
from .sarif import sarif
from .tap import tap
from .text import Missed, divergence_text, text, verdict_line  # noqa: F401 -- divergence_text, verdict_line: the CLI's

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
