"""Kernel release numbers, as the eras' spans and ``uname -r`` spell them.

A release is ``MAJOR.MINOR``, optionally ``-rcN`` (a release candidate, which
comes before the release) and a ``.SUBLEVEL`` and local version after it
(``6.18.44-fc-v669``, ``6.1.0-28-amd64``).  Stable updates of a release
(the sublevel) belong to that release's era: the eras are cut at the
merge window, where ``do_wp_page()`` changed.

>>> from wpdiff.spec.eras.version import KernelVersion
>>> KernelVersion.parse("6.18.44-fc-v669")
KernelVersion(major=6, minor=18, rc=None)
>>> KernelVersion.parse("5.9-rc4") < KernelVersion.parse("5.9") < KernelVersion.parse("5.10")
True
>>> KernelVersion.parse("linux")
Traceback (most recent call last):
...
wpdiff.spec.eras.version.VersionError: 'linux' is not a kernel release: expected MAJOR.MINOR, optionally -rcN, a .SUBLEVEL and a local version (6.1, 5.9-rc4, 6.18.44-fc-v669)
"""

import re
from dataclasses import dataclass
from typing import Optional, Tuple

_RELEASE = re.compile(r"v?(?P<major>\d+)\.(?P<minor>\d+)(?:-rc(?P<rc>\d+))?(?:\.(?P<sublevel>\d+))?(?P<local>[-+.~_][\w.+~-]*)?")
# A local version may itself look like an rc ("6.1.0-rc3-amd64"); only a
# "-rcN" right after MAJOR.MINOR or MAJOR.MINOR.0 counts.
_RC_AFTER_SUBLEVEL = re.compile(r"-rc(?P<rc>\d+)")


class VersionError(ValueError):
    """A string that is not a kernel release."""


@dataclass(frozen=True, order=False)
class KernelVersion:
    major: int
    minor: int
    rc: Optional[int] = None  # release candidate N; None for the release itself

    @classmethod
    def parse(cls, text: str) -> "KernelVersion":
        m = _RELEASE.fullmatch(text.strip())
        if m is None:
            raise VersionError(
                f"{text!r} is not a kernel release: expected MAJOR.MINOR, optionally -rcN, a .SUBLEVEL and a "
                "local version (6.1, 5.9-rc4, 6.18.44-fc-v669)"
            )
        rc = m["rc"]
        if rc is None and m["sublevel"] in (None, "0") and m["local"]:
            after = _RC_AFTER_SUBLEVEL.match(m["local"])
            rc = after["rc"] if after else None
        return cls(int(m["major"]), int(m["minor"]), int(rc) if rc is not None else None)

    def key(self) -> Tuple[int, int, int]:
        # a release candidate comes before its release
        return (self.major, self.minor, self.rc if self.rc is not None else 1 << 30)

    def __lt__(self, other: "KernelVersion") -> bool:
        return self.key() < other.key()

    def __le__(self, other: "KernelVersion") -> bool:
        return self.key() <= other.key()

    def __gt__(self, other: "KernelVersion") -> bool:
        return self.key() > other.key()

    def __ge__(self, other: "KernelVersion") -> bool:
        return self.key() >= other.key()

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}" + (f"-rc{self.rc}" if self.rc is not None else "")


def release(text: str) -> KernelVersion:
    return KernelVersion.parse(text)
