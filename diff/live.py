"""The live verdict: what this machine's kernel did, held against the model
of the era whose span holds ``uname -r`` (``--era`` overrides).

The rules (issue 12):

- **data agree exactly**: every data outcome the live kernel shows (the
  registers at the end, a freed page touched) must be one the model's
  explorer reaches.  One the model says cannot happen is a divergence.
  The model may reach outcomes the runs did not show (an interleaving that
  is rare on two CPUs); that is said, not failed;
- **copy where the model keeps the page is allowed**, counted and reported:
  a reference the program cannot see (another CPU's LRU batch: PG_lru
  clear before the fault) makes ``wp_can_reuse_anon_folio()`` copy;
- **reuse where the model copies is a divergence**: the kernel kept a page
  the model says another party can still reach.  A write that took no fault
  at all (mprotect() mapped an exclusive page writable) keeps the page too.

A live run that was skipped is reported as skipped with its reason; it is
neither a pass nor a divergence.  Exit 1 when any program diverges.
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from dataclasses_json import DataClassJsonMixin

from wpdiff.oracle.live import LiveExploration, Skipped, kernel_release
from wpdiff.spec.world.results import Execution, Exploration, FaultResult, Outcomes

from .targets import BadInput

Live = Union[LiveExploration, Skipped]


@dataclass(frozen=True)
class LiveDivergence(DataClassJsonMixin):
    kind: str  # "data" (an outcome the model cannot reach) or "reuse" (reused where the model copies)
    message: str
    runs: int  # how many live runs showed it


@dataclass(frozen=True)
class HiddenCopy(DataClassJsonMixin):
    """Copies where the model reuses (or takes no fault): allowed."""

    process: str
    address: str
    step: int
    runs: int
    lru_clear: int  # of the copying runs' faults at this step, how many had PG_lru clear before it


@dataclass(frozen=True)
class LiveJudgement(DataClassJsonMixin):
    program: str
    era: str  # the model's era
    kernel: str  # uname -r
    status: str  # "agrees", "diverges", "skipped"
    reason: str = ""  # why skipped
    live_verdict: Optional[str] = None
    model_verdict: Optional[str] = None
    runs: int = 0
    divergences: Tuple[LiveDivergence, ...] = ()
    hidden_copies: Tuple[HiddenCopy, ...] = ()
    unseen: int = 0  # data outcomes the model reaches that no live run showed
    notes: Tuple[str, ...] = ()

    @property
    def diverges(self) -> bool:
        return self.status == "diverges"


def era_for(release: Optional[str] = None, override: Optional[str] = None) -> str:
    """The era id to judge a live run by: `override` if given, else the era
    whose span holds `release` (default: this kernel's)."""
    from wpdiff.spec import eras

    try:
        if override:
            return eras.era(override).id
        return eras.for_kernel(release or kernel_release()).id
    except eras.UnknownEra as e:
        raise BadInput(f"--era: {e}" if override else f"uname -r: {e}; say --era E") from None


def model_exploration(program: object, era_id: str) -> Exploration:
    """The era model's Exploration of a world ``Program``: the explorer's
    (``wpdiff.diff.litmus``), or -- for a program without ``||``, which has
    one interleaving -- the world's own sequential run."""
    try:
        from wpdiff.diff.litmus.explore import explore
    except ImportError:
        explore = None  # type: ignore[assignment]
    if explore is not None:
        return explore(program, era_id)
    from wpdiff.spec.world.program import run_sequential
    from wpdiff.spec.world.results import Outcomes, verdict_of

    if any(len(line.steps) > 1 for line in program.lines):  # type: ignore[attr-defined]
        raise BadInput(f"{program.loc}: a concurrent program needs the litmus explorer (wpdiff.diff.litmus), "  # type: ignore[attr-defined]
                       "which is not installed")
    execution, _ = run_sequential(program, era_id)  # type: ignore[arg-type]
    positive = bool(program.exists.holds(execution))  # type: ignore[attr-defined]
    return Exploration(program.name, era_id, (Outcomes(execution, 1, positive),),  # type: ignore[attr-defined]
                       verdict_of(int(positive), int(not positive)), 1, 1, "model",
                       program.expected(era_id))  # type: ignore[attr-defined]


def _data(e: Execution) -> Tuple:
    return (e.registers, e.freed_page_touched)


def _show(e: Execution) -> str:
    regs = " ".join(f"{r}={v}" for r, v in e.registers) or "no registers"
    return regs + (" freed-page-touched" if e.freed_page_touched else "")


def _fault_keys(e: Execution) -> Dict[Tuple[str, str, int], FaultResult]:
    return {(f.process, f.address, f.step): f.result for f in e.faults}


def judge(program: object, live: Live, model: Exploration) -> LiveJudgement:
    """Hold `live` (from ``wpdiff.oracle.live.run``) against `model` (the
    explorer's Exploration of the same program on one era)."""
    name = getattr(program, "name", None) or model.program
    if isinstance(live, Skipped):
        return LiveJudgement(name, model.era, live.kernel, "skipped", reason=live.reason,
                             model_verdict=model.verdict.value)
    by_data: Dict[Tuple, List[Execution]] = defaultdict(list)
    for o in model.outcomes:
        by_data[_data(o.execution)].append(o.execution)
    divergences: List[LiveDivergence] = []
    hidden: Dict[Tuple[str, str, int], int] = defaultdict(int)
    seen_data: Set[Tuple] = set()
    for o in live.outcomes:
        e, n = o.execution, o.count
        seen_data.add(_data(e))
        matching = by_data.get(_data(e))
        if not matching:
            reachable = "; ".join(sorted({_show(m) for ms in by_data.values() for m in ms})) or "nothing"
            divergences.append(LiveDivergence(
                "data", f"{n} of {live.runs} live runs ended with {_show(e)}, which the {model.era} model "
                        f"cannot reach (it reaches: {reachable})", n))
            continue
        mine = _fault_keys(e)
        theirs = [_fault_keys(m) for m in matching]
        for key in sorted(set(mine) | {k for t in theirs for k in t}):
            results = {t.get(key) for t in theirs}  # None: the model takes no fault there
            got = mine.get(key)
            if got is FaultResult.COPIED:
                if FaultResult.COPIED not in results:
                    hidden[key] += n
            elif results == {FaultResult.COPIED}:
                process, address, step = key
                what = "reused the page" if got is FaultResult.REUSED else "kept the page without a fault"
                divergences.append(LiveDivergence(
                    "reuse", f"step {step}: the write by {process} to {address} {what} in {n} of {live.runs} live "
                             f"runs, where the {model.era} model copies: another party can still reach that page", n))
    lru_clear: Dict[Tuple[str, str, int], int] = defaultdict(int)
    for f, n in live.observations:
        if f.kind == "copied" and not f.lru_before:
            lru_clear[(f.process, f.address, f.step)] += n
    copies = tuple(HiddenCopy(p, a, s, n, lru_clear[(p, a, s)]) for (p, a, s), n in sorted(hidden.items()))
    unseen = len(set(by_data) - seen_data)
    notes = list(live.notes)
    if unseen:
        notes.append(f"{unseen} data outcome(s) the model reaches were not seen in {live.runs} runs")
    for c in copies:
        notes.append(f"step {c.step}: {c.process} copied {c.address} where the model reuses in {c.runs} of "
                     f"{live.runs} runs ({c.lru_clear} with PG_lru clear before the fault: a per-CPU LRU batch "
                     "held a reference the program cannot see)")
    return LiveJudgement(
        name, model.era, live.kernel, "diverges" if divergences else "agrees",
        live_verdict=live.verdict.value, model_verdict=model.verdict.value, runs=live.runs,
        divergences=tuple(divergences), hidden_copies=copies, unseen=unseen, notes=tuple(notes))


def exit_code(judgements: Iterable[LiveJudgement]) -> int:
    return 1 if any(j.diverges for j in judgements) else 0


# ---- output -----------------------------------------------------------------

def _outcomes(x: Exploration) -> List[dict]:
    return [{"registers": dict(o.execution.registers),
             "faults": [f"{f.process}:{f.address}@{f.step}={f.result.value}{' (unshare)' if f.unshare else ''}"
                        for f in o.execution.faults],
             "freed_page_touched": o.execution.freed_page_touched,
             "count": o.count, "positive": o.positive} for o in x.outcomes]


def to_dict(j: LiveJudgement, live: Live, model: Exploration) -> dict:
    """One program: the live counts and the model's verdict side by side."""
    out = {"program": j.program, "kernel": j.kernel, "era": j.era, "status": j.status}
    if isinstance(live, Skipped):
        out["live"] = {"skipped": live.reason}
    else:
        out["live"] = {"runs": live.runs, "verdict": live.verdict.value, "pinned_cpu": live.pinned_cpu,
                       "runs_per_second": round(live.runs_per_second, 1), "outcomes": _outcomes(live),
                       "faults": [dict(f.to_dict(), runs=n) for f, n in live.observations]}
    out["model"] = {"verdict": model.verdict.value, "stated": model.expected.value if model.expected else None,
                    "interleavings": model.interleavings,
                    "outcomes": _outcomes(model)}
    out["divergences"] = [d.to_dict() for d in j.divergences]
    out["hidden_copies"] = [c.to_dict() for c in j.hidden_copies]
    out["notes"] = list(j.notes)
    return out


def render_json(items: Sequence[Tuple[LiveJudgement, Live, Exploration]]) -> str:
    return json.dumps({"live": [to_dict(*t) for t in items]}, indent=2) + "\n"


def render_text(items: Sequence[Tuple[LiveJudgement, Live, Exploration]]) -> str:
    lines: List[str] = []
    for j, live, model in items:
        lines.append(f"COW {j.program}  (live on {j.kernel}, judged by the {j.era} model)")
        if isinstance(live, Skipped):
            lines.append(f"  skipped: {live.reason}")
            lines.append("")
            continue
        def row(o: "Outcomes") -> str:
            faults = " ".join(f"{f.process}:{f.address}@{f.step} {f.result.value}" for f in o.execution.faults)
            return f"{o.count:>6}{'*' if o.positive else ' '} {_show(o.execution)}" + (f"; {faults}" if faults else "")

        left = [row(o) for o in live.outcomes]
        right = [row(o) for o in model.outcomes]
        width = max([40] + [len(x) + 1 for x in left])
        lines.append(f"  {'live (runs)':<{width}} {'model (interleavings)'}")
        for i in range(max(len(left), len(right))):
            lines.append(f"  {left[i] if i < len(left) else '':<{width}} {right[i] if i < len(right) else ''}")
        lines.append(f"  Observation {j.program} live {live.verdict.value} {live.positive} {live.negative}; "
                     f"model {model.verdict.value} {model.positive} {model.negative}")
        for f, n in live.observations:
            lines.append(f"  step {f.step} {f.process}:{f.address}: {f.kind} in {n} runs (mapcount {f.mapcount}, "
                         f"AnonExclusive {int(f.ae_before)}->{int(f.ae_after)}, PG_lru {int(f.lru_before)}, "
                         f"minflt {f.minflt})")
        for d in j.divergences:
            lines.append(f"  DIVERGENCE ({d.kind}): {d.message}")
        for note in j.notes:
            lines.append(f"  note: {note}")
        lines.append(f"  {j.status}")
        lines.append("")
    return "\n".join(lines)


# ---- the command's side: wpdiff litmus FILE --live ------------------------------------

Item = Tuple[LiveJudgement, Live, Exploration]


def check_live(programs: Sequence[object], runs: Optional[int] = None, era: Optional[str] = None) -> List[Item]:
    """Run each world ``Program`` live and judge it by the model of `era`
    (default: the era whose span holds ``uname -r``).  A system call that
    fails, or a helper that does not build, is bad input for this machine
    (BadInput: exit 2), named with the step and the errno."""
    from wpdiff.oracle.live import BuildError, LiveError, run

    if runs is not None and runs < 1:
        raise BadInput(f"--runs: {runs}: expected a number of runs >= 1")
    era_id = era_for(override=era)
    items: List[Item] = []
    for program in programs:
        model = model_exploration(program, era_id)
        try:
            live = run(program, runs=runs, era=era_id)
        except (LiveError, BuildError) as e:
            raise BadInput(f"--live: {e}") from None
        items.append((judge(program, live, model), live, model))
    return items


def render(items: Sequence[Item], fmt: str = "text") -> str:
    if fmt == "json":
        return render_json(items)
    if fmt == "text":
        return render_text(items)
    raise BadInput(f"--format: {fmt!r} for --live; expected text or json")
