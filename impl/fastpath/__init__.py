"""C-shaped fast paths of ``do_wp_page()``, one per era, over the packed word.

``FASTPATHS`` maps an era id to its ``do_wp_page(word) -> (word after,
trace word)``.  Each reads only what that release's kernel reads, in the
same order, with early returns where the C has ``goto``.  The same
functions run on Python ints (scalar), under CrossHair (symbolic) and,
compiled by Numba, over NumPy arrays (``wpdiff.impl.batch``).

Each era of ``wpdiff.spec.eras`` has its fast path here, in the module of
the same name (``spec/eras/v6_9.py`` -> ``impl/fastpath/v6_9.py``); an era
without one, or a module here that is no era's (but ``word``, the shared
helpers, and ``OLD_NAMES``, an era's module under its old name), is
refused at import.

>>> from wpdiff.impl.fastpath import FASTPATHS
>>> from wpdiff.impl.concretize import concretize
>>> from wpdiff.impl.layout import decode_trace
>>> from wpdiff.spec.history import CVE_2020_29374
>>> after, trace = FASTPATHS["v5.7"](concretize("v5.7", CVE_2020_29374))
>>> decode_trace(trace)[0].value
'reuse'
"""

import importlib
import pkgutil
from typing import Callable, Dict, Tuple

from wpdiff.spec.eras import ERAS, era as spec_era

FastPath = Callable[[int], Tuple[int, int]]
HELPERS = ("word",)  # modules of shared helpers, no era's
OLD_NAMES = {"v6_10": "v6_9"}  # modules kept under an era's old name, for fast paths that import them


def module_name(era_id: str) -> str:
    """The module, here and in spec/eras/, of an era."""
    return ERAS[era_id].module.__name__.rpartition(".")[2]


def _load() -> Dict[str, FastPath]:
    names = {m.name for m in pkgutil.iter_modules(__path__)} - set(HELPERS) - set(OLD_NAMES)
    eras = {module_name(e): e for e in ERAS}
    if names - set(eras):
        raise ImportError(f"impl/fastpath/ has modules that are no era's: {sorted(names - set(eras))}")
    if set(eras) - names:
        missing = [eras[m] for m in sorted(set(eras) - names, key=lambda m: list(ERAS).index(eras[m]))]
        raise ImportError(f"eras without a fast path (impl/fastpath/<era>.py): {', '.join(missing)}")
    table = {}
    for era_id in ERAS:
        module = importlib.import_module(f"{__name__}.{module_name(era_id)}")
        if not callable(getattr(module, "do_wp_page", None)):
            raise ImportError(f"{module.__name__} has no do_wp_page(word)")
        table[era_id] = module.do_wp_page
    return table


FASTPATHS: Dict[str, FastPath] = _load()


def fastpath(era_id: str) -> FastPath:
    return FASTPATHS[spec_era(era_id).id]  # UnknownEra, naming the valid ids; an alias names its era
