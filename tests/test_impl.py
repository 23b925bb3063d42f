"""The packed word, the abstraction function, and faithfulness of every fast path."""

import itertools
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from wpdiff.diff import exhaustive
from wpdiff.impl import batch, wordfault
from wpdiff.impl.fieldword import FieldWord
from wpdiff.impl.concretize import WitnessError, concretize, witness
from wpdiff.impl.fastpath import FASTPATHS
from wpdiff.impl.layout import FIELDS, V5_10, PackError, decode_trace, describe, layout_table, pack, unpack
from wpdiff.impl.mutants import MUTANTS
from wpdiff.impl.visible import unmapped_words
from wpdiff.spec import ERAS, FaultState, Page, mapping, pin

SPACES = ("full", "visible")


def test_layout_fits_63_bits_without_overlap():
    used = 0
    for f in FIELDS:
        bits = ((1 << f.width) - 1) << f.shift
        assert used & bits == 0, f.name
        used |= bits
    assert used < 1 << 63


def test_layout_table_in_the_docs_is_the_code():
    import wpdiff.impl.layout as layout

    table = layout_table()
    assert table in layout.__doc__
    assert table in (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert len(table.splitlines()) == 2 + len(FIELDS) and all(f.holds for f in FIELDS)


def test_pack_refuses_what_does_not_fit():
    with pytest.raises(PackError, match="refcount = 4096 does not fit bits 22-33"):
        pack(refcount=4096)
    with pytest.raises(PackError, match="mapcount = 4 does not fit"):
        pack(mapcount=4)
    with pytest.raises(PackError, match="no field 'refcnt'"):
        pack(refcnt=1)
    four_pins = FaultState(page=Page(holders=(mapping(0),) + (pin(0),) * 4))
    with pytest.raises(PackError, match="refcount = 4097"):
        concretize("v6.15", four_pins)


def test_unpack_decodes_the_kernel_way():
    w = pack(mapcount=-1, large_mapcount=-1, refcount=1025)
    assert unpack(w)["mapcount"] == -1 and unpack(w)["refcount"] == 1025
    assert unpack(pack(**{f.name: f.high for f in FIELDS})) == {f.name: f.high for f in FIELDS}
    assert unpack(pack(**{f.name: f.low for f in FIELDS})) == {f.name: f.low for f in FIELDS}


def test_page_flags_land_on_the_eras_bit_numbers():
    exclusive = FaultState(page=Page(holders=(mapping(0),), anon_exclusive=True))
    assert "PG_anon_exclusive" in describe("v5.19", concretize("v5.19", exclusive))["flags"]
    assert unpack(concretize("v5.19", exclusive))["flags"] >> 17 & 1  # PG_mappedtodisk
    assert describe("v5.18", pack(flags=1 << V5_10.anon_exclusive))["flags"] == ["PG_mappedtodisk"]  # before the alias
    assert unpack(concretize("v6.15", exclusive))["flags"] >> 11 & 1  # PG_owner_2


@pytest.mark.parametrize("name", SPACES)
def test_witness_inverts_concretize(name):
    for state in exhaustive.space(name)[::97]:
        for era_id in ("v5.9", "v6.15"):
            word = concretize(era_id, state)
            assert concretize(era_id, witness(era_id, word)) == word


@pytest.mark.parametrize(
    "fields, why",
    [
        (dict(mapping=1, refcount=1, mapcount=-1, large_mapcount=-1), "mapped at least once"),
        (dict(mapping=1, refcount=0, mapcount=0, large_mapcount=0, flags=(1 << 19) + (1 << 4)), "refcount 0 is below"),
        (dict(mapping=2, refcount=1), "non-LRU movable"),
        (dict(pte=1 << 3, refcount=1), "special PTE"),
    ],
)
def test_witness_says_why_a_word_is_impossible(fields, why):
    with pytest.raises(WitnessError, match=why):
        witness("v5.9", pack(**fields))


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("era_id", list(ERAS))
def test_scalar_batch_and_model_agree_on_every_state(name, era_id, full_sweep, visible_sweep):
    sweep = {"full": full_sweep, "visible": visible_sweep}[name]
    era = sweep.eras[era_id]
    assert era.states > 60000
    fast = FASTPATHS[era_id]
    after, trace = batch.run(fast, era.words)
    assert np.array_equal(after, era.after) and np.array_equal(trace, era.trace)
    scalar = [fast(w) for w in era.words.tolist()]
    assert scalar == list(zip(era.after.tolist(), era.trace.tolist()))


def test_the_spaces_cover_the_documented_bounds(visible_sweep):
    fields = [unpack(int(w)) for w in visible_sweep.eras["v5.9"].words]
    small = [f for f in fields if f["order"] == 0 and f["mapping"] == 1]
    assert {f["refcount"] for f in small} >= set(range(1, 9)) | set(range(1025, 1033)) | set(range(2049, 2057))
    assert {f["mapcount"] + 1 for f in small} == {1, 2, 3, 4}
    assert {f["swapcount"] for f in small} == {0, 1, 2}
    # every combination of the six free flags, but writeback without the swap cache (no state has it)
    free = (V5_10.locked, V5_10.dirty, V5_10.lru, V5_10.owner_priv_1, V5_10.writeback, V5_10.anon_exclusive)
    seen = {tuple(f["flags"] >> b & 1 for b in free) for f in small}
    every = {c for c in itertools.product((0, 1), repeat=6) if not (c[4] and not c[3])}
    assert seen == every
    assert {(f["local_batch"], f["pte_changes"], f["tlb_flush_pending"]) for f in fields} == {
        (a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)
    }


@pytest.mark.parametrize("era_id", list(ERAS))
def test_batch_is_bit_exact_on_any_word(era_id):
    words = np.random.default_rng(7).integers(0, 1 << 63, size=20000, dtype=np.uint64)
    after, trace = batch.run(FASTPATHS[era_id], words)
    assert all(FASTPATHS[era_id](w) == (a, t) for w, a, t in zip(words.tolist(), after.tolist(), trace.tolist()))


def test_every_trace_decodes_to_the_models_decision(full_sweep):
    era = full_sweep.eras["v6.15"]
    states = exhaustive.space("full")
    for i in range(0, era.states, 501):
        decision, events = decode_trace(int(era.trace[i]))
        outcome = ERAS["v6.15"](states[i])
        assert (decision, tuple(events)) == (outcome.decision, outcome.events)


ISSUE_KINDS = {
    "v5.9/count-flipped": "a flipped comparison",
    "v5.7/mapcount-offset": "the _mapcount offset forgotten",
    "v5.18/wrong-numbering": "a wrong flag bit",
    "v5.18/swapbacked-ignored": "a wrong flag bit",
    "v5.9/check-after-lock": "a check moved after the lock",
}


@pytest.mark.parametrize("mutant_id", list(MUTANTS))
def test_each_broken_fast_path_is_caught(mutant_id, full_sweep, visible_sweep):
    mutant = MUTANTS[mutant_id]
    fast = mutant.load()
    caught = 0
    for sweep in (full_sweep, visible_sweep):
        era = sweep.eras[mutant.era]
        scalar = [fast(w) for w in era.words.tolist()]
        caught += sum(got != want for got, want in zip(scalar, zip(era.after.tolist(), era.trace.tolist())))
    assert caught > 0, f"{mutant_id} ({mutant.what}) is not caught"


def test_the_mutants_include_the_kinds_the_issue_names():
    assert set(ISSUE_KINDS) <= set(MUTANTS)
    assert len(MUTANTS) >= 30


def test_a_mutant_that_does_not_apply_says_so():
    from wpdiff.impl.mutants import Mutant

    with pytest.raises(ValueError, match="occurs 0 times"):
        Mutant("x", "v5.9", "v5_9", "no such text", "", "nothing").load()


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("era_id", list(ERAS))
def test_the_models_run_on_words_as_on_states(name, era_id, full_sweep, visible_sweep):
    """The bridge of the symbolic proofs: an era's model run on the packed
    word (WordFault) gives the concretized result of the model on the state."""
    era = {"full": full_sweep, "visible": visible_sweep}[name].eras[era_id]
    for i in range(0, era.states, 7):
        w = int(era.words[i])
        assert wordfault.run(era_id, w) == (int(era.after[i]), int(era.trace[i])), (era_id, i)


@pytest.mark.parametrize("era_id", list(ERAS))
def test_a_fieldword_answers_as_the_int_word(era_id, visible_sweep):
    era = visible_sweep.eras[era_id]
    fast = FASTPATHS[era_id]
    for w in era.words.tolist()[::41]:
        after, trace = fast(FieldWord.of(w))
        assert (int(after), trace) == fast(w)


_RUN_BATCH = """
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from wpdiff.impl import batch
import fast
print(int(batch.run(fast.do_wp_page, np.array([5], dtype=np.uint64))[0][0]))
"""


def test_the_batch_cache_follows_helpers_in_other_files(tmp_path):
    # Numba keys its on-disk cache on the compiled function's own file; a
    # helper or a constant from another file changing under it must not
    # bring back the old compiled loop.
    (tmp_path / "fast.py").write_text("from helper import add\n\ndef do_wp_page(w):\n    return add(w), 0\n")
    answers = []
    for k in (1, 2):
        (tmp_path / "helper.py").write_text(f"K = {k}\n\ndef add(w):\n    return w + K\n")
        done = subprocess.run([sys.executable, "-c", _RUN_BATCH, str(tmp_path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        answers.append(int(done.stdout))
    assert answers == [6, 7]


@pytest.fixture(scope="module")
def unmapped() -> np.ndarray:
    return np.array(unmapped_words(), dtype=np.uint64)


@pytest.mark.parametrize("era_id", list(ERAS))
def test_scalar_batch_and_model_agree_on_mapcount_and_refcount_zero(era_id, unmapped):
    # No state has them (the faulting PTE maps the page), so the model runs on the word.
    assert len(unmapped) > 50000 and {unpack(int(w))["mapcount"] for w in unmapped[:: 97]} == {-1}
    assert {unpack(int(w))["refcount"] % 1024 for w in unmapped} == set(range(9))
    after, trace = batch.run(FASTPATHS[era_id], unmapped)
    fast = FASTPATHS[era_id]
    for w, a, t in zip(unmapped.tolist(), after.tolist(), trace.tolist()):
        assert fast(w) == (a, t) == wordfault.run(era_id, w), hex(w)
