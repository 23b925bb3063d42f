"""wpdiff.impl: the packed page state and the fast paths that mirror the kernel's C.

- ``layout``: the 63-bit word, its fields and the era's page-flag numbering;
- ``concretize``: the abstraction function, abstract state -> word;
- ``fastpath``: one C-shaped ``do_wp_page()`` per era over the word;
- ``batch``: the same fast paths, compiled by Numba, over NumPy arrays.
"""
