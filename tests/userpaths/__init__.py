"""Fast paths as a kernel developer would write them, for the tests of `wpdiff check --fastpath`."""

from wpdiff.impl.fastpath import FASTPATHS
from wpdiff.impl.mutants import MUTANTS

# v6.15's own fast path, under another name: keeps every guarantee v6.15 keeps.
same_as_v6_15 = FASTPATHS["v6.15"]
# A "small optimisation" that reuses a large folio when its mapcount is below its refcount.
reuses_too_much = MUTANTS["v6.15/mapcount-below-refcount"].load()


def raises(word):
    raise KeyError("no such field")


def returns_garbage(word):
    return "reuse"


def returns_three(word):
    return word, 0, 0
# v5.9's fast path with its lockless page_count() test flipped.
count_flipped = MUTANTS["v5.9/count-flipped"].load()
