"""The live kernel oracle: COW litmus programs run as real processes on this
machine's kernel, observed through /proc/self/pagemap, /proc/kpagecount and
/proc/kpageflags, and reported in the records the model's explorer uses
(``wpdiff.spec.world.results``) so that ``wpdiff.diff.live`` can hold the
two side by side.

>>> from wpdiff.oracle.live import run, program   # doctest: +SKIP
>>> run(program.cve_2020_29374()).verdict          # doctest: +SKIP
<Verdict.NEVER: 'Never'>
"""

from . import program
from .helper import BuildError, helper
from .program import LiveProgram, Mapping, Step, Term
from .runner import (
    DEFAULT_CONCURRENT_RUNS,
    DEFAULT_RUNS,
    LiveError,
    LiveExploration,
    LiveFault,
    Skipped,
    kernel_release,
    machine_skip,
    run,
    why_not,
)

__all__ = ["run", "why_not", "machine_skip", "kernel_release", "helper", "program", "LiveProgram", "Mapping",
           "Step", "Term", "LiveExploration", "LiveFault", "Skipped", "LiveError", "BuildError",
           "DEFAULT_RUNS", "DEFAULT_CONCURRENT_RUNS"]
