"""What one run of a COW litmus program did, and what every run of it did.

The spec's explorer (``wpdiff.diff.litmus``) and the live runner
(``wpdiff.oracle.live``) produce the same records, so that the two can be
compared field by field:

- an :class:`Execution` is one run: the final register values, every write
  fault that reached ``do_wp_page()`` with its decision (reused / copied /
  other), and the flags a run can raise (``freed-page-touched``);
- an :class:`Exploration` is one program on one era: the distinct
  executions with how many interleavings reached each, and the verdict
  (``Never`` / ``Sometimes`` / ``Always``) of the program's ``exists``
  condition.

Every class is a frozen dataclass that serializes with dataclasses-json
(no ``from __future__ import annotations`` here: it breaks ``.schema()``).
"""

from dataclasses import dataclass, field
from enum import Enum
from typing import Dict, Optional, Tuple

from dataclasses_json import DataClassJsonMixin

from ..state import STRICT_JSON


class FaultResult(str, Enum):
    """What a write fault on a read-only PTE did to the page, as a program
    (or /proc/self/pagemap on the live kernel) can tell."""

    REUSED = "reused"  # the same page frame is now mapped writable
    COPIED = "copied"  # a new page frame replaced the old one
    OTHER = "other"  # retried, went to userspace, or nothing to do


@dataclass(frozen=True)
class FaultRecord(DataClassJsonMixin):
    """One write (or unshare) fault that reached do_wp_page()."""

    dataclass_json_config = STRICT_JSON

    process: str  # "P0" -- the process (mm) whose PTE faulted
    address: str  # "a", or "a[2]" for page 2 of a large folio
    step: int  # index of the program step that faulted (0-based)
    result: FaultResult
    unshare: bool = False  # FAULT_FLAG_UNSHARE (a R/O pin made the page exclusive)
    events: Tuple[str, ...] = ()  # the kernel events of the fault, in order (empty from the live kernel)


class Verdict(str, Enum):
    NEVER = "Never"
    SOMETIMES = "Sometimes"
    ALWAYS = "Always"


@dataclass(frozen=True)
class Execution(DataClassJsonMixin):
    """One run of a program to its end."""

    dataclass_json_config = STRICT_JSON

    registers: Tuple[Tuple[str, int], ...] = ()  # ("P1:r0", 2), sorted
    faults: Tuple[FaultRecord, ...] = ()  # in the order they happened
    freed_page_touched: bool = False  # the handler touched a page after it was freed
    broken: Tuple[str, ...] = ()  # ids of data-level guarantees broken on the way (GUARANTEES)

    def register(self, name: str) -> Optional[int]:
        return dict(self.registers).get(name)

    def last_fault(self, process: str, address: str) -> Optional[FaultRecord]:
        for f in reversed(self.faults):
            if f.process == process and f.address == address:
                return f
        return None

    def key(self) -> Tuple:
        """What tells two executions apart in herd-style output (the kernel
        events of a fault are shown with --witness but do not split states)."""
        return (self.registers, tuple((f.process, f.address, f.step, f.result, f.unshare) for f in self.faults),
                self.freed_page_touched, self.broken)


@dataclass(frozen=True)
class Outcomes(DataClassJsonMixin):
    """One distinct execution and how many interleavings reached it."""

    dataclass_json_config = STRICT_JSON

    execution: Execution
    count: int
    positive: bool  # the exists condition holds on it
    witness: Tuple[str, ...] = ()  # one interleaving that reaches it, step by step


@dataclass(frozen=True)
class Exploration(DataClassJsonMixin):
    """A program on one era: every distinct execution, and the verdict."""

    dataclass_json_config = STRICT_JSON

    program: str  # the program's name (the COW header)
    era: str
    outcomes: Tuple[Outcomes, ...]
    verdict: Verdict
    interleavings: int  # complete runs counted (explored or taken from a state seen before)
    states: int  # distinct scheduling states explored
    source: str = "model"  # "model", "fastpath" or "live"
    expected: Optional[Verdict] = None  # what the file's Result: says for this era
    notes: Tuple[str, ...] = field(default_factory=tuple)

    @property
    def positive(self) -> int:
        return sum(o.count for o in self.outcomes if o.positive)

    @property
    def negative(self) -> int:
        return sum(o.count for o in self.outcomes if not o.positive)

    @property
    def as_stated(self) -> Optional[bool]:
        return None if self.expected is None else self.expected is self.verdict


def verdict_of(positive: int, negative: int) -> Verdict:
    if positive == 0:
        return Verdict.NEVER
    return Verdict.ALWAYS if negative == 0 else Verdict.SOMETIMES


RESULT_COUNTS = Dict[str, int]
