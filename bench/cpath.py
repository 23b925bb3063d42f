"""The v6.15 fast path in C, built with the machine's cc: the physical reference.

The same checks in the same order as ``impl/fastpath/v6_15.py`` (and the
helpers it calls), over the same uint64 words, producing the same (word
after, trace word).  The benchmark checks the results bit for bit against
the batch path before it times anything.
"""

import ctypes
import os
import shutil
import subprocess
import tempfile
from typing import Callable

import numpy as np

from wpdiff.impl import layout as L

PG = L.PAGE_FLAGS["v6.15"]

SOURCE = r"""
#include <stdint.h>
#include <stddef.h>
typedef uint64_t u64;
enum { MAPPING = %(MAPPING)d, REFCOUNT = %(REFCOUNT)d, MAPCOUNT = %(MAPCOUNT)d, LARGE = %(LARGE_MAPCOUNT)d,
       ORDER = %(ORDER)d, MM_SHARED = %(MM_SHARED)d, SWAPCOUNT = %(SWAPCOUNT)d, STABLE = %(STABLE_NODE)d,
       PTE = %(PTE)d, VMA = %(VMA)d, UFFD_ASYNC = %(UFFD_ASYNC)d, UNSHARE = %(UNSHARE)d, TLB = %(TLB_FLUSH_PENDING)d,
       LOCAL = %(LOCAL_BATCH)d,
       PTE_RW = %(PTE_RW)d, PTE_ACCESSED = %(PTE_ACCESSED)d, PTE_DIRTY = %(PTE_DIRTY)d, PTE_SPECIAL = %(PTE_SPECIAL)d,
       PTE_UFFD_WP = %(PTE_UFFD_WP)d, VM_WRITE = %(VM_WRITE)d, VM_SHARED = %(VM_SHARED)d, VM_UFFD_WP = %(VM_UFFD_WP)d,
       PG_LOCKED = %(locked)d, PG_DIRTY = %(dirty)d, PG_LRU = %(lru)d, PG_OWNER_PRIV_1 = %(owner_priv_1)d,
       PG_WRITEBACK = %(writeback)d, PG_HEAD = %(head)d, PG_SWAPBACKED = %(swapbacked)d, PG_ANON_EXCLUSIVE = %(anon_exclusive)d };
enum { REUSE = 1, COPY, SHARED, UNSHARE_REUSE, NOTHING, RETRY, USERFAULT };
enum { E_PTL_UNLOCK, E_PTL_LOCK, E_GET, E_PUT, E_TRYLOCK_OK, E_TRYLOCK_FAIL, E_LOCK_PAGE, E_UNLOCK_PAGE,
       E_LRU_DRAIN, E_SWAP_FREE, E_MOVE_ANON_RMAP, E_SET_ANON_EXCLUSIVE, E_REUSE_PTE, E_NEW_PAGE, E_TLB_FLUSH,
       E_UFFD_WP_CLEAR };

#define BIT(w, s) (((w) >> (s)) & 1)
static inline u64 ev(u64 t, u64 e) { u64 n = (t >> 3) & 15; return t + (e << (7 + 4 * n)) + (1ull << 3); }
static inline u64 page_count(u64 w) { return (w >> REFCOUNT) & 4095; }
static inline int64_t large_mapcount(u64 w) { int64_t r = (w >> LARGE) & 15; return r > 7 ? r - 15 : r + 1; }
static inline u64 swapcache(u64 w) { return BIT(w, PG_SWAPBACKED) ? BIT(w, PG_OWNER_PRIV_1) : 0; }
static inline int ksm(u64 w) { return ((w >> MAPPING) & 3) == 3; }

static inline void reuse_pte(u64 *w, u64 *t) {
    *t = ev(*t, E_REUSE_PTE);
    *w |= (1ull << (PTE + PTE_ACCESSED)) | (1ull << (PTE + PTE_DIRTY));
    if (BIT(*w, VMA + VM_WRITE)) *w |= 1ull << (PTE + PTE_RW);
    *t = ev(*t, E_PTL_UNLOCK);
}
static inline void try_to_free_swap(u64 *w, u64 *t) {
    if (swapcache(*w) && !BIT(*w, PG_WRITEBACK) && ((*w >> SWAPCOUNT) & 3) == 0) {
        *t = ev(*t, E_SWAP_FREE);
        *w = *w - (1ull << PG_OWNER_PRIV_1) - ((1ull << ((*w >> ORDER) & 3)) << REFCOUNT);
        *w |= 1ull << PG_DIRTY;
    }
}
static inline void copy(u64 *w, u64 *t) {
    int page = !BIT(*w, PTE + PTE_SPECIAL), writing = !BIT(*w, UNSHARE);
    if (page) *t = ev(*t, E_GET);
    *t = ev(ev(*t, E_PTL_UNLOCK), E_NEW_PAGE);
    *w = (*w | (1ull << (PTE + PTE_ACCESSED))) & ~(1ull << (PTE + PTE_SPECIAL));
    if (writing) *w |= 1ull << (PTE + PTE_DIRTY); else *w &= ~(1ull << (PTE + PTE_DIRTY));
    if (writing && BIT(*w, VMA + VM_WRITE)) *w |= 1ull << (PTE + PTE_RW); else *w &= ~(1ull << (PTE + PTE_RW));
    if (writing) *w &= ~(1ull << (PTE + PTE_UFFD_WP));
    if (page) {
        *w = ((*w >> MAPCOUNT) & 7) == 0 ? *w + (7ull << MAPCOUNT) : *w - (1ull << MAPCOUNT);
        *w = ((*w >> LARGE) & 15) == 0 ? *w + (15ull << LARGE) : *w - (1ull << LARGE);
        *w -= 1ull << REFCOUNT;
        if (swapcache(*w) && large_mapcount(*w) < 1) {
            if (BIT(*w, PG_LOCKED)) *t = ev(*t, E_TRYLOCK_FAIL);
            else { *t = ev(*t, E_TRYLOCK_OK); try_to_free_swap(w, t); *t = ev(*t, E_UNLOCK_PAGE); }
        }
        *t = ev(*t, E_PUT);
    }
    *t += COPY;
}
static inline int can_reuse(u64 *w, u64 *t) {
    if (BIT(*w, PG_HEAD)) {  /* __wp_can_reuse_large_anon_folio() */
        if (large_mapcount(*w) <= 1 || BIT(*w, MM_SHARED)) return 0;
        if (swapcache(*w)) {
            if (BIT(*w, PG_LOCKED)) { *t = ev(*t, E_TRYLOCK_FAIL); return 0; }
            *t = ev(*t, E_TRYLOCK_OK); try_to_free_swap(w, t); *t = ev(*t, E_UNLOCK_PAGE);
        }
        return large_mapcount(*w) == (int64_t)page_count(*w);
    }
    if (ksm(*w) || page_count(*w) > 3) return 0;
    if (!BIT(*w, PG_LRU)) {
        *t = ev(*t, E_LRU_DRAIN);
        if (BIT(*w, LOCAL)) *w = (*w - (1ull << LOCAL) - (1ull << REFCOUNT)) | (1ull << PG_LRU);
    }
    if (page_count(*w) > 1 + swapcache(*w)) return 0;
    if (BIT(*w, PG_LOCKED)) { *t = ev(*t, E_TRYLOCK_FAIL); return 0; }
    *t = ev(*t, E_TRYLOCK_OK);
    if (swapcache(*w)) try_to_free_swap(w, t);
    if (ksm(*w) || page_count(*w) != 1) { *t = ev(*t, E_UNLOCK_PAGE); return 0; }
    *t = ev(*t, E_MOVE_ANON_RMAP);
    if (ksm(*w)) *w = (*w - (2ull << MAPPING)) & ~(1ull << STABLE);
    *t = ev(*t, E_UNLOCK_PAGE);
    return 1;
}
static inline void do_wp_page(u64 w, u64 *after, u64 *trace) {
    u64 t = 0;
    if (!BIT(w, UNSHARE)) {
        if (BIT(w, PTE + PTE_UFFD_WP)) {
            if (!BIT(w, UFFD_ASYNC)) { *after = w; *trace = ev(t, E_PTL_UNLOCK) + USERFAULT; return; }
            w -= 1ull << (PTE + PTE_UFFD_WP); t = ev(t, E_UFFD_WP_CLEAR);
        }
        if (BIT(w, VMA + VM_UFFD_WP) && BIT(w, TLB)) t = ev(t, E_TLB_FLUSH);
    }
    int page = !BIT(w, PTE + PTE_SPECIAL);
    if (BIT(w, VMA + VM_SHARED)) {
        if (!page) { reuse_pte(&w, &t); *after = w; *trace = t + SHARED; return; }
        t = ev(t, E_GET); reuse_pte(&w, &t);
        w = (w & ~(1ull << PG_LOCKED)) | (1ull << PG_DIRTY);
        t = ev(ev(ev(t, E_LOCK_PAGE), E_UNLOCK_PAGE), E_PUT);
        *after = w; *trace = t + SHARED; return;
    }
    if (page && BIT(w, MAPPING)) {
        int exclusive = BIT(w, PG_ANON_EXCLUSIVE);
        if (exclusive || can_reuse(&w, &t)) {
            if (!exclusive) { w |= 1ull << PG_ANON_EXCLUSIVE; t = ev(t, E_SET_ANON_EXCLUSIVE); }
            if (BIT(w, UNSHARE)) { *after = w; *trace = ev(t, E_PTL_UNLOCK) + UNSHARE_REUSE; return; }
            reuse_pte(&w, &t); *after = w; *trace = t + REUSE; return;
        }
    }
    copy(&w, &t); *after = w; *trace = t;
}
void run(const u64 *words, u64 *after, u64 *trace, size_t n) {
    for (size_t i = 0; i < n; i++) do_wp_page(words[i], &after[i], &trace[i]);
}
"""


def build() -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    """Compile the C fast path with cc -O2; a function (words, after, trace)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler (cc) on this machine")
    values = {name: getattr(L, name) for name in dir(L) if name.isupper() and isinstance(getattr(L, name), int)}
    values.update({name: getattr(PG, name) for name in ("locked", "dirty", "lru", "owner_priv_1", "writeback", "head",
                                                       "swapbacked", "anon_exclusive")})
    tmp = tempfile.mkdtemp(prefix="wpdiff-bench-")
    src, lib = os.path.join(tmp, "v6_15.c"), os.path.join(tmp, "v6_15.so")
    with open(src, "w") as f:
        f.write(SOURCE % values)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", lib, src], check=True)
    so = ctypes.CDLL(lib)
    so.run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    so.run.restype = None

    def run(words: np.ndarray, after: np.ndarray, trace: np.ndarray) -> None:
        so.run(words.ctypes.data, after.ctypes.data, trace.ctypes.data, words.size)

    return run


__all__ = ["build"]
