"""The CrossHair subprocess, and what its output says.

Each contract runs in a ``crosshair check`` process of its own
(``children.run``: a Ctrl-C kills and reaps it).  Budgets are CrossHair's
per-condition timeouts; a run that takes more than twice its budget and a
minute (``STARTUP``) in wall-clock time is stopped and has no verdict.
Its output gives the verdict: "divergence found" (a condition false, with
its arguments), "all paths exhausted" ("Confirmed over all paths") or
"budget hit, no verdict"; an exception CrossHair reports from a user's
fast path is bad input, from anything else a bug.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Optional, Tuple

from . import children
from .report import Verdict
from .targets import BadInput, Target

# CrossHair keeps to `budget` per condition, not in wall-clock time (it also
# starts up, and shares the cores); a run that takes more than twice its
# budget and a minute is stopped, and has no verdict.
STOPPED = -1
STARTUP = 60.0


def _crosshair(source: str, function: str, budget: float) -> Tuple[str, float, int]:
    """Run `crosshair check` on one generated contract: (output, seconds,
    exit code, STOPPED if it overran its budget)."""
    with tempfile.TemporaryDirectory(prefix="wpdiff-crosshair-") as tmp:
        module = f"wpdiff_contract_{abs(hash(source))}"
        with open(os.path.join(tmp, module + ".py"), "w") as f:
            f.write(source)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([tmp] + sys.path))
        start = time.perf_counter()
        try:
            run = children.run(
                [sys.executable, "-m", "crosshair", "check", "--report_all",
                 f"--per_condition_timeout={budget}", f"--per_path_timeout={budget}", f"{module}.{function}"],
                env=env, cwd=tmp, timeout=2 * budget + STARTUP,
            )
        except subprocess.TimeoutExpired as e:
            seconds = time.perf_counter() - start
            out = "".join(x.decode() if isinstance(x, bytes) else x for x in (e.stdout, e.stderr) if x)
            note = f"wpdiff: stopped after {seconds:.0f} s, over twice the {budget:g} s budget"
            return f"{out}\n{note}".strip(), seconds, STOPPED
        return (run.stdout + run.stderr).strip(), time.perf_counter() - start, run.returncode



_ERROR = re.compile(r":\d+: error: (.*)")
_FALSE = re.compile(r"error: false when calling (\w+)\((.*)\) \(which returns False\)")


def _last(out: str, code: int) -> str:
    return out.splitlines()[-1] if out else f"crosshair exited {code} with no output"


def _verdict(out: str, code: int, what: str, target: Optional[Target] = None) -> Verdict:
    """CrossHair's verdict from its output.  An exception it reports is no
    verdict: bad input if it comes from a user's fast path, else a bug."""
    if _FALSE.search(out):
        return Verdict.DIVERGENCE
    if code == STOPPED:
        return Verdict.BUDGET
    error = _ERROR.search(out)
    if error and target is not None and not target.builtin:
        raise BadInput(f"fast path {target.name} failed under CrossHair ({what}): {error.group(1)}")
    if error:
        raise RuntimeError(f"crosshair failed on {what}: {out[-2000:]}")
    if "Confirmed over all paths" in out:
        return Verdict.EXHAUSTED
    if code not in (0, 1):
        raise RuntimeError(f"crosshair failed on {what}: {out[-2000:]}")
    return Verdict.BUDGET


