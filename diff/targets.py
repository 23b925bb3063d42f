"""What a check runs against: the built-in fast paths, or a user's own.

A kernel developer mirrors a change as a Python function over the packed
word -- ``do_wp_page(word) -> (word after, trace word)``, written like the
ones in ``wpdiff.impl.fastpath`` -- and names it ``module:function``.  It is
checked against a base era: where it decides differently from that era's
model, and which guarantees it keeps.
"""

import importlib
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Callable, Tuple

from wpdiff.impl.concretize import concretize
from wpdiff.impl.fastpath import FASTPATHS
from wpdiff.impl.layout import WORD_BITS
from wpdiff.spec import era as spec_era
from wpdiff.spec.history import SOLE_MAPPING

from .ids import Builtin

FastPath = Callable[[int], Tuple[int, int]]


class BadInput(ValueError):
    """Input the tool cannot work with (exit code 2): an unknown era, a fast
    path that cannot be imported, raises, or returns no result, a corrupt
    report file.  The message says which input and what was expected."""


@dataclass(frozen=True)
class Target:
    name: str  # its id (wpdiff.diff.ids): "builtin:v5.9", "mypkg.mod:do_wp_page", "kernel:SOURCE"
    era: str  # the era whose model it is compared with
    fast: FastPath
    builtin: bool


def builtin(era_id: str) -> Target:
    """The built-in fast path of the era `era_id` names (an id, an alias or a
    release it spans: "v6.10", "6.1" are read as the CLI reads them)."""
    era_id = spec_era(era_id).id
    return Target(str(Builtin(era_id)), era_id, FASTPATHS[era_id], True)


def load(spec: str, base: str, option: str = "--") -> Target:
    """Import `spec` ("package.module:function") as a fast path checked against
    era `base`.  A BadInput names the two inputs as the caller spells them:
    `option` + "fastpath" and `option` + "base" ("--wpdiff-" for the pytest
    plugin, "" where they are not options)."""
    fastpath, base_option = f"{option}fastpath", f"{option}base"
    try:
        base = spec_era(base).id  # an alias or a release ("6.1") is the era whose span holds it, as --base reads it
    except ValueError as e:
        raise BadInput(f"{base_option}: {e}") from None
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise BadInput(f"{fastpath} {spec!r}: expected 'package.module:function'")
    if os.getcwd() not in sys.path:  # as `python -m` would: a module beside the user is found
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as e:
        raise BadInput(f"{fastpath} {spec!r}: cannot import {module_name}: {type(e).__name__}: {e}") from None
    fast = getattr(module, attr, None)
    if not callable(fast):
        raise BadInput(f"{fastpath} {spec!r}: {module_name} has no function {attr!r}")
    target = Target(spec, base, fast, False)
    probe(target)
    return target


def call(target: Target, word: int, what: str = "") -> Tuple[int, int]:
    """`target`'s fast path on `word`, checked to be a result; BadInput,
    naming the word (and `what` it stands for), if it raises or returns
    anything but two words."""
    try:
        result = target.fast(word)
    except Exception as e:
        raise BadInput(
            f"fast path {target.name} raised {type(e).__name__}: {e} on the word {word:#x}{what}"
            f"{where_raised(e)}; a fast path must return (word after, trace word)"
        ) from None
    check_result(target, word, result, what)
    return result


def where_raised(e: BaseException) -> str:
    """" (at FILE:LINE)", the line of the fast path's own code that raised `e`
    (the innermost frame outside wpdiff's engines), relative to the current
    directory when it is inside it."""
    frames = traceback.extract_tb(e.__traceback__)[1:]  # [0] is call() itself
    if not frames:
        return ""
    frame = frames[-1]
    path = frame.filename
    try:
        path = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path
    except ValueError:
        pass
    return f" (at {path}:{frame.lineno})"


def check_result(target: Target, word: int, result: object, what: str = "") -> None:
    if not (
        isinstance(result, tuple)
        and len(result) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 1 << WORD_BITS for x in result)
    ):
        raise BadInput(
            f"fast path {target.name} returned {result!r} for the word {word:#x}{what}; "
            f"expected (word after, trace word): two ints in 0 .. 2**{WORD_BITS} - 1"
        )


def probe(target: Target) -> None:
    """Call the fast path once on a plain state; refuse it if it raises or
    does not return two words."""
    call(target, concretize(target.era, SOLE_MAPPING), f" (one anonymous page mapped once, era {target.era})")
