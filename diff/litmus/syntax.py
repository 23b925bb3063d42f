"""COW litmus text -> :class:`~wpdiff.spec.world.program.Program`, with file:line:col on every node.

The grammar is documented in ``wpdiff.diff.litmus`` (the package docstring).
Every error is a :class:`LitmusError` whose message starts with
``file:line:col:`` and says what was expected there.
"""

import re
from typing import Dict, List, Optional, Set, Tuple

from wpdiff.spec import eras as spec_eras
from wpdiff.spec.world.ops import OPS
from wpdiff.spec.world.program import Atom, Cond, Expr, Init, Line, Loc, Program, Step
from wpdiff.spec.world.results import Verdict


class LitmusError(ValueError):
    """A malformed litmus file: 'file:line:col: what was expected'."""


_TOKEN = re.compile(r"\s*(?:(\|\||->|\.\.|/\\|\\/|[~(){};:=,\[\]])|(-?\d+)\b|([A-Za-z_](?:[\w\-]|\.(?!\.))*))")
_PROC = re.compile(r"P\d+$")
_THREAD = re.compile(r"P\d+(\.t\d+)?$")
_VERDICTS = {v.value: v for v in Verdict}


class _Tokens:
    def __init__(self, text: str, file: str, line: int, col: int) -> None:
        self.file, self.line = file, line
        self.items: List[Tuple[str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                bad = len(text) - len(text[pos:].lstrip())
                raise LitmusError(f"{file}:{line}:{col + bad}: unexpected character {text[bad]!r}")
            start = m.start(m.lastindex or 0)
            self.items.append((m.group(m.lastindex or 0), col + start))
            pos = m.end()
        self.i = 0
        self.end_col = col + len(text.rstrip())

    def loc(self) -> Loc:
        return Loc(self.file, self.line, self.items[self.i][1] if self.i < len(self.items) else self.end_col + 1)

    def peek(self, k: int = 0) -> Optional[str]:
        return self.items[self.i + k][0] if self.i + k < len(self.items) else None

    def take(self, what: str) -> str:
        tok = self.peek()
        if tok is None:
            raise LitmusError(f"{self.loc()}: expected {what}, found the end of the line")
        self.i += 1
        return tok

    def expect(self, literal: str, what: Optional[str] = None) -> None:
        loc = self.loc()
        tok = self.peek()
        if tok != literal:
            found = "the end of the line" if tok is None else repr(tok)
            raise LitmusError(f"{loc}: expected {what or repr(literal)}, found {found}")
        self.i += 1

    def done(self) -> bool:
        return self.i >= len(self.items)

    def error(self, what: str) -> LitmusError:
        tok = self.peek()
        found = "the end of the line" if tok is None else repr(tok)
        return LitmusError(f"{self.loc()}: expected {what}, found {found}")

    def name(self, what: str, pattern: Optional["re.Pattern[str]"] = None) -> str:
        loc, tok = self.loc(), self.peek()
        if tok is None or not re.match(r"[A-Za-z_]", tok) or (pattern is not None and not pattern.match(tok)):
            raise self.error(what)
        self.i += 1
        del loc
        return tok

    def int(self, what: str) -> int:
        tok = self.peek()
        if tok is None or not re.match(r"-?\d+$", tok):
            raise self.error(what)
        self.i += 1
        return int(tok)


def _strip_comments(text: str, file: str) -> Tuple[str, List[Tuple[str, int, int]]]:
    """Blank out (* ... *) comments (nesting allowed), keeping positions; return
    the text and each comment with its line and column."""
    out = list(text)
    comments: List[Tuple[str, int, int]] = []
    depth, start, i = 0, 0, 0
    line, col = 1, 1
    sline = scol = 0
    while i < len(text):
        two = text[i:i + 2]
        if two == "(*":
            if depth == 0:
                start, sline, scol = i, line, col
            depth += 1
            out[i] = out[i + 1] = " "
            i += 2
            col += 2
            continue
        if two == "*)" and depth:
            depth -= 1
            out[i] = out[i + 1] = " "
            i += 2
            col += 2
            if depth == 0:
                comments.append((text[start + 2:i - 2], sline, scol))
            continue
        if two == "*)":
            raise LitmusError(f"{file}:{line}:{col}: '*)' closes no comment")
        if depth and text[i] != "\n":
            out[i] = " "
        if text[i] == "\n":
            line, col = line + 1, 1
        else:
            col += 1
        i += 1
    if depth:
        raise LitmusError(f"{file}:{sline}:{scol}: comment '(*' is never closed: expected '*)'")
    return "".join(out), comments


def _era_id(name: str, loc: Loc) -> str:
    try:
        return spec_eras.era(name).id
    except ValueError as e:
        raise LitmusError(f"{loc}: {e}") from None


def _results(comments: List[Tuple[str, int, int]], file: str) -> Tuple[Tuple[str, Verdict], ...]:
    order = list(spec_eras.ERAS)
    stated: Dict[str, Verdict] = {}
    for body, line0, col0 in comments:
        at = body.find("Result:")
        if at < 0:
            continue
        before = body[:at]
        line = line0 + before.count("\n")
        col = (col0 + 2 + at) if "\n" not in before else (len(before) - before.rfind("\n"))
        text = body[at + len("Result:"):]
        col += len("Result:")
        # the clauses run to the end of the comment; join the lines, keeping positions of the first
        flat = text.replace("\n", " ")
        toks = _Tokens(flat, file, line, col)
        while True:
            eras: List[str] = []
            if toks.peek() in _VERDICTS:
                eras = order
            else:
                while True:
                    loc = toks.loc()
                    lo = hi = None
                    if toks.peek() == "..":
                        toks.take("..")
                        lo = order[0]
                        hi = _era_id(toks.name("an era id after '..'"), loc)
                    else:
                        lo = _era_id(toks.name("an era id (v5.7, v5.9-rc4 ...) or Never / Sometimes / Always"), loc)
                        hi = lo
                        if toks.peek() == "..":
                            toks.take("..")
                            nxt = toks.peek()
                            if nxt is None or nxt in _VERDICTS or nxt in (",", ";"):
                                hi = order[-1]
                            else:
                                hi = _era_id(toks.name("an era id after '..'"), toks.loc())
                    a, b = order.index(lo), order.index(hi)
                    if a > b:
                        raise LitmusError(f"{loc}: era range {lo}..{hi} runs backwards")
                    eras.extend(order[a:b + 1])
                    if toks.peek() == ",":
                        toks.take(",")
                        continue
                    break
            loc = toks.loc()
            word = toks.take("Never, Sometimes or Always")
            if word not in _VERDICTS:
                raise LitmusError(f"{loc}: expected Never, Sometimes or Always, found {word!r}")
            for e in eras:
                if e in stated and stated[e] is not _VERDICTS[word]:
                    raise LitmusError(f"{loc}: Result: states {e} twice, as {stated[e].value} and {word}")
                stated[e] = _VERDICTS[word]
            if toks.peek() == ";":
                toks.take(";")
                if toks.done():
                    break
                continue
            if not toks.done():
                raise toks.error("';' and another clause, or the end of the comment")
            break
    return tuple((e, stated[e]) for e in order if e in stated)


def _addr(t: _Tokens) -> Tuple[str, int]:
    name = t.name("an address (a name declared in the initial state)")
    idx = 0
    if t.peek() == "[":
        t.take("[")
        idx = t.int("a page number 0-3")
        t.expect("]")
    return (name, idx)


def _paddr(t: _Tokens) -> Tuple[str, str, int]:
    proc = t.name("a process and address, like P0:a", _PROC)
    t.expect(":", "':' between process and address (P0:a)")
    name, idx = _addr(t)
    return (proc, name, idx)


def _op(t: _Tokens, thread: str, loc: Loc) -> Step:
    word_loc = t.loc()
    word = t.take("an operation")

    def step(op: str, *args: object) -> Step:
        if not t.done():
            raise t.error(f"the end of the '{word}' step")
        if OPS[op].who == "thread" and not thread:
            raise LitmusError(f"{loc}: '{word}' is run by a process: expected a prefix like 'P0:'")
        if OPS[op].who == "party" and thread:
            raise LitmusError(f"{loc}: '{word}' is run by no process: write it without the '{thread}:' prefix")
        return Step(thread, op, args, loc)

    if word == "fork":
        return step("fork", t.name("the child's name, like P1", _PROC))
    if word == "exit":
        return step("exit")
    if word in ("write", "read"):
        target = t.peek()
        if word == "write":
            if target is not None and re.match(r"pin\d+$", target):
                t.take("")
                t.expect("=")
                return step("pin-write", target, t.int("the value the device writes"))
            a = _addr(t)
            t.expect("=", "'=' and the value to write")
            return step("write", a, t.int("the value to write (an integer)"))
        if target is not None and re.match(r"(pipe|pin)\d+$", target):
            t.take("")
            t.expect("->", "'->' and a register")
            return step("pipe-read" if target.startswith("pipe") else "pin-read", target,
                        t.name("a register, like r0", re.compile(r"r\d+$")))
        a = _addr(t)
        t.expect("->", "'->' and a register")
        return step("read", a, t.name("a register, like r0", re.compile(r"r\d+$")))
    if word == "vmsplice":
        a = _addr(t)
        t.expect("->", "'->' and a pipe")
        return step("vmsplice", a, t.name("a pipe name, like pipe0", re.compile(r"pipe\d+$")))
    if word == "pin":
        a = _addr(t)
        acc = t.name("ro or rw", re.compile(r"r[ow]$"))
        duration = "short"
        if t.peek() in ("longterm", "short"):
            duration = t.take("")
        t.expect("->", "'->' and a pin name (pin ADDR ro|rw [longterm|short] -> pinN)")
        return step("pin", a, acc, duration, t.name("a pin name, like pin0", re.compile(r"pin\d+$")))
    if word == "unpin":
        return step("unpin", t.name("a pin name, like pin0", re.compile(r"pin\d+$")))
    if word == "munmap":
        return step("munmap", _addr(t))
    if word == "madvise":
        a = _addr(t)
        adv = t.name("dontneed, dontfork, dofork or pageout", re.compile(r"(dontneed|dontfork|dofork|pageout)$"))
        return step(adv, a)
    if word == "mprotect":
        a = _addr(t)
        return step("mprotect", a, t.name("ro or rw", re.compile(r"r[ow]$")))
    if word == "ksm":
        t.expect("merge", "'merge' (ksm merge P0:a P1:b)")
        return step("ksm-merge", _paddr(t), _paddr(t))
    if word in ("lock", "unlock"):
        return step(word, _paddr(t))
    if word == "lru":
        t.expect("drain", "'drain' (lru drain)")
        return step("lru-drain")
    raise LitmusError(f"{word_loc}: unknown operation {word!r}; expected one of fork, exit, write, read, vmsplice, "
                      "pin, unpin, munmap, madvise, mprotect, ksm merge, lock, unlock, lru drain")


def _cond(t: _Tokens) -> Expr:
    def atom() -> Expr:
        loc = t.loc()
        tok = t.peek()
        if tok == "~":
            t.take("~")
            return Cond("not", (atom(),))
        if tok == "(":
            t.take("(")
            e = disj()
            t.expect(")")
            return e
        if tok == "freed-page-touched":
            t.take("")
            return Atom("freed", loc=loc)
        if tok == "broken":
            t.take("")
            return Atom("broken", name=t.name("a guarantee id"), loc=loc)
        who = t.name("an observation: Pn:rK = v, Pn:copied a, freed-page-touched", _THREAD)
        t.expect(":", "':' (P0:r0 = 1 or P0:copied a)")
        if t.peek() == "copied":
            t.take("")
            if not _PROC.match(who):
                raise LitmusError(f"{loc}: 'copied' names a process (P0), not a thread ({who})")
            name, idx = _addr(t)
            return Atom("copied", who, name if idx == 0 else f"{name}[{idx}]", loc=loc)
        reg = t.name("a register, like r0, or 'copied'", re.compile(r"r\d+$"))
        t.expect("=", "'=' and a value")
        return Atom("reg", who, reg, t.int("the value (an integer)"), loc)

    def conj() -> Expr:
        parts = [atom()]
        while t.peek() == "/\\":
            t.take("")
            parts.append(atom())
        return parts[0] if len(parts) == 1 else Cond("and", tuple(parts))

    def disj() -> Expr:
        parts = [conj()]
        while t.peek() == "\\/":
            t.take("")
            parts.append(conj())
        return parts[0] if len(parts) == 1 else Cond("or", tuple(parts))

    return disj()


def _atoms(e: Expr) -> List[Atom]:
    return [e] if isinstance(e, Atom) else [a for x in e.args for a in _atoms(x)]


def parse(text: str, file: str = "<litmus>") -> Program:
    clean, comments = _strip_comments(text, file)
    lines = clean.split("\n")
    n = 0

    def next_line() -> Optional[Tuple[int, str]]:
        nonlocal n
        while n < len(lines):
            n += 1
            if lines[n - 1].strip():
                return n, lines[n - 1]
        return None

    first = next_line()
    if first is None:
        raise LitmusError(f"{file}:1:1: expected 'COW name', found an empty file")
    ln, txt = first
    t = _Tokens(txt, file, ln, 1)
    header = t.loc()
    t.expect("COW", "'COW name' (the header)")
    name = t.name("the test's name after COW")
    if not t.done():
        raise t.error("the end of the header")
    results = _results(comments, file)
    comment = "\n".join(c[0] for c in comments)

    # the initial state: { P0: anon a = 1; P1: large b = 7 }, possibly over several lines
    got = next_line()
    if got is None:
        raise LitmusError(f"{file}:{ln + 1}:1: expected the initial state '{{ P0: anon a = 1 }}', found the end")
    ln, txt = got
    start_ln = ln
    chunk = [(ln, txt)]
    while "}" not in "".join(c[1] for c in chunk):
        more = next_line()
        if more is None:
            raise LitmusError(f"{file}:{start_ln}:1: the initial state '{{' is never closed: expected '}}'")
        chunk.append(more)
    init: List[Init] = []
    procs: Set[str] = set()
    addrs: Dict[str, Set[str]] = {}
    toks: List[Tuple[str, Loc]] = []
    for cl, ctext in chunk:
        tk = _Tokens(ctext, file, cl, 1)
        toks.extend((tok, Loc(file, cl, col)) for tok, col in tk.items)
    t = _Flat(toks, file, start_ln)
    t.expect("{", "'{' opening the initial state")
    while t.peek() != "}":
        loc = t.loc()
        proc = t.name("a process, like P0", _PROC)
        t.expect(":", "':' after the process")
        kind = t.name("anon or large", re.compile(r"(anon|large)$"))
        addr = t.name("an address name, like a")
        t.expect("=", "'=' and the initial value")
        value = t.int("the initial value (an integer)")
        if addr in addrs.get(proc, set()):
            raise LitmusError(f"{loc}: {proc} maps {addr} twice")
        init.append(Init(proc, kind, addr, value, loc))
        procs.add(proc)
        addrs.setdefault(proc, set()).add(addr)
        if t.peek() == ";":
            t.take(";")
            continue
        if t.peek() != "}":
            raise t.error("';' or '}'")
    t.take("}")
    if not t.done():
        raise t.error("the end of the line after '}'")

    steps: List[Line] = []
    exists: Optional[Expr] = None
    exists_loc: Optional[Loc] = None
    pipes: Set[Tuple[str, str]] = set()
    regs: Set[str] = set()
    alive: Set[str] = set(procs)
    while True:
        got = next_line()
        if got is None:
            break
        ln, txt = got
        t = _Tokens(txt, file, ln, 1)
        if t.peek() == "exists":
            if exists is not None:
                raise LitmusError(f"{t.loc()}: a second 'exists': one final condition per test")
            exists_loc = t.loc()
            t.take("")
            t.expect("(", "'(' after exists")
            exists = _cond(t)
            t.expect(")", "')' closing the condition")
            if not t.done():
                raise t.error("the end of the line after the condition")
            continue
        if exists is not None:
            raise LitmusError(f"{t.loc()}: a step after 'exists': the final condition comes last")
        parts: List[Step] = []
        forks: List[str] = []
        while True:
            loc = t.loc()
            thread = ""
            if t.peek(1) == ":" and t.peek() is not None and _THREAD.match(t.peek() or ""):
                thread = t.take("")
                t.take(":")
                if thread.split(".")[0] not in alive:
                    raise LitmusError(f"{loc}: {thread.split('.')[0]} does not exist here: expected a process of "
                                      f"the initial state or one forked before ({', '.join(sorted(alive))})")
            # collect this part's tokens up to '||'
            j = t.i
            while j < len(t.items) and t.items[j][0] != "||":
                j += 1
            sub = _Tokens("", file, ln, 1)
            sub.items = t.items[t.i:j]
            sub.end_col = t.items[j][1] - 1 if j < len(t.items) else t.end_col
            st = _op(sub, thread, loc)
            _check_names(st, pipes, regs, addrs, loc)
            parts.append(st)
            if st.op == "fork":
                forks.append(str(st.args[0]))
            t.i = j
            if t.peek() == "||":
                t.take("||")
                continue
            break
        alive.update(forks)
        for f in forks:
            parent = next(s.thread.split(".")[0] for s in parts if s.op == "fork" and s.args[0] == f)
            addrs[f] = set(addrs.get(parent, set()))
        steps.append(Line(tuple(parts), parts[0].loc))
    if exists is None or exists_loc is None:
        raise LitmusError(f"{file}:{len(lines)}:1: expected the final condition 'exists (...)', found the end")
    for a in _atoms(exists):
        if a.kind == "reg" and f"{a.who}:{a.name}" not in regs:
            raise LitmusError(f"{a.loc}: register {a.who}:{a.name} is never written: expected a step "
                              f"'{a.who}: read ... -> {a.name}' before the condition")
        if a.kind == "broken":
            from wpdiff.spec.world.guarantees import GUARANTEES
            if a.name not in GUARANTEES:
                raise LitmusError(f"{a.loc}: unknown guarantee {a.name!r}; expected one of {', '.join(GUARANTEES)}")
    return Program(name, tuple(init), tuple(steps), exists, exists_loc, results, header, comment)


def _check_names(st: Step, pipes: Set[Tuple[str, str]], regs: Set[str], addrs: Dict[str, Set[str]], loc: Loc) -> None:
    proc = st.thread.split(".")[0]
    if st.op == "vmsplice":
        pipes.add((proc, str(st.args[1])))
    if st.op == "pipe-read":
        if (proc, str(st.args[0])) not in pipes:
            raise LitmusError(f"{loc}: {st.args[0]} is read, but {proc} never vmspliced into it: expected "
                              f"'{proc}: vmsplice ADDR -> {st.args[0]}' before")
    if st.op in ("read", "pipe-read", "pin-read"):
        regs.add(f"{st.thread}:{st.args[1]}")
    for a in st.args:
        if isinstance(a, tuple) and len(a) == 2 and proc and a[0] not in addrs.get(proc, set()):
            raise LitmusError(f"{loc}: {proc} has no mapping {a[0]!r}: expected one of the initial state's "
                              f"({', '.join(sorted(addrs.get(proc, set()))) or 'none'})")
        if isinstance(a, tuple) and len(a) == 3 and a[1] not in addrs.get(a[0], set()):
            raise LitmusError(f"{loc}: {a[0]} has no mapping {a[1]!r}")


class _Flat(_Tokens):
    """Tokens over several lines, each with its own location."""

    def __init__(self, toks: List[Tuple[str, Loc]], file: str, line: int) -> None:
        self.file, self.line = file, line
        self.locs = [loc for _, loc in toks]
        self.items = [(tok, loc.col) for tok, loc in toks]
        self.i = 0
        self.end_col = self.items[-1][1] if self.items else 1

    def loc(self) -> Loc:
        if self.i < len(self.locs):
            return self.locs[self.i]
        return self.locs[-1] if self.locs else Loc(self.file, self.line, 1)
