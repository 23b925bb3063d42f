"""The kernel eras of ``do_wp_page()``, one reference model per module.

``ERAS`` maps an era id -- the first release it describes -- to an
:class:`Era`, in release order.  Each module's docstring is that era's story
with its commits; its ``do_wp_page()`` follows the kernel's order of checks,
so it can be read beside ``mm/memory.c`` of that release.

>>> from wpdiff.spec.eras import ERAS, era
>>> list(ERAS)
['v5.7', 'v5.8', 'v5.9-rc4', 'v5.9', 'v5.18', 'v5.19', 'v6.2', 'v6.7', 'v6.10', 'v6.15']
>>> era("v5.20")
Traceback (most recent call last):
...
wpdiff.spec.eras.UnknownEra: unknown era 'v5.20'; expected one of v5.7, v5.8, v5.9-rc4, v5.9, v5.18, v5.19, v6.2, v6.7, v6.10, v6.15
"""

import inspect
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Dict, Optional, Tuple

from ..kernel import Fault
from ..outcome import Outcome
from ..state import FaultState
from . import reachable, v5_7, v5_8, v5_9, v5_9_rc4, v5_18, v5_19, v6_2, v6_7, v6_10, v6_15


class UnknownEra(ValueError):
    """An era id that is not in ERAS."""


@dataclass(frozen=True)
class Era:
    id: str
    releases: str
    title: str
    commits: Tuple[str, ...]
    module: ModuleType

    @property
    def do_wp_page(self) -> Callable[[Fault], Outcome]:
        return self.module.do_wp_page

    @property
    def story(self) -> str:
        return inspect.getdoc(self.module) or ""

    def __call__(self, state: FaultState) -> Outcome:
        """Run the era's do_wp_page() on `state`."""
        return self.module.do_wp_page(Fault(state))

    def unreachable(self, state: FaultState) -> Optional[str]:
        """Why the era cannot reach `state` (see reachable.RULES), or None."""
        return reachable.unreachable(self.id, state)

    def admits(self, state: FaultState) -> bool:
        return self.unreachable(state) is None

    def __str__(self) -> str:
        return self.id


_MODULES = (v5_7, v5_8, v5_9_rc4, v5_9, v5_18, v5_19, v6_2, v6_7, v6_10, v6_15)

ERAS: Dict[str, Era] = {m.ID: Era(m.ID, m.RELEASES, m.TITLE, m.COMMITS, m) for m in _MODULES}
assert tuple(ERAS) == reachable.ORDER


def era(era_id: str) -> Era:
    """The era with id `era_id`, or UnknownEra naming the valid ids."""
    try:
        return ERAS[era_id]
    except KeyError:
        raise UnknownEra(f"unknown era {era_id!r}; expected one of {', '.join(ERAS)}") from None
