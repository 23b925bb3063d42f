"""The kernel engine: a tree's own ``do_wp_page()``, compiled, against the spec.

``wpdiff kernel SOURCE`` (``cmd_kernel.py``) and the pytest plugin's
``--wpdiff-kernel`` call :func:`check_tree`.  The tree is read and compiled
by ``wpdiff.oracle.ktree``; the library is then a target like a fast path:

- **faithfulness**: on every state of the exhaustive space that the era
  admits, the compiled C must return what the era's model returns -- the
  same decision, the same events in order, the same word after -- one C
  call for the whole space.  A disagreement is a divergence carrying the
  user's ``memory.c:LINE`` of the branch that decided (the last query the
  code made before the call that decided) and of that call.
- **soundness**: the C's results are judged through the outcome
  abstraction (``impl.abstract``) against every invariant the era keeps, as
  ``--fastpath`` is; with ``--base`` the tree is a change to that era, its
  differences from the model are expected, and only the guarantees count.
- **assertions**: a ``VM_BUG_ON`` / ``WARN_ON`` of the user's code that
  fires on an admitted state is a divergence naming its line.
- **placement**: which era the tree decides like best (the fewest states,
  among those each era admits, where the decisions differ).

The era is the one whose span holds the Makefile's release
(``spec.eras.for_kernel``), unless ``--era`` says otherwise.
"""

import re
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import numpy as np

from wpdiff.impl.concretize import concretize
from wpdiff.impl.layout import PAGE_FLAGS, decode_trace, describe
from wpdiff.oracle.ktree import build as kbuild
from wpdiff.oracle.ktree.errors import KtreeError
from wpdiff.oracle.ktree.source import KernelSource, open_source
from wpdiff.spec import ERAS, UnknownEra
from wpdiff.spec import eras as spec_eras
from wpdiff.spec.space import size

from . import exhaustive
from .check import fast_result, soundness_divergence
from .report import Compared, Divergence, EngineRun, Report, Verdict
from .targets import BadInput, Target

if TYPE_CHECKING:
    from .regression import Comparison

ENGINE = "exhaustive"


@dataclass
class Tree:
    """A kernel source compiled for the eras it is compared with."""

    source: KernelSource
    era: str  # the era it is held to (its version's, --era or --base)
    base: bool  # --base: a change to `era`, judged by its guarantees
    libraries: Dict[str, kbuild.Library]  # flag numbering -> compiled library
    seconds: float  # extraction and build

    @property
    def name(self) -> str:
        return f"kernel:{self.source.origin}"

    def library(self, era_id: str) -> kbuild.Library:
        pg = PAGE_FLAGS[era_id]
        if pg.name not in self.libraries:
            try:
                self.libraries[pg.name] = kbuild.load(self.source, pg)
            except KtreeError as e:
                raise BadInput(str(e)) from None
        return self.libraries[pg.name]

    @property
    def unit(self) -> kbuild.Unit:
        return self.library(self.era).unit

    def target(self) -> Target:
        lib = self.library(self.era)
        return Target(self.name, self.era, lib, False)


def resolve_era(text: str, option: str) -> str:
    try:
        return spec_eras.era(text).id
    except (UnknownEra, ValueError) as e:
        raise BadInput(f"{option}: {e}") from None


def open_tree(path: str, era: Optional[str] = None, base: Optional[str] = None) -> Tree:
    """Read, extract and build the tree at `path`; BadInput for what cannot be used."""
    if era and base:
        raise BadInput("--era and --base: give one (--base holds a changed tree to an era's guarantees)")
    start = time.perf_counter()
    try:
        source = open_source(path)
    except KtreeError as e:
        raise BadInput(str(e)) from None
    if era or base:
        era_id = resolve_era(era or base, "--era" if era else "--base")
    elif source.release is None:
        raise BadInput(f"{path}: a lone memory.c has no Makefile to give its version; expected --era ERA")
    else:
        try:
            era_id = spec_eras.for_kernel(source.release).id
        except (UnknownEra, ValueError) as e:
            raise BadInput(f"{source.path('Makefile')}: release {source.release}: {e}; "
                           "expected a release an era covers, or --era ERA") from None
    tree = Tree(source, era_id, bool(base), {}, 0.0)
    tree.library(era_id)
    tree.seconds = time.perf_counter() - start
    return tree


def _where(tree: Tree, info: Tuple[int, int]) -> str:
    """The user's lines that decided, from the driver's info words."""
    d_line, a_line = info[0] & 0xFFFFF, (info[0] >> 20) & 0xFFFFF
    d_id, a_id = info[1] & 0xFF, (info[1] >> 8) & 0xFF
    memory = tree.source.path("mm/memory.c")
    parts = []
    if d_line:
        fn = tree.unit.function_at(d_line)
        parts.append(f"decided at {memory}:{d_line} ({kbuild.QUERIES[d_id]}() was the last thing read"
                     + (f", in {fn}()" if fn else "") + ")")
    if a_line:
        parts.append(f"then {kbuild.ACTIONS[a_id]}() at {memory}:{a_line}")
    return "; ".join(parts) or "no line recorded"


def deciding_line(tree: Tree, info: Tuple[int, int]) -> Optional[int]:
    line = info[0] & 0xFFFFF
    return line or None


def _assertion(tree: Tree, info: Tuple[int, int]) -> Optional[str]:
    kind, line = (info[1] >> 16) & 0xFF, (info[0] >> 40) & 0xFFFFF
    if not kind:
        return None
    names = [n for k, n in kbuild.ASSERT_KINDS.items() if kind & k]
    return f"{' and '.join(names)} at {tree.source.path('mm/memory.c')}:{line}" if line else " and ".join(names)


def faithfulness(tree: Tree, era: exhaustive.EraSweep, states) -> Tuple[List[Divergence], Dict[str, int]]:
    """Compiled C against the era's model on every admitted state: the
    smallest disagreement per class (first differing event), and assertion
    failures."""
    lib = tree.library(era.era)
    after, trace, info = lib.run(era.words)
    out: List[Divergence] = []
    bad = np.flatnonzero(((after != era.after) | (trace != era.trace)) & era.admitted_mask)
    classes: Dict[Tuple, List[int]] = {}
    for i in bad.tolist():
        got = decode_trace(int(trace[i]))
        want = decode_trace(int(era.trace[i]))
        classes.setdefault((want[0], got[0], deciding_line(tree, tuple(int(x) for x in info[i]))), []).append(i)
    for key, members in sorted(classes.items(), key=lambda kv: -len(kv[1])):
        best = min(members, key=lambda i: size(states[i]))
        state, word = states[best], int(era.words[best])
        inf = tuple(int(x) for x in info[best])
        fast = fast_result(era.era, int(after[best]), int(trace[best]))
        outcome = ERAS[era.era](state)
        why = (f"the kernel's C ({tree.source.path('mm/memory.c')}) decides {fast.decision} where the {era.era} "
               f"model decides {outcome.decision.value}, on {len(members)} admitted state(s): {_where(tree, inf)}")
        if outcome.decision.value == fast.decision:
            why = (f"the kernel's C ({tree.source.path('mm/memory.c')}) decides {fast.decision} as the {era.era} "
                   f"model does, by other events or another word after, on {len(members)} admitted state(s): "
                   f"{_where(tree, inf)}")
        out.append(Divergence(
            era=era.era, compared=Compared.FAITHFULNESS, state=state, word=word, kernel_saw=describe(era.era, word),
            explanation=why, engine=ENGINE, target=tree.name, expected=tree.base, spec=outcome, fast_path=fast,
            count=len(members),
        ))
    fired: Dict[str, List[int]] = {}
    for i in np.flatnonzero(((info[:, 1] >> np.uint64(16)) & np.uint64(0xFF)).astype(bool) & era.admitted_mask).tolist():
        fired.setdefault(_assertion(tree, tuple(int(x) for x in info[i])), []).append(i)
    for what, members in fired.items():
        best = min(members, key=lambda i: size(states[i]))
        word = int(era.words[best])
        out.append(Divergence(
            era=era.era, compared=Compared.FAITHFULNESS, state=states[best], word=word,
            kernel_saw=describe(era.era, word),
            explanation=f"the kernel's own {what} fires on {len(members)} admitted state(s) "
                        f"({_where(tree, tuple(int(x) for x in info[best]))})",
            engine=ENGINE, target=tree.name, expected=False, spec=ERAS[era.era](states[best]),
            fast_path=fast_result(era.era, int(after[best]), int(trace[best])), count=len(members),
        ))
    return out, {"differ": int(bad.size), "asserts": sum(len(m) for m in fired.values())}


def soundness(tree: Tree, era: exhaustive.EraSweep, states) -> Tuple[List[Divergence], "Comparison"]:
    """The invariants the C breaks on admitted states, judged state by state
    as --fastpath is (``regression.compare``): a break the era's own model
    has on the same state is inherited (expected), any other a regression.
    Returns the divergences and the comparison (its summary says what the
    tree fixes too)."""
    from . import regression

    lib = tree.library(era.era)
    after, trace, _ = lib.run(era.words)
    c = regression.compare(era, tree.name, states, after, trace)
    out = []
    for tallies, inherited in ((c.regressions, False), (c.inherited, True)):
        for inv, t in sorted(tallies.items()):
            word = concretize(era.era, t.state)
            out.append(soundness_divergence(era.era, inv, t.state, word, t.message, t.count, ENGINE, tree.name,
                                            inherited=inherited, fast=lib))
    return out, c


def placement(tree: Tree, sweep: exhaustive.Sweep) -> List[Tuple[str, int, int]]:
    """(era, admitted states, states where the decisions differ) per era, best first."""
    rows = []
    for era_id, era in sweep.eras.items():
        _, trace, _ = tree.library(era_id).run(era.words)
        differ = int((((trace & np.uint64(7)) != (era.trace & np.uint64(7))) & era.admitted_mask).sum())
        rows.append((era_id, era.admitted, differ))
    order = list(ERAS)
    return sorted(rows, key=lambda r: (r[2], r[0] != tree.era, order.index(r[0])))


_SWEEPS: Dict[Tuple[Tuple[str, ...], str], exhaustive.Sweep] = {}


def _sweep(eras: Sequence[str], space: str, jobs: int) -> exhaustive.Sweep:
    """The models over the space, once per process (a test session checks several trees)."""
    key = (tuple(eras), space)
    if key not in _SWEEPS:
        while len(_SWEEPS) >= 6:  # a few: a visible sweep of every era is large
            _SWEEPS.pop(next(iter(_SWEEPS)))
        _SWEEPS[key] = exhaustive.sweep(list(eras), space, jobs)
    return _SWEEPS[key]


def run_exhaustive(report: Report, tree: Tree, space: str, jobs: int, place: bool = True) -> str:
    """The exhaustive comparison; returns the placement line."""
    start = time.perf_counter()
    eras = list(ERAS) if place else [tree.era]
    sweep = _sweep(eras, space, jobs)
    states = exhaustive.space(space)
    era = sweep.eras[tree.era]
    found, counts = faithfulness(tree, era, states)
    report.divergences += found
    sound, judged = soundness(tree, era, states)
    report.divergences += sound
    report.table.setdefault(ENGINE, {})[tree.name] = judged.cells()
    line = ""
    if place:
        rows = placement(tree, sweep)
        best = rows[0]
        line = (f"decides like {best[0]} best ({best[2]} of {best[1]} admitted states differ in decision); "
                + ", ".join(f"{e} {d}" for e, _, d in rows[1:4]))
    note = (f"space {space}: {len(states)} states, {era.admitted} admitted by {tree.era}; the kernel's C differs "
            f"from the model on {counts['differ']}, assertions fire on {counts['asserts']}; "
            f"{tree.unit.generation.name} API ({tree.unit.generation.releases}), {len(tree.unit.functions)} "
            f"functions extracted, built in {tree.seconds:.2f} s; {judged.summary()}" + (f"; {line}" if line else ""))
    mine = [d for d in report.divergences if d.target == tree.name]
    report.runs.append(EngineRun(ENGINE, Verdict.DIVERGENCE if mine else Verdict.CLEAN, len(states) * len(eras),
                                 round(time.perf_counter() - start, 2), note))
    return line


def run_hypothesis(report: Report, tree: Tree, profile: str, seed: Optional[int]) -> None:
    """Hypothesis over the era's states (one C call per example), through
    the engine ``wpdiff check`` uses; its faithfulness findings get the
    lines that decided, and are expected only with --base."""
    from .hypo import run_hypothesis as hypothesis

    before = len(report.divergences)
    hypothesis(report, [tree.era], [tree.target()], profile, seed, None)
    lib = tree.library(tree.era)
    for i in range(before, len(report.divergences)):
        d = report.divergences[i]
        if d.target == tree.name and d.compared is Compared.FAITHFULNESS:
            _, _, info = lib.run(np.array([d.word], dtype=np.uint64))
            decided = d.spec.decision.value if d.spec else "?"
            report.divergences[i] = replace(d, expected=tree.base, explanation=(
                f"the kernel's C ({tree.source.path('mm/memory.c')}) decides {d.fast_path.decision} where the "
                f"{d.era} model decides {decided}: {_where(tree, tuple(int(x) for x in info[0]))}"))


def check_tree(
    path: str, era: Optional[str] = None, base: Optional[str] = None, engines: Sequence[str] = ("exhaustive",),
    space: str = "small", jobs: int = 1, profile: str = "dev", seed: Optional[int] = None, command: str = "",
    place: bool = True,
) -> Tuple[Report, Tree]:
    """Run `engines` on the tree at `path`; `place`: also find the era it decides like best."""
    tree = open_tree(path, era, base)
    report = Report(command=command or f"kernel {path}", eras=[tree.era])
    for engine in engines:
        if engine == "exhaustive":
            run_exhaustive(report, tree, space, jobs, place)
        elif engine == "hypothesis":
            run_hypothesis(report, tree, profile, seed)
        else:
            raise BadInput(f"--engine {engine}: expected exhaustive, hypothesis or all")
    return report, tree


# ---- for the other faces: replay and SARIF ------------------------------------------------------

KERNEL_TARGET = "kernel:"
_DECIDED = re.compile(r"decided at (?P<path>.+?):(?P<line>\d+) \(")
_ACTED = re.compile(r"then (?P<fn>\w+)\(\) at (?P<path>.+?):(?P<line>\d+)")


def replay_target(name: str, era_id: str) -> Target:
    """The target a saved divergence names ("kernel:SOURCE"), rebuilt from
    the tree at SOURCE and held to `era_id`: for ``wpdiff replay``."""
    if not name.startswith(KERNEL_TARGET):
        raise BadInput(f"{name!r} is not a kernel tree target (expected 'kernel:SOURCE')")
    return open_tree(name[len(KERNEL_TARGET):], era=era_id).target()


def sarif_location(d: Divergence) -> dict:
    """A SARIF location for a kernel tree's divergence: the user's memory.c
    and the line that decided, where the report knows it."""
    location: dict = {"logicalLocations": [{"fullyQualifiedName": d.target, "kind": "function"}]}
    m = _DECIDED.search(d.explanation) or _ACTED.search(d.explanation)
    if m:
        path = m.group("path")
        if ".tar" in path and ":" in path:  # tarball:member -- the member, relative
            path = path.split(":", 1)[1]
        location["physicalLocation"] = {"artifactLocation": {"uri": path},
                                        "region": {"startLine": int(m.group("line"))}}
    return location
