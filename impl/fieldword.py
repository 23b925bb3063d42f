"""A packed word made of separate symbolic fields, for CrossHair.

CrossHair models ints as unbounded mathematical integers; a 63-bit word
read with shifts and masks becomes integer division and modulo by numbers
near 2**50, which its solver rarely settles (measured: not one fast path
exhausted in minutes).  A :class:`FieldWord` holds each field of the layout
-- each page-flag, PTE and VMA bit on its own -- as a separate small value
and answers the fast paths' own expressions: ``(w >> SHIFT) & MASK`` reads a
field or a bit of one, ``w + (d << SHIFT)`` and ``w - (d << SHIFT)`` change
a counter, ``w | BIT`` and ``w & ~BIT`` set and clear a flag.  The fast paths and the models run on it unchanged, and CrossHair sees
only small values.

What it assumes: no field over- or underflows into its neighbour (true of
every well-formed state; the exhaustive engine checks the real int
semantics on every state of its spaces).  An operation it cannot map to a
field raises, so nothing is computed silently wrong.

>>> from wpdiff.impl.fieldword import FieldWord
>>> from wpdiff.impl.layout import pack
>>> w = FieldWord.of(pack(refcount=3, mapcount=0, large_mapcount=0))
>>> int(((w - (1 << 22)) >> 22) & 4095)
2
"""

from typing import Dict, List, Tuple

from wpdiff.impl.layout import FIELDS

# Atoms: (shift, width).  Single bits for the flag, PTE, VMA and mapping
# fields (the fast paths test them one at a time), whole counters otherwise.
_BITWISE = {"flags", "pte", "vma", "mapping"}
ATOMS: Tuple[Tuple[int, int], ...] = tuple(
    sorted(
        [(f.shift + i, 1) for f in FIELDS if f.name in _BITWISE for i in range(f.width)]
        + [(f.shift, f.width) for f in FIELDS if f.name not in _BITWISE]
    )
)
# shift -> (index into the values, width).  The values are a tuple, not a
# dict: under CrossHair a dict holding symbolic values becomes a Python-level
# map whose every lookup is a linear scan (measured: three quarters of a
# proof's time went there).
_AT: Dict[int, Tuple[int, int]] = {shift: (i, width) for i, (shift, width) in enumerate(ATOMS)}
_OWNER: Dict[int, int] = {bit: shift for shift, width in ATOMS for bit in range(shift, shift + width)}


class FieldWordError(ValueError):
    """An operation on a FieldWord that does not map to its fields."""


class FieldWord:
    def __init__(self, values: Tuple[object, ...]) -> None:
        self.values = values  # one per atom, in ATOMS order: int or symbolic int / bool

    @classmethod
    def of(cls, word: int) -> "FieldWord":
        return cls(tuple((word >> shift) & ((1 << width) - 1) for shift, width in ATOMS))

    @classmethod
    def from_fields(cls, **fields: object) -> "FieldWord":
        """From field values (see layout.FIELDS); the bitwise fields are split into bits."""
        values: List[object] = [0] * len(ATOMS)
        for f in FIELDS:
            if f.name not in fields:
                continue
            value = fields[f.name]
            if f.name in _BITWISE:
                for i in range(f.width):
                    # one value per bit, or an int split into bits
                    values[_AT[f.shift + i][0]] = value[i] if isinstance(value, tuple) else (value >> i) & 1
            else:
                values[_AT[f.shift][0]] = value
        return cls(tuple(values))

    def __int__(self) -> int:
        return sum(int(v) << shift for (shift, _), v in zip(ATOMS, self.values))

    def _bits(self, bits: int, value: int) -> "FieldWord":
        values = list(self.values)
        for shift in range(bits.bit_length()):
            if (bits >> shift) & 1:
                if shift not in _AT or _AT[shift][1] != 1:
                    raise FieldWordError(f"bit {shift} is not a one-bit field")
                values[_AT[shift][0]] = value
        return FieldWord(tuple(values))

    def __or__(self, bits: int) -> "FieldWord":
        """``w | BITS``: one-bit fields set."""
        if type(bits) is not int or bits < 0:
            raise FieldWordError(f"w | {bits!r}: only constant bits can be set")
        return self._bits(bits, 1)

    def __and__(self, mask: int) -> "FieldWord":
        """``w & ~BITS``: one-bit fields cleared."""
        if type(mask) is not int or mask >= 0:
            raise FieldWordError(f"w & {mask!r}: only ~BITS clears fields")
        return self._bits(~mask, 0)

    def __rshift__(self, shift: int) -> "_Shifted":
        return _Shifted(self, shift)

    def _place(self, delta: int, sign: int) -> "FieldWord":
        """Add sign * delta, a constant made of field-aligned parts."""
        if type(delta) is not int:
            raise FieldWordError(f"cannot add {delta!r} to a word: only constants shifted onto fields")
        values = list(self.values)
        if delta < 0:
            delta, sign = -delta, -sign
        rest = delta
        while rest:
            # the atom holding the highest bit left takes the part from its shift up
            shift = _OWNER.get(rest.bit_length() - 1)
            if shift is None:
                raise FieldWordError(f"{delta:#x} does not fall on field boundaries")
            i = _AT[shift][0]
            part = rest >> shift
            values[i] = values[i] + sign * part
            rest -= part << shift
        return FieldWord(tuple(values))

    def __add__(self, delta: object) -> "FieldWord":
        return self._place(delta, 1)

    def __sub__(self, delta: object) -> "FieldWord":
        return self._place(delta, -1)

    def __eq__(self, other: object) -> object:
        if isinstance(other, FieldWord):
            # one symbolic condition, not one branch per field; a value
            # that went through both sides untouched is the same object
            return sum(a != b for a, b in zip(self.values, other.values)) == 0
        return NotImplemented

    def __ne__(self, other: object) -> object:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None  # type: ignore[assignment]


class _Shifted:
    """``w >> shift``, waiting for its mask."""

    def __init__(self, word: FieldWord, shift: int) -> None:
        self.word, self.shift = word, shift

    def __and__(self, mask: int) -> object:
        width = mask.bit_length()
        if mask != (1 << width) - 1:
            raise FieldWordError(f"mask {mask:#x} is not 2**n - 1")
        if self.shift not in _AT:
            raise FieldWordError(f"(w >> {self.shift}) & {mask:#x} is not a field")
        i, atom_width = _AT[self.shift]
        values = self.word.values
        if atom_width == width:
            return values[i]
        if atom_width == 1:
            # several single-bit atoms read together (page->mapping & 3)
            value = 0
            for k in range(width):
                if _AT.get(self.shift + k, (0, 0))[1] != 1:
                    raise FieldWordError(f"bits {self.shift}..{self.shift + width - 1} cross a field boundary")
                value = value + values[i + k] * (1 << k)
            return value
        if width < atom_width:
            return values[i] % (1 << width)
        raise FieldWordError(f"(w >> {self.shift}) & {mask:#x} is not a field")
