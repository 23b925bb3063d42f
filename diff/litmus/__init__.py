"""COW litmus tests: the syntax, the explorer, herd-style output and the judge.

(The grammar is documented in litmus/README.md and below.)
"""
