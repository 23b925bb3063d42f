"""The options ``wpdiff check`` and the pytest plugin share: the names they
accept and how a number is checked, in one place so that both faces refuse
the same input with the same words.

Nothing here imports an engine, so parsing pytest's options stays cheap;
tests/test_plugin.py checks the names against the engines' own
(``wpdiff.diff.exhaustive.SPACES``, ``wpdiff.diff.hypo.PROFILES``).

The checks are ``argparse`` types: a bad value is a usage error (exit code 2
from the command line, 4 from pytest) naming the option.

>>> jobs("2")
2
>>> seconds("0")
Traceback (most recent call last):
  ...
argparse.ArgumentTypeError: expected a number of seconds > 0, got 0
"""

import argparse
import math

ENGINES = ("exhaustive", "hypothesis", "crosshair")
SPACES = ("small", "full", "visible")
PROFILES = ("dev", "ci", "thorough", "crosshair")


def jobs(text: str) -> int:
    """A number of worker processes: an integer >= 1."""
    try:
        n = int(text)
    except ValueError:
        n = None
    if n is None or n < 1:
        raise argparse.ArgumentTypeError(f"expected a number of worker processes >= 1, got {text}")
    return n


def seconds(text: str) -> float:
    """A time budget in seconds: a finite number > 0."""
    try:
        s = float(text)
    except ValueError:
        s = math.nan
    if not (s > 0 and math.isfinite(s)):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text}")
    return s
