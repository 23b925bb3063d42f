"""Engine power, in small: the rare states the engines missed are drawn often, and found.

The whole measure -- every broken mutant, several seeds, the worst run per
engine -- is the benchmark's (``python -m bench.power``); here only what
runs in seconds.
"""

import pytest
from hypothesis import HealthCheck, given, settings

from wpdiff.diff import exhaustive, regression
from wpdiff.diff.targets import Target
from wpdiff.impl.mutants import BEHAVIOUR_ONLY, MUTANTS
from wpdiff.spec import ERAS, HolderKind
from wpdiff.spec.strategies import fault_states

# the three classes of rare state issue 15 names, and a mutant that only they show
RARE = {
    "v6.7/swap-free-assumed": "trylock succeeds, the swap-cache free fails: another mm holds a swap PTE",
    "v6.15/large-batch-allowance": "a large folio mapped twice by the faulting mm, plus another mm's GET",
    "v5.18/count-modulo-pin-bias": "a refcount taken modulo the pin bias: another mm's pin",
}


def _target(mutant_id: str) -> Target:
    m = MUTANTS[mutant_id]
    return Target(f"mutant:{m.id}", m.era, m.load(), False)


@pytest.mark.parametrize("mutant_id", list(RARE))
@pytest.mark.parametrize("seed", [0, 1])
def test_the_default_profile_finds_each_rare_state_class(mutant_id, seed):
    found = regression.hunt(_target(mutant_id), "dev", seed)
    assert found is not None, f"{mutant_id} ({RARE[mutant_id]}) not caught with seed {seed}"
    assert found.regressions and ERAS[MUTANTS[mutant_id].era].admits(found.state)


def _swap_pte_while_ours(state) -> bool:
    page = state.page
    maps = page.of(HolderKind.MAPPING)
    return page.swapcache and page.count(HolderKind.SWAP_PTE) > 0 and len(maps) == 1 and not page.locked


def _large_twice_plus_foreign_get(state) -> bool:
    page = state.page
    own = [h for h in page.of(HolderKind.MAPPING) if h.owner == state.mm]
    return page.large and len(own) >= 2 and any(h.owner != state.mm for h in page.of(HolderKind.GET))


@pytest.mark.parametrize("era_id, rare", [("v6.7", _swap_pte_while_ours), ("v6.15", _large_twice_plus_foreign_get)],
                         ids=["swap-pte-while-ours", "large-twice-plus-foreign-get"])
def test_the_strategy_draws_the_rare_combinations_often(era_id, rare):
    seen = []

    @settings(max_examples=400, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(fault_states(ERAS[era_id]))
    def draw(state):
        seen.append(rare(state))

    draw()
    assert sum(seen) >= 0.01 * len(seen), f"{sum(seen)} of {len(seen)}"


_SWEEP = None  # the full sweep, inherited by the forked workers below


def _judged(mutant_id: str):  # type: ignore[no-untyped-def]
    c = regression.compare_target(_SWEEP.eras[MUTANTS[mutant_id].era], _target(mutant_id), exhaustive.space("full"))
    return mutant_id, c.verdict(), c.summary()


@pytest.mark.slow
def test_the_mutants_split_into_broken_and_behaviour_only_as_impl_mutants_says(full_sweep):
    import multiprocessing

    global _SWEEP
    _SWEEP = full_sweep
    exhaustive.space("full")  # built once, before the fork
    with multiprocessing.get_context("fork").Pool(2) as pool:  # one mutant per core at a time
        judged = pool.map(_judged, list(MUTANTS))
    for mutant_id, verdict, summary in judged:
        assert verdict == ("behaviour change" if mutant_id in BEHAVIOUR_ONLY else "broken"), summary
