"""wpdiff.impl: the packed page state and the fast paths that mirror the kernel's C.

- ``layout``: the 63-bit word, its fields and each era's page-flag numbering;
- ``concretize``: the abstraction function, abstract state -> word, and its
  inverse ``witness``;
- ``fastpath``: one C-shaped ``do_wp_page()`` per era over the word;
- ``batch``: the same fast paths, compiled by Numba, over NumPy arrays;
- ``abstract``: a fast path's result back to an abstract outcome, so that
  the invariants can judge a fast path with no model of its own;
- ``visible``: the kernel-visible bounded space;
- ``wordfault`` and ``fieldword``: the era models run on words, and a word
  made of separate fields, for the symbolic proofs;
- ``mutants``: deliberately broken fast paths, to show the checks can fail.
"""
