"""Property-based checks of the spec beyond the bounded space."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wpdiff.spec import ERAS, INVARIANTS, violations
from wpdiff.spec.strategies import fault_states

EXAMPLES = settings(max_examples=300, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@EXAMPLES
@given(fault_states(ERAS["v6.15"]))
def test_v6_15_keeps_every_guarantee_on_what_it_admits(state):
    assert violations(ERAS["v6.15"], state) == []


@EXAMPLES
@given(st.sampled_from(list(ERAS.values())).flatmap(lambda era: st.tuples(st.just(era), fault_states(era))))
def test_every_era_balances_locks_and_references(era_state):
    era, state = era_state
    outcome = era(state)
    for inv in ("lock-balance", "refs-conserved", "write-needs-vm-write"):
        assert INVARIANTS[inv].check(state, outcome) is None, (era.id, inv)


@EXAMPLES
@given(fault_states())
def test_every_era_runs_on_every_state_even_unadmitted(state):
    for era in ERAS.values():
        outcome = era(state)
        assert outcome.events, era.id
