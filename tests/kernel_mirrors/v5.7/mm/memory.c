/*
 * wpdiff test mirror (the project's own code, in the kernel's style):
 * the shared-mapping and reuse helpers as the page API had them.
 */
static vm_fault_t fault_dirty_shared_page(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct page *page = vmf->page;
	struct address_space *mapping;
	bool dirtied;
	bool page_mkwrite = vma->vm_ops && vma->vm_ops->page_mkwrite;

	dirtied = set_page_dirty(page);
	VM_BUG_ON_PAGE(PageAnon(page), page);
	/* remember the mapping before the unlock lets truncate clear it */
	mapping = page_rmapping(page);
	unlock_page(page);

	if (!page_mkwrite)
		file_update_time(vma->vm_file);
	if ((dirtied || page_mkwrite) && mapping)
		balance_dirty_pages_ratelimited(mapping);
	return 0;
}

/* the PTE becomes young and dirty, writable if the VMA allows; the PTL goes */
static inline void wp_page_reuse(struct vm_fault *vmf)
	__releases(vmf->ptl)
{
	struct vm_area_struct *vma = vmf->vma;
	struct page *page = vmf->page;
	pte_t entry;

	if (page)
		page_cpupid_xchg_last(page, (1 << LAST_CPUPID_SHIFT) - 1);

	flush_cache_page(vma, vmf->address, pte_pfn(vmf->orig_pte));
	entry = pte_mkyoung(vmf->orig_pte);
	entry = maybe_mkwrite(pte_mkdirty(entry), vma);
	if (ptep_set_access_flags(vma, vmf->address, vmf->pte, entry, 1))
		update_mmu_cache(vma, vmf->address, vmf->pte);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	count_vm_event(PGREUSE);
}

static vm_fault_t wp_pfn_shared(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;

	if (vma->vm_ops && vma->vm_ops->pfn_mkwrite) {
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return finish_mkwrite_fault(vmf);
	}
	wp_page_reuse(vmf);
	return VM_FAULT_WRITE;
}

static vm_fault_t wp_page_shared(struct vm_fault *vmf)
	__releases(vmf->ptl)
{
	struct vm_area_struct *vma = vmf->vma;
	vm_fault_t ret = VM_FAULT_WRITE;

	get_page(vmf->page);
	if (vma->vm_ops && vma->vm_ops->page_mkwrite) {
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		ret = do_page_mkwrite(vmf);
		put_page(vmf->page);
		return ret;
	}
	wp_page_reuse(vmf);
	lock_page(vmf->page);
	ret |= fault_dirty_shared_page(vmf);
	put_page(vmf->page);
	return ret;
}

/*
 * do_wp_page() of 5.7: reuse is decided by mappings and swap references
 * (reuse_swap_page()), under the page lock -- slept for with the PTL
 * dropped if the trylock fails -- and a KSM page may be taken over by
 * reuse_ksm_page().  The page count is never read: the root of
 * CVE-2020-29374.
 */
static vm_fault_t do_wp_page(struct vm_fault *vmf)
	__releases(vmf->ptl)
{
	struct vm_area_struct *vma = vmf->vma;

	if (userfaultfd_pte_wp(vma, *vmf->pte)) {
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return handle_userfault(vmf, VM_UFFD_WP);
	}

	vmf->page = vm_normal_page(vma, vmf->address, vmf->orig_pte);
	if (!vmf->page) {
		if ((vma->vm_flags & (VM_WRITE|VM_SHARED)) == (VM_WRITE|VM_SHARED))
			return wp_pfn_shared(vmf);
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return wp_page_copy(vmf);
	}

	if (PageAnon(vmf->page)) {
		int total_map_swapcount;

		/* a KSM page someone else holds, or in the swap cache: copy */
		if (PageKsm(vmf->page) && (PageSwapCache(vmf->page) ||
					   page_count(vmf->page) != 1))
			goto copy;
		if (!trylock_page(vmf->page)) {
			/* sleep for the lock with the PTL dropped and the page held */
			get_page(vmf->page);
			pte_unmap_unlock(vmf->pte, vmf->ptl);
			lock_page(vmf->page);
			vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd,
					vmf->address, &vmf->ptl);
			if (!pte_same(*vmf->pte, vmf->orig_pte)) {
				/* it changed meanwhile: fault again */
				unlock_page(vmf->page);
				pte_unmap_unlock(vmf->pte, vmf->ptl);
				put_page(vmf->page);
				return 0;
			}
			put_page(vmf->page);
		}
		if (PageKsm(vmf->page)) {
			bool reused = reuse_ksm_page(vmf->page, vmf->vma,
						     vmf->address);
			unlock_page(vmf->page);
			if (!reused)
				goto copy;
			wp_page_reuse(vmf);
			return VM_FAULT_WRITE;
		}
		if (reuse_swap_page(vmf->page, &total_map_swapcount)) {
			/* mapped once and not swapped: take over the anon_vma */
			if (total_map_swapcount == 1)
				page_move_anon_rmap(vmf->page, vma);
			unlock_page(vmf->page);
			wp_page_reuse(vmf);
			return VM_FAULT_WRITE;
		}
		unlock_page(vmf->page);
	} else if (unlikely((vma->vm_flags & (VM_WRITE|VM_SHARED)) ==
					(VM_WRITE|VM_SHARED))) {
		return wp_page_shared(vmf);
	}
copy:
	get_page(vmf->page);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	return wp_page_copy(vmf);
}

/* not extracted: only its calls are read (no swap-cache free before 5.14) */
static vm_fault_t wp_page_copy(struct vm_fault *vmf)
{
	return cow_user_page(vmf);
}
