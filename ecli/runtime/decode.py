"""Turn raw bytes into values by their BTF type: events, map keys and values.

A struct compiles once into a flat list of leaf fields (nested structs give
dotted names, a union every member, as bpftool shows it) and, where the leaves
do not overlap, one `struct.Struct` that unpacks them all in a single call:
decoding is the hot path of `ecli run`. Arrays of structs, unions or arrays
decode to one list-valued column (a struct element as a dict of its fields).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from itertools import repeat
from typing import Any, NamedTuple, Protocol

from ecli.errors import ArtifactError
from ecli.runtime import btf as b

_INT_FORMATS = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
                (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}
MAX_DEPTH = 16


class Batch(Protocol):
    """Samples in one buffer (`ecli.runtime.ringbuf.Samples`): data[offsets[i]:][:sizes[i]]."""

    data: memoryview | bytes
    offsets: list[int]
    sizes: list[int]


Columns = list[list[Any]]  # a batch decoded: one list of values per column


def _columns(rows: list[Any], width: int) -> Columns:
    """Rows turned into columns (one C-level pass)."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


class Leaf(NamedTuple):
    name: str
    offset: int
    size: int
    fmt: str  # struct format of this leaf, e.g. "I", "16s", "4I"
    convert: Callable[[Any], Any] | None  # applied to the unpacked item(s)
    items: int = 1  # how many items `fmt` unpacks into
    bit_offset: int = 0
    bit_size: int = 0


class StructDecoder:
    """Decodes one BTF type into a flat tuple of values, one per column."""

    def __init__(self, spec: b.Btf, type_id: int) -> None:
        self.size = spec.size_of(type_id)
        self.leaves = _leaves(spec, type_id, "", 0, 0)
        if not self.leaves:
            raise ArtifactError(f"type {spec.type_name(type_id)} has no fields to decode")
        self.columns = [leaf.name or "value" for leaf in self.leaves]
        self.widths = [_display_width(leaf) for leaf in self.leaves]
        # What type each column's values have, when it is always the same (int or str),
        # so that printers can pick their formatting once per column.
        self.types = [_value_type(leaf) for leaf in self.leaves]
        self._struct = _packed_struct(self.leaves)
        # The common case: one item per leaf, so only the converted columns need work.
        self._flat = all(leaf.items == 1 for leaf in self.leaves)
        self._converters = [(i, leaf.convert) for i, leaf in enumerate(self.leaves)
                            if leaf.convert]

    def decode(self, data: bytes | memoryview) -> list[Any]:
        if len(data) < self.size:  # a short sample: decode what is there, zeros after
            data = bytes(data).ljust(self.size, b"\0")
        if self._struct is not None and self._flat:
            values = list(self._struct.unpack_from(data))
            for i, convert in self._converters:
                values[i] = convert(values[i])
            return values
        if self._struct is not None:
            raw = self._struct.unpack_from(data)
            values, i = [], 0
            for leaf in self.leaves:
                item = raw[i] if leaf.items == 1 else raw[i : i + leaf.items]
                i += leaf.items
                values.append(leaf.convert(item) if leaf.convert else item)
            return values
        return [_decode_leaf(leaf, data) for leaf in self.leaves]

    def unpacker(self) -> Callable[[bytes], tuple[Any, ...]] | None:
        """Every column in one C call, when each is a plain number (one item, nothing to
        convert): a metric's labels from 10,000 keys a scrape, without `decode`'s list."""
        if self._struct is None or not self._flat or self._converters:
            return None
        return self._struct.unpack_from

    def column_reader(self, index: int) -> Callable[[bytes, int], Any]:
        """Reads one column alone of a value that starts at a given offset of the data:
        what a map's largest entries are chosen by, without decoding the rest."""
        leaf = self.leaves[index]
        if leaf.bit_size or leaf.items != 1:
            return lambda data, base: _decode_leaf(leaf, data[base : base + self.size])
        unpack, at, convert = struct.Struct("<" + leaf.fmt).unpack_from, leaf.offset, leaf.convert
        if convert is None:
            return lambda data, base: unpack(data, base + at)[0]
        return lambda data, base: convert(unpack(data, base + at)[0])

    def decode_batch(self, batch: Batch) -> Columns:
        """A batch of samples as columns: one `unpack_from` per sample, each converter
        mapped over its whole column."""
        if self._struct is None or not self._flat or min(batch.sizes) < self.size:
            data = batch.data
            return _columns([self.decode(data[o : o + n])
                             for o, n in zip(batch.offsets, batch.sizes, strict=True)],
                            len(self.columns))
        rows = list(map(self._struct.unpack_from, repeat(batch.data), batch.offsets))
        columns = _columns(rows, len(self.columns))
        for i, convert in self._converters:
            columns[i] = list(map(convert, columns[i]))
        return columns


def _value_type(leaf: Leaf) -> type | None:
    if leaf.convert is _c_string:
        return str
    integer = leaf.bit_size or (leaf.fmt in _INT_WIDTHS and leaf.fmt != "?")
    if leaf.convert is None and leaf.items == 1 and integer:
        return int
    return None


def _display_width(leaf: Leaf) -> int:
    """A column width that fits typical values, so tables line up from the first row."""
    if leaf.convert is _c_string:
        return min(leaf.size - 1, 24)
    if leaf.items == 1 and leaf.fmt in _INT_WIDTHS:
        return _INT_WIDTHS[leaf.fmt]
    return 8


_INT_WIDTHS = {"B": 3, "b": 4, "H": 5, "h": 6, "I": 7, "i": 7, "Q": 10, "q": 10, "?": 5}


def _decode_leaf(leaf: Leaf, data: bytes | memoryview) -> Any:
    if leaf.bit_size:
        word = int.from_bytes(data[leaf.offset : leaf.offset + leaf.size], "little")
        bits = (word >> leaf.bit_offset) & ((1 << leaf.bit_size) - 1)
        return leaf.convert(bits) if leaf.convert else bits
    raw = struct.unpack_from("<" + leaf.fmt, data, leaf.offset)
    item = raw[0] if leaf.items == 1 else raw
    return leaf.convert(item) if leaf.convert else item


def _packed_struct(leaves: list[Leaf]) -> struct.Struct | None:
    fmt, position = ["<"], 0
    for leaf in leaves:
        if leaf.bit_size or leaf.offset < position:
            return None
        if leaf.offset > position:
            fmt.append(f"{leaf.offset - position}x")
        fmt.append(leaf.fmt)
        position = leaf.offset + leaf.size
    return struct.Struct("".join(fmt))


def _leaves(spec: b.Btf, type_id: int, name: str, offset: int, depth: int) -> list[Leaf]:
    if depth > MAX_DEPTH:
        raise ArtifactError(f"type nesting deeper than {MAX_DEPTH} at {name!r}")
    t = spec.strip(type_id)
    if t.kind in (b.KIND_STRUCT, b.KIND_UNION):
        leaves: list[Leaf] = []
        for member in t.members:
            child = f"{name}.{member.name}" if name and member.name else (member.name or name)
            if member.bitfield_size:
                byte = member.bit_offset // 8
                leaves.append(Leaf(child, offset + byte, 8 if byte + 8 <= t.size else t.size - byte,
                                   "", _bitfield_convert(spec, member), 1, member.bit_offset % 8,
                                   member.bitfield_size))
                continue
            leaves += _leaves(spec, member.type_id, child, offset + member.bit_offset // 8,
                              depth + 1)
        return leaves
    if t.kind == b.KIND_ARRAY:
        return [_array_leaf(spec, t, name, offset, depth)]
    return [_scalar_leaf(spec, t, name, offset)]


def _bitfield_convert(spec: b.Btf, member: b.Member) -> Callable[[int], Any] | None:
    """A signed bitfield's sign, an enum bitfield's names."""
    t = spec.strip(member.type_id)
    if t.kind in (b.KIND_ENUM, b.KIND_ENUM64):
        return lambda v, names=t.enum_values: names.get(v, v)
    if t.kind == b.KIND_INT and t.int_encoding & b.INT_SIGNED:
        sign = 1 << (member.bitfield_size - 1)
        return lambda v: v - (sign << 1) if v & sign else v
    return None


def _scalar_leaf(spec: b.Btf, t: b.BtfType, name: str, offset: int) -> Leaf:
    if t.kind == b.KIND_INT:
        if t.int_encoding & b.INT_BOOL:
            return Leaf(name, offset, t.size, "?", None)
        signed = bool(t.int_encoding & b.INT_SIGNED)
        fmt = _INT_FORMATS.get((t.size, signed))
        if fmt:
            return Leaf(name, offset, t.size, fmt, None)
        return Leaf(name, offset, t.size, f"{t.size}s",
                    lambda raw, s=signed: int.from_bytes(raw, "little", signed=s))
    if t.kind in (b.KIND_ENUM, b.KIND_ENUM64):
        fmt = _INT_FORMATS[(t.size, t.enum_signed)]
        names = t.enum_values
        return Leaf(name, offset, t.size, fmt, lambda v, n=names: n.get(v, v))
    if t.kind == b.KIND_PTR:
        return Leaf(name, offset, 8, "Q", hex)
    if t.kind == b.KIND_FLOAT:
        return Leaf(name, offset, t.size, {4: "f", 8: "d"}.get(t.size, f"{t.size}s"), None)
    raise ArtifactError(f"field {name!r}: cannot decode {spec.type_name(t.id)}")


def _array_leaf(spec: b.Btf, t: b.BtfType, name: str, offset: int, depth: int) -> Leaf:
    element = spec.strip(t.array_type)
    size = spec.size_of(t.id)
    if element.kind == b.KIND_INT and element.size == 1 and (
        element.int_encoding & b.INT_CHAR or element.name == "char"
    ):
        return Leaf(name, offset, size, f"{size}s", _c_string)
    if element.kind == b.KIND_INT and element.size == 1:
        return Leaf(name, offset, size, f"{size}s", bytes.hex)
    if element.kind in (b.KIND_STRUCT, b.KIND_UNION, b.KIND_ARRAY):
        if not t.array_len:
            return Leaf(name, offset, 0, "0s", bytes.hex)
        return Leaf(name, offset, size, f"{size}s",
                    _element_list(_leaves(spec, element.id, "", 0, depth + 1),
                                  spec.size_of(element.id), t.array_len,
                                  element.kind == b.KIND_ARRAY))
    scalar = _scalar_leaf(spec, element, name, 0)
    if len(scalar.fmt) == 1 and t.array_len:
        convert = scalar.convert
        return Leaf(name, offset, size, f"{t.array_len}{scalar.fmt}",
                    (lambda raw: [convert(v) for v in raw]) if convert else list, t.array_len)
    return Leaf(name, offset, size, f"{size}s", bytes.hex)


def _element_list(leaves: list[Leaf], step: int, count: int,
                  bare: bool) -> Callable[[bytes], list[Any]]:
    """Decodes an array of structs (each a dict of its fields) or of arrays (each a value)."""
    def convert(raw: bytes) -> list[Any]:
        chunks = [raw[i * step : (i + 1) * step] for i in range(count)]
        if bare:
            return [_decode_leaf(leaves[0], chunk) for chunk in chunks]
        return [{leaf.name or "value": _decode_leaf(leaf, chunk) for leaf in leaves}
                for chunk in chunks]
    return convert


def _c_string(raw: bytes) -> str:
    end = raw.find(b"\0")
    return (raw if end < 0 else raw[:end]).decode("utf-8", "replace")


class RawDecoder:
    """For events whose type is unknown: their size, bytes in hex, and readable strings."""

    def __init__(self) -> None:
        self.columns = ["size", "hex", "strings"]
        self.widths = [5, 32, 0]
        self.types: list[type | None] = [int, str, str]

    def decode(self, data: bytes | memoryview) -> list[Any]:
        raw = bytes(data)
        strings = [s.decode() for s in _PRINTABLE_RUN.findall(raw)]
        shown = raw[:RAW_HEX_BYTES].hex() + ("..." if len(raw) > RAW_HEX_BYTES else "")
        return [len(raw), shown, " ".join(strings)]

    def decode_batch(self, batch: Batch) -> Columns:
        data = batch.data
        return _columns([self.decode(data[o : o + n])
                         for o, n in zip(batch.offsets, batch.sizes, strict=True)], 3)


RAW_HEX_BYTES = 64
_PRINTABLE_RUN = re.compile(rb"[\x20-\x7e]{4,}")


class BytesDecoder:
    """For map keys and values without a BTF type: their bytes in hex, as one column."""

    def __init__(self, size: int, column: str) -> None:
        self.size = size
        self.columns = [column]
        self.widths = [min(2 * size, 32)]

    def decode(self, data: bytes | memoryview) -> list[Any]:
        return [bytes(data[: self.size]).hex()]
