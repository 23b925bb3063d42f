/*
 * wpdiff test mirror (the project's own code, in the kernel's style): the
 * do_wp_page() path of 6.15, where a PTE-mapped large anonymous folio is
 * reused when every reference is one of this MM's mappings (1da190f4d0a6).
 */
static vm_fault_t fault_dirty_shared_page(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct folio *folio = page_folio(vmf->page);
	struct address_space *mapping;
	bool dirtied;
	bool page_mkwrite = vma->vm_ops && vma->vm_ops->page_mkwrite;

	dirtied = folio_mark_dirty(folio);
	VM_BUG_ON_FOLIO(folio_test_anon(folio), folio);
	/* keep the mapping: truncate may clear folio->mapping after the unlock */
	mapping = folio_raw_mapping(folio);
	folio_unlock(folio);

	if (!page_mkwrite)
		file_update_time(vma->vm_file);
	if ((dirtied || page_mkwrite) && mapping)
		balance_dirty_pages_ratelimited(mapping);
	return 0;
}

static inline void wp_page_reuse(struct vm_fault *vmf, struct folio *folio)
	__releases(vmf->ptl)
{
	struct vm_area_struct *vma = vmf->vma;
	pte_t entry;

	VM_BUG_ON(!(vmf->flags & FAULT_FLAG_WRITE));
	VM_WARN_ON(is_zero_pfn(pte_pfn(vmf->orig_pte)));

	if (folio) {
		/* an anonymous page is only ever reused once it is exclusive */
		VM_BUG_ON(folio_test_anon(folio) && !PageAnonExclusive(vmf->page));
		folio_xchg_last_cpupid(folio, (1 << LAST_CPUPID_SHIFT) - 1);
	}

	flush_cache_page(vma, vmf->address, pte_pfn(vmf->orig_pte));
	entry = pte_mkyoung(vmf->orig_pte);
	entry = maybe_mkwrite(pte_mkdirty(entry), vma);
	if (ptep_set_access_flags(vma, vmf->address, vmf->pte, entry, 1))
		update_mmu_cache_range(vmf, vma, vmf->address, vmf->pte, 1);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	count_vm_event(PGREUSE);
}

static vm_fault_t wp_pfn_shared(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;

	if (vma->vm_ops && vma->vm_ops->pfn_mkwrite) {
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return finish_mkwrite_fault(vmf, NULL);
	}
	wp_page_reuse(vmf, NULL);
	return 0;
}

static vm_fault_t wp_page_shared(struct vm_fault *vmf, struct folio *folio)
	__releases(vmf->ptl)
{
	struct vm_area_struct *vma = vmf->vma;
	vm_fault_t ret = 0;

	folio_get(folio);
	if (vma->vm_ops && vma->vm_ops->page_mkwrite) {
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		ret = do_page_mkwrite(vmf, folio);
		folio_put(folio);
		return ret;
	}
	wp_page_reuse(vmf, folio);
	folio_lock(folio);
	ret |= fault_dirty_shared_page(vmf);
	folio_put(folio);
	return ret;
}

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
/*
 * Every page of an anonymous folio is mapped at most once per MM and each
 * mapping holds one reference: when the folio is not maybe-shared and its
 * mapcount equals its refcount, all references are this MM's mappings.
 */
static bool __wp_can_reuse_large_anon_folio(struct folio *folio,
		struct vm_area_struct *vma)
{
	bool exclusive = false;

	/* the last mapping: let the whole folio go instead */
	if (folio_large_mapcount(folio) <= 1)
		return false;
	if (folio_maybe_mapped_shared(folio))
		return false;

	/* a swap cache reference would spoil the count: free it first */
	if (folio_test_swapcache(folio)) {
		if (!folio_trylock(folio))
			return false;
		folio_free_swap(folio);
		folio_unlock(folio);
	}
	if (folio_large_mapcount(folio) != folio_ref_count(folio))
		return false;

	/* recheck with the mapcount stable against concurrent (un)mapping */
	folio_lock_large_mapcount(folio);
	VM_WARN_ON_ONCE_FOLIO(folio_large_mapcount(folio) > folio_ref_count(folio), folio);
	if (!folio_maybe_mapped_shared(folio) &&
	    folio_large_mapcount(folio) == folio_ref_count(folio))
		exclusive = true;
	folio_unlock_large_mapcount(folio);
	return exclusive;
}
#else
static bool __wp_can_reuse_large_anon_folio(struct folio *folio,
		struct vm_area_struct *vma)
{
	BUILD_BUG();
	return false;
}
#endif

static bool wp_can_reuse_anon_folio(struct folio *folio,
				    struct vm_area_struct *vma)
{
	if (IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) && folio_test_large(folio))
		return __wp_can_reuse_large_anon_folio(folio, vma);

	/* cheap looks first: mapping + swap cache + LRU batch at most */
	if (folio_test_ksm(folio) || folio_ref_count(folio) > 3)
		return false;
	if (!folio_test_lru(folio))
		lru_add_drain();
	if (folio_ref_count(folio) > 1 + folio_test_swapcache(folio))
		return false;
	if (!folio_trylock(folio))
		return false;
	if (folio_test_swapcache(folio))
		folio_free_swap(folio);
	if (folio_test_ksm(folio) || folio_ref_count(folio) != 1) {
		folio_unlock(folio);
		return false;
	}
	folio_move_anon_rmap(folio, vma);
	folio_unlock(folio);
	return true;
}

static vm_fault_t do_wp_page(struct vm_fault *vmf)
	__releases(vmf->ptl)
{
	const bool unshare = vmf->flags & FAULT_FLAG_UNSHARE;
	struct vm_area_struct *vma = vmf->vma;
	struct folio *folio = NULL;
	pte_t pte;

	if (likely(!unshare)) {
		if (userfaultfd_pte_wp(vma, ptep_get(vmf->pte))) {
			if (!userfaultfd_wp_async(vma)) {
				pte_unmap_unlock(vmf->pte, vmf->ptl);
				return handle_userfault(vmf, VM_UFFD_WP);
			}
			/* async mode: drop the bit, nobody is told, go on */
			pte = pte_clear_uffd_wp(ptep_get(vmf->pte));
			set_pte_at(vma->vm_mm, vmf->address, vmf->pte, pte);
			vmf->orig_pte = pte;
		}
		if (unlikely(userfaultfd_wp(vmf->vma) &&
			     mm_tlb_flush_pending(vmf->vma->vm_mm)))
			flush_tlb_page(vmf->vma, vmf->address);
	}

	vmf->page = vm_normal_page(vma, vmf->address, vmf->orig_pte);
	if (vmf->page)
		folio = page_folio(vmf->page);

	/* shared mappings never copy */
	if (vma->vm_flags & (VM_SHARED | VM_MAYSHARE)) {
		if (!vmf->page)
			return wp_pfn_shared(vmf);
		return wp_page_shared(vmf, folio);
	}

	/* private: an exclusive page is reused without more questions */
	if (folio && folio_test_anon(folio) &&
	    (PageAnonExclusive(vmf->page) || wp_can_reuse_anon_folio(folio, vma))) {
		if (!PageAnonExclusive(vmf->page))
			SetPageAnonExclusive(vmf->page);
		if (unlikely(unshare)) {
			pte_unmap_unlock(vmf->pte, vmf->ptl);
			return 0;
		}
		wp_page_reuse(vmf, folio);
		return 0;
	}

	if (folio)
		folio_get(folio);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
#ifdef CONFIG_KSM
	if (folio && folio_test_ksm(folio))
		count_vm_event(COW_KSM);
#endif
	return wp_page_copy(vmf);
}

/* not extracted: only its calls are read */
static vm_fault_t wp_page_copy(struct vm_fault *vmf)
{
	free_swap_cache(vmf->page);
	return 0;
}
