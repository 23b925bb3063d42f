"""The packed word: one fault as one 63-bit integer, and its trace word.

Every field holds the kernel's own value: ``page->flags`` bits at the era's
bit numbers, the low bits of ``page->mapping``, ``_refcount`` with the pin
bias, ``_mapcount`` stored the kernel way (-1 = unmapped).  Flags that the
kernel keeps in other words (PTE, VMA, fault flags) are gathered in small
fields in the kernel's bit order; the table names the kernel value of each.
Bit 63 stays clear so that a word is also a non-negative int64.

``FIELDS`` is the one table; ``layout_table()`` renders it for the docs.

| field | bits | holds |
|---|---|---|
| flags | 0-19 | ``page->flags`` bits 0..19 in the era's numbering (``PAGE_FLAGS``); PG_locked set: someone else holds the page lock, so ``trylock_page()`` fails |
| mapping | 20-21 | ``page->mapping & 3``: PAGE_MAPPING_ANON 1, PAGE_MAPPING_KSM 3, a file page 0 |
| refcount | 22-33 | ``_refcount``; a pin adds GUP_PIN_COUNTING_BIAS (1024) on a small folio, 1 on a large one |
| mapcount | 34-36 | ``_mapcount`` of the faulting page, two's complement (-1 = unmapped) |
| large_mapcount | 37-40 | ``_large_mapcount``, two's complement: every PTE mapping of the folio, minus one |
| order | 41-42 | folio order (``folio_order()``): 0 for a small folio |
| mm_shared | 43 | the maybe-mapped-shared bit of ``_mm_ids`` (large folios, 6.15) |
| others_mapcount | 44-46 | the largest ``page_mapcount()`` among the folio's other pages |
| swapcount | 47-48 | ``swap_map`` count of the page's swap entry, SWAP_HAS_CACHE excluded |
| stable_node | 49 | ``page_stable_node()`` is not NULL (KSM) |
| pte | 50-54 | x86-64 PTE: _PAGE_RW (bit 1), _PAGE_ACCESSED (5), _PAGE_DIRTY (6), _PAGE_SPECIAL (9), _PAGE_UFFD_WP (10) |
| vma | 55-57 | VM_WRITE (0x2), VM_SHARED / VM_MAYSHARE (0x8 / 0x80), VM_UFFD_WP (0x1000) |
| uffd_async | 58 | UFFD_FEATURE_WP_ASYNC on the VMA's userfaultfd |
| unshare | 59 | FAULT_FLAG_UNSHARE (0x400); clear: FAULT_FLAG_WRITE (0x1) |
| tlb_flush_pending | 60 | ``mm_tlb_flush_pending()`` |
| local_batch | 61 | environment: the page sits in this CPU's LRU batch, so ``lru_add_drain()`` drops one reference |
| pte_changes | 62 | environment: the PTE changes while the handler sleeps on the page lock |

The trace word: bits 0-2 the decision (``DECISIONS``), bits 3-6 the number
of events, then one 4-bit event code (``EVENTS``) per event, in order, at
most 14.
"""

from dataclasses import dataclass
from typing import Dict, Iterator, List, Mapping, Sequence, Tuple

from wpdiff.spec.eras import ALIASES, ERAS, KernelVersion, era as spec_era
from wpdiff.spec.outcome import Decision, Event


class PackError(ValueError):
    """A value that does not fit its field: the word would wrap silently."""


@dataclass(frozen=True)
class Field:
    name: str
    shift: int
    width: int
    signed: bool = False
    holds: str = ""  # what the kernel keeps there, for the table

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    @property
    def low(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def high(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else self.mask


FIELDS: Tuple[Field, ...] = (
    Field("flags", 0, 20, holds=(
        "``page->flags`` bits 0..19 in the era's numbering (``PAGE_FLAGS``); PG_locked set: someone else "
        "holds the page lock, so ``trylock_page()`` fails"
    )),
    Field("mapping", 20, 2, holds="``page->mapping & 3``: PAGE_MAPPING_ANON 1, PAGE_MAPPING_KSM 3, a file page 0"),
    Field("refcount", 22, 12, holds=(
        "``_refcount``; a pin adds GUP_PIN_COUNTING_BIAS (1024) on a small folio, 1 on a large one"
    )),
    Field("mapcount", 34, 3, signed=True, holds="``_mapcount`` of the faulting page, two's complement (-1 = unmapped)"),
    Field("large_mapcount", 37, 4, signed=True, holds=(
        "``_large_mapcount``, two's complement: every PTE mapping of the folio, minus one"
    )),
    Field("order", 41, 2, holds="folio order (``folio_order()``): 0 for a small folio"),
    Field("mm_shared", 43, 1, holds="the maybe-mapped-shared bit of ``_mm_ids`` (large folios, 6.15)"),
    Field("others_mapcount", 44, 3, holds="the largest ``page_mapcount()`` among the folio's other pages"),
    Field("swapcount", 47, 2, holds="``swap_map`` count of the page's swap entry, SWAP_HAS_CACHE excluded"),
    Field("stable_node", 49, 1, holds="``page_stable_node()`` is not NULL (KSM)"),
    Field("pte", 50, 5, holds=(
        "x86-64 PTE: _PAGE_RW (bit 1), _PAGE_ACCESSED (5), _PAGE_DIRTY (6), _PAGE_SPECIAL (9), _PAGE_UFFD_WP "
        "(10)"
    )),
    Field("vma", 55, 3, holds="VM_WRITE (0x2), VM_SHARED / VM_MAYSHARE (0x8 / 0x80), VM_UFFD_WP (0x1000)"),
    Field("uffd_async", 58, 1, holds="UFFD_FEATURE_WP_ASYNC on the VMA's userfaultfd"),
    Field("unshare", 59, 1, holds="FAULT_FLAG_UNSHARE (0x400); clear: FAULT_FLAG_WRITE (0x1)"),
    Field("tlb_flush_pending", 60, 1, holds="``mm_tlb_flush_pending()``"),
    Field("local_batch", 61, 1, holds=(
        "environment: the page sits in this CPU's LRU batch, so ``lru_add_drain()`` drops one reference"
    )),
    Field("pte_changes", 62, 1, holds="environment: the PTE changes while the handler sleeps on the page lock"),
)

FIELD: Dict[str, Field] = {f.name: f for f in FIELDS}
WORD_BITS = 63

# Shifts, for the fast paths (which read fields as (w >> SHIFT) & (2**width - 1)).
MAPPING = FIELD["mapping"].shift
REFCOUNT = FIELD["refcount"].shift
MAPCOUNT = FIELD["mapcount"].shift
LARGE_MAPCOUNT = FIELD["large_mapcount"].shift
ORDER = FIELD["order"].shift
MM_SHARED = FIELD["mm_shared"].shift
OTHERS_MAPCOUNT = FIELD["others_mapcount"].shift
SWAPCOUNT = FIELD["swapcount"].shift
STABLE_NODE = FIELD["stable_node"].shift
PTE = FIELD["pte"].shift
VMA = FIELD["vma"].shift
UFFD_ASYNC = FIELD["uffd_async"].shift
UNSHARE = FIELD["unshare"].shift
TLB_FLUSH_PENDING = FIELD["tlb_flush_pending"].shift
LOCAL_BATCH = FIELD["local_batch"].shift
PTE_CHANGES = FIELD["pte_changes"].shift

# Bits inside the pte and vma fields.
PTE_RW, PTE_ACCESSED, PTE_DIRTY, PTE_SPECIAL, PTE_UFFD_WP = 0, 1, 2, 3, 4
VM_WRITE, VM_SHARED, VM_UFFD_WP = 0, 1, 2

# page->mapping low bits.
PAGE_MAPPING_ANON = 1
PAGE_MAPPING_KSM = 3


@dataclass(frozen=True)
class PageFlags:
    """Bit numbers of the page flags the fault path reads, in one numbering."""

    name: str
    locked: int
    dirty: int
    lru: int
    owner_priv_1: int  # PG_swapcache for swap-backed pages, PG_checked for file systems
    writeback: int
    head: int
    swapbacked: int
    anon_exclusive: int  # PG_mappedtodisk (v5.10) / PG_owner_2 (current), aliased on anonymous pages
    releases: str = ""  # the releases that number their flags so

    def bits(self) -> Tuple[int, ...]:
        """The bit numbers in the order the fast paths index them."""
        return (
            self.locked,
            self.dirty,
            self.lru,
            self.owner_priv_1,
            self.writeback,
            self.head,
            self.swapbacked,
            self.anon_exclusive,
        )

    def names(self) -> Dict[int, str]:
        return {
            self.locked: "PG_locked",
            self.dirty: "PG_dirty",
            self.lru: "PG_lru",
            self.owner_priv_1: "PG_owner_priv_1",
            self.writeback: "PG_writeback",
            self.head: "PG_head",
            self.swapbacked: "PG_swapbacked",
            self.anon_exclusive: "PG_anon_exclusive",
        }


# ``enum pageflags`` of include/linux/page-flags.h, read from each released
# tree (the bits the fault path reads; the rest are not in the word).
# 5.7 - 6.2 (6.3 - 6.6 not checked against their trees: assumed unchanged).
V5_10 = PageFlags("v5.10", locked=0, dirty=3, lru=4, owner_priv_1=10, writeback=15, head=16, swapbacked=19,
                  anon_exclusive=17, releases="5.7 - 6.6")
# 6.7 - 6.9: PG_writeback moved into the bottom byte and PG_head to bit 6.
V6_7 = PageFlags("v6.7", locked=0, dirty=4, lru=5, owner_priv_1=12, writeback=1, head=6, swapbacked=19,
                 anon_exclusive=17, releases="6.7 - 6.9")
# 6.10 - 6.11: PG_error is gone, so the bits above it move down by one.
V6_10 = PageFlags("v6.10", locked=0, dirty=4, lru=5, owner_priv_1=11, writeback=1, head=6, swapbacked=18,
                  anon_exclusive=16, releases="6.10 - 6.11")
# From 6.12 (the current tree): PG_owner_2 (= PG_anon_exclusive) at bit 11.
CURRENT = PageFlags("current", locked=0, dirty=4, lru=5, owner_priv_1=10, writeback=1, head=6, swapbacked=17,
                    anon_exclusive=11, releases="6.12 -")

# Each numbering from the first release that has it, in release order.
NUMBERINGS: Tuple[Tuple[KernelVersion, PageFlags], ...] = (
    (KernelVersion(5, 7, 1), V5_10),
    (KernelVersion(6, 7, 1), V6_7),
    (KernelVersion(6, 10, 1), V6_10),
    (KernelVersion(6, 12, 1), CURRENT),
)


def numbering(release: str) -> PageFlags:
    """The page-flag numbering of a kernel release ("6.11", "6.18.44")."""
    version = KernelVersion.parse(release)
    found = None
    for first, flags in NUMBERINGS:
        if first.key() <= version.key():
            found = flags
    if found is None:
        raise PackError(f"{release}: no page-flag numbering before {NUMBERINGS[0][0].major}.{NUMBERINGS[0][0].minor}")
    return found


class _EraNumbering(Mapping[str, PageFlags]):
    """``PAGE_FLAGS[era_id]``: the numbering of each era's words, that of the
    era's first release (an era whose span holds several numberings -- 6.9
    to 6.14 holds three -- packs its words in its first release's; the
    decisions read every flag through this table, so only the bit a report
    names depends on it).  Old era names (``v6.10``) and releases inside a
    span ("6.1") name their era's numbering."""

    def __init__(self) -> None:
        self._table = {e.id: numbering(str(e.first)) for e in ERAS.values()}

    def __getitem__(self, name: str) -> PageFlags:
        if name in self._table:
            return self._table[name]
        if name in ALIASES:
            return self._table[ALIASES[name][0]]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


PAGE_FLAGS: Mapping[str, PageFlags] = _EraNumbering()

# Trace word.
DECISIONS: Tuple[Decision, ...] = (
    Decision.REUSE,
    Decision.COPY,
    Decision.SHARED,
    Decision.UNSHARE_REUSE,
    Decision.NOTHING,
    Decision.RETRY,
    Decision.USERFAULT,
)
DECISION_CODE: Dict[Decision, int] = {d: i + 1 for i, d in enumerate(DECISIONS)}
EVENTS: Tuple[Event, ...] = tuple(Event)
EVENT_CODE: Dict[Event, int] = {e: i for i, e in enumerate(EVENTS)}
assert len(EVENTS) == 16
TRACE_COUNT = 3
TRACE_EVENTS = 7
MAX_EVENTS = 14


_BOUNDS = {f.name: (f.shift, f.mask, f.low, f.high) for f in FIELDS}


def pack(**values: int) -> int:
    """Build a word from named fields; a field not given is 0.

    >>> from wpdiff.impl.layout import pack, unpack
    >>> w = pack(refcount=2, mapcount=0, mapping=1)
    >>> unpack(w)["refcount"], unpack(w)["mapcount"]
    (2, 0)
    >>> pack(refcount=4096)
    Traceback (most recent call last):
    ...
    wpdiff.impl.layout.PackError: refcount = 4096 does not fit bits 22-33 (0..4095); the word would wrap
    """
    word = 0
    for name, value in values.items():
        try:
            shift, mask, low, high = _BOUNDS[name]
        except KeyError:
            raise PackError(f"no field {name!r}; the fields are {', '.join(FIELD)}") from None
        if not low <= value <= high:
            raise PackError(
                f"{name} = {value} does not fit bits {shift}-{shift + mask.bit_length() - 1} ({low}..{high}); "
                "the word would wrap"
            )
        word += (value & mask) << shift
    return word


def unpack(word: int) -> Dict[str, int]:
    """The named fields of a word (signed fields decoded)."""
    if not 0 <= word < 1 << WORD_BITS:
        raise PackError(f"a word is a non-negative {WORD_BITS}-bit integer, got {word:#x}")
    values = {}
    for f in FIELDS:
        raw = (word >> f.shift) & f.mask
        values[f.name] = raw - (1 << f.width) if f.signed and raw > f.high else raw
    return values


def describe(era_id: str, word: int) -> Dict[str, object]:
    """What the kernel saw, readably: the fields of `word` with the page flags
    and PTE / VMA bits named, for reports."""
    values: Dict[str, object] = dict(unpack(word))
    pg = PAGE_FLAGS[era_id]
    names = pg.names()
    if not spec_era(era_id).has("anon-exclusive"):  # PG_anon_exclusive is 5.19's alias of the bit
        names[pg.anon_exclusive] = "PG_mappedtodisk"
    flags = int(values["flags"])
    values["flags"] = [names.get(bit, f"bit {bit}") for bit in range(FIELD["flags"].width) if (flags >> bit) & 1]
    values["mapping"] = {0: "file or none", 1: "PAGE_MAPPING_ANON", 2: "movable", 3: "PAGE_MAPPING_KSM"}[int(values["mapping"])]
    pte = int(values["pte"])
    values["pte"] = [n for i, n in enumerate(("_PAGE_RW", "_PAGE_ACCESSED", "_PAGE_DIRTY", "_PAGE_SPECIAL", "_PAGE_UFFD_WP")) if (pte >> i) & 1]
    vma = int(values["vma"])
    values["vma"] = [n for i, n in enumerate(("VM_WRITE", "VM_SHARED", "VM_UFFD_WP")) if (vma >> i) & 1]
    return values


def decode_trace(trace: int) -> Tuple[Decision, List[Event]]:
    """The decision and events of a trace word."""
    code = trace & 7
    if not 1 <= code <= len(DECISIONS):
        raise PackError(f"trace word {trace:#x} has no decision (code {code})")
    count = (trace >> TRACE_COUNT) & 15
    if count > MAX_EVENTS:
        raise PackError(f"trace word {trace:#x} claims {count} events; at most {MAX_EVENTS} fit")
    if trace >> (TRACE_EVENTS + 4 * count):
        raise PackError(f"trace word {trace:#x} has bits beyond its {count} events")
    events = [EVENTS[(trace >> (TRACE_EVENTS + 4 * i)) & 15] for i in range(count)]
    return DECISIONS[code - 1], events


def encode_trace(decision: Decision, events: Sequence[Event]) -> int:
    if len(events) > MAX_EVENTS:
        raise PackError(f"{len(events)} events do not fit a trace word (at most {MAX_EVENTS})")
    trace = DECISION_CODE[decision] + (len(events) << TRACE_COUNT)
    for i, e in enumerate(events):
        trace += EVENT_CODE[e] << (TRACE_EVENTS + 4 * i)
    return trace


def layout_table() -> str:
    """The layout as a markdown table: the one in this module's docstring
    and in the README."""
    rows = ["| field | bits | holds |", "|---|---|---|"]
    for f in FIELDS:
        bits = str(f.shift) if f.width == 1 else f"{f.shift}-{f.shift + f.width - 1}"
        rows.append(f"| {f.name} | {bits} | {f.holds} |")
    return "\n".join(rows)
