"""The world: what it projects is what each era admits; its two fault paths agree."""

import glob
import os

import pytest

from wpdiff.diff.litmus.explore import explore
from wpdiff.diff.litmus.faithful import model_decides
from wpdiff.diff.litmus.syntax import parse
from wpdiff.spec.eras import ERAS
from wpdiff.spec.state import FaultKind
from wpdiff.spec.world import fault as world_fault
from wpdiff.spec.world.guarantees import GUARANTEES
from wpdiff.spec.world.ops import OPS
from wpdiff.spec.world.program import run_sequential
from wpdiff.spec.world.world import ProgramError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE = sorted(glob.glob(os.path.join(ROOT, "litmus", "*.litmus")))


def _program(path):
    with open(path) as fh:
        return parse(fh.read(), path)


def test_every_projected_state_is_admitted(monkeypatch):
    """The world derives what reachable.py asserts: each fault state the
    world hands to do_wp_page() in era E is one E admits."""
    seen = []
    real = world_fault.WorldFault.__init__

    def spy(self, world, thread, mm, addr, idx, kind, hook):
        real(self, world, thread, mm, addr, idx, kind, hook)
        seen.append((world.era, self.state))

    monkeypatch.setattr(world_fault.WorldFault, "__init__", spy)
    for path in CATALOGUE:
        program = _program(path)
        for era_id in ERAS:
            explore(program, era_id)
    assert len(seen) > 300
    bad = [(e, s, ERAS[e].unreachable(s)) for e, s in seen if not ERAS[e].admits(s)]
    assert not bad, bad[:3]
    kinds = {s.fault for _, s in seen}
    assert kinds == {FaultKind.WRITE, FaultKind.UNSHARE}


@pytest.mark.parametrize("path", CATALOGUE, ids=os.path.basename)
def test_preemptible_and_atomic_faults_agree_without_concurrency(path):
    """Without ||, WorldFault's step-by-step effects equal the decided
    outcome applied at once (apply_events)."""
    program = _program(path)
    if any(len(line.steps) > 1 for line in program.lines):
        pytest.skip("concurrent: interleavings inside the fault exist only in the preemptible run")
    for era_id in ERAS:
        a, _ = run_sequential(program, era_id)
        b, _ = run_sequential(program, era_id, model_decides)
        assert a.key() == b.key(), era_id
        assert [f.events for f in a.faults] == [f.events for f in b.faults], era_id


def test_ops_table_names_every_step_kind():
    assert {"fork", "exit", "write", "read", "vmsplice", "pipe-read", "pin", "unpin", "munmap", "dontneed",
            "dontfork", "mprotect", "pageout", "ksm-merge", "lock", "unlock", "lru-drain"} <= set(OPS)
    for op in OPS.values():
        assert op.who in ("thread", "party", "either") and op.spelling


def test_guarantees_have_history():
    for g in GUARANTEES.values():
        assert g.guarantee and g.history and g.severity


def test_cve_breaks_the_leak_guarantee_only_where_history_says():
    program = _program(os.path.join(ROOT, "litmus", "vmsplice-child-unmap.litmus"))
    for era_id in ERAS:
        e, _ = run_sequential(program, era_id)
        assert ("no-leak-parent-to-child" in e.broken) == (era_id == "v5.7"), era_id


def test_rw_pin_desync_is_pin_coherent():
    program = _program(os.path.join(ROOT, "litmus", "iouring-pin-mprotect.litmus"))
    broken = {era_id: run_sequential(program, era_id)[0].broken for era_id in ERAS}
    assert broken["v5.9"] == ("pin-coherent",) and broken["v5.19"] == () and broken["v5.7"] == ()


def test_step_that_cannot_run_is_named():
    program = parse("COW t\n{ P0: anon a = 1 }\nP0: mprotect a ro\nP0: write a = 2\nexists (P0:copied a)\n", "t")
    with pytest.raises(ProgramError, match=r"t:4:1: step 'P0: write a = 2' cannot run in v5.7: .*read-only"):
        run_sequential(program, "v5.7")


def test_a_small_folio_refaulted_into_a_large_mapping_is_projected_by_its_own_page():
    # After a DONTNEED of a large mapping, page 1 of the mapping faults in as
    # a folio of one page: its page 0.  The projection and the copy must use
    # the page of the folio the PTE maps, not the page of the mapping.
    from wpdiff.diff.litmus.explore import explore
    from wpdiff.diff.litmus.syntax import parse

    program = parse(
        "COW refault-into-large\n(* Result: Never *)\n{ P0: large b = 1 }\n"
        "P0: write b[3] = 2 || P0.t1: madvise b dontneed\nP0: write b[1] = 3\nP0: fork P1\n"
        "P0: write b[1] = 4\nP1: read b[1] -> r0\nexists (P1:r0 = 4)\n", "refault-into-large.litmus")
    for era_id in ERAS:
        assert explore(program, era_id).as_stated, era_id
