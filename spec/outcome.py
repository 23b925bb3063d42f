"""What one write fault did: the decision, the kernel events in order, the state after."""

from dataclasses import dataclass
from enum import Enum
from typing import Optional, Tuple

from dataclasses_json import DataClassJsonMixin

from .state import Page, Pte


class Decision(str, Enum):
    """How ``do_wp_page()`` resolved the fault."""

    REUSE = "reuse"  # wp_page_reuse(): the same page, now mapped writable (or dirty, for FOLL_FORCE)
    COPY = "copy"  # wp_page_copy(): a new page replaces the old one in this PTE
    SHARED = "shared"  # wp_page_shared() / wp_pfn_shared(): a MAP_SHARED page, written in place
    UNSHARE_REUSE = "unshare-reuse"  # unshare fault: page marked exclusive, PTE stays read-only
    NOTHING = "nothing"  # unshare fault with nothing to unshare (5.19-6.1, non-anonymous)
    RETRY = "retry"  # the PTE changed under us: return 0, the access faults again
    USERFAULT = "userfault"  # handle_userfault(): userfaultfd write-protect, userspace resolves it


class Event(str, Enum):
    """Kernel events on the way, in the order the kernel performs them."""

    PTL_UNLOCK = "pte_unmap_unlock"  # the page-table lock is released
    PTL_LOCK = "pte_offset_map_lock"  # the page-table lock is taken again
    GET = "get_page"  # the handler takes a reference of its own
    PUT = "put_page"  # ... and drops it
    TRYLOCK_OK = "trylock_page"  # the page lock, taken without sleeping
    TRYLOCK_FAIL = "trylock_page failed"  # someone else holds the page lock
    LOCK_PAGE = "lock_page"  # the page lock, possibly after sleeping for it
    UNLOCK_PAGE = "unlock_page"
    LRU_DRAIN = "lru_add_drain"  # this CPU's LRU batches are drained
    SWAP_FREE = "swap cache freed"  # the swap cache lets go of the page; PG_dirty set
    MOVE_ANON_RMAP = "page_move_anon_rmap"  # the page moves to the faulting VMA's anon_vma
    SET_ANON_EXCLUSIVE = "SetPageAnonExclusive"
    REUSE_PTE = "wp_page_reuse"  # PTE made young and dirty, and writable if VM_WRITE
    NEW_PAGE = "wp_page_copy"  # the copy is mapped; the old page loses this mapping and its reference
    TLB_FLUSH = "flush_tlb_page"  # a deferred uffd-wp TLB flush is done before going on
    UFFD_WP_CLEAR = "uffd-wp bit cleared"  # async uffd-wp: the kernel drops the bit and goes on


@dataclass(frozen=True)
class Outcome(DataClassJsonMixin):
    """The result of one fault.

    `page` is the faulting page afterwards (None for the zero page), with the
    holders and flags it is left with; after a copy it no longer has the
    faulting mm's mapping.  `pte` is the faulting PTE afterwards: after a copy
    it maps `new_page`.
    """

    decision: Decision
    events: Tuple[Event, ...]
    page: Optional[Page]
    pte: Pte
    new_page: Optional[Page] = None

    def __str__(self) -> str:
        return f"{self.decision.value}: " + (", ".join(e.value for e in self.events) or "no events")
