"""v5.8 fast path: v5.7's, unchanged (the 5.8 fix lives in GUP)."""

from .v5_7 import do_wp_page

__all__ = ["do_wp_page"]
