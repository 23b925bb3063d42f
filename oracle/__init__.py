"""wpdiff.oracle: real kernels.

- ``live``: the COW litmus programs run as real processes on this machine's
  kernel, observed through pagemap, kpagecount and kpageflags;
- ``ktree``: the kernel's own ``do_wp_page()``, extracted from a source
  tree and compiled against the project's model of the API it calls.

Dependencies point one way: spec <- impl <- oracle <- diff.
"""
