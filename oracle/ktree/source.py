"""A kernel source, as wpdiff reads it: a tree, a single ``memory.c``, or a tarball.

``open_source(path)`` returns a :class:`KernelSource`: the text of the
files the manifests name (``mm/memory.c``, and where an API generation
needs them ``mm/swapfile.c`` and ``mm/ksm.c``), the path a report names for
each, and the release from the top-level ``Makefile`` (VERSION,
PATCHLEVEL, SUBLEVEL, EXTRAVERSION).  A tarball such as Debian's
``/usr/src/linux-source-6.1.tar.xz`` is streamed member by member and never
unpacked; what it yields is cached under ``~/.cache/wpdiff/sources/``,
keyed by the tarball's path, size and mtime, so the second run reads a few
hundred kilobytes instead of decompressing a gigabyte.

The kernel's source is GPL and never enters the repository: it is read
here, at run time, from the user's own copy.
"""

import hashlib
import json
import os
import re
import tarfile
import tempfile
from dataclasses import dataclass, field
from typing import Dict, Optional

from .errors import KtreeError

WANTED = ("Makefile", "mm/memory.c", "mm/swapfile.c", "mm/ksm.c")
TARBALL = re.compile(r"\.tar(\.(xz|gz|bz2|zst))?$|\.tgz$")
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "wpdiff")


@dataclass(frozen=True)
class KernelSource:
    """The files of one kernel source that wpdiff reads."""

    origin: str  # what the user named
    texts: Dict[str, str]  # relative path ("mm/memory.c") -> text
    shown: Dict[str, str]  # relative path -> the path reports and #line name
    release: Optional[str] = None  # "6.1.192", from the Makefile; None for a lone memory.c
    notes: Dict[str, str] = field(default_factory=dict)

    def path(self, rel: str) -> str:
        return self.shown.get(rel, rel)


_VAR = re.compile(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*=[ \t]*(\S*)[ \t]*$", re.M)


def release_of(makefile: str, where: str) -> str:
    """The release a top-level Makefile builds ("6.1.192", "6.8.0-rc3")."""
    found = dict(_VAR.findall(makefile))
    if "VERSION" not in found or "PATCHLEVEL" not in found or not found["VERSION"].isdigit():
        raise KtreeError(f"{where}: not a kernel's top-level Makefile: expected the lines VERSION = N and "
                       "PATCHLEVEL = N near its top")
    text = f"{found['VERSION']}.{found['PATCHLEVEL']}"
    if found.get("SUBLEVEL", "").isdigit():
        text += f".{found['SUBLEVEL']}"
    return text + found.get("EXTRAVERSION", "")


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return f.read()


def _tree(root: str) -> KernelSource:
    memory = os.path.join(root, "mm", "memory.c")
    makefile = os.path.join(root, "Makefile")
    if not os.path.isfile(memory) or not os.path.isfile(makefile):
        raise KtreeError(f"{root}: not a kernel tree: expected {os.path.join(root, 'Makefile')} and {memory}")
    texts, shown = {}, {}
    for rel in WANTED:
        p = os.path.join(root, rel)
        if os.path.isfile(p):
            texts[rel], shown[rel] = _read(p), os.path.abspath(p)
    return KernelSource(root, texts, shown, release_of(texts["Makefile"], makefile))


def _cache_key(path: str) -> str:
    st = os.stat(path)
    raw = f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}".encode()
    return hashlib.sha256(raw).hexdigest()[:24]


def _tarball(path: str, cache_dir: str) -> KernelSource:
    key = _cache_key(path)
    cached = os.path.join(cache_dir, "sources", key + ".json")
    try:
        with open(cached, encoding="utf-8") as f:
            data = json.load(f)
        texts, prefix = data["texts"], data["prefix"]
    except (OSError, ValueError, KeyError):
        texts, prefix = _stream(path)
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(cached), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            json.dump({"tarball": os.path.abspath(path), "prefix": prefix, "texts": texts}, f)
        os.replace(tmp, cached)  # never a half-written cache entry
    shown = {rel: f"{path}:{prefix}{rel}" for rel in texts}
    return KernelSource(path, texts, shown, release_of(texts["Makefile"], shown["Makefile"]))


def _stream(path: str):
    """The WANTED members of a tarball, streamed: the top directory is
    whatever holds a Makefile beside mm/memory.c."""
    found: Dict[str, Dict[str, str]] = {}
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                for rel in WANTED:
                    if member.name == rel or member.name.endswith("/" + rel):
                        prefix = member.name[: len(member.name) - len(rel)]
                        if prefix.count("/") > 1:  # a Makefile deep in the tree, not the top one
                            continue
                        f = tar.extractfile(member)
                        found.setdefault(prefix, {})[rel] = f.read().decode("utf-8", "surrogateescape")
                have = found.get(next((p for p in found if "mm/memory.c" in found[p]), ""), {})
                if all(r in have for r in WANTED):
                    break
    except (tarfile.TarError, OSError, EOFError) as e:
        raise KtreeError(f"{path}: cannot read the tarball: {e}") from None
    for prefix, texts in found.items():
        if "mm/memory.c" in texts and "Makefile" in texts:
            return texts, prefix
    raise KtreeError(f"{path}: not a kernel source tarball: expected a top directory with Makefile and mm/memory.c")


def open_source(path: str, cache_dir: str = CACHE) -> KernelSource:
    """The kernel source at `path`: a tree, a tarball or a lone memory.c."""
    if os.path.isdir(path):
        return _tree(path)
    if not os.path.exists(path):
        raise KtreeError(f"{path}: no such file or directory; expected a kernel tree, a source tarball or a memory.c")
    if TARBALL.search(path):
        return _tarball(path, cache_dir)
    if path.endswith(".c"):
        return KernelSource(path, {"mm/memory.c": _read(path)}, {"mm/memory.c": os.path.abspath(path)})
    raise KtreeError(f"{path}: not a kernel tree, a source tarball (.tar.xz, .tar.gz, ...) or a .c file")
