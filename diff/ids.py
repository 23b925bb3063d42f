"""Typed identifiers: what a report names, built and read in one place.

A report names things by strings that other modules used to take apart
again: a divergence's target (``"model:v5.9"``, ``"builtin:v5.9"``,
``"kernel:/src/linux-6.1"``, a user's ``"mypkg.cow:do_wp_page"``), an
engine run (``"exhaustive"``, ``"crosshair:builtin:v5.9"``,
``"crosshair:soundness:v5.9"``, ``"crosshair:wp_page_copy:v5.10"``,
``"stateful:v5.9"``) and a history finding an engine did not reproduce
(``"v5.9:no-missed-cow (exhaustive)"``, printed by ``wpdiff check`` and
read back by every format).  Each is a small frozen record here, with
``str()`` giving exactly the string the JSON has always held (the report
schema does not change) and a ``parse`` that reads it back, so that no
module builds one with an f-string and another splits it with
``partition(":")`` or a regex.

>>> target_id("builtin:v5.9")
Builtin(era='v5.9')
>>> str(run_id("crosshair:soundness:mypkg.cow:do_wp_page"))
'crosshair:soundness:mypkg.cow:do_wp_page'
>>> Missing.parse("v5.9:no-missed-cow (exhaustive)")
Missing(era='v5.9', invariant='no-missed-cow', engine='exhaustive')
"""

import re
from dataclasses import dataclass
from typing import Optional, Union


class IdError(ValueError):
    """A string that is not the identifier it should be; the message says what was expected."""


# ---- targets: what a divergence compares with its era's model ---------------------------------------


@dataclass(frozen=True)
class Model:
    """An era's reference model (spec/eras/): the target of its soundness findings."""

    era: str

    def __str__(self) -> str:
        return f"model:{self.era}"


@dataclass(frozen=True)
class Builtin:
    """An era's own fast path (impl/fastpath/)."""

    era: str

    def __str__(self) -> str:
        return f"builtin:{self.era}"


@dataclass(frozen=True)
class Kernel:
    """A kernel tree's do_wp_page(), compiled (``wpdiff kernel SOURCE``): a
    tree, a tarball (its members as ``TARBALL:MEMBER``) or a lone memory.c."""

    source: str

    def __str__(self) -> str:
        return f"kernel:{self.source}"


@dataclass(frozen=True)
class Mutant:
    """A planted bug of ``impl/mutants.py`` run as a fast path ("mutant:v6.15/mapcount-below-refcount"):
    the tests and benchmarks measure the engines' power with them."""

    id: str

    def __str__(self) -> str:
        return f"mutant:{self.id}"


@dataclass(frozen=True)
class UserPath:
    """A user's fast path, ``package.module:function``."""

    module: str
    function: str

    def __str__(self) -> str:
        return f"{self.module}:{self.function}"


TargetId = Union[Model, Builtin, Kernel, Mutant, UserPath]
_DOTTED = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")  # a module's name, or a function's qualified name


def target_id(text: str) -> TargetId:
    """The target a string names; IdError unless it is one."""
    kind, sep, rest = text.partition(":") if isinstance(text, str) else ("", "", "")
    if sep and rest:
        if kind == "model":
            return Model(rest)
        if kind == "builtin":
            return Builtin(rest)
        if kind == "kernel":
            return Kernel(rest)
        if kind == "mutant":
            return Mutant(rest)
        if _DOTTED.fullmatch(kind) and _DOTTED.fullmatch(rest):
            return UserPath(kind, rest)
    raise IdError(f"target {text!r}: expected 'model:ERA', 'builtin:ERA', 'kernel:SOURCE', 'mutant:ID' or a "
                  "fast path's 'package.module:function'")


# ---- engine runs: EngineRun.engine ----------------------------------------------------------------------

CROSSHAIR = "crosshair"
SEARCH = "soundness"
LEMMA = "wp_page_copy"


@dataclass(frozen=True)
class Whole:
    """An engine's one run over every era and target checked: "exhaustive", "hypothesis"."""

    engine: str

    def __str__(self) -> str:
        return self.engine


@dataclass(frozen=True)
class Proof:
    """A CrossHair proof that a fast path is faithful to its era's model:
    "crosshair:builtin:v5.9", "crosshair:mypkg.cow:do_wp_page"."""

    target: TargetId
    engine: str = CROSSHAIR

    def __str__(self) -> str:
        return f"{self.engine}:{self.target}"


@dataclass(frozen=True)
class Search:
    """A CrossHair soundness search of an era's model ("crosshair:soundness:v5.9")
    or of a user's fast path on its base era ("crosshair:soundness:mypkg.cow:do_wp_page").
    It always ends on its budget when it finds nothing: that is no proof left unfinished."""

    subject: Union[str, UserPath, Mutant]  # an era id, or the fast path searched on its base era's states
    engine: str = CROSSHAIR

    def __str__(self) -> str:
        return f"{self.engine}:{SEARCH}:{self.subject}"

    @property
    def era(self) -> Optional[str]:
        return self.subject if isinstance(self.subject, str) else None


@dataclass(frozen=True)
class Lemma:
    """The copy lemma, proved once per page-flag numbering: "crosshair:wp_page_copy:NUMBERING"."""

    numbering: str
    engine: str = CROSSHAIR

    def __str__(self) -> str:
        return f"{self.engine}:{LEMMA}:{self.numbering}"


@dataclass(frozen=True)
class PerEra:
    """One era's run of an engine that runs era by era: "stateful:v5.9"."""

    engine: str
    era: str

    def __str__(self) -> str:
        return f"{self.engine}:{self.era}"


RunId = Union[Whole, Proof, Search, Lemma, PerEra]
_ENGINE = re.compile(r"[a-z][a-z0-9_-]*")


def run_id(text: str) -> RunId:
    """The run an ``EngineRun.engine`` names; IdError unless it is one."""
    engine, sep, scope = text.partition(":") if isinstance(text, str) else ("", "", "")
    if not _ENGINE.fullmatch(engine or "-"):
        raise IdError(f"run {text!r}: expected an engine's name, then ':' and what the run checked")
    if not sep:
        return Whole(engine)
    if not scope:
        raise IdError(f"run {text!r}: expected what the run checked after {engine + ':'!r}")
    if engine == CROSSHAIR:
        kind, sep, rest = scope.partition(":")
        if kind == SEARCH and sep and rest:
            subject = target_id(scope[len(SEARCH) + 1:]) if ":" in rest else rest
            if isinstance(subject, (Model, Builtin, Kernel)):
                raise IdError(f"run {text!r}: a search is of an era, a mutant or a user's "
                              "'package.module:function'")
            return Search(subject)
        if kind == LEMMA and sep and rest:
            return Lemma(rest)
        return Proof(target_id(scope))
    return PerEra(engine, scope)


def engine_of(text: str) -> str:
    """The engine of a run ("crosshair:builtin:v5.9" -> "crosshair") or of a divergence ("crosshair")."""
    return run_id(text).engine


# ---- history not reproduced -----------------------------------------------------------------------------

_MISSING = re.compile(r"(?P<era>[^:\s]+):(?P<invariant>\S+)(?: \((?P<engine>[^()]+)\))?")


@dataclass(frozen=True)
class Missing:
    """A finding history records (spec/history.py, or the catalogue for the
    stateful engine) that a check did not reproduce: "ERA:INVARIANT (ENGINE)",
    or "ERA:INVARIANT" where the engine is not said (the pytest plugin's)."""

    era: str
    invariant: str
    engine: Optional[str] = None

    def __str__(self) -> str:
        return f"{self.era}:{self.invariant}" + (f" ({self.engine})" if self.engine else "")

    @classmethod
    def parse(cls, text: str) -> "Missing":
        m = _MISSING.fullmatch(text) if isinstance(text, str) else None
        if m is None:
            raise IdError(f"history finding {text!r}: expected 'ERA:INVARIANT' or 'ERA:INVARIANT (ENGINE)'")
        return cls(m["era"], m["invariant"], m["engine"])

    def by(self, engine: str) -> "Missing":
        return Missing(self.era, self.invariant, engine)


def missing(entry: Union[str, Missing]) -> Missing:
    """A history finding not reproduced, as a record (a string is parsed)."""
    return entry if isinstance(entry, Missing) else Missing.parse(entry)
