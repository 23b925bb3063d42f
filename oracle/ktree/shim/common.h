/*
 * wpdiff's model of the kernel API that do_wp_page() calls: shared part.
 *
 * This is the project's own code, not the kernel's.  Every function here
 * stands for the kernel function of the same name, over the packed word of
 * wpdiff/impl/layout.py (wpdiff_layout.h is generated from it at build
 * time: field shifts, the era's page-flag numbering, event and decision
 * codes).  Each records the spec's events in order (spec/outcome.py) and
 * changes the word the way impl/fastpath/word.py does.  Queries remember
 * the user's line they were called from (the __LINE__ of the call, which
 * the #line directives make the user's memory.c line), so a report can say
 * which branch decided.  VM_BUG_ON and WARN_ON are evaluated, not compiled
 * out, and remembered with their kernel line.
 *
 * Assumptions (what a real tree can break): vm_ops has no page_mkwrite or
 * pfn_mkwrite, no FAULT_FLAG_ALLOW_RETRY, no SWP_STABLE_WRITES device,
 * CONFIG_THP_SWAP=n, x86-64 PTE bits, one fault at a time (the state is
 * one static struct: the batch loop is single-threaded).
 */
#ifndef WPDIFF_COMMON_H
#define WPDIFF_COMMON_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

typedef uint64_t u64;
typedef uint32_t u32;
typedef unsigned int vm_fault_t;
typedef unsigned long pgoff_t;
typedef struct { int locked; } spinlock_t;
typedef struct { u64 pte; } pte_t;
typedef struct { u64 pmd; } pmd_t;
typedef struct { u64 pgprot; } pgprot_t;

/* the configuration the model stands for */
#define CONFIG_MMU 1
#define CONFIG_SWAP 1
#define CONFIG_KSM 1
#define CONFIG_TRANSPARENT_HUGEPAGE 1
#define CONFIG_USERFAULTFD 1
#define CONFIG_PGTABLE_HAS_HUGE_LEAVES 1
/* CONFIG_THP_SWAP, CONFIG_DEBUG_VM: not set (the word has no per-subpage swap counts) */

#define WP_ARG_PLACEHOLDER_1 0,
#define wp_second_arg(ignored, val, ...) val
#define wp_defined(x) wp_defined_(x)
#define wp_defined_(v) wp_defined__(WP_ARG_PLACEHOLDER_##v)
#define wp_defined__(junk_or_zero) wp_second_arg(junk_or_zero 1, 0)
#define IS_ENABLED(option) wp_defined(option)

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define READ_ONCE(x) (x)
#define WRITE_ONCE(x, v) ((x) = (v))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min(a, b) ((a) < (b) ? (a) : (b))

/* the kernel's own values (include/linux/mm.h, mm_types.h) */
#define VM_WRITE 0x00000002UL
#define VM_SHARED 0x00000008UL
#define VM_MAYSHARE 0x00000080UL
#define VM_UFFD_WP 0x00001000UL
#define FAULT_FLAG_WRITE 0x1U
#define FAULT_FLAG_MKWRITE 0x2U
#define FAULT_FLAG_UNSHARE 0x400U
#define VM_FAULT_OOM 0x000001U
#define VM_FAULT_SIGBUS 0x000002U
#define VM_FAULT_WRITE 0x000008U
#define VM_FAULT_NOPAGE 0x000100U
#define VM_FAULT_RETRY 0x000400U
#define VM_FAULT_COMPLETED 0x004000U
#define VM_FAULT_ERROR (VM_FAULT_OOM | VM_FAULT_SIGBUS)
#define LAST_CPUPID_SHIFT 8
enum vm_event_item { PGREUSE, COW_KSM };

/* x86-64 PTE bits (arch/x86/include/asm/pgtable_types.h) and where the word keeps them */
#define _PAGE_RW (1ULL << 1)
#define _PAGE_ACCESSED (1ULL << 5)
#define _PAGE_DIRTY (1ULL << 6)
#define _PAGE_SPECIAL (1ULL << 9)
#define _PAGE_UFFD_WP (1ULL << 10)
#define WP_PTE_PFN_SHIFT 12

struct mm_struct { int tlb_flush_pending; };
struct file { int f; };
struct anon_vma { int a; };
struct vm_fault;
struct folio;
struct page { pgoff_t index; };
struct folio { pgoff_t index; };
struct address_space { int a; };
struct vm_operations_struct {
	vm_fault_t (*page_mkwrite)(struct vm_fault *vmf);
	vm_fault_t (*pfn_mkwrite)(struct vm_fault *vmf);
};
struct vm_area_struct {
	unsigned long vm_start, vm_end, vm_pgoff;
	unsigned long vm_flags;
	struct mm_struct *vm_mm;
	const struct vm_operations_struct *vm_ops;
	struct file *vm_file;
	struct anon_vma *anon_vma;
	pgprot_t vm_page_prot;
};
struct vm_fault {
	struct vm_area_struct *vma;
	unsigned long address;
	unsigned long real_address;
	unsigned int flags;
	pgoff_t pgoff;
	pmd_t *pmd;
	pte_t *pte;
	spinlock_t *ptl;
	pte_t orig_pte;
	struct page *page;
	struct page *cow_page;
};

/* ---- the state of one fault --------------------------------------------- */

enum { WP_ASSERT_BUG = 1, WP_ASSERT_WARN = 2, WP_UNMODELLED = 4 };

struct wp_state {
	u64 w;          /* the word (its pte field is kept in wp_pte while the fault runs) */
	u64 t;          /* events so far */
	int n;          /* how many */
	int overflow;   /* more than WP_MAX_EVENTS */
	u32 q_line, q_id;       /* the last query: the user's line and which */
	u32 a_line, a_id;       /* the call that decided: line and which */
	u32 d_line, d_id;       /* the last query before it: the branch that decided */
	u32 assert_line, assert_kind;
	int userfault, copied, slept, we_lock;
	u32 ran;        /* bit per extracted function that ran (WPF_*) */
};
static struct wp_state S;
static pte_t wp_pte;
static spinlock_t wp_ptl;
static pmd_t wp_pmd;
static struct page wp_page;
static struct folio wp_folio;
static struct mm_struct wp_mm;
static struct file wp_file;
static struct address_space wp_mapping;
static struct vm_area_struct wp_vma;

#define WP_FIELD(f) ((S.w >> WP_##f##_SHIFT) & ((1ULL << WP_##f##_WIDTH) - 1))
#define WP_BIT(shift) ((S.w >> (shift)) & 1)
#define WP_SET(shift) (S.w |= 1ULL << (shift))
#define WP_CLEAR(shift) (S.w &= ~(1ULL << (shift)))

static inline void wp_ev(int e)
{
	if (S.n >= WP_MAX_EVENTS) { S.overflow = 1; return; }
	S.t += (u64)e << (WP_TRACE_EVENTS + 4 * S.n);
	S.n++;
}
static inline void wp_query(u32 id, int line) { S.q_id = id; S.q_line = line; }
static inline void wp_act(u32 id, int line)
{
	if (S.a_line) return;
	S.a_id = id; S.a_line = line;
	S.d_id = S.q_id; S.d_line = S.q_line;
}
static inline void wp_assert(int line, u32 kind)
{
	if (!S.assert_line) S.assert_line = line;
	S.assert_kind |= kind;
}
#define WP_QUIET(expr) ({ u32 _l = S.q_line, _i = S.q_id; long _v = !!(expr); S.q_line = _l; S.q_id = _i; _v; })

/* assertions: evaluated with the kernel's line, the decision goes on as without CONFIG_DEBUG_VM */
#define VM_BUG_ON(c) do { if (WP_QUIET(c)) wp_assert(__LINE__, WP_ASSERT_BUG); } while (0)
#define VM_BUG_ON_PAGE(c, p) VM_BUG_ON(c)
#define VM_BUG_ON_FOLIO(c, f) VM_BUG_ON(c)
#define VM_BUG_ON_VMA(c, v) VM_BUG_ON(c)
#define BUG_ON(c) VM_BUG_ON(c)
#define BUG() wp_assert(__LINE__, WP_ASSERT_BUG)
#define BUILD_BUG() wp_assert(__LINE__, WP_ASSERT_BUG)
#define WARN_ON(c) ({ long _w = WP_QUIET(c); if (_w) wp_assert(__LINE__, WP_ASSERT_WARN); _w; })
#define WARN_ON_ONCE(c) WARN_ON(c)
#define VM_WARN_ON(c) ((void)WARN_ON(c))
#define VM_WARN_ON_ONCE(c) ((void)WARN_ON(c))
#define VM_WARN_ON_FOLIO(c, f) ((void)WARN_ON(c))
#define VM_WARN_ON_ONCE_FOLIO(c, f) ((void)WARN_ON(c))
#define VM_WARN_ON_ONCE_PAGE(c, p) ((void)WARN_ON(c))

/* ---- PTEs and the page-table lock ---------------------------------------- */

/* the word's five PTE bits and the x86-64 bits they stand for, unrolled (this runs for every word) */
#define WP_PTE_BIT(w, i) (((w) >> (WP_pte_SHIFT + (i))) & 1)
static inline pte_t wp_pte_of_word(u64 w)
{
	pte_t p;
	p.pte = (WP_PTE_BIT(w, WP_PTE_RW) ? _PAGE_RW : 0) | (WP_PTE_BIT(w, WP_PTE_ACCESSED) ? _PAGE_ACCESSED : 0)
		| (WP_PTE_BIT(w, WP_PTE_DIRTY) ? _PAGE_DIRTY : 0) | (WP_PTE_BIT(w, WP_PTE_SPECIAL) ? _PAGE_SPECIAL : 0)
		| (WP_PTE_BIT(w, WP_PTE_UFFD_WP) ? _PAGE_UFFD_WP : 0);
	return p;
}
static inline u64 wp_word_with_pte(u64 w, pte_t p)
{
	w &= ~(((1ULL << WP_pte_WIDTH) - 1) << WP_pte_SHIFT);
	return w | ((u64)!!(p.pte & _PAGE_RW) << (WP_pte_SHIFT + WP_PTE_RW))
		| ((u64)!!(p.pte & _PAGE_ACCESSED) << (WP_pte_SHIFT + WP_PTE_ACCESSED))
		| ((u64)!!(p.pte & _PAGE_DIRTY) << (WP_pte_SHIFT + WP_PTE_DIRTY))
		| ((u64)!!(p.pte & _PAGE_SPECIAL) << (WP_pte_SHIFT + WP_PTE_SPECIAL))
		| ((u64)!!(p.pte & _PAGE_UFFD_WP) << (WP_pte_SHIFT + WP_PTE_UFFD_WP));
}
static inline pte_t pte_mkyoung(pte_t p) { p.pte |= _PAGE_ACCESSED; return p; }
static inline pte_t pte_mkdirty(pte_t p) { p.pte |= _PAGE_DIRTY; return p; }
static inline pte_t wp_pte_mkwrite(pte_t p) { p.pte |= _PAGE_RW; return p; }
#define pte_mkwrite(p, ...) wp_pte_mkwrite(p)
static inline pte_t maybe_mkwrite(pte_t p, struct vm_area_struct *vma)
{
	if (likely(vma->vm_flags & VM_WRITE)) p = wp_pte_mkwrite(p);
	return p;
}
static inline int pte_write(pte_t p) { return !!(p.pte & _PAGE_RW); }
static inline int pte_uffd_wp(pte_t p) { return !!(p.pte & _PAGE_UFFD_WP); }
static inline pte_t pte_clear_uffd_wp(pte_t p) { p.pte &= ~_PAGE_UFFD_WP; return p; }
static inline unsigned long pte_pfn(pte_t p) { return p.pte >> WP_PTE_PFN_SHIFT; }
static inline int is_zero_pfn(unsigned long pfn) { (void)pfn; return 0; }
static inline int pte_same(pte_t a, pte_t b) { return a.pte == b.pte; }
static inline pte_t ptep_get(pte_t *p) { return *p; }

static inline void wp_pte_unmap_unlock(int line)
{
	(void)line;
	wp_ev(WP_E_PTL_UNLOCK);
	wp_ptl.locked = 0;
}
#define pte_unmap_unlock(pte, ptl) wp_pte_unmap_unlock(__LINE__)
#define pte_unmap(pte) do { } while (0)
#define spin_unlock(ptl) wp_pte_unmap_unlock(__LINE__)
/* taken again after sleeping: the PTE may have changed meanwhile (the environment bit) */
static inline pte_t *wp_pte_offset_map_lock(spinlock_t **ptlp)
{
	wp_ev(WP_E_PTL_LOCK);
	wp_ptl.locked = 1;
	if (ptlp) *ptlp = &wp_ptl;
	if (S.slept && WP_FIELD(pte_changes)) wp_pte.pte += 1ULL << WP_PTE_PFN_SHIFT;
	return &wp_pte;
}
#define pte_offset_map_lock(mm, pmd, addr, ptlp) wp_pte_offset_map_lock(ptlp)
static inline int wp_ptep_set_access_flags(pte_t *ptep, pte_t entry)
{
	int changed = !pte_same(*ptep, entry);
	if (changed) *ptep = entry;
	wp_ev(WP_E_REUSE_PTE);
	return changed;
}
#define ptep_set_access_flags(vma, addr, ptep, entry, dirty) wp_ptep_set_access_flags(ptep, entry)
static inline void wp_set_pte_at(pte_t *ptep, pte_t p)
{
	if (pte_uffd_wp(*ptep) && !pte_uffd_wp(p)) wp_ev(WP_E_UFFD_WP_CLEAR);
	*ptep = p;
}
#define set_pte_at(mm, addr, ptep, p) wp_set_pte_at(ptep, p)
#define flush_cache_page(vma, addr, pfn) do { } while (0)
#define update_mmu_cache(vma, addr, ptep) do { } while (0)
#define update_mmu_cache_range(vmf, vma, addr, ptep, nr) do { } while (0)
#define flush_tlb_page(vma, addr) wp_ev(WP_E_TLB_FLUSH)
#define count_vm_event(e) do { } while (0)
#define page_cpupid_xchg_last(page, c) do { } while (0)
#define folio_xchg_last_cpupid(folio, c) do { } while (0)
#define linear_page_index(vma, addr) ((pgoff_t)0)
#define file_update_time(f) do { } while (0)
#define balance_dirty_pages_ratelimited(m) do { } while (0)
#define maybe_unlock_mmap_for_io(vmf, fpin) ((struct file *)NULL)
#define fput(f) do { } while (0)

/* ---- userfaultfd ---------------------------------------------------------- */

static inline bool wp_userfaultfd_wp(struct vm_area_struct *vma, int line)
{
	wp_query(WPQ_userfaultfd_wp, line);
	return vma->vm_flags & VM_UFFD_WP;
}
#define userfaultfd_wp(vma) wp_userfaultfd_wp(vma, __LINE__)
static inline bool wp_userfaultfd_pte_wp(struct vm_area_struct *vma, pte_t p, int line)
{
	wp_query(WPQ_userfaultfd_pte_wp, line);
	return (vma->vm_flags & VM_UFFD_WP) && pte_uffd_wp(p);
}
#define userfaultfd_pte_wp(vma, p) wp_userfaultfd_pte_wp(vma, p, __LINE__)
static inline bool wp_userfaultfd_wp_async(struct vm_area_struct *vma, int line)
{
	(void)vma;
	wp_query(WPQ_userfaultfd_wp_async, line);
	return WP_FIELD(uffd_async);
}
#define userfaultfd_wp_async(vma) wp_userfaultfd_wp_async(vma, __LINE__)
static inline bool wp_mm_tlb_flush_pending(struct mm_struct *mm, int line)
{
	(void)mm;
	wp_query(WPQ_mm_tlb_flush_pending, line);
	return WP_FIELD(tlb_flush_pending);
}
#define mm_tlb_flush_pending(mm) wp_mm_tlb_flush_pending(mm, __LINE__)

/* ---- the page ------------------------------------------------------------- */

static inline struct page *wp_vm_normal_page(pte_t p, int line)
{
	wp_query(WPQ_vm_normal_page, line);
	return (p.pte & _PAGE_SPECIAL) ? NULL : &wp_page;  /* the zero page, a pfn map: no struct page */
}
#define vm_normal_page(vma, addr, p) wp_vm_normal_page(p, __LINE__)
#define page_folio(p) ((p) ? &wp_folio : (struct folio *)NULL)
#define folio_page(f, n) (&wp_page)
#define compound_head(p) (p)

static inline int wp_refcount(void) { return (int)WP_FIELD(refcount); }
static inline int wp_mapcount(void)  /* page_mapcount(): _mapcount + 1 */
{
	int raw = (int)WP_FIELD(mapcount);
	return raw > 3 ? raw - 7 : raw + 1;
}
static inline int wp_large_mapcount(void)
{
	int raw = (int)WP_FIELD(large_mapcount);
	return raw > 7 ? raw - 15 : raw + 1;
}
static inline int wp_nr_pages(void) { return 1 << WP_FIELD(order); }
static inline int wp_anon(void) { return WP_FIELD(mapping) & 1; }
static inline int wp_ksm(void) { return WP_FIELD(mapping) == WP_PAGE_MAPPING_KSM; }
static inline int wp_swapcache(void) { return WP_BIT(PG_swapbacked) ? (int)WP_BIT(PG_swapcache) : 0; }

#define WP_PAGE_QUERY(name, id, expr) \
	static inline int wp_##name(int line) { wp_query(id, line); return (expr); }

WP_PAGE_QUERY(PageAnon, WPQ_PageAnon, wp_anon())
WP_PAGE_QUERY(PageKsm, WPQ_PageKsm, wp_ksm())
WP_PAGE_QUERY(PageSwapCache, WPQ_PageSwapCache, wp_swapcache())
WP_PAGE_QUERY(PageLRU, WPQ_PageLRU, (int)WP_BIT(PG_lru))
WP_PAGE_QUERY(PageWriteback, WPQ_PageWriteback, (int)WP_BIT(PG_writeback))
WP_PAGE_QUERY(PageLocked, WPQ_PageLocked, S.we_lock || WP_BIT(PG_locked))
WP_PAGE_QUERY(PageTransCompound, WPQ_PageTransCompound, (int)WP_BIT(PG_head))
WP_PAGE_QUERY(page_count, WPQ_page_count, wp_refcount())
WP_PAGE_QUERY(page_mapcount, WPQ_page_mapcount, wp_mapcount())
#define PageAnon(p) wp_PageAnon(__LINE__)
#define PageKsm(p) wp_PageKsm(__LINE__)
#define PageSwapCache(p) wp_PageSwapCache(__LINE__)
#define PageLRU(p) wp_PageLRU(__LINE__)
#define PageWriteback(p) wp_PageWriteback(__LINE__)
#define PageLocked(p) wp_PageLocked(__LINE__)
#define PageTransCompound(p) wp_PageTransCompound(__LINE__)
#define page_count(p) wp_page_count(__LINE__)
#define page_mapcount(p) wp_page_mapcount(__LINE__)

/* references: the handler's own get/put change _refcount as the kernel's do */
static inline void wp_get(void) { wp_ev(WP_E_GET); S.w += 1ULL << WP_refcount_SHIFT; }
static inline void wp_put(void) { wp_ev(WP_E_PUT); S.w -= 1ULL << WP_refcount_SHIFT; }
#define get_page(p) wp_get()
#define put_page(p) wp_put()

/* the page lock: PG_locked in the word is someone else's lock */
static inline int wp_trylock(int line)
{
	wp_query(WPQ_trylock, line);
	if (WP_BIT(PG_locked)) { wp_ev(WP_E_TRYLOCK_FAIL); return 0; }
	wp_ev(WP_E_TRYLOCK_OK);
	S.we_lock = 1;
	return 1;
}
static inline void wp_lock(void)  /* sleeps until the holder lets go */
{
	if (S.we_lock) wp_assert(0, WP_ASSERT_BUG);
	wp_ev(WP_E_LOCK_PAGE);
	if (WP_BIT(PG_locked)) S.slept = 1;
	WP_CLEAR(PG_locked);
	S.we_lock = 1;
}
static inline void wp_unlock(int line)
{
	if (!S.we_lock) wp_assert(line, WP_ASSERT_BUG);
	wp_ev(WP_E_UNLOCK_PAGE);
	S.we_lock = 0;
}
#define trylock_page(p) wp_trylock(__LINE__)
#define lock_page(p) wp_lock()
#define unlock_page(p) wp_unlock(__LINE__)

static inline bool wp_set_dirty(void)
{
	bool was = WP_BIT(PG_dirty);
	WP_SET(PG_dirty);
	return !was;
}
#define set_page_dirty(p) wp_set_dirty()
#define SetPageDirty(p) ((void)wp_set_dirty())
#define page_rmapping(p) (wp_anon() ? NULL : &wp_mapping)

static inline int wp_PageAnonExclusive(int line)
{
	wp_query(WPQ_PageAnonExclusive, line);
	return WP_BIT(PG_anon_exclusive);
}
#define PageAnonExclusive(p) wp_PageAnonExclusive(__LINE__)
static inline void wp_SetPageAnonExclusive(int line)
{
	if (!wp_anon() || wp_ksm()) wp_assert(line, WP_ASSERT_BUG);  /* VM_BUG_ON_PGFLAGS(!PageAnonNotKsm(page)) */
	wp_ev(WP_E_SET_ANON_EXCLUSIVE);
	WP_SET(PG_anon_exclusive);
}
#define SetPageAnonExclusive(p) wp_SetPageAnonExclusive(__LINE__)

#endif
