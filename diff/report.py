"""Divergences and reports: what was found, serialized, replayable.

A :class:`Divergence` is one finding, self-contained: the era, what was
compared, the abstract state, what the kernel saw (the unpacked word), both
sides' results, the explanation, the fixing commit, the ``cow.c`` case that
would catch it, and the engine and seed that found it.  A :class:`Report`
is a run: the engines' verdicts, the era x invariant table, the divergences.
Both serialize with dataclasses-json; ``wpdiff replay FILE`` reruns a saved
divergence.  The JSON schema is ``Report.schema()`` (marshmallow), and
the README's "Reports" section says what the fields hold.

Schema version 2 writes every packed word as a hex string (``"0x1f"``): a
JSON integer above 2**53 -- most words -- is rounded by jq 1.6 and
JavaScript, and a rounded word replayed as a different state.  It also
holds ``results``: what is not one fault (a :class:`LitmusResult`, a
litmus test's verdict on one era), each a typed record of its own rather
than a Divergence stretched to fit; every format renders them.  Replay reads
a report strictly, from these dataclasses' fields (``wpdiff.diff.schema``).
"""

from dataclasses import dataclass, field
from enum import Enum
from typing import Dict, List, Optional

from dataclasses_json import DataClassJsonMixin

from wpdiff.spec.outcome import Outcome
from wpdiff.spec.state import FaultState

from .schema import word_field

SCHEMA_VERSION = 2  # 1: words were JSON integers


class Compared(str, Enum):
    FAITHFULNESS = "faithfulness"  # a fast path against its era's reference model
    SOUNDNESS = "soundness"  # an era's model (or a fast path) against an invariant
    ERAS = "era-vs-era"  # two eras deciding differently


class Verdict(str, Enum):
    DIVERGENCE = "divergence found"
    EXHAUSTED = "all paths exhausted"  # CrossHair explored every path: nothing else to find
    BUDGET = "budget hit, no verdict"  # CrossHair ran out of budget first
    CLEAN = "no divergence"  # exhaustive: every state of the bounds; Hypothesis: every example run


@dataclass(frozen=True)
class FastResult(DataClassJsonMixin):
    """A fast path's result, decoded."""

    after: int = word_field()  # the word after
    trace: int = word_field()  # the trace word
    decision: str
    events: List[str]
    after_fields: Dict[str, object]  # layout.describe() of the word after


@dataclass(frozen=True)
class Divergence(DataClassJsonMixin):
    era: str
    compared: Compared
    state: Optional[FaultState]  # None: a word no well-formed state has (found by CrossHair on all words)
    word: int = word_field()  # what the kernel saw, packed ...
    kernel_saw: Dict[str, object]  # ... and unpacked
    explanation: str
    engine: str  # "exhaustive", "hypothesis" (every profile) or "crosshair": the engine part of its run's name
    target: str  # the fast path checked ("builtin:v5.9", "mypkg.mod:do_wp_page") or the era's model ("model:v5.9")
    invariant: Optional[str] = None
    severity: Optional[str] = None
    expected: bool = False  # history says so (spec/history.py)
    spec: Optional[Outcome] = None  # the reference model's outcome
    fast_path: Optional[FastResult] = None
    other_era: Optional[str] = None  # era-vs-era: the era it is compared with ...
    other: Optional[Outcome] = None  # ... and that era's outcome
    fixed_by: str = ""
    cow_c: str = ""
    seed: Optional[int] = None
    count: int = 1  # states of the same class the engine saw

    @property
    def key(self) -> str:
        return f"{self.era}:{self.compared.value}:{self.invariant or self.other_era or self.target}"


@dataclass(frozen=True)
class EngineRun(DataClassJsonMixin):
    # the engine, and for CrossHair what the run checked: "exhaustive", "hypothesis"; "crosshair:builtin:v5.9"
    # or "crosshair:mypkg.mod:do_wp_page" (a proof), "crosshair:soundness:v5.9" (a search),
    # "crosshair:wp_page_copy:..." (a copy lemma)
    engine: str
    verdict: Verdict
    checked: int  # states (exhaustive, Hypothesis) or paths (CrossHair's searches; its proofs do not count: 0)
    seconds: float
    note: str = ""


class Observation(str, Enum):
    """How often a litmus test's outcome is reached: herd's Never / Sometimes / Always."""

    NEVER = "never"
    SOMETIMES = "sometimes"
    ALWAYS = "always"


@dataclass(frozen=True)
class LitmusResult(DataClassJsonMixin):
    """A result that is not one fault: a COW litmus test's verdict on one
    era -- every interleaving of its program explored (engine "litmus"), or
    its runs on the live kernel ("live") -- against the ``Result:`` the file
    states.  A report holds them in ``results``, beside the divergences."""

    file: str
    line: int  # the line of its `exists` clause
    test: str
    era: str
    engine: str
    observed: Observation
    hits: int  # executions that reach the outcome ...
    executions: int  # ... of all those explored (or run)
    stated: Observation  # what the file's Result: says
    matches: bool

    @property
    def key(self) -> str:
        return f"{self.era}:litmus:{self.test}"


SEARCH_RUN = "crosshair:soundness:"  # the engine name of a CrossHair soundness search's run, before the era


@dataclass
class Report(DataClassJsonMixin):
    command: str
    eras: List[str]
    runs: List[EngineRun] = field(default_factory=list)
    # era -> invariant -> number of admitted states that break it, per engine
    table: Dict[str, Dict[str, Dict[str, int]]] = field(default_factory=dict)
    divergences: List[Divergence] = field(default_factory=list)
    results: List[LitmusResult] = field(default_factory=list)  # what is not one fault: litmus verdicts per era
    schema_version: int = SCHEMA_VERSION

    def unexpected(self) -> List[Divergence]:
        return [d for d in self.divergences if not d.expected]

    def not_as_stated(self) -> List[LitmusResult]:
        """The litmus results whose observation is not the file's Result:."""
        return [r for r in self.results if not r.matches]

    def unproved(self) -> List[EngineRun]:
        """The symbolic proofs that hit their budget without a verdict.  A
        soundness search that finds nothing always ends on its budget: its
        run says so, but it is a search, not a proof left unfinished."""
        return [r for r in self.runs if r.verdict is Verdict.BUDGET and not r.engine.startswith(SEARCH_RUN)]
