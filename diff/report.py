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

Schema version 3 adds ``findings``: what a search over the multi-process
world found (a :class:`WorldFinding`, engine "stateful"): a program that
breaks a data-level guarantee on one era, shrunk and printed as a litmus
file, expected or not by the catalogue's Results.  A version-2 report is
read as one with no findings.

The strings a report holds to name things -- a divergence's ``target``, a
run's ``engine`` -- are built and read through the typed identifiers of
``wpdiff.diff.ids`` (``Divergence.target_id``, ``EngineRun.id``).
"""

from dataclasses import dataclass, field
from enum import Enum
from typing import Dict, List, Optional, Sequence

from dataclasses_json import DataClassJsonMixin

from wpdiff.spec.outcome import Outcome
from wpdiff.spec.state import FaultState

from . import ids
from .schema import word_field

SCHEMA_VERSION = 3  # 1: words were JSON integers; 2: no world findings
READS = (2, 3)  # the versions replay reads (a version-2 report has no findings)


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

    @property
    def target_id(self) -> ids.TargetId:
        return ids.target_id(self.target)


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

    @property
    def id(self) -> ids.RunId:
        return ids.run_id(self.engine)

    @property
    def informational(self) -> bool:
        """A CrossHair proof that a change (a user's fast path, a mutant, a
        kernel tree -- not a built-in fast path, not a copy lemma) equals its
        base era's model: a change is allowed to differ, so neither its
        divergence nor its budget hit fails the check; its guarantees are
        judged by the soundness searches."""
        run = self.id
        return isinstance(run, ids.Proof) and not isinstance(run.target, ids.Builtin)


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


@dataclass(frozen=True)
class WorldFinding(DataClassJsonMixin):
    """What a search over the multi-process world found (engine "stateful",
    ``wpdiff.diff.stateful``): a program that breaks a data-level guarantee
    (``wpdiff.spec.world.guarantees``) on one era, shrunk and printed as a
    litmus file with a Result: for every era it runs on -- ``wpdiff litmus``
    replays it.  Expected if the catalogue's Results record that era breaking
    that guarantee (``history``: those files)."""

    era: str
    guarantee: str
    severity: str
    expected: bool
    engine: str
    litmus: str  # the program, as a litmus file
    observed: Observation  # how often its exists clause holds on `era`
    steps: int
    seconds: float  # until the search first broke it
    seed: Optional[int]
    explanation: str  # what the world said when the guarantee broke
    history: List[str] = field(default_factory=list)
    fixed_by: str = ""
    cow_c: str = ""

    @property
    def key(self) -> str:
        return f"{self.era}:{self.engine}:{self.guarantee}"

    @property
    def name(self) -> str:
        """The litmus program's name (its ``COW`` line)."""
        first = self.litmus.splitlines()[0] if self.litmus else ""
        return first.split(None, 1)[1] if first.startswith("COW ") and " " in first else f"{self.engine}-{self.era}"

    @classmethod
    def of(cls, f: object) -> "WorldFinding":
        """From a ``stateful.StatefulFinding`` (read by its fields, so that this
        module imports nothing of the world's search)."""
        return cls(f.era, f.guarantee, f.severity, f.expected, f.engine, f.litmus,  # type: ignore[attr-defined]
                   Observation(f.verdict.lower()), f.steps, f.seconds, f.seed,  # type: ignore[attr-defined]
                   f.explanation, list(f.history), f.fixed_by, f.cow_c)  # type: ignore[attr-defined]


def litmus_results(file: str, line: int, test: str, explorations: Sequence[object], engine: str = "litmus"
                   ) -> List[LitmusResult]:
    """The per-era results of one litmus file, from the explorer's (or the
    live runner's) ``Exploration`` of each era: the records a Report holds
    and every format renders.  An era the file states no Result for is left
    out (there is nothing to judge it by)."""
    out = []
    for x in explorations:
        if x.expected is None:  # type: ignore[attr-defined]
            continue
        out.append(LitmusResult(file, line, test, x.era, engine,  # type: ignore[attr-defined]
                                Observation(x.verdict.value.lower()), x.positive,  # type: ignore[attr-defined]
                                x.positive + x.negative, Observation(x.expected.value.lower()),  # type: ignore
                                x.expected is x.verdict))  # type: ignore[attr-defined]
    return out


def litmus_report(command: str, files: Sequence[object], seconds: float = 0.0, engine: str = "litmus") -> "Report":
    """A Report of litmus runs, for the shared renderers: `files` are what
    ``wpdiff litmus`` builds per file (``diff.litmus.herd``'s per-file
    record: ``file``, ``name``, ``exists_line`` and one ``Exploration`` per
    era), each era's verdict becomes a :class:`LitmusResult`, and one run
    says how many interleavings were explored."""
    results = [r for f in files for r in litmus_results(f.file, f.exists_line, f.name,  # type: ignore[attr-defined]
                                                        f.explorations, engine)]  # type: ignore[attr-defined]
    eras = list(dict.fromkeys(x.era for f in files for x in f.explorations))  # type: ignore[attr-defined]
    explored = sum(x.interleavings for f in files for x in f.explorations)  # type: ignore[attr-defined]
    wrong = [r for r in results if not r.matches]
    run = EngineRun(engine, Verdict.DIVERGENCE if wrong else Verdict.CLEAN, explored, round(seconds, 2),
                    f"{len(files)} file(s), {len(results)} era verdict(s) judged against their Result: lines")
    return Report(command=command, eras=eras, runs=[run], results=results)


SEARCH_RUN = f"{ids.CROSSHAIR}:{ids.SEARCH}:"  # a CrossHair soundness search's run name, before its subject


@dataclass
class Report(DataClassJsonMixin):
    command: str
    eras: List[str]
    runs: List[EngineRun] = field(default_factory=list)
    # era -> invariant -> number of admitted states that break it, per engine
    table: Dict[str, Dict[str, Dict[str, int]]] = field(default_factory=dict)
    divergences: List[Divergence] = field(default_factory=list)
    results: List[LitmusResult] = field(default_factory=list)  # what is not one fault: litmus verdicts per era
    findings: List[WorldFinding] = field(default_factory=list)  # what a world search found (engine "stateful")
    schema_version: int = SCHEMA_VERSION

    def unexpected(self) -> List[Divergence]:
        return [d for d in self.divergences if not d.expected]

    def unexpected_findings(self) -> List[WorldFinding]:
        """The world findings the catalogue's history does not record."""
        return [f for f in self.findings if not f.expected]

    def add_finding(self, f: object) -> None:
        """Where ``stateful.run_stateful`` puts what it finds."""
        self.findings.append(f if isinstance(f, WorldFinding) else WorldFinding.of(f))

    def failed(self) -> bool:
        """Anything that makes a check exit 1, but history not reproduced (the caller's to add)."""
        return bool(self.unexpected() or self.not_as_stated() or self.unexpected_findings())

    def not_as_stated(self) -> List[LitmusResult]:
        """The litmus results whose observation is not the file's Result:."""
        return [r for r in self.results if not r.matches]

    def unproved(self) -> List[EngineRun]:
        """The symbolic proofs that hit their budget without a verdict.  A
        soundness search that finds nothing always ends on its budget: its
        run says so, but it is a search, not a proof left unfinished."""
        return [r for r in self.runs
                if r.verdict is Verdict.BUDGET and not isinstance(r.id, ids.Search) and not r.informational]
