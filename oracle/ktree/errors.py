"""The one error of the ktree oracle: input it cannot work with.

`KtreeError` says which input, where (file:line:col when there is a file)
and what was expected; ``wpdiff kernel`` turns it into exit code 2.  It
lives here, not in ``diff/``, because the oracle layer does not import the
engines (spec <- impl <- oracle <- diff).
"""


class KtreeError(ValueError):
    """A kernel source, an extraction, a shim or a build that cannot be used."""
