"""The manifest: which functions carry the decision, per API generation.

Not a transitive closure: each generation names the functions of the
user's tree that are compiled as they are (the handler, reuse, the two
shared paths, ``fault_dirty_shared_page``, and per generation the reuse
helpers), and the shim header that models everything else they call.  The
generation is chosen by what the extracted ``do_wp_page()`` calls, never by
the version:

| generation | releases | recognised by | shim |
|---|---|---|---|
| page | 5.7 - 5.18 | none of the below (5.7: it calls ``reuse_swap_page()``, taken from ``mm/swapfile.c``, and ``reuse_ksm_page()``, from ``mm/ksm.c``) | ``gen_page.h`` |
| folio | 5.19 - 6.6 | ``folio_test_anon()`` or ``PageAnonExclusive()`` | ``gen_folio.h`` |
| folio-reuse | 6.7 - 6.14 | ``wp_can_reuse_anon_folio()`` | ``gen_folio_reuse.h`` |
| large-reuse | 6.15 - | ``__wp_can_reuse_large_anon_folio()`` defined in ``memory.c`` | ``gen_large_reuse.h`` |
"""

from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

# decision-carrying functions of mm/memory.c, every generation's (one that is absent is not extracted)
MEMORY_C = (
    "fault_dirty_shared_page",
    "wp_page_reuse",
    "wp_pfn_shared",
    "wp_page_shared",
    "__wp_can_reuse_large_anon_folio",
    "wp_can_reuse_anon_folio",
    "do_wp_page",
)
# what the shim needs to know of functions it models instead of compiling
INSPECT = ("wp_page_copy",)
SWAPFILE_C = ("page_trans_huge_map_swapcount", "reuse_swap_page")
KSM_C = ("reuse_ksm_page",)
# the user's functions whose call decides (the report names the line they were called from)
ACTIONS = ("wp_page_reuse", "wp_pfn_shared", "wp_page_shared")


@dataclass(frozen=True)
class Generation:
    name: str
    releases: str
    shim: str  # header under oracle/ktree/shim/


GENERATIONS: Dict[str, Generation] = {
    g.name: g
    for g in (
        Generation("page", "5.7 - 5.18", "gen_page.h"),
        Generation("folio", "5.19 - 6.6", "gen_folio.h"),
        Generation("folio-reuse", "6.7 - 6.14", "gen_folio_reuse.h"),
        Generation("large-reuse", "6.15 -", "gen_large_reuse.h"),
    )
}


def choose(calls: Sequence[str], defined: Sequence[str]) -> Generation:
    """The API generation of a do_wp_page() that calls `calls`, in a memory.c defining `defined`."""
    calls, defined = set(calls), set(defined)
    if "__wp_can_reuse_large_anon_folio" in defined:
        return GENERATIONS["large-reuse"]
    if "wp_can_reuse_anon_folio" in calls:
        return GENERATIONS["folio-reuse"]
    if calls & {"folio_test_anon", "PageAnonExclusive"}:
        return GENERATIONS["folio"]
    return GENERATIONS["page"]


def other_files(calls: Sequence[str]) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    """The other files of the tree whose functions the handler calls (5.7)."""
    out = []
    if "reuse_swap_page" in calls:
        out.append(("mm/swapfile.c", SWAPFILE_C))
    if "reuse_ksm_page" in calls:
        out.append(("mm/ksm.c", KSM_C))
    return tuple(out)
