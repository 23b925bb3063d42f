"""Reading a saved report strictly, from the dataclasses' own fields.

dataclasses-json decodes leniently: a missing field takes its default (a
deleted ``state.vma`` became a default VMA, and replay called the finding
fixed), a wrong type is often let through.  :func:`decode` first checks a
JSON value against the type hints of the dataclass it should be -- every
field present, no field it does not have, each value of its field's type,
all the way down -- and only then builds it.  There is no second,
hand-written schema to drift from the dataclasses: a field added to
``Divergence`` or ``FaultState`` is checked the day it is added.

Every error names where the value is, as a path into the file
(``divergences[0].state.vma: missing; a Vma has write, shared, uffd_wp``),
what was expected there and what was found.

A field whose metadata says ``{"wpdiff": "word"}`` holds a packed word,
written as a hex string (``"0x1f"``): JSON integers above 2**53 do not
survive jq 1.6 or JavaScript.
"""

import dataclasses
import json
import re
import typing
from enum import Enum
from typing import Any, Dict, Type, TypeVar

from wpdiff.impl.layout import WORD_BITS
from wpdiff.spec.state import StateError

T = TypeVar("T")
HEX_WORD = re.compile(r"0x[0-9a-f]{1,16}")
WORD_RANGE = f"a hex string from \"0x0\" to \"{(1 << WORD_BITS) - 1:#x}\""


class SchemaError(ValueError):
    """A value that is not what the report's dataclasses say: `where` in the
    file, and the message."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


def shown(value: object) -> str:
    """`value` as it stands in the file, cut short."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def hex_word(word: int) -> str:
    return f"{word:#x}"


def parse_word(text: object) -> int:
    """A packed word from its hex string; ValueError unless it is one."""
    if not (isinstance(text, str) and HEX_WORD.fullmatch(text)) or int(text, 16) >> WORD_BITS:
        raise ValueError(f"expected the packed word: {WORD_RANGE}, got {shown(text)}")
    return int(text, 16)


def word_field(**kwargs: Any) -> Any:
    """A dataclass field holding a packed word, serialized as a hex string."""
    from dataclasses_json import config

    return dataclasses.field(metadata={**config(encoder=hex_word, decoder=parse_word), "wpdiff": "word"}, **kwargs)


def article(cls: type) -> str:
    return ("an " if cls.__name__[0] in "AEIOU" else "a ") + cls.__name__


def _expected(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union:
        return " or ".join("null" if a is type(None) else _expected(a) for a in args)
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "an object"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    if dataclasses.is_dataclass(tp):
        return f"{article(tp)} (an object)"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def check(tp: Any, value: object, where: str, word: bool = False) -> None:
    """SchemaError unless `value` (JSON) is of type `tp`."""
    if word:
        try:
            parse_word(value)
        except ValueError as e:
            raise SchemaError(where, str(e)) from None
        return
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is typing.Any or tp is object:
        return
    if origin is typing.Union:
        if value is None and type(None) in args:
            return
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            if value is None:
                raise SchemaError(where, f"expected {_expected(tp)}, got null")
            return check(inner[0], value, where)
    ok = True
    if dataclasses.is_dataclass(tp):
        fields_of(tp, value, where)
        return
    if origin in (list, tuple):
        if not isinstance(value, list):
            ok = False
        else:
            for i, item in enumerate(value):
                check(args[0] if args else Any, item, f"{where}[{i}]")
            return
    elif origin is dict:
        if not isinstance(value, dict):
            ok = False
        else:
            for key, item in value.items():
                check(args[1] if args else Any, item, at(where, key))
            return
    elif isinstance(tp, type) and issubclass(tp, Enum):
        ok = value in [m.value for m in tp]
    elif tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif tp is str:
        ok = isinstance(value, str)
    if not ok:
        raise SchemaError(where, f"expected {_expected(tp)}, got {shown(value)}")


def fields_of(cls: type, value: object, where: str, skip: tuple = ()) -> None:
    """SchemaError unless `value` is an object with exactly the fields of the
    dataclass `cls`, each of its type (`skip`: fields the caller checks)."""
    what = article(cls)
    if not isinstance(value, dict):
        raise SchemaError(where or "the file", f"expected {what} (an object), got {shown(value)}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for f in dataclasses.fields(cls):
        if f.name not in value:
            raise SchemaError(at(where, f.name), f"missing; {what} has {', '.join(names)}")
    for key in value:
        if key not in names:
            raise SchemaError(at(where, key), f"no such field; {what} has {', '.join(names)}")
    for f in dataclasses.fields(cls):
        if f.name not in skip:
            check(hints[f.name], value[f.name], at(where, f.name), word=f.metadata.get("wpdiff") == "word")


def decode(cls: Type[T], value: object, where: str) -> T:
    """`value` checked against `cls`'s fields, then built; SchemaError naming
    `where` if it is not one (or is a state that cannot exist)."""
    fields_of(cls, value, where)
    try:
        return cls.from_dict(value)  # type: ignore[attr-defined]
    except StateError as e:
        raise SchemaError(where, f"a saved state cannot exist: {e}") from None
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise SchemaError(where, f"not {article(cls)}: {type(e).__name__}: {e}") from None


def to_dict(obj: object) -> Dict[str, Any]:
    return obj.to_dict(encode_json=True)  # type: ignore[attr-defined]
