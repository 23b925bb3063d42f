"""The processes a check starts, and stopping them all on Ctrl-C.

A Ctrl-C at a terminal sends SIGINT to the whole foreground process group.
Left to themselves, the exhaustive engine's workers each printed a
traceback, and CrossHair's processes died one by one while the thread pool
started the next queued proof.  So:

- a pool worker ignores SIGINT (:func:`quiet_worker`, its initializer): the
  parent alone is interrupted, and the pool's ``terminate()`` ends them;
- a child command (:func:`run`, CrossHair) runs in a session of its own,
  where the terminal's SIGINT does not reach it, and is registered here;
  :func:`stop_all` -- called once by whoever catches the interrupt --
  marks the check as stopping (no new child starts: :func:`run` raises
  :class:`Stopped`), kills every child still running and reaps it.
"""

import signal
import subprocess
import threading
from typing import List, Sequence, Set

_lock = threading.Lock()
_running: Set[subprocess.Popen] = set()
_stopping = threading.Event()


class Stopped(Exception):
    """The check is being stopped: a child was killed, or would have started."""


def quiet_worker() -> None:
    """A pool worker's initializer: Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run(argv: Sequence[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess:
    """``subprocess.run(argv, capture_output=True, text=True, timeout=...)``,
    in a session of its own and stoppable by :func:`stop_all`."""
    with _lock:
        if _stopping.is_set():
            raise Stopped()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, **kwargs)  # type: ignore[call-overload]
        _running.add(proc)
    try:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(argv, timeout, out, err) from None
    finally:
        with _lock:
            _running.discard(proc)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if _stopping.is_set():
        raise Stopped()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def stop_all() -> None:
    """Stop the check: no child starts any more; kill and reap every one running."""
    with _lock:
        _stopping.set()
        procs: List[subprocess.Popen] = list(_running)
    for proc in procs:
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    for proc in procs:
        proc.wait()


def reset() -> None:
    """After a stopped check, let the next one (in the same process: pytest) start children."""
    _stopping.clear()
