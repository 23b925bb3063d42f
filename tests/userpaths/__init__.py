"""Fast paths as a kernel developer would write them, for the tests of `wpdiff check --fastpath`."""

from wpdiff.impl.fastpath import FASTPATHS
from wpdiff.impl.layout import MAPCOUNT
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


# Well-behaved on a page mapped once (the probe), not on one mapped twice.
def raises_when_mapped_twice(word):
    if (word >> MAPCOUNT) & 7:
        raise KeyError("no such field")
    return same_as_v6_15(word)


def negative_when_mapped_twice(word):
    if (word >> MAPCOUNT) & 7:
        return -1, 0
    return same_as_v6_15(word)
