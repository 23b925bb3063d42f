"""A fast path written against the names of wpdiff before the v6.10 era was
renamed v6.9: the era's page-flag numbering by its old name, the helpers of
wpdiff.impl.fastpath.word, the field constants of wpdiff.impl.layout and a
built-in era's module under its old name.  It is the v6.10 rule with the
large-folio test written out, and must keep working with --base v6.10."""

from typing import Tuple

from wpdiff.impl.fastpath.v6_7 import wp_can_reuse_anon_folio as reuse_small_folio
from wpdiff.impl.fastpath.v6_7 import wp_fault
from wpdiff.impl.fastpath.v6_10 import do_wp_page as builtin_v6_10
from wpdiff.impl.fastpath.word import HEAD, Result, bit
from wpdiff.impl.layout import ORDER, PAGE_FLAGS

PG = PAGE_FLAGS["v6.10"].bits()


def can_reuse(w: int, t: int, pg: tuple) -> Tuple[int, int, int]:
    if bit(w, pg[HEAD]) or (w >> ORDER) & 3:  # a large folio, by its head flag or its order
        return w, t, 0
    return reuse_small_folio(w, t, pg)


def do_wp_page(w: int) -> Result:
    return wp_fault(w, PG, can_reuse)


__all__ = ["builtin_v6_10", "do_wp_page"]
