"""Deliberately broken fast paths, to show that the checks can fail.

Each :class:`Mutant` is a one-place edit of the fast-path sources -- a
flipped comparison, the ``_mapcount`` offset forgotten, a wrong flag bit, a
check moved past the lock -- that makes one era's fast path unfaithful.
``Mutant.load()`` builds a private copy of the whole ``impl.fastpath``
package with the edit applied and returns that era's ``do_wp_page``; the
real package is untouched.  None of them is equivalent to the original:
each differs from the era's model on some state of the bounded spaces.

>>> from wpdiff.impl.mutants import MUTANTS
>>> m = MUTANTS["v5.9/count-flipped"]
>>> fast = m.load()
>>> from wpdiff.impl.concretize import concretize
>>> from wpdiff.spec.history import SOLE_MAPPING
>>> from wpdiff.impl.fastpath import FASTPATHS
>>> fast(concretize("v5.9", SOLE_MAPPING)) == FASTPATHS["v5.9"](concretize("v5.9", SOLE_MAPPING))
False

Through the user-facing check -- the mutant as a user's fast path against
its era as the base (``--fastpath ... --base ERA``), where deciding
differently is informational and only a guarantee the base keeps on the
same state fails it (``wpdiff.diff.regression``) -- most are *broken*;
those in ``BEHAVIOUR_ONLY`` are only a *behaviour change*: they decide
differently from their era on some states without breaking a guarantee
there, and only faithfulness (a built-in fast path held to its own era)
catches them.  tests/test_power.py holds the split to the full space.
"""

import itertools
import sys
import types
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Callable, Dict, Tuple

from wpdiff.spec.eras import ERAS

FastPath = Callable[[int], Tuple[int, int]]

def _modules() -> Tuple[str, ...]:
    """Modules of impl.fastpath in an order that satisfies their imports:
    the helpers, then the eras in release order (an era's fast path builds
    on earlier ones only)."""
    from .fastpath import HELPERS, module_name

    return HELPERS + tuple(module_name(e) for e in ERAS)


_counter = itertools.count()


@dataclass(frozen=True)
class Mutant:
    id: str
    era: str  # the era whose fast path the edit breaks
    module: str  # the fastpath module edited
    old: str  # text that occurs exactly once in it ...
    new: str  # ... and what replaces it
    what: str  # the mistake, in words

    def source(self) -> str:
        original = _source(self.module)
        if original.count(self.old) != 1:
            raise ValueError(
                f"mutant {self.id}: {self.old!r} occurs {original.count(self.old)} times in fastpath/{self.module}.py; "
                "it must occur exactly once"
            )
        return original.replace(self.old, self.new)

    def load(self) -> FastPath:
        """This era's do_wp_page from a private copy of the fast paths with the edit applied."""
        return _package(self)[_era_module(self.era)].do_wp_page


def _era_module(era_id: str) -> str:
    return era_id.replace(".", "_").replace("-", "_")


@lru_cache(maxsize=None)
def _source(module: str) -> str:
    return resources.files("wpdiff.impl.fastpath").joinpath(f"{module}.py").read_text()


def _package(mutant: Mutant) -> Dict[str, types.ModuleType]:
    name = f"wpdiff.impl._mutant_{next(_counter)}"
    package = types.ModuleType(name)
    package.__path__ = []
    sys.modules[name] = package
    loaded = {}
    try:
        for module in _modules():
            text = mutant.source() if module == mutant.module else _source(module)
            text = text.replace("from ..layout import", "from wpdiff.impl.layout import")
            mod = types.ModuleType(f"{name}.{module}")
            mod.__package__ = name
            sys.modules[mod.__name__] = mod
            exec(compile(text, f"<mutant {mutant.id}: fastpath/{module}.py>", "exec"), mod.__dict__)
            setattr(package, module, mod)
            loaded[module] = mod
    finally:
        for module in list(sys.modules):
            if module == name or module.startswith(name + "."):
                del sys.modules[module]
    return loaded


def _m(era: str, module: str, old: str, new: str, what: str, tag: str) -> Mutant:
    return Mutant(f"{era}/{tag}", era, module, old, new, what)


MUTANTS: Dict[str, Mutant] = {
    m.id: m
    for m in (
        # --- v5.7: reuse_swap_page() and the sleeping lock
        _m("v5.7", "v5_7", "swapcount = page_swapcount(w) if PageSwapCache(w, PG) else 0", "swapcount = 0",
           "reuse_swap_page() forgets other mms' swap references", "swapcount-ignored"),
        _m("v5.7", "v5_7", "and bit(w, STABLE_NODE) and", "and",
           "reuse_ksm_page() takes over a KSM page with no stable node", "stable-node-ignored"),
        _m("v5.7", "v5_7", "            if pte_changes(w):", "            if 0:",
           "no pte_same() check after sleeping on the page lock", "no-pte-same"),
        _m("v5.7", "v5_7", "if count == 1 and PageSwapCache(w, PG) and not bit(w, PG[WRITEBACK]):",
           "if count == 1 and PageSwapCache(w, PG):",
           "deletes a page under writeback from the swap cache", "writeback-ignored"),
        _m("v5.7", "v5_7", "if total == 1:", "if total >= 1:",
           "moves a page still mapped elsewhere in the folio to our anon_vma", "anon-vma-move-always"),
        _m("v5.7", "v5_7", "            count = max(count, others_mapcount(w))\n", "",
           "looks at the faulting page only, not the folio's other pages", "large-folio-one-page"),
        _m("v5.7", "word", "return raw - 7 if raw > 3 else raw + 1", "return raw - 8 if raw > 3 else raw",
           "reads _mapcount as the mapcount: the -1 offset forgotten", "mapcount-offset"),
        # --- v5.9-rc4 and v5.9: page_count() == 1 under a trylock
        _m("v5.9-rc4", "v5_9_rc4", "        w, t = reuse_pte(w, t)  # wp_page_reuse() drops the PTL ...\n"
           "        return w, ev(t, E_UNLOCK_PAGE) + REUSE  # ... before the unlock",
           "        t = ev(t, E_UNLOCK_PAGE)\n        w, t = reuse_pte(w, t)\n        return w, t + REUSE",
           "unlocks before the PTL as be068f29034f does: not what 5.9-rc4 does", "fixed-unlock-order"),
        _m("v5.9", "v5_9", "        if PageKsm(w) or page_count(w) != 1:\n            return wp_page_copy(w, t, PG, 0)\n",
           "        if PageKsm(w) or page_count(w) == 1:\n            return wp_page_copy(w, t, PG, 0)\n",
           "the lockless page_count() check flipped", "count-flipped"),
        _m("v5.9", "v5_9", "        if PageKsm(w) or page_count(w) != 1:\n            return wp_page_copy(w, t, PG, 0)\n"
           "        if bit(w, PG[LOCKED]):", "        if bit(w, PG[LOCKED]):",
           "the lockless check moved after the trylock: pages that will be copied get locked first",
           "check-after-lock"),
        _m("v5.9", "v5_9", "        if bit(w, PG[LOCKED]):\n            return wp_page_copy(w, ev(t, E_TRYLOCK_FAIL), PG, 0)\n",
           "", "trylock_page() assumed to succeed", "trylock-ignored"),
        _m("v5.9", "v5_9", "return wp_page_reuse(w, ev(t, E_UNLOCK_PAGE))", "return wp_page_reuse(w, t)",
           "the page is never unlocked on reuse", "missing-unlock"),
        _m("v5.9", "word", "    w = w + (7 << MAPCOUNT) if (w >> MAPCOUNT) & 7 == 0 else w - (1 << MAPCOUNT)\n",
           "    w = w - (1 << MAPCOUNT)\n",
           "page_remove_rmap() borrows from the refcount when _mapcount goes to -1", "mapcount-borrow"),
        # --- v5.18: LRU drain and swap-cache free
        _m("v5.18", "v5_18", "        if not bit(w, PG[LRU]):\n            w, t = lru_add_drain(w, t, PG)\n", "",
           "no lru_add_drain() for a page off the LRU", "no-drain"),
        _m("v5.18", "v5_18", "page_count(w) > 3:", "page_count(w) > 2:",
           "the cheap cut off by one: a page with swap cache and LRU batch is copied", "cut-off-by-one"),
        _m("v5.18", "v5_18", "if page_count(w) > 1 + PageSwapCache(w, PG):", "if page_count(w) > 1:",
           "the swap cache's reference counted as a user before it is freed", "swapcache-counted"),
        _m("v5.18", "v5_18", "            w, t = try_to_free_swap(w, t, PG)\n", "            pass\n",
           "try_to_free_swap() not called under the lock", "no-free-swap"),
        _m("v5.18", "v5_18", 'PG = PAGE_FLAGS["v5.18"].bits()', 'PG = PAGE_FLAGS["v6.15"].bits()',
           "page flags read at the current bit numbers instead of 5.18's", "wrong-numbering"),
        _m("v5.18", "v5_18", "        t = ev(t, E_TLB_FLUSH)\n", "        pass\n",
           "the deferred uffd-wp TLB flush forgotten", "no-tlb-flush"),
        _m("v5.18", "word", "    return (w >> pg[OWNER_PRIV_1]) & 1 if (w >> pg[SWAPBACKED]) & 1 else 0",
           "    return (w >> pg[OWNER_PRIV_1]) & 1",
           "PG_owner_priv_1 taken for PG_swapcache without PG_swapbacked (a file's PG_checked)", "swapbacked-ignored"),
        _m("v5.18", "word", "if free_swap_cache and PageSwapCache(w, pg) and folio_large_mapcount(w) < 1:",
           "if free_swap_cache and PageSwapCache(w, pg):",
           "free_swap_cache() after a copy on a page others still map", "free-swap-while-mapped"),
        # --- v5.19, v6.2: PG_anon_exclusive and unshare
        _m("v5.19", "v5_19", "    if bit(w, pg[ANON_EXCLUSIVE]):\n        return reuse(w, t)\n", "",
           "PG_anon_exclusive not looked at: exclusive pinned pages go through the count", "exclusive-ignored"),
        _m("v5.19", "v5_19", "    w, t = set_anon_exclusive(w, t, pg)\n", "",
           "a reused page is not marked exclusive", "no-set-exclusive"),
        _m("v5.19", "v5_19", "    if unshare(w):\n        return unshare_reuse(w, t)\n    return wp_page_reuse(w, t)",
           "    return wp_page_reuse(w, t)", "an unshare fault maps the page writable", "unshare-writes"),
        _m("v5.19", "word", "    w = set_bit(w - (1 << LOCAL_BATCH) - (1 << REFCOUNT), pg[LRU])",
           "    w = w - (1 << LOCAL_BATCH) - (1 << REFCOUNT)",
           "a drained page is not put back on the LRU (PG_lru stays clear)", "drain-no-lru"),
        _m("v6.2", "v6_2", "    if not unshare(w):\n        if pte_uffd_wp(w):", "    if 1:\n        if pte_uffd_wp(w):",
           "unshare faults sent to the uffd-wp handler too", "uffd-on-unshare"),
        _m("v6.2", "word", "    if writing:\n        w = clear_bit(w, PTE + PTE_UFFD_WP)",
           "    w = clear_bit(w, PTE + PTE_UFFD_WP)", "the unshared copy loses the uffd-wp bit", "unshare-drops-uffd-wp"),
        # --- v6.7 .. v6.15: wp_can_reuse_anon_folio()
        _m("v6.7", "v6_7", "            if not userfaultfd_wp_async(w):\n                return handle_userfault(w, t)\n",
           "            return handle_userfault(w, t)\n", "async uffd-wp treated as sync", "async-as-sync"),
        _m("v6.7", "v6_7", "    w, t = page_move_anon_rmap(w, t)\n    return w, ev(t, E_UNLOCK_PAGE), 1",
           "    w, t = page_move_anon_rmap(w, t)\n    w, t = set_anon_exclusive(w, t, pg)\n"
           "    return w, ev(t, E_UNLOCK_PAGE), 1",
           "marks the page exclusive under the page lock as well (twice)", "exclusive-twice"),
        _m("v6.9", "v6_9", "    if bit(w, pg[HEAD]):\n        return w, t, 0\n", "",
           "large folios go through the small-folio rule", "large-not-refused"),
        _m("v6.15", "v6_15", "if folio_large_mapcount(w) <= 1:", "if folio_large_mapcount(w) < 1:",
           "a folio mapped once is reused instead of freed", "mapped-once-reused"),
        _m("v6.15", "v6_15", "    if bit(w, MM_SHARED):\n        return w, t, 0\n", "",
           "the maybe-mapped-shared bit ignored", "shared-bit-ignored"),
        _m("v6.15", "v6_15", "if folio_large_mapcount(w) != page_count(w):", "if folio_large_mapcount(w) > page_count(w):",
           "mapcount below refcount taken as exclusive: a foreign reference is missed", "mapcount-below-refcount"),
        _m("v6.15", "v6_15", "        if bit(w, pg[LOCKED]):\n            return w, ev(t, E_TRYLOCK_FAIL), 0\n", "",
           "the folio trylock before freeing the swap cache assumed to succeed", "large-trylock-ignored"),
        _m("v6.15", "word", "(folio_nr_pages(w) << REFCOUNT)", "(1 << REFCOUNT)",
           "a large folio leaving the swap cache drops one reference instead of one per page", "swap-free-one-ref"),
        _m("v6.15", "word", "    if (w >> (VMA + VM_WRITE)) & 1:\n        w = set_bit(w, PTE + PTE_RW)",
           "    w = set_bit(w, PTE + PTE_RW)", "maybe_mkwrite() forgotten: FOLL_FORCE makes the PTE writable",
           "mkwrite-without-vm-write"),
        # --- the five guarantees a reviewer holds a patch to (issue 15)
        _m("v6.2", "v6_2", "    if vma_shared(w):\n        if not page:",
           "    if vma_shared(w) or (page and not PageAnon(w) and not unshare(w)):\n        if not page:",
           "a private file page sent down the shared path: the write lands in the page cache",
           "private-file-shared"),
        _m("v5.9", "v5_9", "    if not vm_normal_page(w):\n        if vma_shared(w):\n            return wp_pfn_shared(w, t)\n"
           "        return wp_page_copy(w, t, PG, 0)\n", "    if not vm_normal_page(w):\n        return wp_pfn_shared(w, t)\n",
           "no struct page, so written in place: the zero page made writable in a private mapping",
           "zero-page-in-place"),
        _m("v6.7", "v6_7", "    t = 0\n    if not unshare(w):\n        if pte_uffd_wp(w):",
           "    t = 0\n    if not unshare(w) and vm_normal_page(w) and PageAnon(w) and bit(w, pg[ANON_EXCLUSIVE]):\n"
           "        return wp_page_reuse(w, t)  # an exclusive page needs no further look\n"
           "    if not unshare(w):\n        if pte_uffd_wp(w):",
           "an exclusive page reused before the uffd-wp bit is looked at", "exclusive-before-uffd-wp"),
        _m("v5.18", "v5_18", "        if bit(w, PG[LOCKED]):\n            return wp_page_copy(w, ev(t, E_TRYLOCK_FAIL), PG, 1)\n"
           "        t = ev(t, E_TRYLOCK_OK)\n        if PageSwapCache(w, PG):\n            w, t = try_to_free_swap(w, t, PG)\n",
           "        if PageSwapCache(w, PG):\n            w, t = try_to_free_swap(w, t, PG)\n"
           "        if bit(w, PG[LOCKED]):\n            return wp_page_copy(w, ev(t, E_TRYLOCK_FAIL), PG, 1)\n"
           "        t = ev(t, E_TRYLOCK_OK)\n",
           "the swap cache freed before the trylock, without the page lock", "free-swap-before-lock"),
        _m("v6.15", "v6_15", "    if PageSwapCache(w, pg):\n        if bit(w, pg[LOCKED]):\n            return w, ev(t, E_TRYLOCK_FAIL), 0\n"
           "        w, t = try_to_free_swap(w, ev(t, E_TRYLOCK_OK), pg)\n        t = ev(t, E_UNLOCK_PAGE)\n",
           "    if PageSwapCache(w, pg):\n        w, t = try_to_free_swap(w, t, pg)\n",
           "a large folio's swap cache freed without the folio lock (large-folio reuse needs no lock, the swap "
           "cache does)", "large-free-swap-unlocked"),
        _m("v5.7", "v5_7", "                return w, ev(ev(ev(t, E_UNLOCK_PAGE), E_PTL_UNLOCK), E_PUT) + RETRY",
           "                return wp_page_copy(w, ev(ev(t, E_UNLOCK_PAGE), E_PUT), PG, 0)",
           "the PTE changed while sleeping, and the handler copies into it instead of retrying", "stale-pte-copied"),
        _m("v5.9", "v5_9", "        if PageKsm(w) or page_count(w) != 1:\n            return wp_page_copy(w, t, PG, 0)\n"
           "        if bit(w, PG[LOCKED]):\n            return wp_page_copy(w, ev(t, E_TRYLOCK_FAIL), PG, 0)\n"
           "        t = ev(t, E_TRYLOCK_OK)\n        if PageKsm(w) or page_mapcount(w) != 1",
           "        if page_count(w) != 1:\n            return wp_page_copy(w, t, PG, 0)\n"
           "        if bit(w, PG[LOCKED]):\n            return wp_page_copy(w, ev(t, E_TRYLOCK_FAIL), PG, 0)\n"
           "        t = ev(t, E_TRYLOCK_OK)\n        if page_mapcount(w) != 1",
           "the KSM checks dropped: a KSM page mapped once is reused in place", "ksm-reused"),
        _m("v5.7", "v5_7", "            if reused:\n                w, t = page_move_anon_rmap(w, t)\n", "",
           "reuse_ksm_page() reuses the KSM page without moving it out of KSM", "ksm-not-moved"),
        # --- rare states the engines missed (issue 15)
        _m("v6.7", "v6_7", "    if PageKsm(w) or page_count(w) != 1:\n        return w, ev(t, E_UNLOCK_PAGE), 0\n",
           "    if PageKsm(w) or page_count(w) != 1 + PageSwapCache(w, pg):\n        return w, ev(t, E_UNLOCK_PAGE), 0\n",
           "the exact count allows the swap cache try_to_free_swap() may have failed to free (another mm's swap PTE)",
           "swap-free-assumed"),
        _m("v6.15", "v6_15", "if folio_large_mapcount(w) != page_count(w):",
           "if folio_large_mapcount(w) + 1 < page_count(w):",
           "one reference beyond the mappings allowed for an LRU batch: another mm's GET is missed",
           "large-batch-allowance"),
        _m("v5.18", "word", "    return (w >> REFCOUNT) & 4095", "    return (w >> REFCOUNT) & 1023",
           "page_count() read modulo GUP_PIN_COUNTING_BIAS: a pin drops out of the count", "count-modulo-pin-bias"),
    )
}


# The mutants the user-facing check sees only as a behaviour change, and why
# no guarantee breaks (the rest break one the base keeps, on some state).
BEHAVIOUR_ONLY: Dict[str, str] = {
    "v5.7/stable-node-ignored": "a stale KSM page taken over is moved out of KSM first: reused as an anonymous page",
    "v5.7/anon-vma-move-always": "the anon_vma move is not judged: rmap walks find the page either way",
    "v5.9-rc4/fixed-unlock-order": "it fixes unlock-before-ptl (be068f29034f): a behaviour change for the better",
    "v5.9/check-after-lock": "pages that will be copied are locked and unlocked first: slower, not wrong",
    "v5.9/trylock-ignored": "a page locked by another is decided on as if the trylock succeeded; the trace claims "
                            "the lock, and who really holds it is beyond what the invariants see",
    "v5.18/free-swap-while-mapped": "the swap cache freed after a copy under the lock while others map the page: "
                                    "wasteful, not unsafe",
    "v6.2/unshare-drops-uffd-wp": "the unshared copy loses the uffd-wp bit: no invariant speaks of uffd-wp "
                                  "after an unshare",
    "v6.7/exclusive-twice": "PG_anon_exclusive set twice: the same state after",
    "v6.9/large-not-refused": "a large folio through the small-folio rule is refused by its count anyway",
    "v6.15/mapped-once-reused": "a folio mapped once and reused is ours alone: a performance choice",
    "v6.15/large-trylock-ignored": "the folio trylock assumed to succeed; the trace claims the lock, and who "
                                   "really holds it is beyond what the invariants see",
}
