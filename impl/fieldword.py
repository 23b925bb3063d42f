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

from typing import Dict, Tuple

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
_BY_SHIFT: Dict[int, int] = {shift: width for shift, width in ATOMS}


class FieldWordError(ValueError):
    """An operation on a FieldWord that does not map to its fields."""


class FieldWord:
    def __init__(self, atoms: Dict[int, object]) -> None:
        self.atoms = atoms  # shift -> value (int or symbolic int / bool)

    @classmethod
    def of(cls, word: int) -> "FieldWord":
        return cls({shift: (word >> shift) & ((1 << width) - 1) for shift, width in ATOMS})

    @classmethod
    def from_fields(cls, **values: object) -> "FieldWord":
        """From field values (see layout.FIELDS); the bitwise fields are split into bits."""
        atoms: Dict[int, object] = {shift: 0 for shift, _ in ATOMS}
        for f in FIELDS:
            if f.name not in values:
                continue
            value = values[f.name]
            if f.name in _BITWISE:
                if isinstance(value, tuple):  # one value per bit
                    for i, bit in enumerate(value):
                        atoms[f.shift + i] = bit
                else:
                    for i in range(f.width):
                        atoms[f.shift + i] = (value >> i) & 1
            else:
                atoms[f.shift] = value
        return cls(atoms)

    def __int__(self) -> int:
        return sum(int(v) << shift for shift, v in self.atoms.items())

    def _bits(self, bits: int, value: int) -> "FieldWord":
        atoms = dict(self.atoms)
        for shift in range(bits.bit_length()):
            if (bits >> shift) & 1:
                if _BY_SHIFT.get(shift) != 1:
                    raise FieldWordError(f"bit {shift} is not a one-bit field")
                atoms[shift] = value
        return FieldWord(atoms)

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
        if not isinstance(delta, int) or isinstance(delta, bool) or type(delta) is not int:
            raise FieldWordError(f"cannot add {delta!r} to a word: only constants shifted onto fields")
        atoms = dict(self.atoms)
        if delta < 0:
            delta, sign = -delta, -sign
        rest = delta
        for shift, _ in reversed(ATOMS):
            part = rest >> shift
            if part:
                atoms[shift] = atoms[shift] + sign * part
                rest -= part << shift
        if rest:
            raise FieldWordError(f"{delta:#x} does not fall on field boundaries")
        return FieldWord(atoms)

    def __add__(self, delta: object) -> "FieldWord":
        return self._place(delta, 1)

    def __sub__(self, delta: object) -> "FieldWord":
        return self._place(delta, -1)

    def __eq__(self, other: object) -> object:
        if isinstance(other, FieldWord):
            # one symbolic condition, not one branch per field
            return sum(self.atoms[shift] != other.atoms[shift] for shift in self.atoms) == 0
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
        atoms = self.word.atoms
        if self.shift in atoms and _BY_SHIFT[self.shift] == width:
            return atoms[self.shift]
        if self.shift in atoms and _BY_SHIFT[self.shift] == 1:
            # several single-bit atoms read together (page->mapping & 3)
            value = 0
            for i in range(width):
                if _BY_SHIFT.get(self.shift + i) != 1:
                    raise FieldWordError(f"bits {self.shift}..{self.shift + width - 1} cross a field boundary")
                value = value + atoms[self.shift + i] * (1 << i)
            return value
        if self.shift in atoms and width < _BY_SHIFT[self.shift]:
            return atoms[self.shift] % (1 << width)
        raise FieldWordError(f"(w >> {self.shift}) & {mask:#x} is not a field")
