"""C-shaped fast paths of ``do_wp_page()``, one per era, over the packed word.

``FASTPATHS`` maps an era id to its ``do_wp_page(word) -> (word after,
trace word)``.  Each reads only what that release's kernel reads, in the
same order, with early returns where the C has ``goto``.  The same
functions run on Python ints (scalar), under CrossHair (symbolic) and,
compiled by Numba, over NumPy arrays (``wpdiff.impl.batch``).

>>> from wpdiff.impl.fastpath import FASTPATHS
>>> from wpdiff.impl.concretize import concretize
>>> from wpdiff.impl.layout import decode_trace
>>> from wpdiff.spec.history import CVE_2020_29374
>>> after, trace = FASTPATHS["v5.7"](concretize("v5.7", CVE_2020_29374))
>>> decode_trace(trace)[0].value
'reuse'
"""

from typing import Callable, Dict, Tuple

from wpdiff.spec import era as spec_era

from . import v5_7, v5_8, v5_9, v5_9_rc4, v5_18, v5_19, v6_2, v6_7, v6_10, v6_15

FastPath = Callable[[int], Tuple[int, int]]

FASTPATHS: Dict[str, FastPath] = {
    "v5.7": v5_7.do_wp_page,
    "v5.8": v5_8.do_wp_page,
    "v5.9-rc4": v5_9_rc4.do_wp_page,
    "v5.9": v5_9.do_wp_page,
    "v5.18": v5_18.do_wp_page,
    "v5.19": v5_19.do_wp_page,
    "v6.2": v6_2.do_wp_page,
    "v6.7": v6_7.do_wp_page,
    "v6.10": v6_10.do_wp_page,
    "v6.15": v6_15.do_wp_page,
}


def fastpath(era_id: str) -> FastPath:
    spec_era(era_id)  # UnknownEra, naming the valid ids
    return FASTPATHS[era_id]
