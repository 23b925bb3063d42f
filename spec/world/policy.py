"""The era policies that live outside ``do_wp_page()``.

The fault handler decides on what it sees; what it sees depends on the rest
of mm/ of the same release.  Each policy here is named as the rule of
``spec/eras/reachable.py`` that it makes true, so that the two can be held
together (tests/test_world.py checks that every state the world projects in
era E is one that E admits):

- ``gup-breaks-cow`` (5.8 only, 17839856fd58): GUP of a COW mapping adds
  FOLL_WRITE, so a read-only reference (vmsplice(), a R/O pin) first
  write-faults and lands on a private copy; reverted by a308c71bf1e6;
- ``copy-on-fork-if-pinned`` (5.9 on, 70e806e4e645): fork() gives the child
  a copy of a page that ``page_maybe_dma_pinned()`` in an mm that has ever
  pinned, instead of sharing it;
- ``anon-exclusive-flag`` / ``anon-exclusive-pins`` (5.19 on, 6c287605fd56):
  new anonymous pages are PG_anon_exclusive; fork() clears the flag when it
  shares a page; swap-out moves it into the swap PTE (1493a1913e34) and
  swap-in gives it back; KSM clears it and backs off pinned pages;
- ``unshare-fault`` (5.19 on, c89357e27f20, a7f226604170): a R/O FOLL_PIN
  of an anonymous page that is not exclusive first runs an unshare fault;
- ``swap-in-reuse`` (do_swap_page()'s own reuse rule): up to 5.17
  ``reuse_swap_page()`` (mapcount + swapcount <= 1, so the CVE's swap
  variant lives on); 5.18 ``!KSM && page_count() == 1`` after freeing the
  swap cache (c145e0b47c77); 5.19 on, also an exclusive swap PTE.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

from ..eras import ERAS


@dataclass(frozen=True)
class Policy:
    name: str  # the reachable.py rule it upholds, or its own name
    since: str  # first era id
    until: Optional[str]  # first era id no longer in force, or None
    feature: Optional[str]  # the Era feature that carries it, where one does
    why: str

    def in_force(self, era_id: str) -> bool:
        era = ERAS[era_id]
        if self.feature is not None and hasattr(era, "has"):
            return era.has(self.feature)
        order = list(ERAS)
        i = order.index(era_id)
        return order.index(self.since) <= i and (self.until is None or i < order.index(self.until))


POLICIES: Tuple[Policy, ...] = (
    Policy("gup-breaks-cow", "v5.8", "v5.9-rc4", "gup-breaks-cow",
           "GUP breaks COW for every reference taken through a COW mapping (17839856fd58)"),
    Policy("copy-on-fork-if-pinned", "v5.9", None, "copy-on-fork-if-pinned",
           "fork() copies a maybe-DMA-pinned page for the child (70e806e4e645)"),
    Policy("anon-exclusive-flag", "v5.19", None, "anon-exclusive",
           "PG_anon_exclusive: set on new pages, cleared when fork() shares, kept in the swap PTE (6c287605fd56)"),
    Policy("unshare-fault", "v5.19", None, "unshare",
           "a R/O pin of a possibly shared anonymous page unshares it first (a7f226604170)"),
    Policy("swap-in-reuse-by-count", "v5.18", None, "swap-cache-free",
           "do_swap_page() maps writable iff !KSM && page_count() == 1 (c145e0b47c77); before, reuse_swap_page()"),
)
_BY_NAME = {p.name: p for p in POLICIES}


def in_force(name: str, era_id: str) -> bool:
    return _BY_NAME[name].in_force(era_id)
