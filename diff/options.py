"""The options ``wpdiff check`` and the pytest plugin share: the names they
accept and how a number is checked, in one place so that both faces refuse
the same input with the same words.

Nothing here imports an engine, so parsing pytest's options stays cheap:
the engines' names come from their registry (``wpdiff.diff.engines``, which
imports no engine until one runs); tests/test_plugin.py checks the other
names against the engines' own (``wpdiff.diff.exhaustive.SPACES``,
``wpdiff.diff.hypo.PROFILES``).

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

from .engines import names

ENGINES = names()
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


# A budget's wall-clock bound, twice it and a minute, is waited for by
# poll(), which takes milliseconds in a C int: about 24 days at most.
MAX_SECONDS = 7 * 24 * 3600


def seconds(text: str) -> float:
    """A time budget in seconds: a finite number > 0, at most a week.

    >>> seconds("1e9")
    Traceback (most recent call last):
      ...
    argparse.ArgumentTypeError: expected a number of seconds > 0 and at most 604800 (a week), got 1e9
    """
    try:
        s = float(text)
    except ValueError:
        s = math.nan
    if not (s > 0 and math.isfinite(s)):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text}")
    if s > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0 and at most {MAX_SECONDS} (a week), "
                                         f"got {text}")
    return s
