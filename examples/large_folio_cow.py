"""A worked example: your own fast path, checked against the v6.15 era.

Copy this directory anywhere (it needs nothing from the repository, only
wpdiff installed) and run, in it::

    wpdiff check --fastpath large_folio_cow:do_wp_page --base v6.15

A fast path is a function over the packed word (``wpdiff.impl.layout``: the
page's counters and flags at the kernel's own bit numbers, the PTE, the VMA
and the fault, in one int below 2**63) that returns ``(word after, trace
word)``: the word as the fault leaves it and, packed, the decision (reuse,
copy, ...) and the kernel events in order (``wpdiff.impl.fastpath.word``
has the helpers that set both, named as the kernel's functions are).  It
imports only the public names: the helpers of ``wpdiff.impl.fastpath.word``,
the field constants and ``PAGE_FLAGS`` of ``wpdiff.impl.layout``, and, to
start from an era, that era's functions in ``wpdiff.impl.fastpath``.

This module is v6.15's ``wp_can_reuse_large_anon_folio()`` written out, so
``do_wp_page`` keeps every guarantee v6.15 keeps (exit 0), and
``skip_maybe_shared`` is the same change a patch might try -- reuse a large
folio without looking at the "maybe mapped shared" bit -- which wpdiff
refuses: it reuses a folio another process may still map (exit 1,
no-missed-cow).  ``test_large_folio_cow.py`` checks both from pytest, with
the ``wpdiff_check`` fixture.
"""

from typing import Tuple

from wpdiff.impl.fastpath.v6_7 import wp_can_reuse_anon_folio as reuse_small_folio
from wpdiff.impl.fastpath.v6_7 import wp_fault
from wpdiff.impl.fastpath.word import (
    E_TRYLOCK_FAIL,
    E_TRYLOCK_OK,
    E_UNLOCK_PAGE,
    HEAD,
    LOCKED,
    PageSwapCache,
    Result,
    bit,
    ev,
    folio_large_mapcount,
    page_count,
    try_to_free_swap,
)
from wpdiff.impl.layout import MM_SHARED, PAGE_FLAGS

PG = PAGE_FLAGS["v6.15"].bits()  # the era's page-flag bit numbers, indexed by LOCKED, HEAD, ...


def can_reuse_large(w: int, t: int, pg: tuple, check_shared: bool) -> Tuple[int, int, int]:
    """(word, trace, 1 to reuse / 0 to copy), as wp_can_reuse_anon_folio() decides for a large folio."""
    if folio_large_mapcount(w) <= 1:
        return w, t, 0
    if check_shared and bit(w, MM_SHARED):  # folio_maybe_mapped_shared(): another mm may map it
        return w, t, 0
    if PageSwapCache(w, pg):
        if bit(w, pg[LOCKED]):  # folio_trylock() fails
            return w, ev(t, E_TRYLOCK_FAIL), 0
        w, t = try_to_free_swap(w, ev(t, E_TRYLOCK_OK), pg)
        t = ev(t, E_UNLOCK_PAGE)
    if folio_large_mapcount(w) != page_count(w):  # a reference no mapping explains: GUP, another mm
        return w, t, 0
    return w, t, 1


def checked(w: int, t: int, pg: tuple) -> Tuple[int, int, int]:
    if bit(w, pg[HEAD]):
        return can_reuse_large(w, t, pg, True)
    return reuse_small_folio(w, t, pg)


def unchecked(w: int, t: int, pg: tuple) -> Tuple[int, int, int]:
    if bit(w, pg[HEAD]):
        return can_reuse_large(w, t, pg, False)
    return reuse_small_folio(w, t, pg)


def do_wp_page(w: int) -> Result:
    """The write fault: v6.15's, with the large-folio rule above."""
    return wp_fault(w, PG, checked)


def skip_maybe_shared(w: int) -> Result:
    """The same, without the maybe-mapped-shared test: wpdiff refuses it."""
    return wp_fault(w, PG, unchecked)
