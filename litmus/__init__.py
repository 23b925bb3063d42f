"""wpdiff.litmus: data, the catalogue of COW litmus tests (``*.litmus``),
one paragraph each in ``README.md``."""
