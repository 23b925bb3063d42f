"""The kernel eras of ``do_wp_page()``, one reference model per module.

Each module of this package that names an ``ID`` is an era: its docstring
is that era's story with its commits, its ``do_wp_page()`` follows the
kernel's order of checks, so it can be read beside ``mm/memory.c`` of that
release, and it declares the first release it describes (``FIRST``; its
span runs to the release before the next era's) and the ``FEATURES`` that
later code asks about by name.  ``ERAS`` maps an era id
-- the first release it describes -- to an :class:`Era`, in release order;
the order, and everything else keyed by era (the fast paths, the page-flag
numbering, history), is derived from the modules found here.

>>> from wpdiff.spec.eras import ERAS, era, for_kernel
>>> list(ERAS)
['v5.7', 'v5.8', 'v5.9-rc4', 'v5.9', 'v5.18', 'v5.19', 'v6.2', 'v6.7', 'v6.9', 'v6.15', 'v7.3']
>>> for_kernel("6.1").id, for_kernel("6.18.44-fc-v669").id, era("v6.10").id
('v5.19', 'v6.15', 'v6.9')
>>> ERAS["v5.19"].has("anon-exclusive"), ERAS["v5.18"].has("anon-exclusive")
(True, False)
>>> era("v5.20")
Traceback (most recent call last):
...
wpdiff.spec.eras.UnknownEra: unknown era 'v5.20': 5.20 was never released (5.19 was followed by 6.0); expected an era id (v5.7, v5.8, v5.9-rc4, v5.9, v5.18, v5.19, v6.2, v6.7, v6.9, v6.15, v7.3) or a release from 5.7 on
"""

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Callable, Dict, FrozenSet, Optional, Tuple

from ..kernel import Fault
from ..outcome import Outcome
from ..state import FaultState
from . import reachable
from .version import KernelVersion, VersionError

# Every name an era may declare in FEATURES, and what it means.  Code that
# depends on what a release does asks ``era.has(name)``, never the era's
# place in the order.
FEATURE_NAMES: Dict[str, str] = {
    "uffd-wp": "userfaultfd write-protect: a fault on a uffd-wp PTE goes to userspace (5.7)",
    "sleeping-page-lock": "the handler sleeps in lock_page() when the trylock fails (up to 5.8)",
    "ksm-reuse": "reuse_ksm_page(): a KSM page mapped once is taken over (5.1 - 5.8)",
    "gup-breaks-cow": "GUP breaks COW for R/O references in COW mappings (17839856fd58, 5.8)",
    "page-count-reuse": "an anonymous page is reused only if page_count() says it is ours (09854ba94c6a, 5.9)",
    "copy-on-fork-if-pinned": "fork() copies a maybe-DMA-pinned page for the child (70e806e4e645, 5.9)",
    "uffd-wp-tlb-flush": "a deferred uffd-wp TLB flush is done before the fault goes on (6ce64428d620, 5.12)",
    "free-swap-after-copy": "an unmapped old page gives up its swap cache after a copy (f4c4a3f48480, 5.14)",
    "lru-drain": "a page off the LRU makes the handler drain this CPU's LRU batch (d4c470970d45, 5.18)",
    "swap-cache-free": "the swap cache is freed under the page lock before deciding (53a05ad9f21d, 5.18)",
    "anon-exclusive": "PG_anon_exclusive: exclusive pages reused at once, set at reuse (6c287605fd56, 5.19)",
    "unshare": "FAULT_FLAG_UNSHARE: a R/O pin of a possibly shared page unshares it (c89357e27f20, 5.19)",
    "unshare-non-anon": "unsharing copies non-anonymous pages in COW mappings (8d6a0ac09a16, 6.2)",
    "shared-first": "MAP_SHARED mappings are handled before the page is looked at (b9086fde6d44, 6.2)",
    "uffd-wp-async": "UFFD_FEATURE_WP_ASYNC: the kernel clears the uffd-wp bit itself (6.7)",
    "reuse-helper": "wp_can_reuse_anon_folio(); PG_anon_exclusive set under the PTL only (6.7)",
    "no-large-reuse": "a large folio is never reused unless the faulting page is exclusive (cd197c3a2040, 6.9)",
    "large-folio-reuse": "a large folio is reused when mapcount == refcount, not maybe-shared (1da190f4d0a6, 6.15)",
    "lru-cut-counts-batch": "the first cut allows one reference per maybe-LRU-batch and swap cache (7.3)",
}


class UnknownEra(ValueError):
    """An era id, or a release, that no era describes."""


@dataclass(frozen=True)
class Era:
    id: str
    title: str
    commits: Tuple[str, ...]
    first: KernelVersion  # the first release: a bare MAJOR.MINOR starts at its merge window (-rc1)
    last: Optional[KernelVersion]  # the last release, with its stable updates (the next era's less one); None: today
    features: FrozenSet[str]
    module: ModuleType

    @property
    def do_wp_page(self) -> Callable[[Fault], Outcome]:
        return self.module.do_wp_page

    @property
    def story(self) -> str:
        return inspect.getdoc(self.module) or ""

    @property
    def span(self) -> str:
        """The releases, as people write them: "5.19 - 6.1", "5.9-rc4 - 5.9-rc6", "7.3 -"."""
        if self.last == self.first:
            return str(self.first)
        return f"{self.first} - {self.last}" if self.last else f"{self.first} -"

    @property
    def releases(self) -> str:  # the span's name before eras had versions
        return self.span

    def contains(self, release: KernelVersion) -> bool:
        return _start(self.first) <= release.key() and (self.last is None or release <= self.last)

    def has(self, feature: str) -> bool:
        if feature not in FEATURE_NAMES:
            raise KeyError(f"no era feature {feature!r}; the features are {', '.join(FEATURE_NAMES)}")
        return feature in self.features

    def __call__(self, state: FaultState) -> Outcome:
        """Run the era's do_wp_page() on `state`."""
        return self.module.do_wp_page(Fault(state))

    def unreachable(self, state: FaultState) -> Optional[str]:
        """Why the era cannot reach `state` (see reachable.RULES), or None."""
        return reachable.unreachable(self.features, state)

    def admits(self, state: FaultState) -> bool:
        return self.unreachable(state) is None

    def __str__(self) -> str:
        return self.id


def _load() -> Dict[str, Era]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if not hasattr(module, "ID"):
            continue  # reachable, version: not eras
        for name in ("TITLE", "COMMITS", "FIRST", "FEATURES", "do_wp_page"):
            if not hasattr(module, name):
                raise ImportError(f"era module {module.__name__} ({module.ID}) lacks {name}")
        unknown = set(module.FEATURES) - set(FEATURE_NAMES)
        if unknown:
            raise ImportError(f"era {module.ID} declares unknown features {sorted(unknown)}; see FEATURE_NAMES")
        expected = module.ID.lstrip("v").replace(".", "_").replace("-", "_")
        if info.name != "v" + expected:
            raise ImportError(f"era {module.ID} lives in {info.name}.py; expected v{expected}.py")
        first = KernelVersion.parse(module.FIRST)
        found.append(Era(module.ID, module.TITLE, tuple(module.COMMITS), first, None, frozenset(module.FEATURES), module))
    found.sort(key=lambda e: _start(e.first))
    # Each span runs to the release before the next era's first: the spans
    # tile the releases, and adding an era touches no other era's module.
    spans = [replace(e, last=_before(after.first, e.id)) for e, after in zip(found, found[1:])] + found[-1:]
    for e in spans:
        if e.last is not None and e.last < e.first:
            raise ImportError(f"era {e.id} starts at {e.first}, after the next era's first release")
    return {e.id: e for e in spans}


def _start(first: KernelVersion) -> Tuple[int, int, int]:
    """Where a span starts: a bare MAJOR.MINOR at its merge window, before -rc1."""
    return (first.major, first.minor, first.rc or 0)


def _before(first: KernelVersion, era_id: str) -> KernelVersion:
    """The last release before `first`: the release candidate before it, or
    the release of the minor before."""
    if first.rc is not None and first.rc > 1:
        return KernelVersion(first.major, first.minor, first.rc - 1)
    if first.minor == 0:
        raise ImportError(f"the era after {era_id} starts at {first}: name the release before a MAJOR.0 by hand")
    return KernelVersion(first.major, first.minor - 1)


ERAS: Dict[str, Era] = _load()
ORDER: Tuple[str, ...] = tuple(ERAS)

# Old names that keep working, and what each is now.
ALIASES: Dict[str, Tuple[str, str]] = {
    "v6.10": ("v6.9", "the era that starts with 6.9 was called v6.10 before the review against the released "
                      "trees (cd197c3a2040 is in 6.9)"),
}


def alias_note(era_id: str) -> Optional[str]:
    """What an old era name now names, said for a message, or None."""
    if era_id in ALIASES:
        new, why = ALIASES[era_id]
        return f"{era_id} is an alias of {new}: {why}"
    return None


def for_kernel(release: str) -> Era:
    """The era whose span holds `release` ("6.1", "6.18.44-fc-v669"), or
    UnknownEra saying why none does."""
    try:
        version = KernelVersion.parse(release)
    except VersionError as e:
        raise UnknownEra(str(e)) from None
    for e in ERAS.values():
        if e.contains(version):
            return e
    first = next(iter(ERAS.values()))
    if version < first.first:
        raise UnknownEra(
            f"{release}: no era before {first.id}; {first.first} is the first release modelled (5.1 - 5.6 decide "
            "as 5.7 does but have no uffd-wp: say --era v5.7 if that is what you mean)"
        )
    raise UnknownEra(f"{release}: {version} is in no era's span")  # the spans tile the releases: cannot happen


def era(name: str) -> Era:
    """The era named `name`: an era id, an old name (``ALIASES``) or a release
    inside an era's span ("6.1", "v5.10"); UnknownEra naming the valid ids."""
    if name in ERAS:
        return ERAS[name]
    if name in ALIASES:
        return ERAS[ALIASES[name][0]]
    try:
        version = KernelVersion.parse(name)
    except VersionError:
        version = None
    valid = f"expected an era id ({', '.join(ERAS)}) or a release from {next(iter(ERAS.values())).first} on"
    if version is not None:
        if (version.major, version.minor) in _NEVER_RELEASED:
            raise UnknownEra(f"unknown era {name!r}: {_NEVER_RELEASED[version.major, version.minor]}; {valid}")
        try:
            return for_kernel(name)
        except UnknownEra as e:
            raise UnknownEra(f"unknown era {name!r}: {e}; {valid}") from None
    raise UnknownEra(f"unknown era {name!r}; {valid}")


def resolve(name: str) -> Tuple[Era, Optional[str]]:
    """The era named `name` and, when the name was not its id, how it got
    there ("6.1 is in the v5.19 era (5.19 - 6.1)"), for the user to see."""
    e = era(name)
    if name == e.id:
        return e, None
    return e, alias_note(name) or f"{name} is in the {e.id} era ({e.span})"


# Releases that never were, so that a typo is not read as the next era.
_NEVER_RELEASED = {(5, 20): "5.20 was never released (5.19 was followed by 6.0)"}


def admitted_by(state: FaultState) -> Tuple[bool, ...]:
    """For each era in ORDER, whether it admits `state` -- each rule asked once."""
    return reachable.admitted_by(state, [e.features for e in ERAS.values()])


def with_feature(feature: str) -> Tuple[str, ...]:
    """The ids of the eras that have `feature`, in order."""
    return tuple(e.id for e in ERAS.values() if e.has(feature))
