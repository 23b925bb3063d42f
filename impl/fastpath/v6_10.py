"""The old name of ``v6_9``: the era that starts with 6.9 was called v6.10
(cd197c3a2040 is in 6.9).  Kept so that fast paths importing it keep working."""

from .v6_9 import PG, do_wp_page, wp_can_reuse_anon_folio

__all__ = ["PG", "do_wp_page", "wp_can_reuse_anon_folio"]
