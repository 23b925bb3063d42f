"""The abstract state of one write fault: who can reach the page.

``do_wp_page()`` is entered with the page-table lock (PTL) held, on a present,
write-protected PTE, after a write (``FAULT_FLAG_WRITE``) or, from 5.19, an
unshare (``FAULT_FLAG_UNSHARE``) fault.  The kernel then decides from a handful
of counters -- ``_refcount``, ``_mapcount``, the swap count -- and page flags.
The spec knows more: every reference to the page is a :class:`Holder` with a
kind and, where it has one, an owning mm.  The gap between the holders and the
counters the kernel derives from them is where the historical bugs live: a
vmsplice() pipe of another process and an O_DIRECT read of our own both raise
``_refcount`` by one.

Every class here is a frozen, typed dataclass that serializes with
dataclasses-json.  Constructing a state that cannot exist raises
:class:`StateError`, naming the field and what was expected:

>>> from wpdiff.spec.state import Page, PageKind
>>> Page(kind=PageKind.KSM, anon_exclusive=True)
Traceback (most recent call last):
...
wpdiff.spec.state.StateError: Page.anon_exclusive: PG_anon_exclusive is only defined on anonymous, non-KSM pages (PageAnonExclusive() BUGs otherwise), but kind is 'ksm'; use kind=anon or anon_exclusive=False
"""

from dataclasses import dataclass, field, fields
from enum import Enum
from functools import lru_cache
from typing import Iterable, Optional, Tuple

from dataclasses_json import DataClassJsonMixin, Undefined, config


class StateError(ValueError):
    """A state that no kernel can be in.  The message names the field, what it
    holds and what was expected."""


def _require(ok: bool, where: str, message: str, **values: object) -> None:
    """Raise StateError "where: message" unless `ok`; both are formatted with
    `values` only then (states are built by the thousand under CrossHair)."""
    if not ok:
        raise StateError(f"{where.format(**values)}: {message.format(**values)}")


# A saved state with a key no field has (a "refcount" or "mapcount" written
# by hand, say) is refused rather than silently dropped: the counters are
# derived from the holders, never given.
STRICT_JSON = config(undefined=Undefined.RAISE)["dataclasses_json"]


def _is_enum(t: object) -> bool:
    return isinstance(t, type) and issubclass(t, Enum)


@lru_cache(maxsize=None)
def _typed_fields(cls: type) -> Tuple[Tuple[str, type], ...]:
    """The fields of `cls` that hold a bool, an int, an Enum or a state class."""
    return tuple(
        (f.name, f.type)
        for f in fields(cls)
        if isinstance(f.type, type) and (f.type in (bool, int) or issubclass(f.type, (Enum, DataClassJsonMixin)))
    )


def _check_types(obj: object) -> None:
    """Every typed field of `obj` holds a value of its type: a plain string
    where an Enum is expected would compare unequal to every member and
    silently take the wrong branch of a model."""
    for attr, t in _typed_fields(type(obj)):
        value = getattr(obj, attr)
        if isinstance(value, t) and not (t is int and isinstance(value, bool)):
            continue
        hint = ("an " if t.__name__[0] in "aeiou" else "a ") + t.__name__
        if _is_enum(t):
            hint = "one of " + ", ".join(f"{t.__name__}.{m.name}" for m in t)
            if isinstance(value, str) and value in [m.value for m in t]:
                hint += f" (write {t.__name__}({value!r}))"
        raise StateError(f"{type(obj).__name__}.{attr}: expected {hint}, got {value!r} ({type(value).__name__})")


class FaultKind(str, Enum):
    """Why ``do_wp_page()`` runs."""

    WRITE = "write"  # FAULT_FLAG_WRITE: a store hit a write-protected PTE
    UNSHARE = "unshare"  # FAULT_FLAG_UNSHARE (5.19+): a R/O FOLL_PIN wants an exclusive page


class UffdWp(str, Enum):
    """userfaultfd write-protect mode of the VMA."""

    OFF = "off"
    SYNC = "sync"  # VM_UFFD_WP: a fault on a uffd-wp PTE goes to userspace
    ASYNC = "async"  # UFFD_FEATURE_WP_ASYNC (6.7+): the kernel clears the bit itself


class PageKind(str, Enum):
    """What the faulting PTE maps."""

    ANON = "anon"  # anonymous page, page->mapping = anon_vma | PAGE_MAPPING_ANON
    KSM = "ksm"  # KSM page, page->mapping = stable_node | PAGE_MAPPING_KSM
    FILE = "file"  # page-cache page in a private (COW) or shared mapping
    ZERO = "zero"  # the zero page, or a pfn without struct page: vm_normal_page() is NULL


class HolderKind(str, Enum):
    """Everything that can reach a page, in the kernel's words."""

    MAPPING = "mapping"  # a present PTE of `owner` maps subpage `subpage`
    GET = "get"  # a FOLL_GET reference: a vmsplice() pipe, an O_DIRECT in flight
    PIN = "pin"  # a FOLL_PIN: io_uring fixed buffer, RDMA, vfio, O_DIRECT (6.x)
    SWAP_CACHE = "swap-cache"  # the page is in the swap cache
    SWAP_PTE = "swap-pte"  # a swap PTE of `owner` still names the page's swap entry
    PAGE_CACHE = "page-cache"  # the page cache's reference on a file page
    LRU_BATCH = "lru-batch"  # a per-CPU LRU batch reference (local or remote CPU)
    ISOLATION = "isolation"  # isolated for migration or compaction
    KSM_STABLE_NODE = "ksm-stable-node"  # the KSM stable tree points at the page (no reference)


# Holder kinds that name an owning mm, and those that do not.
OWNED = frozenset({HolderKind.MAPPING, HolderKind.GET, HolderKind.PIN, HolderKind.SWAP_PTE})
GUP = frozenset({HolderKind.GET, HolderKind.PIN})
_KIND_ORDER = {kind: i for i, kind in enumerate(HolderKind)}


@dataclass(frozen=True)
class Holder(DataClassJsonMixin):
    """One way the page can be reached.  Use the constructors below
    (:func:`mapping`, :func:`get`, :func:`pin`, ...) rather than this class."""

    dataclass_json_config = STRICT_JSON

    kind: HolderKind
    owner: Optional[int] = None  # the owning mm, for mapping / get / pin / swap-pte
    subpage: int = 0  # mapping: which page of a large folio the PTE maps
    writable: bool = False  # get / pin: FOLL_WRITE (the holder may write the page)
    longterm: bool = False  # pin: FOLL_LONGTERM
    # get / pin: taken through a read-only COW PTE, while the page was (or may
    # have been) shared with another mm -- the CVE-2020-29374 pattern.
    taken_while_shared: bool = False
    remote: bool = False  # lru-batch: another CPU's batch, which lru_add_drain() cannot drain

    def __post_init__(self) -> None:
        _check_types(self)
        where = "Holder({kind})"
        kind = self.kind.value
        if self.kind in OWNED:
            _require(
                isinstance(self.owner, int) and self.owner >= 0,
                where + ".owner",
                "a {kind} belongs to an mm; expected an mm id >= 0, got {owner!r}",
                kind=kind,
                owner=self.owner,
            )
        else:
            _require(self.owner is None, where + ".owner", "a {kind} has no owning mm; got {owner!r}",
                     kind=kind, owner=self.owner)
        _require(
            self.kind is HolderKind.MAPPING or self.subpage == 0,
            where + ".subpage",
            "only a mapping names a subpage",
            kind=kind,
        )
        _require(self.subpage >= 0, where + ".subpage", "expected >= 0, got {subpage}", kind=kind,
                 subpage=self.subpage)
        _require(
            self.kind in GUP or not (self.writable or self.taken_while_shared),
            where,
            "writable and taken_while_shared describe GUP references (get, pin) only",
            kind=kind,
        )
        _require(self.kind is HolderKind.PIN or not self.longterm, where + ".longterm", "only a pin is long-term",
                 kind=kind)
        _require(
            self.kind is HolderKind.LRU_BATCH or not self.remote, where + ".remote", "only an lru-batch sits on a CPU",
            kind=kind,
        )
        # GUP with FOLL_WRITE on a COW mapping write-faults first, so a
        # writable reference always lands on a page the owner had exclusively.
        _require(
            not (self.writable and self.taken_while_shared),
            where,
            "a writable GUP reference breaks COW before it is taken (FOLL_WRITE faults first), "
            "so it cannot be taken while the page is shared",
            kind=kind,
        )

    def sort_key(self) -> Tuple[int, int, int, bool, bool, bool, bool]:
        owner = -1 if self.owner is None else self.owner
        return (
            _KIND_ORDER[self.kind],
            owner,
            self.subpage,
            self.writable,
            self.longterm,
            self.taken_while_shared,
            self.remote,
        )

    def __str__(self) -> str:
        parts = []
        if self.owner is not None:
            parts.append(f"mm{self.owner}")
        if self.subpage:
            parts.append(f"subpage {self.subpage}")
        if self.kind in GUP:
            parts.append("rw" if self.writable else "ro")
        if self.longterm:
            parts.append("longterm")
        if self.taken_while_shared:
            parts.append("taken while shared")
        if self.kind is HolderKind.LRU_BATCH:
            parts.append("remote CPU" if self.remote else "local CPU")
        return self.kind.value + (f"({', '.join(parts)})" if parts else "")


@lru_cache(maxsize=None)
def mapping(owner: int, subpage: int = 0) -> Holder:
    """A present PTE of mm `owner` maps the page (or `subpage` of a large folio)."""
    return Holder(HolderKind.MAPPING, owner=owner, subpage=subpage)


@lru_cache(maxsize=None)
def get(owner: int, writable: bool = False, taken_while_shared: bool = False) -> Holder:
    """A FOLL_GET reference held for mm `owner` (vmsplice(), O_DIRECT)."""
    return Holder(HolderKind.GET, owner=owner, writable=writable, taken_while_shared=taken_while_shared)


@lru_cache(maxsize=None)
def pin(owner: int, writable: bool = False, longterm: bool = False, taken_while_shared: bool = False) -> Holder:
    """A FOLL_PIN held for mm `owner`."""
    return Holder(
        HolderKind.PIN, owner=owner, writable=writable, longterm=longterm, taken_while_shared=taken_while_shared
    )


@lru_cache(maxsize=None)
def swap_cache() -> Holder:
    """The swap cache's reference (PG_swapcache)."""
    return Holder(HolderKind.SWAP_CACHE)


@lru_cache(maxsize=None)
def swap_pte(owner: int) -> Holder:
    """A swap PTE of mm `owner` that still names the page's swap entry."""
    return Holder(HolderKind.SWAP_PTE, owner=owner)


@lru_cache(maxsize=None)
def page_cache() -> Holder:
    """The page cache's reference on a file page."""
    return Holder(HolderKind.PAGE_CACHE)


@lru_cache(maxsize=None)
def lru_batch(remote: bool = False) -> Holder:
    """A per-CPU LRU batch reference; `remote` if another CPU's batch holds it."""
    return Holder(HolderKind.LRU_BATCH, remote=remote)


@lru_cache(maxsize=None)
def isolation() -> Holder:
    """A reference taken by isolation for migration or compaction."""
    return Holder(HolderKind.ISOLATION)


@lru_cache(maxsize=None)
def ksm_stable_node() -> Holder:
    """The KSM stable tree points at the page (page_stable_node() is not NULL)."""
    return Holder(HolderKind.KSM_STABLE_NODE)


_NO_HOLDERS = dict.fromkeys(HolderKind, 0)


@dataclass(frozen=True)
class Page(DataClassJsonMixin):
    """The page (folio) the faulting PTE maps, and everything that reaches it.

    `holders` is a multiset, kept sorted so that equal pages compare equal.
    A page whose holders are all gone has been freed.  For a large folio the
    faulting PTE maps subpage 0; `anon_exclusive` is that subpage's flag.
    """

    dataclass_json_config = STRICT_JSON

    kind: PageKind = PageKind.ANON
    holders: Tuple[Holder, ...] = ()
    nr_pages: int = 1  # folio size in pages; > 1 is a large (PTE-mapped) folio
    anon_exclusive: bool = False  # PG_anon_exclusive of the faulting page (5.19+)
    locked: bool = False  # PG_locked held by someone else: trylock_page() fails
    writeback: bool = False  # PG_writeback
    dirty: bool = False  # PG_dirty
    checked: bool = False  # PG_checked of a file system, which shares the PG_swapcache bit
    maybe_mapped_shared: bool = False  # large folio: the _mm_ids "maybe shared" bit (6.15+)

    def __post_init__(self) -> None:
        _check_types(self)
        for h in self.holders:
            _require(isinstance(h, Holder), "Page.holders", "expected Holder values (mapping(0), get(1), ...), got {h!r}", h=h)
        object.__setattr__(self, "holders", tuple(sorted(self.holders, key=Holder.sort_key)))
        self._validate()

    def count(self, kind: HolderKind) -> int:
        return sum(1 for h in self.holders if h.kind is kind)

    def of(self, kind: HolderKind) -> Tuple[Holder, ...]:
        return tuple(h for h in self.holders if h.kind is kind)

    @property
    def large(self) -> bool:
        return self.nr_pages > 1

    @property
    def anon(self) -> bool:
        """PageAnon(): true for anonymous and KSM pages."""
        return self.kind in (PageKind.ANON, PageKind.KSM)

    @property
    def swapcache(self) -> bool:
        return self.count(HolderKind.SWAP_CACHE) > 0

    def _validate(self) -> None:
        kind = self.kind
        n = self.nr_pages
        counts = dict(_NO_HOLDERS)
        maps, mappers, swap_owners = set(), set(), set()
        for h in self.holders:
            counts[h.kind] += 1
            if h.kind is HolderKind.MAPPING:
                if h.subpage >= n:
                    raise StateError(f"Page.holders: {h} maps subpage {h.subpage} of a folio of {n} page(s)")
                if (h.owner, h.subpage) in maps:
                    raise StateError(
                        "Page.holders: an mm maps each page of a private folio at most once "
                        "(mremap() moves, it does not alias)"
                    )
                maps.add((h.owner, h.subpage))
                mappers.add(h.owner)
            elif h.kind is HolderKind.SWAP_PTE:
                if h.owner in swap_owners:
                    raise StateError("Page.holders: an mm holds the page once: by a present PTE or by a swap PTE, not both")
                swap_owners.add(h.owner)
        problem = self._problem(kind, n, counts, mappers, swap_owners)
        if problem:
            raise StateError(problem)

    def _problem(self, kind: PageKind, n: int, counts: dict, mappers: set, swap_owners: set) -> Optional[str]:
        """What makes the page impossible, as 'Field: why', or None."""
        name = kind.value
        if n < 1 or n & (n - 1):
            return f"Page.nr_pages: a folio has a power-of-two size, got {n}"
        if n > 1 and kind is not PageKind.ANON:
            return f"Page.nr_pages: large folios are modelled for anonymous memory only, but kind is {name!r}"
        if n == 2:
            return (
                "Page.nr_pages: anonymous large folios are of order 2 (4 pages) or more -- order 1 is never "
                "allocated for anonymous memory (THP_ORDERS_ALL_ANON) -- got 2"
            )
        if kind is PageKind.ZERO and (
            self.holders or self.anon_exclusive or self.locked or self.writeback or self.dirty or self.checked
        ):
            return "Page: the zero page has no struct page the fault handler looks at: no holders, no flags"
        if self.anon_exclusive and kind is not PageKind.ANON:
            return (
                "Page.anon_exclusive: PG_anon_exclusive is only defined on anonymous, non-KSM pages "
                f"(PageAnonExclusive() BUGs otherwise), but kind is {name!r}; use kind=anon or anon_exclusive=False"
            )
        if self.checked and kind is not PageKind.FILE:
            return f"Page.checked: PG_checked belongs to file systems, but kind is {name!r}"
        if self.maybe_mapped_shared and n == 1:
            return "Page.maybe_mapped_shared: the _mm_ids shared bit exists on large folios only"
        if counts[HolderKind.KSM_STABLE_NODE] > (1 if kind is PageKind.KSM else 0):
            return f"Page.holders: a KSM stable node points at one KSM page only, but kind is {name!r}"
        if counts[HolderKind.PAGE_CACHE] != (1 if kind is PageKind.FILE else 0):
            return (
                "Page.holders: a file page holds exactly one page-cache reference and other pages none; "
                f"kind {name!r} has {counts[HolderKind.PAGE_CACHE]}"
            )
        swapcache = counts[HolderKind.SWAP_CACHE]
        if swapcache > 1:
            return f"Page.holders: a page is in the swap cache once, got {swapcache}"
        if swapcache and kind not in (PageKind.ANON, PageKind.KSM):
            return f"Page.holders: only anonymous pages enter the swap cache, but kind is {name!r}"
        if swap_owners and not swapcache:
            return "Page.holders: a swap PTE names the page only while the page is in the swap cache (add swap_cache())"
        if swap_owners & mappers:
            return "Page.holders: an mm holds the page once: by a present PTE or by a swap PTE, not both"
        if swap_owners and n > 1:
            return "Page.holders: swap PTEs of large folios are outside the modelled bounds"
        if self.writeback and not swapcache and kind is not PageKind.FILE:
            return (
                "Page.writeback: only a page being written to swap (in the swap cache) or to its file is under "
                "writeback"
            )
        if counts[HolderKind.LRU_BATCH] + counts[HolderKind.ISOLATION] > 1:
            return "Page.holders: a page sits in at most one LRU batch or isolation list, and not both"
        if n > 1 and self.holders and not self.maybe_mapped_shared and len(mappers) > 1:
            return "Page.maybe_mapped_shared: a folio mapped by two or more mms always has the _mm_ids shared bit set"
        return None


@dataclass(frozen=True)
class Vma(DataClassJsonMixin):
    """The VMA of the faulting address."""

    dataclass_json_config = STRICT_JSON

    write: bool = True  # VM_WRITE (False: a FOLL_FORCE write through ptrace or /proc/pid/mem)
    shared: bool = False  # VM_SHARED | VM_MAYSHARE: a MAP_SHARED mapping, no COW
    uffd_wp: UffdWp = UffdWp.OFF  # userfaultfd write-protect registration

    def __post_init__(self) -> None:
        _check_types(self)


@dataclass(frozen=True)
class Pte(DataClassJsonMixin):
    """The faulting PTE (x86-64: _PAGE_RW, _PAGE_DIRTY, _PAGE_ACCESSED, _PAGE_UFFD_WP)."""

    dataclass_json_config = STRICT_JSON

    write: bool = False
    dirty: bool = False
    young: bool = True
    uffd_wp: bool = False

    def __post_init__(self) -> None:
        _check_types(self)


@dataclass(frozen=True)
class FaultState(DataClassJsonMixin):
    """One write-protect fault, at the moment ``do_wp_page()`` is entered.

    >>> from wpdiff.spec.state import FaultState, Page, mapping, get
    >>> s = FaultState(page=Page(holders=(mapping(0), get(1, taken_while_shared=True))))
    >>> s.refcount, s.mapcount, [str(h) for h in s.foreign_holders()]
    (2, 1, ['get(mm1, ro, taken while shared)'])
    """

    dataclass_json_config = STRICT_JSON

    page: Page = field(default_factory=Page)
    vma: Vma = field(default_factory=Vma)
    pte: Pte = field(default_factory=Pte)
    fault: FaultKind = FaultKind.WRITE
    mm: int = 0  # the faulting mm
    tlb_flush_pending: bool = False  # mm_tlb_flush_pending(): a deferred TLB flush is outstanding
    # Era A only: while the handler sleeps in lock_page(), the lock holder (or
    # another thread) changes the PTE, so pte_same() fails afterwards.
    pte_changes_while_sleeping: bool = False

    def __post_init__(self) -> None:
        _check_types(self)
        page, vma = self.page, self.vma
        _require(
            page.kind is PageKind.ZERO or mapping(self.mm) in page.holders,
            "FaultState.page.holders",
            "the faulting PTE maps the page: expected mapping(mm{mm}) among the holders",
            mm=self.mm,
        )
        _require(not self.pte.write, "FaultState.pte.write", "do_wp_page() runs on a write-protected PTE")
        _require(
            not self.pte.uffd_wp or vma.uffd_wp is not UffdWp.OFF,
            "FaultState.pte.uffd_wp",
            "a PTE carries the uffd-wp bit only in a VMA registered for userfaultfd write-protect",
        )
        _require(
            not (page.anon and vma.shared),
            "FaultState.vma.shared",
            "{kind} pages live in private mappings; a MAP_SHARED mapping holds file or shmem pages",
            kind=page.kind.value,
        )
        _require(
            not vma.shared or (vma.write and self.fault is FaultKind.WRITE),
            "FaultState.vma",
            "a fault reaches do_wp_page() in a shared mapping only as a write to a VM_WRITE mapping "
            "(GUP refuses FOLL_FORCE writes there, and unsharing is for COW mappings)",
        )
        _require(
            not self.pte_changes_while_sleeping or page.locked,
            "FaultState.pte_changes_while_sleeping",
            "the handler only sleeps on the page lock when someone else holds it (page.locked)",
        )

    # What the kernel can count.  The spec derives the counters from the
    # holders; impl.concretize encodes them into the packed word.

    @property
    def refcount(self) -> int:
        """``page_count()``: one per mapping, GET, LRU batch, isolation and page
        cache, the folio size for the swap cache, GUP_PIN_COUNTING_BIAS (1024)
        per pin on a small folio and 1 on a large one (which counts pins in
        ``_pincount`` instead)."""
        return refcount(self.page)

    @property
    def mapcount(self) -> int:
        """``page_mapcount()`` of the faulting page (subpage 0)."""
        return mapcount(self.page)

    def foreign_holders(self) -> Tuple[Holder, ...]:
        """The holders that belong to an mm other than the faulting one."""
        return tuple(h for h in self.page.holders if h.owner is not None and h.owner != self.mm)


GUP_PIN_COUNTING_BIAS = 1024


def holders_refcount(holders: Iterable[Holder], nr_pages: int) -> int:
    """The reference count that `holders` of a folio of `nr_pages` add up to."""
    total = 0
    for h in holders:
        kind = h.kind
        if kind is HolderKind.PIN:
            total += 1 if nr_pages > 1 else GUP_PIN_COUNTING_BIAS
        elif kind is HolderKind.SWAP_CACHE:
            total += nr_pages
        elif kind is not HolderKind.SWAP_PTE and kind is not HolderKind.KSM_STABLE_NODE:
            total += 1
    return total


def holders_mapcount(holders: Iterable[Holder], subpage: int = 0) -> int:
    """How many of `holders` map page `subpage` of the folio."""
    return sum(1 for h in holders if h.kind is HolderKind.MAPPING and h.subpage == subpage)


def refcount(page: Page) -> int:
    """``folio_ref_count()`` derived from the holders."""
    return holders_refcount(page.holders, page.nr_pages)


def mapcount(page: Page, subpage: int = 0) -> int:
    """``page_mapcount()`` of one page of the folio."""
    return holders_mapcount(page.holders, subpage)


def swapcount(page: Page) -> int:
    """``page_swapcount()``: swap PTEs naming the page's entry, the cache bit excluded."""
    return page.count(HolderKind.SWAP_PTE)
