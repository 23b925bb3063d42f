"""v5.8: the same fault path; GUP breaks COW for read-only references instead.

The first fix of CVE-2020-29374 did not touch do_wp_page(): Linus's
17839856fd58 ("gup: document and work around 'COW can break either way'
issue", v5.8-rc1) made GUP add FOLL_WRITE to every get_user_pages() and
pin_user_pages() on a COW mapping (``should_force_cow_break()``).  A child
that vmsplice()s a page it shares with its parent now copies it first, and
the pipe holds the child's own copy, so the parent's later write cannot leak.

The fault path is v5.7's.  What changes is which states can arise: a GUP
reference is never taken through a shared COW PTE (see
``wpdiff.spec.eras.reachable``).  The leak in the other direction survives:
a parent that vmsplice()s its own exclusive page takes the reference without
breaking anything, then fork()s and unmaps; the child's page is mapped once,
the child's write reuses it, and the parent's pipe sees the child's data
(cow.c: "vmsplice() before fork(), unmap in parent after fork()").
Forcing writes also dirtied and copied pages that R/O GUP had only wanted
to read (the zero page among them: stress-ng vm-splice +2000%), and broke
ptrace on pmem.  5.9 reverted it (a308c71bf1e6, merged in 5.9-rc4 with the
simplification), so 5.9-rc1 to 5.9-rc3 are still this era.
"""

from .v5_7 import do_wp_page

ID = "v5.8"
FIRST = "5.8"
FEATURES = frozenset({"uffd-wp", "sleeping-page-lock", "ksm-reuse", "gup-breaks-cow"})
TITLE = "v5.7's fault path; GUP breaks COW on read-only references"
COMMITS = ("17839856fd58",)

__all__ = ["do_wp_page"]
