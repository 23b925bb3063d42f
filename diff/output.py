"""Where a report goes: ``-o FILE``, as a shell's ``>`` or ``tee`` would.

A report is written whole or not at all, and nothing that is not a regular
file is ever replaced:

- ``-`` is standard output, ``""`` is refused (it names no file);
- a symbolic link is followed: the file it points to is written, the link
  stays a link;
- a regular file, or a path that does not exist yet, is written atomically:
  a temporary file beside it, renamed over it (with the old file's mode);
  a file without a write permission bit (0444) is refused, even for root,
  whom the kernel would let replace it;
- anything else -- a character device (``/dev/null``, ``/dev/full``), a FIFO,
  a socket -- is opened and written directly, as ``>`` would.

:func:`destination` checks all of this before any engine runs (a CrossHair
run can take minutes; an unwritable target must not wait for its end) and
:meth:`Destination.write` writes; both raise BadInput, exit code 2.
"""

import os
import stat
import sys
from dataclasses import dataclass
from typing import Optional

from .targets import BadInput

# -o FILE, --format left out: the format a file's suffix says
SUFFIXES = {".json": "json", ".sarif": "sarif", ".xml": "junit", ".tap": "tap", ".txt": "text"}


@dataclass(frozen=True)
class Destination:
    option: str  # as the user spelled it, for messages
    path: Optional[str]  # the file written (a link's target); None: standard output
    direct: bool  # a device or FIFO: written in place, never replaced

    def write(self, content: str) -> None:
        if self.path is None:
            sys.stdout.write(content)
            sys.stdout.flush()
            return
        if self.direct:
            try:
                with open(self.path, "w") as f:
                    f.write(content)
            except OSError as e:
                raise BadInput(f"-o {self.option}: cannot write: {e.strerror}") from None
            return
        _atomically(self.option, self.path, content)


def destination(option: Optional[str]) -> Destination:
    """Where `option` (the value of -o, None if not given) sends the report;
    BadInput if it cannot be written."""
    if option is None or option == "-":
        return Destination("-", None, False)
    if option == "":
        raise BadInput("-o '': expected a file name, or - for standard output")
    path = os.path.realpath(option)  # a symbolic link is followed, never replaced
    shown = option if path == os.path.abspath(option) else f"{option} (a link to {path})"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise BadInput(f"-o {shown}: cannot write: {e.strerror}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise BadInput(f"-o {shown}: is a directory; expected a file name")
    if st is not None and not stat.S_ISREG(st.st_mode):
        if not os.access(path, os.W_OK):
            raise BadInput(f"-o {shown}: cannot write to it")
        return Destination(option, path, True)
    folder = os.path.dirname(path)
    if st is not None and not st.st_mode & 0o222:
        raise BadInput(f"-o {shown}: is read-only (mode {stat.S_IMODE(st.st_mode):04o}); "
                       "expected a file that may be written")
    if st is not None and not os.access(path, os.W_OK):
        raise BadInput(f"-o {shown}: cannot write to it")
    if not os.path.isdir(folder):
        raise BadInput(f"-o {shown}: no directory {folder}")
    if not os.access(folder, os.W_OK):
        raise BadInput(f"-o {shown}: cannot write into {folder}")
    return Destination(option, path, False)


def infer_format(option: Optional[str], fmt: Optional[str]) -> str:
    """The format of a report: --format if given, else the suffix of -o
    (``x.sarif``: sarif), else text; BadInput if --format contradicts the
    suffix (``-o x.sarif --format text``)."""
    suffix = os.path.splitext(option or "")[1].lower()
    implied = SUFFIXES.get(suffix)
    if fmt is None:
        return implied or "text"
    if implied is not None and implied != fmt:
        raise BadInput(f"-o {option}: the suffix {suffix} says {implied}, but --format says {fmt}; "
                       "drop --format or rename the file")
    return fmt


def _atomically(option: str, path: str, content: str) -> None:
    """Write `content` to the regular file (or missing path) `path` whole or
    not at all: the temporary file is removed on any failure, an interrupt
    too."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.tmp-{os.getpid()}")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    try:
        with open(tmp, "x") as f:
            f.write(content)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as e:
        raise BadInput(f"-o {option}: cannot write: {e.strerror}") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
