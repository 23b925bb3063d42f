"""The live helper: built at first use with the machine's cc, cached.

Why C and not ctypes: a run of a fork-based program is mostly ``fork()``.
Forking the small helper costs about 160 us with its exit and wait; forking
the Python interpreter (14 MB) about 1.2 ms, and the child's refcount
writes COW-fault interpreter pages, which blurs the fault counts
(``live-kernel-probe.md`` sections 4.2 and 5: about 800 scenarios/s from
Python).  The helper runs the fork-based programs of ``bench/live.py``
3,000 to 3,600 times a second (median about 3,250), the CVE-2020-29374
program among them.

io_uring through liburing (``liburing-dev`` 2.3, Debian): its ``static
inline`` helpers (``io_uring_prep_write_fixed``) need a C compiler anyway.
Without ``liburing.h`` the helper is built with ``-DNO_LIBURING`` and a
program that pins through io_uring is skipped, saying so.

The binary lives in ``~/.cache/wpdiff/live/<hash>/`` where the hash covers
the source and the compiler command, so an edited helper is rebuilt and two
versions never share a binary.  It is written to a temporary name and
renamed into place, so a concurrent first use never runs half a file.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SOURCE = Path(__file__).with_name("helper.c")
CFLAGS = ("-O2", "-Wall", "-std=gnu11")


class BuildError(RuntimeError):
    """The helper could not be compiled; the message has the compiler's words."""


@dataclass(frozen=True)
class Helper:
    path: Path
    io_uring: bool  # built with liburing


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wpdiff" / "live"


def _compile(cc: str, out: Path, liburing: bool) -> subprocess.CompletedProcess:
    cmd = [cc, *CFLAGS, "-o", str(out), str(SOURCE), "-lpthread"]
    cmd += ["-luring"] if liburing else ["-DNO_LIBURING"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@lru_cache(maxsize=None)
def helper() -> Helper:
    """The compiled helper, built now if the cache has no binary for this source."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise BuildError("no C compiler: the live helper is built with cc (set CC, or install gcc)")
    text = SOURCE.read_bytes()
    for liburing in (True, False):
        key = hashlib.sha256(text + repr((cc, CFLAGS, liburing)).encode()).hexdigest()[:16]
        where = cache_root() / key
        binary = where / "wpdiff-live"
        if binary.exists():
            return Helper(binary, liburing)
    errors = []
    for liburing in (True, False):
        key = hashlib.sha256(text + repr((cc, CFLAGS, liburing)).encode()).hexdigest()[:16]
        where = cache_root() / key
        where.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".build-", dir=where)
        os.close(fd)
        try:
            done = _compile(cc, Path(tmp), liburing)
            if done.returncode == 0:
                os.chmod(tmp, 0o755)
                os.replace(tmp, where / "wpdiff-live")
                return Helper(where / "wpdiff-live", liburing)
            errors.append(done.stderr.strip().splitlines()[:3])
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        try:
            where.rmdir()
        except OSError:
            pass
    raise BuildError(f"{SOURCE}: cc failed: {errors[-1]}")
