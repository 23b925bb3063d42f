"""wpdiff.diff: the engines that compare the fast paths, the eras and the
invariants, and the faces that run them (the ``wpdiff`` CLI, the pytest
plugin, the reports)."""
