"""The batch path: a fast path over a NumPy ``uint64`` array of words.

Numba compiles the very function the scalar path runs -- no second
implementation -- together with every helper it calls, into a loop over the
array.  Words are below 2**63, so the compiled code works on int64 without
changing a bit.

>>> import numpy as np
>>> from wpdiff.impl.batch import run
>>> from wpdiff.impl.concretize import concretize
>>> from wpdiff.impl.fastpath import FASTPATHS
>>> from wpdiff.spec.history import SOLE_MAPPING
>>> w = concretize("v5.9", SOLE_MAPPING)
>>> after, trace = run(FASTPATHS["v5.9"], np.array([w], dtype=np.uint64))
>>> (int(after[0]), int(trace[0])) == FASTPATHS["v5.9"](w)
True
"""

import dis
import hashlib
import marshal
import types
from typing import Callable, Dict, List, Tuple

import numba
import numpy as np

from .layout import WORD_BITS, PackError

FastPath = Callable[[int], Tuple[int, int]]


def _calls(fn: types.FunctionType) -> List[Tuple[str, object]]:
    """(name, value) of every global `fn` loads."""
    return [
        (ins.argval, fn.__globals__.get(ins.argval))
        for ins in dis.get_instructions(fn)
        if ins.opname == "LOAD_GLOBAL"
    ]


def _digest(fn: types.FunctionType) -> str:
    """A hash of everything Numba freezes into the compiled `fn`: its code and
    that of every function it reaches, and the global values they read.

    Numba's on-disk cache is keyed on the source file of the compiled
    function alone; a helper inlined from another file, or a layout
    constant, could change under it and a stale loop would be loaded.
    Naming each compiled function after this digest makes any such change
    a new cache entry."""
    h = hashlib.sha256()
    todo, seen = [fn], set()
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        h.update(marshal.dumps(f.__code__))
        h.update(repr((f.__defaults__, [c.cell_contents for c in f.__closure__ or ()])).encode())
        for name, value in _calls(f):
            if isinstance(value, types.FunctionType):
                todo.append(value)
            else:
                h.update(repr((name, value)).encode())
    return h.hexdigest()[:16]


def _jit(fn: types.FunctionType, done: Dict[int, object], inline: str) -> object:
    """Numba-compile `fn` and, first, every Python function it calls by a
    global name, recursively."""
    if id(fn) in done:
        return done[id(fn)]
    env = dict(fn.__globals__)
    for name, value in _calls(fn):
        if isinstance(value, types.FunctionType):
            env[name] = _jit(value, done, "always")
    clone = types.FunctionType(fn.__code__, env, fn.__name__, fn.__defaults__, fn.__closure__)
    clone.__qualname__ = f"{fn.__qualname__}_{_digest(fn)}"
    compiled = numba.njit(cache=True, inline=inline)(clone)
    done[id(fn)] = compiled
    return compiled


def compile_batch(fast: FastPath) -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    """A compiled loop: ``loop(words, after, trace)`` fills `after` and
    `trace` (int64 views) with `fast` applied to each word."""
    kernel = _jit(fast, {}, "never")

    @numba.njit(cache=False)
    def loop(words: np.ndarray, after: np.ndarray, trace: np.ndarray) -> None:
        for i in range(words.shape[0]):
            a, t = kernel(words[i])
            after[i] = a
            trace[i] = t

    return loop


_COMPILED: Dict[int, Callable[[np.ndarray, np.ndarray, np.ndarray], None]] = {}


def run(fast: FastPath, words: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(words after, trace words) of `fast` over `words` (a uint64 array)."""
    words = np.ascontiguousarray(words, dtype=np.uint64)
    if words.size and int(words.max()) >> WORD_BITS:
        raise PackError(f"a word is below 2**{WORD_BITS}; got {int(words.max()):#x}")
    loop = _COMPILED.get(id(fast))
    if loop is None:
        loop = _COMPILED[id(fast)] = compile_batch(fast)
    after = np.empty_like(words)
    trace = np.empty_like(words)
    loop(words.view(np.int64), after.view(np.int64), trace.view(np.int64))
    return after, trace
