"""The abstraction function: what the kernel can see of an abstract state.

``concretize(era, state)`` is the one definition of the gap between the spec
and the kernel: owners disappear, holders become counters, flags land on
the era's bit numbers.  ``concretize_outcome`` does the same for an
outcome, so that an era's reference model and its fast path can be compared
word for word.

>>> from wpdiff.spec import FaultState, Page, mapping, get
>>> from wpdiff.impl.concretize import concretize
>>> from wpdiff.impl.layout import unpack
>>> cve = FaultState(page=Page(holders=(mapping(0), get(1, taken_while_shared=True))))
>>> w = concretize("v5.7", cve)
>>> fields = unpack(w)
>>> fields["refcount"], fields["mapcount"], fields["mapping"]
(2, 0, 1)
"""

from functools import lru_cache
from typing import Dict, Optional, Tuple

from wpdiff.spec import era as spec_era
from wpdiff.spec.outcome import Outcome
from wpdiff.spec.state import (
    FaultKind,
    GUP_PIN_COUNTING_BIAS,
    FaultState,
    HolderKind,
    Page,
    PageKind,
    Pte,
    StateError,
    UffdWp,
    Vma,
    get,
    holders_refcount,
    ksm_stable_node,
    lru_batch,
    mapping,
    page_cache,
    pin,
    swap_cache,
    swap_pte,
)

from .layout import (
    PageFlags,
    LOCAL_BATCH,
    MAPPING,
    MM_SHARED,
    ORDER,
    STABLE_NODE,
    PAGE_FLAGS,
    PAGE_MAPPING_ANON,
    PAGE_MAPPING_KSM,
    PTE_ACCESSED,
    PTE_DIRTY,
    PTE_RW,
    PTE_SPECIAL,
    PTE_UFFD_WP,
    VM_SHARED,
    VM_UFFD_WP,
    VM_WRITE,
    FIELD,
    encode_trace,
    pack,
    unpack,
)


def _page_bits(era_id: str, page: Optional[Page]) -> int:
    """The page fields of the word, packed (0 without a struct page)."""
    if page is None or page.kind is PageKind.ZERO:
        return 0
    return _packed_page(PAGE_FLAGS[era_id], page)


@lru_cache(maxsize=1 << 16)
def _packed_page(pg: PageFlags, page: Page) -> int:
    nr_pages = page.nr_pages
    maps = [0] * nr_pages
    swapcache = off_lru = stable = local = swapcount = 0
    for h in page.holders:
        kind = h.kind
        if kind is HolderKind.MAPPING:
            maps[h.subpage] += 1
        elif kind is HolderKind.SWAP_CACHE:
            swapcache = 1
        elif kind is HolderKind.SWAP_PTE:
            swapcount += 1
        elif kind is HolderKind.LRU_BATCH:
            off_lru = 1
            local = int(not h.remote)
        elif kind is HolderKind.ISOLATION:
            off_lru = 1
        elif kind is HolderKind.KSM_STABLE_NODE:
            stable = 1
    flags = (
        (page.locked << pg.locked)
        + (page.dirty << pg.dirty)
        + ((not off_lru) << pg.lru)
        + ((swapcache or page.checked) << pg.owner_priv_1)
        + (page.writeback << pg.writeback)
        + (page.large << pg.head)
        + (page.anon << pg.swapbacked)
        + (page.anon_exclusive << pg.anon_exclusive)
    )
    word = (
        flags
        + (_MAPPING.get(page.kind, 0) << MAPPING)
        + ((nr_pages.bit_length() - 1) << ORDER)
        + (page.maybe_mapped_shared << MM_SHARED)
        + (stable << STABLE_NODE)
        + (local << LOCAL_BATCH)
    )
    counts = (
        holders_refcount(page.holders, nr_pages),
        maps[0] - 1,
        sum(maps) - 1,
        max(maps[1:], default=0),
        swapcount,
    )
    for (name, shift, mask, low, high), value in zip(_COUNTERS, counts):
        if not low <= value <= high:
            pack(**{name: value})  # raises PackError, naming the field
        word += (value & mask) << shift
    return word


_COUNTERS = tuple(
    (f.name, f.shift, f.mask, f.low, f.high)
    for f in (FIELD[name] for name in ("refcount", "mapcount", "large_mapcount", "others_mapcount", "swapcount"))
)
_MAPPING = {PageKind.ANON: PAGE_MAPPING_ANON, PageKind.KSM: PAGE_MAPPING_KSM}


def _pte(pte: Pte, special: bool) -> int:
    return (
        (int(pte.write) << PTE_RW)
        + (int(pte.young) << PTE_ACCESSED)
        + (int(pte.dirty) << PTE_DIRTY)
        + (int(special) << PTE_SPECIAL)
        + (int(pte.uffd_wp) << PTE_UFFD_WP)
    ) << FIELD["pte"].shift


@lru_cache(maxsize=256)
def _context_bits(vma: Vma, fault: FaultKind, tlb_flush_pending: bool, pte_changes: bool) -> int:
    return pack(
        vma=(int(vma.write) << VM_WRITE) + (int(vma.shared) << VM_SHARED) + (int(vma.uffd_wp is not UffdWp.OFF) << VM_UFFD_WP),
        uffd_async=int(vma.uffd_wp is UffdWp.ASYNC),
        unshare=int(fault is FaultKind.UNSHARE),
        tlb_flush_pending=int(tlb_flush_pending),
        pte_changes=int(pte_changes),
    )


def _context(state: FaultState) -> int:
    """The fields that describe the fault rather than the page or PTE."""
    return _context_bits(state.vma, state.fault, state.tlb_flush_pending, state.pte_changes_while_sleeping)


class WitnessError(ValueError):
    """A word that no well-formed abstract state concretizes to."""


def witness(era_id: str, word: int) -> FaultState:
    """A canonical abstract state that `era_id` sees as `word`: the inverse of
    :func:`concretize`, choosing owners the kernel cannot see.  Every other
    mm is a new one (mm1, mm2, ...), and references beyond the holders the
    fields name are the faulting mm's own GET references -- or, at 1024 each
    on a small folio, its own long-term R/W pins.  Raises WitnessError,
    saying why, for a word no well-formed state maps to.

    >>> from wpdiff.impl.layout import pack
    >>> w = pack(mapping=1, refcount=2, mapcount=0, large_mapcount=0, flags=(1 << 19) + (1 << 4))  # PG_swapbacked, PG_lru
    >>> [str(h) for h in witness("v5.9", w).page.holders]
    ['mapping(mm0)', 'get(mm0, rw)']
    """
    v = unpack(word)
    pg = PAGE_FLAGS[era_id]
    flags = v["flags"]

    def flag(bit: int) -> bool:
        return bool((flags >> bit) & 1)

    pte = v["pte"]
    vma = v["vma"]
    if (vma >> VM_UFFD_WP) & 1:
        mode = UffdWp.ASYNC if v["uffd_async"] else UffdWp.SYNC
    elif v["uffd_async"]:
        raise WitnessError("uffd_async is set on a VMA without VM_UFFD_WP")
    else:
        mode = UffdWp.OFF
    context = dict(
        vma=Vma(write=bool((vma >> VM_WRITE) & 1), shared=bool((vma >> VM_SHARED) & 1), uffd_wp=mode),
        pte=Pte(
            write=bool((pte >> PTE_RW) & 1),
            dirty=bool((pte >> PTE_DIRTY) & 1),
            young=bool((pte >> PTE_ACCESSED) & 1),
            uffd_wp=bool((pte >> PTE_UFFD_WP) & 1),
        ),
        fault=FaultKind.UNSHARE if v["unshare"] else FaultKind.WRITE,
        tlb_flush_pending=bool(v["tlb_flush_pending"]),
        pte_changes_while_sleeping=bool(v["pte_changes"]),
    )
    try:
        page = _witness_page(pg, v, flag, special=bool((pte >> PTE_SPECIAL) & 1))
        state = FaultState(page=page, **context)
    except StateError as e:
        raise WitnessError(str(e)) from None
    if concretize(era_id, state) != word:
        raise WitnessError(f"{word:#x} names bits no abstract state sets")
    return state


def _witness_page(pg, v: Dict[str, int], flag, special: bool) -> Page:
    if special:
        if any(v[name] for name in _PAGE_FIELDS):
            raise WitnessError("a special PTE (zero page, pfn map) has no struct page, yet page fields are set")
        return Page(kind=PageKind.ZERO)
    kind = {PAGE_MAPPING_ANON: PageKind.ANON, PAGE_MAPPING_KSM: PageKind.KSM, 0: PageKind.FILE}.get(v["mapping"])
    if kind is None:
        raise WitnessError("page->mapping & 3 == 2 is a non-LRU movable page, which no COW fault maps")
    nr_pages = 1 << v["order"]
    mapcount, total, others = v["mapcount"] + 1, v["large_mapcount"] + 1, v["others_mapcount"]
    if mapcount < 1:
        raise WitnessError(f"_mapcount {v['mapcount']}: the faulting PTE maps the page, so it is mapped at least once")
    holders = [mapping(mm) for mm in range(mapcount)]
    extra = total - mapcount
    if nr_pages == 1 and (extra or others):
        raise WitnessError("a small folio's large mapcount repeats its mapcount and it has no other pages")
    if not ((extra == 0 and others == 0) or (others >= 1 and others <= extra <= others * (nr_pages - 1))):
        raise WitnessError(f"{extra} mappings of other pages cannot have {others} as their largest page mapcount")
    for subpage in range(1, nr_pages):
        count = min(others, extra)
        holders += [mapping(mm, subpage) for mm in range(count)]
        extra -= count
    mappers = len({h.owner for h in holders})
    swapcache = flag(pg.owner_priv_1) and kind is not PageKind.FILE
    if swapcache:
        holders.append(swap_cache())
    holders += [swap_pte(mappers + i) for i in range(v["swapcount"])]
    if not flag(pg.lru):
        holders.append(lru_batch(remote=not v["local_batch"]))
    elif v["local_batch"]:
        raise WitnessError("the page is on the LRU list (PG_lru), so no CPU's batch holds it")
    if v["stable_node"]:
        holders.append(ksm_stable_node())
    if kind is PageKind.FILE:
        holders.append(page_cache())
    extra_refs = v["refcount"] - holders_refcount(holders, nr_pages)
    if extra_refs < 0:
        raise WitnessError(f"refcount {v['refcount']} is below the {v['refcount'] - extra_refs} references the holders take")
    pins = extra_refs // GUP_PIN_COUNTING_BIAS if nr_pages == 1 else 0
    holders += [pin(0, writable=True, longterm=True)] * pins
    holders += [get(0, writable=True)] * (extra_refs - pins * GUP_PIN_COUNTING_BIAS)
    return Page(
        kind=kind,
        holders=tuple(holders),
        nr_pages=nr_pages,
        anon_exclusive=flag(pg.anon_exclusive),
        locked=flag(pg.locked),
        writeback=flag(pg.writeback),
        dirty=flag(pg.dirty),
        checked=flag(pg.owner_priv_1) and kind is PageKind.FILE,
        maybe_mapped_shared=bool(v["mm_shared"]),
    )


_PAGE_FIELDS = ("flags", "mapping", "refcount", "mapcount", "large_mapcount", "order", "mm_shared",
                "others_mapcount", "swapcount", "stable_node", "local_batch")


def concretize(era_id: str, state: FaultState) -> int:
    """The packed word the era's kernel sees for `state`.  Raises PackError
    when a count does not fit its field."""
    spec_era(era_id)  # an unknown era fails here, by name
    special = state.page.kind is PageKind.ZERO
    return _page_bits(era_id, state.page) + _pte(state.pte, special) + _context(state)


def concretize_outcome(era_id: str, state: FaultState, outcome: Outcome) -> Tuple[int, int]:
    """(word after, trace word) of an outcome of the era's model on `state`.
    After a copy the page fields describe the old page and the PTE field the
    new PTE."""
    special = state.page.kind is PageKind.ZERO and outcome.new_page is None
    after = _page_bits(era_id, outcome.page) + _pte(outcome.pte, special) + _context(state)
    return after, encode_trace(outcome.decision, outcome.events)
