"""Extraction: the decision-carrying functions of a kernel file, by a C parser.

tree-sitter's C grammar parses the whole file; the functions a manifest
names (``manifest.py``) are taken by their ``function_definition`` node, with
the ``#if`` / ``#ifdef`` / ``#else`` chain around them kept as directives so
the preprocessor picks the variant the model's configuration selects (the
large-folio reuse helper of 6.15 has a ``CONFIG_TRANSPARENT_HUGEPAGE`` and a
stub variant).  ``#if`` blocks inside a body stay verbatim.  Each piece is
preceded by a ``#line N "FILE"`` directive, so compiler messages, the
assertion lines and the deciding line of a report name the user's file and
line, not the generated one.

Sparse's annotations between a declarator and its body (``__releases(ptl)``
and its kin) are blanked to spaces before parsing: offsets and lines stay
where they were.  A brace matcher over the comment- and string-masked text
checks every extent the parser gives; a disagreement, a parse error inside
a wanted function or a wanted function that is missing is a `KtreeError`
naming the file and line.

The extracted functions are renamed ``wpdiff_user_NAME`` at their
definition and called through a macro, so the driver learns which of the
user's functions ran and from which line it was called (the decision is
not in the return value: several paths return 0).  Nothing else in the
user's text changes.
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Set, Tuple

from .errors import KtreeError

ANNOTATION = re.compile(rb"\b__(releases|acquires|must_hold)\s*\([^()]*(\([^()]*\)[^()]*)*\)")


@lru_cache(maxsize=1)
def _parser():
    try:
        import tree_sitter
        import tree_sitter_c
    except ImportError as e:  # pragma: no cover - a missing dependency is the user's to install
        raise KtreeError(f"wpdiff kernel needs tree-sitter and tree-sitter-c ({e}); pip install tree-sitter tree-sitter-c") from None
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


@dataclass(frozen=True)
class Function:
    name: str
    file: str  # the path #line names
    line: int  # 1-based line of the definition's first token
    text: str  # the definition, renamed, as compiled
    calls: Tuple[Tuple[str, int, int], ...]  # (callee, line, col) in the user's file
    fields: Tuple[str, ...]  # struct members read with -> or .


@dataclass
class Extraction:
    file: str
    functions: Dict[str, Function] = field(default_factory=dict)
    text: str = ""  # every wanted function with its #if chain and #line directives, in file order
    defined: Tuple[str, ...] = ()  # every function the file defines (for the manifest's choice)
    inspected: Dict[str, Tuple[str, ...]] = field(default_factory=dict)  # not emitted: what they call


def blank_annotations(src: bytes) -> bytes:
    return ANNOTATION.sub(lambda m: b" " * len(m.group(0)), src)


def _mask(src: bytes) -> bytes:
    """Comments, strings and character literals blanked (newlines kept)."""
    out = bytearray(src)
    i, n = 0, len(src)
    while i < n:
        c = src[i : i + 2]
        if c == b"/*":
            j = src.find(b"*/", i + 2)
            j = n if j < 0 else j + 2
        elif c == b"//":
            j = src.find(b"\n", i)
            j = n if j < 0 else j
        elif src[i] in b"\"'":
            q, j = src[i], i + 1
            while j < n and src[j] != q:
                j += 2 if src[j] == 0x5C else 1
            j += 1
        else:
            i += 1
            continue
        for k in range(i, min(j, n)):
            if out[k] != 0x0A:
                out[k] = 0x20
        i = j
    return bytes(out)


def _braces_close(masked: bytes, open_at: int) -> int:
    depth = 0
    for k in range(open_at, len(masked)):
        b = masked[k]
        if b == 0x7B:
            depth += 1
        elif b == 0x7D:
            depth -= 1
            if depth == 0:
                return k + 1
    return -1


def _name(node) -> Optional[str]:
    d = node.child_by_field_name("declarator")
    while d is not None and d.type != "function_declarator":
        d = d.child_by_field_name("declarator")
    if d is None:
        return None
    ident = d.child_by_field_name("declarator")
    return ident.text.decode() if ident is not None and ident.type == "identifier" else None


def _name_node(node):
    d = node.child_by_field_name("declarator")
    while d is not None and d.type != "function_declarator":
        d = d.child_by_field_name("declarator")
    return d.child_by_field_name("declarator")


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _has_error(node) -> Optional[Tuple[int, int]]:
    for n in _walk(node):
        if n.type == "ERROR" or n.is_missing:
            return n.start_point.row + 1, n.start_point.column + 1
    return None


PREPROC = ("preproc_if", "preproc_ifdef", "preproc_elif", "preproc_else", "preproc_elifdef")


def extract(text: str, file: str, wanted: Sequence[str], required: Sequence[str] = (),
            inspect: Sequence[str] = ()) -> Extraction:
    """The functions `wanted` of `text` (shown as `file`); each of `required`
    must be there.  The result's `text` compiles after the shim.  Functions
    `inspect` are not emitted; only what they call is recorded (in
    `Extraction.inspected`)."""
    src = blank_annotations(text.encode("utf-8", "surrogateescape"))
    tree = _parser().parse(src)
    masked = _mask(src)
    want = set(wanted)
    look = set(inspect)
    found: Dict[str, List] = {}
    defined: List[str] = []
    for n in _walk(tree.root_node):
        if n.type == "function_definition":
            name = _name(n)
            if name is None:
                continue
            defined.append(name)
            if name in want or name in look:
                found.setdefault(name, []).append(n)
    for name in required:
        if name not in found:
            raise KtreeError(f"{file}: no {name}() in this file; expected the definition of {name}() "
                             f"(is it a kernel's mm/{file.rsplit('/', 1)[-1]}?)")
    ex = Extraction(file, defined=tuple(defined))
    for name, nodes in found.items():
        if name in look:
            ex.inspected[name] = tuple(sorted({fn.text.decode() for n in nodes for x in _walk(n)
                                               if x.type == "call_expression"
                                               and (fn := x.child_by_field_name("function")) is not None
                                               and fn.type == "identifier"}))
            continue
        for node in nodes:
            err = _has_error(node)
            if err:
                raise KtreeError(f"{file}:{err[0]}:{err[1]}: the C parser cannot read {name}() here; "
                                 "expected C the kernel's compiler accepts")
            body = node.child_by_field_name("body")
            end = _braces_close(masked, body.start_byte) if body is not None else -1
            if end != node.end_byte:
                raise KtreeError(f"{file}:{node.start_point.row + 1}: the parser and the brace matcher disagree on "
                                 f"where {name}() ends (bytes {node.end_byte} and {end}); refusing to guess")
    pieces: List[str] = []
    for child in tree.root_node.children:
        _emit(child, src, file, want, pieces)
    ex.text = "".join(pieces)
    for name, nodes in found.items():
        if name in look:
            continue
        node = nodes[0]
        calls, fields = [], set()
        for n in _walk(node):
            if n.type == "call_expression":
                fn = n.child_by_field_name("function")
                if fn is not None and fn.type == "identifier":
                    calls.append((fn.text.decode(), fn.start_point.row + 1, fn.start_point.column + 1))
            elif n.type == "field_expression":
                f = n.child_by_field_name("field")
                if f is not None:
                    fields.add(f.text.decode())
        ex.functions[name] = Function(name, file, node.start_point.row + 1, _definition(node, src, file),
                                      tuple(calls), tuple(sorted(fields)))
    return ex


def _contains(node, want: Set[str]) -> bool:
    return any(n.type == "function_definition" and _name(n) in want for n in _walk(node))


def _line(file: str, row: int) -> str:
    return f'#line {row + 1} "{file}"\n'


def _definition(node, src: bytes, file: str) -> str:
    ident = _name_node(node)
    before = src[node.start_byte : ident.start_byte].decode("utf-8", "surrogateescape")
    after = src[ident.end_byte : node.end_byte].decode("utf-8", "surrogateescape")
    return _line(file, node.start_point.row) + before + "wpdiff_user_" + ident.text.decode() + after + "\n"


def _directive(node, src: bytes) -> str:
    """The directive line that opens a preprocessor node (with continuations)."""
    end = node.start_byte
    while True:
        nl = src.find(b"\n", end)
        if nl < 0:
            nl = len(src)
        if src[nl - 1 : nl] != b"\\":
            break
        end = nl + 1
    return src[node.start_byte : nl].decode("utf-8", "surrogateescape") + "\n"


def _emit(node, src: bytes, file: str, want: Set[str], out: List[str]) -> None:
    if node.type == "function_definition":
        if _name(node) in want:
            out.append(_definition(node, src, file))
        return
    if node.type not in PREPROC or not _contains(node, want):
        return
    out.append(_line(file, node.start_point.row) + _directive(node, src))
    for child in node.children:
        if child.type in ("preproc_else", "preproc_elif", "preproc_elifdef"):
            _emit_branch(child, src, file, want, out)
        else:
            _emit(child, src, file, want, out)
    if node.type in ("preproc_if", "preproc_ifdef"):
        out.append("#endif\n")


def _emit_branch(node, src: bytes, file: str, want: Set[str], out: List[str]) -> None:
    out.append(_line(file, node.start_point.row) + _directive(node, src))
    for child in node.children:
        if child.type in ("preproc_else", "preproc_elif", "preproc_elifdef"):
            _emit_branch(child, src, file, want, out)
        else:
            _emit(child, src, file, want, out)
