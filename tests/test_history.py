"""The spec reproduces history from the abstract states alone."""

import pytest

from wpdiff.spec import ERAS, violations
from wpdiff.spec.history import (
    CVE_2020_29374,
    FINDINGS,
    OWN_LONGTERM_PIN,
    PIPE_BEFORE_FORK,
    SWAPPED_IN,
    expected,
)

from wpdiff.spec.space import size


def test_findings_are_exactly_the_history(full_sweep):
    found = {(era, inv) for era, result in full_sweep.eras.items() for inv in result.findings}
    want = {(f.era, f.invariant) for f in FINDINGS}
    assert found - want == set(), "findings history does not have"
    assert want - found == set(), "history the sweep did not find"


def test_v6_15_violates_nothing_it_admits(full_sweep):
    assert full_sweep.eras["v6.15"].admitted > 10000
    assert full_sweep.eras["v6.15"].findings == {}


@pytest.mark.parametrize("finding", FINDINGS, ids=lambda f: f"{f.era}:{f.invariant}")
def test_each_finding_has_its_smallest_example(finding, full_sweep):
    era = ERAS[finding.era]
    assert era.admits(finding.example), era.unreachable(finding.example)
    assert finding.invariant in [v.invariant for v in violations(era, finding.example)]
    assert size(finding.example) <= size(full_sweep.eras[finding.era].findings[finding.invariant].state)


def test_the_cve_is_closed_in_gup_by_v5_8_but_the_parents_pipe_is_not():
    assert ERAS["v5.7"].admits(CVE_2020_29374)
    assert "17839856fd58" in ERAS["v5.8"].unreachable(CVE_2020_29374)
    assert ERAS["v5.8"].admits(PIPE_BEFORE_FORK)
    for era_id in ("v5.7", "v5.8"):
        assert [v.invariant for v in violations(ERAS[era_id], PIPE_BEFORE_FORK)] == ["no-missed-cow"]
    for era in list(ERAS.values())[2:]:
        assert violations(era, PIPE_BEFORE_FORK) == []


def test_swap_cache_is_the_other_reuse_when_exclusive_example():
    for era in ERAS.values():
        broken = "reuse-when-exclusive" in [v.invariant for v in violations(era, SWAPPED_IN)]
        assert broken == expected(era.id, "reuse-when-exclusive"), era.id


def test_messages_name_the_values():
    [v] = violations(ERAS["v5.9"], OWN_LONGTERM_PIN)
    assert "refcount 1025, mapcount 1" in v.message
    assert "pin(mm0, rw, longterm)" in v.message


def test_every_invariant_is_broken_by_history_or_kept_by_every_era(full_sweep):
    from wpdiff.spec import INVARIANTS
    from wpdiff.spec.history import KEPT

    broken = {f.invariant for f in FINDINGS}
    assert broken.isdisjoint(KEPT)
    assert broken | set(KEPT) == set(INVARIANTS)
    for era_id, result in full_sweep.eras.items():  # the exhaustive engine shows it
        assert set(result.findings).isdisjoint(KEPT), era_id


def test_the_five_guarantees_of_issue_15_are_kept_by_every_era():
    from wpdiff.spec.history import KEPT

    assert {"private-write-copies", "uffd-wp-reported-first", "called-with-locks", "no-stale-pte",
            "ksm-never-written"} <= set(KEPT)
