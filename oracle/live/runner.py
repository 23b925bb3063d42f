"""Run a COW litmus program on this machine's kernel, many times, and say
what each run did in the records the model's explorer uses.

A run is real processes: the helper (``helper.c``) forks them, runs every
step in program order (concurrent steps in threads released together) and
reports the data every read returned and, for every write or unshare, the
page frame before and after (``/proc/self/pagemap``), the mapcount
(``/proc/kpagecount``), AnonExclusive (``/proc/kpageflags`` bit 34, read
only when the ANON bit 12 is set), whether the folio sat on the LRU
(``PG_lru`` clear: maybe in a per-CPU batch, one reference nobody can see)
and the thread's minor faults.  The same PFN after a fault is a reuse, a
new one a copy; no minor fault is a write that never reached
``do_wp_page()`` (mprotect() mapped an exclusive page writable).

The two traps of ``live-kernel-probe.md``:

- a folio faulted in on one CPU and written on another still has the first
  CPU's LRU-batch reference, and ``wp_can_reuse_anon_folio()`` drains only
  the local batch, so it copies.  Sequential programs are pinned to one CPU;
  concurrent ones cannot be (their threads need both), and a copy where the
  model reuses is reported, counted, not failed;
- a fresh child's first getrusage()/memset() take faults of their own; the
  helper runs the measured path twice on a writable page first.

How many runs: a sequential program is deterministic but for hidden
references, so 100 runs (DEFAULT_RUNS) are enough to count those.  A
concurrent one runs 1,000 (DEFAULT_CONCURRENT_RUNS): an outcome that one
run in 220 reaches is then missed with probability (1 - 1/220)^1000 < 1%,
which is what makes ``Sometimes`` mean something, in about half a second.
"""

import ctypes
import mmap
import os
import struct
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, List, Optional, Tuple

from dataclasses_json import DataClassJsonMixin

from wpdiff.spec.world.results import (
    Execution,
    Exploration,
    FaultRecord,
    FaultResult,
    Outcomes,
    verdict_of,
)

from .helper import helper
from .program import NO_LIVE_FORM, OPS, LiveProgram, Step, from_world

DEFAULT_RUNS = 100
DEFAULT_CONCURRENT_RUNS = 1000

KIND = {"c": "copied", "r": "reused", "n": "no-fault", "f": "fault-in"}


class LiveError(RuntimeError):
    """A system call failed while a program ran: the message names the
    program, the step (and its litmus line) and the errno."""


@dataclass(frozen=True)
class LiveFault(DataClassJsonMixin):
    """What the live kernel showed of one write (or unshare): more than a
    FaultRecord holds, for the report."""

    step: int
    process: str
    address: str
    kind: str  # copied, reused, no-fault (the PTE was writable), fault-in (nothing was mapped)
    unshare: bool
    mapcount: int  # kpagecount before the fault
    ae_before: bool
    ae_after: bool
    lru_before: bool  # PG_lru set: not in a per-CPU batch
    minflt: int


@dataclass(frozen=True)
class LiveExploration(Exploration):
    """An Exploration from the live kernel (source "live"): the distinct
    executions with how many runs reached each, plus what pagemap,
    kpagecount and kpageflags showed of every fault."""

    kernel: str = ""  # uname -r
    runs: int = 0
    pinned_cpu: Optional[int] = None
    seconds: float = 0.0
    observations: Tuple[Tuple[LiveFault, int], ...] = field(default_factory=tuple)

    @property
    def runs_per_second(self) -> float:
        return self.runs / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Skipped(DataClassJsonMixin):
    """A program that did not run here, and why.  Never a pass."""

    program: str
    reason: str
    kernel: str = ""


# ---- can this machine run it? ----------------------------------------------

@lru_cache(maxsize=None)
def machine_skip() -> Optional[str]:
    """Why no live program can run on this machine, or None."""
    if os.uname().sysname != "Linux":
        return f"the live kernel oracle needs Linux, not {os.uname().sysname}"
    if os.geteuid() != 0:
        return "not root: /proc/self/pagemap hides page frame numbers and /proc/kpage* are root-only"
    for f in ("/proc/kpageflags", "/proc/kpagecount", "/proc/self/pagemap"):
        if not os.access(f, os.R_OK):
            return f"no readable {f} (CONFIG_PROC_PAGE_MONITOR)"
    if not _pfn_visible():
        return "/proc/self/pagemap gives page frame number 0 (no CAP_SYS_ADMIN)"
    return None


def _pfn_visible() -> bool:
    page = mmap.mmap(-1, mmap.PAGESIZE)
    try:
        page[0:1] = b"x"
        buf = (ctypes.c_char * 1).from_buffer(page)
        address = ctypes.addressof(buf)
        del buf
        with open("/proc/self/pagemap", "rb", buffering=0) as pm:
            (entry,) = struct.unpack("<Q", os.pread(pm.fileno(), 8, address // mmap.PAGESIZE * 8))
        return bool(entry >> 63) and (entry & ((1 << 55) - 1)) != 0
    finally:
        page.close()


@lru_cache(maxsize=None)
def io_uring_skip() -> Optional[str]:
    if not helper().io_uring:
        return "the live helper was built without liburing (no liburing.h): no io_uring fixed buffer"
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            if f.read().strip() not in ("0", ""):
                return "io_uring is disabled (kernel.io_uring_disabled != 0)"
    except OSError:
        pass
    return None


def _where(program: LiveProgram, step: Step) -> str:
    return f"{program.source}:{step.line}" if program.source and step.line else f"{program.name}"


def why_not(program: LiveProgram) -> Optional[str]:
    """Why `program` cannot run or be observed here, or None."""
    reason = machine_skip()
    if reason:
        return reason
    where = f"{program.source}:{program.exists_line}: " if program.source and program.exists_line else ""
    for term in program.exists:
        if term.kind == "freed":
            return (f"{where}freed-page-touched is not observable on the live kernel: a touch of a freed page "
                    "leaves no trace user space can read (no KASAN, DEBUG_VM or page_owner here)")
        if term.kind == "broken":
            return (f"{where}broken {term.name}: which data-level guarantee broke is the world's judgement; "
                    "the live kernel shows the data, not the guarantee")
    pins: Dict[str, Tuple[str, str, int]] = {}  # pin -> (form, address, the step that pinned)
    for i, s in enumerate(program.steps):
        if s.form in NO_LIVE_FORM:
            return f"{_where(program, s)}: {s.text or s.form}: {NO_LIVE_FORM[s.form]}"
        if s.form not in OPS:
            return f"{_where(program, s)}: {s.text or s.form!r} has no form in the live helper"
        if s.form == "pin rw longterm":
            reason = io_uring_skip()
            if reason:
                return f"{_where(program, s)}: {reason}"
        if s.op == "pin":
            pins[s.obj or ""] = (s.form, s.var or "", i)
        if s.op == "pin-write" and pins.get(s.obj or "", ("",))[0] == "pin ro short":
            return f"{_where(program, s)}: a device cannot write through a read-only pin"
        if s.op == "pin-read" and pins.get(s.obj or "", ("",))[0] == "pin ro short":
            # the short pin is an O_DIRECT write, over when the step ends:
            # reading "through" it later reads what it read at pin time
            _, var, start = pins[s.obj or ""]
            if any(t.op == "write" and t.var == var for t in program.steps[start + 1:i]):
                return (f"{_where(program, s)}: a short R/O pin held across a write has no user-space form "
                        "(the O_DIRECT write that pins is over before the next step)")
    return None


# ---- lowering to the helper's input ------------------------------------------

def _index(name: str) -> int:
    return int(name[1:])


LIMITS = {"processes": 16, "mappings": 16, "steps": 128, "pipes and pins": 16, "registers": 64,
          "concurrent steps": 8}  # helper.c: MAXP, MAXV, MAXS, MAXO, MAXR, MAXG


def _check_limits(program: LiveProgram) -> None:
    groups = Counter(s.group for s in program.steps)
    have = {"processes": max(_index(p) for p in program.processes) + 1, "mappings": len(program.mappings),
            "steps": len(program.steps), "pipes and pins": len({s.obj for s in program.steps if s.obj}),
            "registers": len(_registers(program)), "concurrent steps": max(groups.values(), default=0)}
    for what, n in have.items():
        if n > LIMITS[what]:
            raise LiveError(f"{program.name}: {n} {what}; the live helper runs at most {LIMITS[what]}")
    order = [s.group for s in program.steps]
    if any(order[i] != order[i + 1] and order[i + 1] in order[:i + 1] for i in range(len(order) - 1)):
        raise LiveError(f"{program.name}: the steps of a concurrent group must be consecutive")


def encode(program: LiveProgram, runs: int, cpu: Optional[int], tmpdir: str) -> str:
    _check_limits(program)
    procs = program.processes
    nprocs = max(_index(p) for p in procs) + 1
    forked = {s.child for s in program.steps if s.op == "fork"}
    names = {m.name: i for i, m in enumerate(program.mappings)}
    objs: Dict[str, int] = {}
    regs: Dict[str, int] = {}
    lines = [f"runs {runs}", f"cpu {-1 if cpu is None else cpu}", f"tmpdir {tmpdir}", f"procs {nprocs}",
             f"p0fork {int(any(s.op == 'exit' and s.process == 'P0' for s in program.steps))}"]
    for p in procs:
        if p not in forked and (p == "P0" or any(m.process == p for m in program.mappings)):
            lines.append(f"start {_index(p)}")
    for i, m in enumerate(program.mappings):
        lines.append(f"var {i} {_index(m.process)} {int(m.large)} {m.init}")
    pinned: Dict[str, int] = {}  # a pin's object -> the variable it pins (a pin read goes through it)
    for s in program.steps:
        base, sub = split_address(s.var)
        var = names[base] if base is not None else -1
        if s.op == "pin" and s.obj:
            pinned[s.obj] = var
        elif s.op in ("pin-read", "pin-write", "unpin") and var < 0:
            var = pinned.get(s.obj or "", -1)
        arg = -1
        if s.op in ("write", "pin-write"):
            arg = s.value if s.value is not None else 0
        elif s.op == "mprotect":
            arg = int(s.prot == "rw")
        elif s.op == "fork":
            arg = _index(s.child or "")
        obj = objs.setdefault(s.obj, len(objs)) if s.obj else -1
        reg = regs.setdefault(f"{s.who}:{s.reg}", len(regs)) if s.reg else -1
        lines.append(f"step {s.group} {_index(s.process)} {OPS[s.form]} {var} {arg} {obj} {reg} {sub}")
    lines.append("go")
    return "\n".join(lines) + "\n"


def split_address(var: Optional[str]) -> Tuple[Optional[str], int]:
    """"a" -> ("a", -1); "a[2]" -> ("a", 2): page 2 of a large folio."""
    if var is None or not var.endswith("]") or "[" not in var:
        return var, -1
    base, sub = var[:-1].split("[", 1)
    return base, int(sub)


def _registers(program: LiveProgram) -> List[str]:
    regs: Dict[str, int] = {}
    for s in program.steps:
        if s.reg:
            regs.setdefault(f"{s.who}:{s.reg}", len(regs))  # as the world names them: by thread
    return list(regs)


def holds(program: LiveProgram, execution: Execution) -> bool:
    """The exists condition on one execution: the world's expression when
    the program has one, else the conjunction of its terms."""
    if program.condition is not None:
        return bool(program.condition.holds(execution))  # type: ignore[attr-defined]
    for t in program.exists:
        if t.kind == "reg" and execution.register(f"{t.process}:{t.name}") != t.value:
            return False
        if t.kind == "copied":
            f = execution.last_fault(t.process, t.name)
            if f is None or f.result is not FaultResult.COPIED:
                return False
        if t.kind == "freed" and not execution.freed_page_touched:
            return False
    return True


def _pick_cpu() -> int:
    return min(os.sched_getaffinity(0))


def kernel_release() -> str:
    return os.uname().release


def run(program: object, runs: Optional[int] = None, era: str = "") -> "LiveExploration | Skipped":
    """Run `program` (a world ``Program`` or a LiveProgram) `runs` times on
    this kernel (default: DEFAULT_RUNS, or DEFAULT_CONCURRENT_RUNS for a
    program with ``||``)."""
    if not isinstance(program, LiveProgram):
        program = from_world(program)
    reason = why_not(program)
    if reason:
        return Skipped(program.name, reason, kernel_release())
    if runs is None:
        runs = DEFAULT_CONCURRENT_RUNS if program.concurrent else DEFAULT_RUNS
    cpu = None if program.concurrent else _pick_cpu()
    registers = _registers(program)
    with tempfile.TemporaryDirectory(prefix="wpdiff-live-") as tmp:
        text = encode(program, runs, cpu, tmp)
        binary = str(helper().path)  # built (once) before the clock starts
        started = time.perf_counter()
        try:
            done = subprocess.run([binary], input=text, capture_output=True, text=True, timeout=60 + runs * 0.05)
        except subprocess.TimeoutExpired:
            # killed; its processes read end-of-file on their command pipes and exit
            raise LiveError(f"{program.name}: {runs} live runs did not finish in {60 + runs * 0.05:.0f} s") from None
        seconds = time.perf_counter() - started
        left = os.listdir(tmp)
    if left:
        raise LiveError(f"{program.name}: the helper left files behind in its temporary directory: {left}")
    out = done.stdout.splitlines()
    for line in out:
        if line.startswith("err "):
            words = line.split(" ")[2:]
            errno_ = next((w for w in words if w.isdigit()), "")
            if words[:1] == ["io_uring_queue_init"] and errno_ in ("38", "1"):
                # ENOSYS / EPERM: this kernel (or its sysctl) gives no io_uring -- a skip, not a failure
                return Skipped(program.name, f"no io_uring here: {_error(program, line)}", kernel_release())
            raise LiveError(_error(program, line))
    if done.returncode != 0 or not out or out[-1] != "done":
        raise LiveError(f"{program.name}: the live helper exited with {done.returncode}: "
                        f"{(done.stderr.strip() or 'no message').splitlines()[-1]}")
    counts: Counter = Counter()
    observations: Counter = Counter()
    no_thp = 0
    for line in out[:-1]:
        execution, seen, thp = _parse(program, registers, line)
        if not thp:
            no_thp += 1
            continue
        counts[execution] += 1
        for f in seen:
            observations[f] += 1
    observed = runs - no_thp
    notes = []
    if no_thp:
        large = ", ".join(m.name for m in program.mappings if m.large)
        if not observed:
            return Skipped(program.name, f"the kernel gave no large folio for {large} (MADV_HUGEPAGE, "
                                         f"checked in /proc/kpageflags) in any of {runs} runs", kernel_release())
        notes.append(f"{no_thp} of {runs} runs got no large folio for {large} and are not counted")
    if cpu is None:
        notes.append("concurrent: not pinned to one CPU, so another CPU's LRU batch may hold a reference")
    outcomes = tuple(Outcomes(e, n, holds(program, e)) for e, n in sorted(counts.items(), key=lambda x: -x[1]))
    positive = sum(o.count for o in outcomes if o.positive)
    return LiveExploration(
        program=program.name, era=era, outcomes=outcomes, verdict=verdict_of(positive, observed - positive),
        interleavings=observed, states=len(outcomes), source="live", notes=tuple(notes),
        kernel=kernel_release(), runs=observed, pinned_cpu=cpu, seconds=seconds,
        observations=tuple(sorted(observations.items(), key=lambda x: (x[0].step, -x[1]))))


def _step_id(program: LiveProgram, k: int) -> int:
    return program.step_ids[k] if program.step_ids else k


def _error(program: LiveProgram, line: str) -> str:
    # "err STEP <what, in words> ERRNO <strerror, in words>"
    _, k, *words = line.split(" ")
    j = next((i for i, w in enumerate(words) if w.isdigit()), len(words) - 1)
    what, errno_, message = " ".join(words[:j]), words[j] if j < len(words) else "?", " ".join(words[j + 1:])
    k = int(k)
    if k < 0:
        return f"{program.name}: setting up a run: {what} failed: errno {errno_} ({message})"
    s = program.steps[k]
    return (f"{_where(program, s)}: step {_step_id(program, k)} ({s.who}: {s.text or s.form}"
            f"{' ' + s.var if s.var and not s.text else ''}) failed: {what}: errno {errno_} ({message})")


def _parse(program: LiveProgram, registers: List[str], line: str) -> Tuple[Execution, List[LiveFault], bool]:
    regs = []
    faults = []
    seen = []
    thp = True
    for token in line.split()[2:]:
        key, value = token.split("=")
        if key[0] == "r":
            regs.append((registers[int(key[1:])], int(value)))
        elif key[0] == "t":
            thp = thp and value == "1"
        elif key[0] == "f":
            k = int(key[1:])
            s = program.steps[k]
            kind, mapcount, ae0, ae1, lru0, flt = value.split(",")
            base, sub = split_address(s.var)
            address = f"{base}[{sub}]" if sub > 0 else base or ""  # as the world names it: page 0 is "a"
            unshare = s.form == "pin ro short"
            seen.append(LiveFault(_step_id(program, k), s.process, address, KIND[kind], unshare, int(mapcount),
                                  ae0 == "1", ae1 == "1", lru0 == "1", int(flt)))
            if kind in "cr":
                result = FaultResult.COPIED if kind == "c" else FaultResult.REUSED
                faults.append(FaultRecord(s.process, address, _step_id(program, k), result, unshare))
    return Execution(tuple(sorted(regs)), tuple(faults)), seen, thp
