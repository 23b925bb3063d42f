/*
 * wpdiff test mirror (the project's own code, in the kernel's style): 5.7's
 * reuse_ksm_page(), from "mm: reuse only-pte-mapped KSM page in do_wp_page()".
 */
bool reuse_ksm_page(struct page *page,
		    struct vm_area_struct *vma,
		    unsigned long address)
{
#ifdef CONFIG_DEBUG_VM
	if (WARN_ON(is_zero_pfn(page_to_pfn(page))) ||
			WARN_ON(!page_mapped(page)) ||
			WARN_ON(!PageLocked(page))) {
		dump_page(page, "reuse_ksm_page");
		return false;
	}
#endif

	if (PageSwapCache(page) || !page_stable_node(page))
		return false;
	/* freeze the count at 1 so that get_ksm_page() cannot race us */
	if (!page_ref_freeze(page, 1))
		return false;

	page_move_anon_rmap(page, vma);
	page->index = linear_page_index(vma, address);
	page_ref_unfreeze(page, 1);

	return true;
}
