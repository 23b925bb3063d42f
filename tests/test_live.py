"""The live kernel oracle: programs run as real processes, judged against the
era's model.

Tests marked ``live`` need root and /proc/kpageflags (they skip, saying
why, elsewhere).  The judge's rules are also tested on records built by
hand, which needs neither.
"""

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from wpdiff.diff import live as judge_mod
from wpdiff.oracle import live
from wpdiff.oracle.live import LiveError, LiveProgram, Mapping, Skipped, Step, Term
from wpdiff.oracle.live import program as examples
from wpdiff.spec.world.results import Execution, Exploration, FaultRecord, FaultResult, Outcomes, verdict_of

EXAMPLES = Path("/work/shared/litmus-examples")

needs_live = pytest.mark.skipif(live.machine_skip() is not None, reason=str(live.machine_skip()))


def _exploration(name, era, outcomes, source="model"):
    """An Exploration from (registers, faults, positive, count) tuples."""
    outs = tuple(Outcomes(Execution(tuple(sorted(regs)), tuple(FaultRecord(*f) for f in faults)), n, pos)
                 for regs, faults, pos, n in outcomes)
    positive = sum(o.count for o in outs if o.positive)
    negative = sum(o.count for o in outs if not o.positive)
    return Exploration(name, era, outs, verdict_of(positive, negative), positive + negative, len(outs), source)


def world(p: LiveProgram):
    """The world's Program for a program built here (what the litmus parser
    gives for the same file)."""
    from wpdiff.spec.world.program import Atom, Cond, Init, Line, Loc, Program
    from wpdiff.spec.world.program import Step as WStep

    def loc(n=1):
        return Loc(p.source or f"{p.name}.litmus", n, 1)

    def addr(v):
        base, sub = live.runner.split_address(v)
        return (base, max(sub, 0))

    def args(s):
        return {"fork": lambda: (s.child,), "exit": lambda: (), "write": lambda: (addr(s.var), s.value),
                "read": lambda: (addr(s.var), s.reg), "vmsplice": lambda: (addr(s.var), s.obj),
                "pipe-read": lambda: (s.obj, s.reg), "pin-read": lambda: (s.obj, s.reg),
                "pin": lambda: (addr(s.var), s.access, s.duration, s.obj), "pin-write": lambda: (s.obj, s.value),
                "unpin": lambda: (s.obj,), "mprotect": lambda: (addr(s.var), s.prot)}.get(
                    s.op, lambda: (addr(s.var),) if s.var else ())()

    lines = []
    for g in dict.fromkeys(s.group for s in p.steps):
        lines.append(Line(tuple(WStep(s.who, s.op, args(s), loc(s.line)) for s in p.steps if s.group == g), loc()))
    atoms = [Atom(t.kind, t.process, t.name, t.value) for t in p.exists]
    exists = atoms[0] if len(atoms) == 1 else Cond("and", tuple(atoms))
    return Program(p.name, tuple(Init(m.process, "large" if m.large else "anon", m.name, m.init, loc())
                                 for m in p.mappings), tuple(lines), exists, loc(), (), loc())


def model(program: LiveProgram, era: str) -> Exploration:
    """The era model's exploration of `program`, by the world."""
    return judge_mod.model_exploration(world(program), era)


def shared(name: str):
    """A shared example, parsed from its file when it is there (else built
    here, step for step)."""
    path = EXAMPLES / f"{name}.litmus"
    if path.exists():
        from wpdiff.diff.litmus.syntax import parse

        return parse(path.read_text(), str(path))
    return world({"vmsplice-child-unmap": examples.cve_2020_29374, "iouring-pin-mprotect": examples.iouring_pin_mprotect,
                  "seed-unlock-after-ptl": examples.seed_unlock_after_ptl}[name]())


CATALOGUE = Path(__file__).resolve().parent.parent / "litmus"


# ---- the judge, on records built by hand (no root needed) ---------------------------------

def _live(name, outcomes, observations=()):
    x = _exploration(name, "", outcomes, source="live")
    return live.LiveExploration(**{f: getattr(x, f) for f in x.__dataclass_fields__}, kernel="6.18.44-test",
                                runs=x.interleavings, observations=observations)


def test_judge_agrees_when_the_data_and_the_copies_agree():
    m = model(examples.cve_2020_29374(), "v6.15")
    got = judge_mod.judge(None, _live("vmsplice-child-unmap", [([("P1:r0", 1)], [("P0", "a", 3, FaultResult.COPIED)],
                                                                 False, 100)]), m)
    assert got.status == "agrees" and not got.divergences and got.live_verdict == "Never" == got.model_verdict


def test_judge_a_data_outcome_the_model_cannot_reach_is_a_divergence():
    m = model(examples.cve_2020_29374(), "v6.15")
    got = judge_mod.judge(None, _live("vmsplice-child-unmap", [([("P1:r0", 2)], [("P0", "a", 3, FaultResult.COPIED)],
                                                                 True, 3), ([("P1:r0", 1)], [("P0", "a", 3,
                                                                 FaultResult.COPIED)], False, 97)]), m)
    assert got.diverges and [d.kind for d in got.divergences] == ["data"] and got.divergences[0].runs == 3
    assert "P1:r0=2" in got.divergences[0].message and "cannot reach" in got.divergences[0].message
    assert judge_mod.exit_code([got]) == 1


def test_judge_reuse_where_the_model_copies_is_a_divergence_and_copy_where_it_reuses_is_not():
    m = _exploration("p", "v6.15", [([("P0:r0", 2)], [("P0", "a", 1, FaultResult.COPIED),
                                                       ("P0", "a", 2, FaultResult.REUSED)], False, 1)])
    lv = _live("p", [([("P0:r0", 2)], [("P0", "a", 1, FaultResult.REUSED), ("P0", "a", 2, FaultResult.COPIED)],
                      False, 10)],
               observations=((live.LiveFault(2, "P0", "a", "copied", False, 1, False, True, False, 1), 10),))
    got = judge_mod.judge(None, lv, m)
    assert [d.kind for d in got.divergences] == ["reuse"] and "step 1" in got.divergences[0].message
    assert [(c.step, c.runs, c.lru_clear) for c in got.hidden_copies] == [(2, 10, 10)]
    # a write that took no fault at all kept the page as well
    lv = _live("p", [([("P0:r0", 2)], [], False, 5)])
    assert [d.kind for d in judge_mod.judge(None, lv, m).divergences] == ["reuse"]


def test_the_world_program_lowers_to_the_same_live_program():
    for p in (examples.cve_2020_29374(), examples.iouring_pin_mprotect(), examples.seed_unlock_after_ptl()):
        got = live.program.from_world(world(p))
        assert [(s.who, s.form, s.group, s.var, s.value, s.obj, s.reg, s.child) for s in got.steps] == \
            [(s.who, s.form, s.group, s.var, s.value, s.obj, s.reg, s.child) for s in p.steps]
        assert got.mappings == p.mappings


def test_judge_a_skipped_program_is_neither_pass_nor_divergence():
    m = model(examples.cve_2020_29374(), "v6.15")
    got = judge_mod.judge(None, Skipped("vmsplice-child-unmap", "not root"), m)
    assert got.status == "skipped" and got.reason == "not root" and judge_mod.exit_code([got]) == 0


def test_era_of_this_kernel_and_override():
    assert judge_mod.era_for("6.18.44-fc-v669") == "v6.15"
    assert judge_mod.era_for(override="v5.7") == "v5.7"
    with pytest.raises(judge_mod.BadInput, match="--era"):
        judge_mod.era_for(override="v4.1")


def test_what_cannot_run_here_is_skipped_with_its_reason():
    seed = examples.seed_unlock_after_ptl()
    reason = live.why_not(seed)
    assert reason and ("freed-page-touched" in reason or "root" in reason)
    assert isinstance(live.run(seed), Skipped)
    ksm = LiveProgram("ksm", (Mapping("P0", "a", 1), Mapping("P0", "b", 1)),
                      (Step("P0", "ksm-merge", 0, var="a", line=3),), (), source="ksm.litmus")
    if live.machine_skip() is None:
        assert "ksm.litmus:3" in live.why_not(ksm) and "ksm/run=1" in live.why_not(ksm)
    lock = replace(ksm, steps=(Step("P0", "lock", 0, var="a"),))
    assert live.why_not(lock) is not None


# ---- on this machine's kernel ----------------------------------------------------------

def _leftovers():
    me = os.getpid()
    children = set()
    for task in os.listdir(f"/proc/{me}/task"):
        children |= set(open(f"/proc/{me}/task/{task}/children").read().split())
    maps = open("/proc/self/maps").read().count("\n")
    helper = str(live.helper().path)
    running = []  # the helper's own forks, wherever they were reparented
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/exe") == helper:
                running.append(pid)
        except OSError:
            pass
    ours = sorted(n for n in os.listdir(tempfile.gettempdir()) if n.startswith("wpdiff-live-"))
    return len(os.listdir("/proc/self/fd")), children, maps, running, ours


@pytest.mark.live
@needs_live
def test_cve_2020_29374_runs_live_and_gives_the_v6_15_eras_never():
    p = shared("vmsplice-child-unmap")
    got = live.run(p, runs=200)
    assert got.runs == 200 and got.verdict.value == "Never"
    assert {o.execution.register("P1:r0") for o in got.outcomes} == {1}  # the pipe holds the old data
    # mapcount 1 and not AnonExclusive, yet copied: the kernel counts the pipe's reference
    (fault, n), *rest = got.observations
    assert (fault.kind, fault.mapcount, fault.ae_before, fault.ae_after) == ("copied", 1, False, True)
    (item,) = judge_mod.check_live([p], runs=50, era="v6.15")
    assert item[0].status == "agrees" and item[2].verdict.value == "Never", item[0]


@pytest.mark.live
@needs_live
def test_io_uring_pin_runs_live_and_gives_the_v6_15_eras_never():
    p = shared("iouring-pin-mprotect")
    got = live.run(p)
    if isinstance(got, Skipped):
        pytest.skip(got.reason)
    assert got.verdict.value == "Never"
    assert {o.execution.register("P0:r0") for o in got.outcomes} == {2}  # the device reads the process's write
    assert all(f.kind in ("reused", "no-fault") for f, _ in got.observations)
    (item,) = judge_mod.check_live([p], era="v6.15")
    assert item[0].status == "agrees" and item[2].verdict.value == "Never"


@pytest.mark.live
@needs_live
def test_the_same_run_against_the_v5_7_model_is_a_divergence():
    (j, _, m), = judge_mod.check_live([shared("vmsplice-child-unmap")], runs=50, era="v5.7")
    assert m.verdict.value == "Always"  # the v5.7 model leaks
    assert j.diverges and {d.kind for d in j.divergences} == {"data"}
    assert judge_mod.exit_code([j]) == 1


@pytest.mark.live
@needs_live
def test_the_seed_use_after_free_is_skipped_as_unobservable():
    (j, got, _), = judge_mod.check_live([shared("seed-unlock-after-ptl")], era="v6.15")
    assert isinstance(got, Skipped) and "not observable" in got.reason
    assert j.status == "skipped" and judge_mod.exit_code([j]) == 0


@pytest.mark.live
@needs_live
def test_every_catalogue_program_that_can_run_here_agrees():
    files = sorted(CATALOGUE.glob("*.litmus"))
    if not files:
        pytest.skip(f"no catalogue in {CATALOGUE} yet")
    from wpdiff.diff.litmus.syntax import parse

    programs = [parse(f.read_text(), str(f)) for f in files]
    items = judge_mod.check_live(programs, runs=30)
    skipped = {j.program: j.reason for j, _, _ in items if j.status == "skipped"}
    diverged = {j.program: [d.message for d in j.divergences] for j, _, _ in items if j.diverges}
    assert not diverged
    assert all(skipped.values())  # each skip says why
    if len(files) >= 24:
        assert len(items) - len(skipped) >= 14, skipped



# cow.c-like programs, written here (the catalogue in litmus/ is checked too, when it is there)
COW_C = {
    'basic-mprotect': r"""COW basic-mprotect
(* Result: Never *)
{ P0: anon a = 1 }
P0: fork P1
P0: mprotect a ro
P0: mprotect a rw
P0: write a = 2
P1: read a -> r0
exists (P1:r0 = 2)
""",
    'basic': r"""COW basic
(* Result: Never *)
{ P0: anon a = 1 }
P0: fork P1
P0: write a = 2
P1: read a -> r0
exists (P1:r0 = 2)
""",
    'child-exited': r"""COW child-exited
(* Result: Never *)
{ P0: anon a = 1 }
P0: fork P1
P1: exit
P0: write a = 2
exists (P0:copied a)
""",
    'dontneed-race': r"""COW dontneed-race
(* Result: Never *)
{ P0: anon a = 1 }
P0: fork P1
P1: exit
P0: write a = 2 || P0.t1: madvise a dontneed
P0: read a -> r0
exists (P0:r0 = 1)
""",
    'iouring-fork': r"""COW iouring-fork
(* Result: Never *)
{ P0: anon a = 1 }
P0: pin a rw longterm -> pin0
P0: fork P1
P0: write a = 2
P0: read pin0 -> r0
P1: read a -> r1
exists (P0:r0 = 1 \/ P1:r1 = 2)
""",
    'large-exited': r"""COW large-exited
(* Result: Never *)
{ P0: large a = 1 }
P0: fork P1
P1: exit
P0: write a[1] = 2
exists (P0:copied a[1])
""",
    'large-shared': r"""COW large-shared
(* Result: Never *)
{ P0: large a = 1 }
P0: fork P1
P0: write a[1] = 2
P1: read a[1] -> r0
P1: read a[2] -> r1
exists (P1:r0 = 2)
""",
    'pin-write': r"""COW pin-write
(* Result: Never *)
{ P0: anon a = 1 }
P0: pin a rw longterm -> pin0
P0: fork P1
P0: write pin0 = 9
P0: read a -> r0
P1: read a -> r1
exists (P0:r0 = 1)
""",
    'ro-pin-prev-shared': r"""COW ro-pin-prev-shared
(* Result: Never *)
{ P0: anon a = 1 }
P0: fork P1
P1: exit
P0: pin a ro -> pin0
P0: unpin pin0
P0: write a = 3
P0: read a -> r0
exists (P0:copied a)
""",
    'ro-pin-shared': r"""COW ro-pin-shared
(* Result: Never *)
{ P0: anon a = 1 }
P0: fork P1
P0: pin a ro -> pin0
P0: read pin0 -> r0
P1: read a -> r1
exists (P0:r0 = 2)
""",
    'two-writers': r"""COW two-writers
(* Result: Never *)
{ P0: anon a = 1 }
P0: fork P1
P0: write a = 2 || P1: write a = 3
P0: read a -> r0
P1: read a -> r1
exists (P0:r0 = 3 \/ P1:r1 = 2)
""",
    'vmsplice-after-fork': r"""COW vmsplice-after-fork
(* Result: Never *)
{ P0: anon a = 1 }
P0: fork P1
P0: vmsplice a -> pipe0
P0: munmap a
P1: write a = 2
P0: read pipe0 -> r0
exists (P0:r0 = 2)
""",
    'vmsplice-before-fork': r"""COW vmsplice-before-fork
(* Result: Never *)
{ P0: anon a = 1 }
P0: vmsplice a -> pipe0
P0: fork P1
P0: munmap a
P1: write a = 2
P0: read pipe0 -> r0
exists (P0:r0 = 2)
""",
}


@pytest.mark.live
@needs_live
@pytest.mark.parametrize("name", sorted(COW_C))
def test_cow_c_like_programs_agree_with_the_v6_15_model(name, tmp_path):
    from wpdiff.diff.litmus.syntax import parse

    path = tmp_path / f"{name}.litmus"
    path.write_text(COW_C[name])
    p = parse(path.read_text(), str(path))
    concurrent = any(len(line.steps) > 1 for line in p.lines)
    (j, got, m), = judge_mod.check_live([p], runs=200 if concurrent else 40, era="v6.15")
    if isinstance(got, Skipped):
        pytest.skip(got.reason)
    assert j.status == "agrees", [d.message for d in j.divergences]
    assert got.verdict.value == m.verdict.value == "Never"


@pytest.mark.live
@needs_live
def test_the_pin_against_the_v5_9_model_is_a_divergence():
    (j, got, m), = judge_mod.check_live([shared("iouring-pin-mprotect")], runs=20, era="v5.9")
    if isinstance(got, Skipped):
        pytest.skip(got.reason)
    assert m.verdict.value == "Always" and got.verdict.value == "Never"  # v5.9 copies the pinned page
    assert j.diverges and "P0:r0=2" in j.divergences[0].message


@pytest.mark.live
@needs_live
def test_json_holds_live_counts_and_the_models_verdict_side_by_side():
    items = judge_mod.check_live([shared("vmsplice-child-unmap"), shared("seed-unlock-after-ptl")], runs=20,
                                 era="v6.15")
    data = json.loads(judge_mod.render(items, "json"))
    entry, seed = data["live"]
    assert entry["live"]["runs"] == 20 and entry["live"]["outcomes"][0]["count"] == 20
    assert entry["live"]["verdict"] == "Never" and entry["model"]["verdict"] == "Never"
    assert entry["status"] == "agrees" and entry["era"] == "v6.15"
    assert seed["status"] == "skipped" and "not observable" in seed["live"]["skipped"]
    assert "Observation vmsplice-child-unmap live Never 0 20; model Never 0 1" in judge_mod.render(items)


@pytest.mark.live
@needs_live
def test_a_failing_system_call_is_reported_with_the_step_and_errno():
    p = LiveProgram("vmsplice-after-munmap", (Mapping("P0", "a", 1),),
                    (Step("P0", "munmap", 0, var="a", line=3), Step("P0", "vmsplice", 1, var="a", obj="pipe0",
                                                                    line=4)), (), source="x.litmus")
    with pytest.raises(LiveError, match=r"x\.litmus:4: step 1 \(P0: vmsplice a\) failed: .*errno 14"):
        live.run(p, runs=1)


@pytest.mark.live
@needs_live
def test_concurrent_steps_run_together_in_two_processes():
    p = LiveProgram("two-writers", (Mapping("P0", "a", 1),),
                    (Step("P0", "fork", 0, child="P1"), Step("P0", "write", 1, var="a", value=2),
                     Step("P1", "write", 1, var="a", value=3), Step("P0", "read", 2, var="a", reg="r0"),
                     Step("P1", "read", 3, var="a", reg="r0")), (Term("reg", "P1", "r0", 2),))
    got = live.run(p, runs=50)
    assert got.runs == 50 and got.pinned_cpu is None and got.verdict.value == "Never"
    assert {o.execution.registers for o in got.outcomes} == {(("P0:r0", 2), ("P1:r0", 3))}
    # one of the two writers copies, the last one standing may keep the page: never both keep it
    for o in got.outcomes:
        assert FaultResult.COPIED in {f.result for f in o.execution.faults}


@pytest.mark.live
@needs_live
def test_large_folio_is_checked_not_assumed():
    p = LiveProgram("large-fork-alive", (Mapping("P0", "a", 1, large=True),),
                    (Step("P0", "fork", 0, child="P1"), Step("P0", "write", 1, var="a[1]", value=2),
                     Step("P1", "read", 2, var="a[1]", reg="r0")), (Term("reg", "P1", "r0", 2),))
    got = live.run(p, runs=20)
    if isinstance(got, Skipped):
        assert "no large folio" in got.reason
        pytest.skip(got.reason)
    assert got.verdict.value == "Never"
    assert [(f.address, f.kind, f.mapcount) for f, _ in got.observations] == [("a[1]", "copied", 2)]
    assert live.run(replace(p, steps=p.steps[:1] + (Step("P0", "write", 1, var="a[0]", value=2),)),
                    runs=2).observations[0][0].address == "a"  # page 0 is named as the world names it


@pytest.mark.live
@needs_live
def test_nothing_is_left_behind():
    before = _leftovers()
    programs = [examples.cve_2020_29374(), examples.iouring_pin_mprotect(),
                LiveProgram("odirect", (Mapping("P0", "a", 1),),
                            (Step("P0", "fork", 0, child="P1"), Step("P0", "pin", 1, var="a", obj="pin0", access="ro", duration="short"),
                             Step("P0", "pin-read", 2, obj="pin0", reg="r0")), ())]
    for p in programs:
        live.run(p, runs=5)
    with pytest.raises(LiveError):  # a run that fails half-way cleans up too
        live.run(LiveProgram("bad", (Mapping("P0", "a", 1),),
                             (Step("P0", "fork", 0, child="P1"), Step("P1", "munmap", 1, var="a"),
                              Step("P1", "read", 2, var="a", reg="r0")), ()), runs=1)
    assert _leftovers() == before


def test_the_helper_is_cached_by_the_hash_of_its_source():
    h = live.helper()
    assert h.path.exists() and h.path.parent.parent == live.helper.__wrapped__.__globals__["cache_root"]()
    assert live.helper() is h
