"""BTF: the type information that lets ecli understand an object with no help.

A leaf module: parses the `.BTF` section into plain Python types. It never
imports the loader. Decoding raw bytes (events, map values) by a type lives
in `decode`, built on these types.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from ecli.errors import ArtifactError

BTF_MAGIC = 0xEB9F
HEADER = struct.Struct("<HBBIIIII")  # magic, version, flags, hdr_len, type_off/len, str_off/len
MAX_TYPES = 1 << 20

KIND_INT, KIND_PTR, KIND_ARRAY, KIND_STRUCT, KIND_UNION, KIND_ENUM = 1, 2, 3, 4, 5, 6
KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT = 7, 8, 9, 10, 11
KIND_FUNC, KIND_FUNC_PROTO, KIND_VAR, KIND_DATASEC, KIND_FLOAT = 12, 13, 14, 15, 16
KIND_DECL_TAG, KIND_TYPE_TAG, KIND_ENUM64 = 17, 18, 19

INT_SIGNED, INT_CHAR, INT_BOOL = 1, 2, 4
_MODIFIERS = (KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG)


class Member(NamedTuple):
    name: str
    type_id: int
    bit_offset: int
    bitfield_size: int = 0


class BtfType(NamedTuple):
    id: int
    kind: int
    name: str
    size: int = 0  # INT, STRUCT, UNION, ENUM, DATASEC, FLOAT
    type_id: int = 0  # PTR, TYPEDEF, modifiers, VAR, FUNC
    int_encoding: int = 0
    int_bits: int = 0
    array_type: int = 0
    array_len: int = 0
    members: Sequence[Member] = ()
    enum_values: Mapping[int, str] = MappingProxyType({})
    enum_signed: bool = False
    # DATASEC: (var type id, offset, size)
    vars: Sequence[tuple[int, int, int]] = ()


class Btf:
    """All types of one BTF blob, by id (id 0 is void)."""

    def __init__(self, types: list[BtfType]) -> None:
        self.types = types

    @classmethod
    def parse(cls, data: bytes, where: str) -> Btf:
        try:
            return cls(_parse(data, where))
        except (struct.error, IndexError):
            raise ArtifactError(f"{where}: BTF is truncated or malformed") from None

    def __getitem__(self, type_id: int) -> BtfType:
        if not 0 <= type_id < len(self.types):
            raise ArtifactError(f"BTF type id {type_id} is out of range")
        return self.types[type_id]

    def strip(self, type_id: int) -> BtfType:
        """Follow typedefs and qualifiers to the type that has a layout."""
        seen = 0
        btf_type = self[type_id]
        while btf_type.kind in _MODIFIERS:
            btf_type = self[btf_type.type_id]
            seen += 1
            if seen > 64:
                raise ArtifactError(f"BTF type {type_id}: qualifier chain loops")
        return btf_type

    def size_of(self, type_id: int) -> int:
        btf_type = self.strip(type_id)
        if btf_type.kind == KIND_ARRAY:
            return btf_type.array_len * self.size_of(btf_type.array_type)
        if btf_type.kind == KIND_PTR:
            return 8
        return btf_type.size

    def find(self, name: str, kind: int) -> BtfType | None:
        return next((t for t in self.types if t.kind == kind and t.name == name), None)

    def datasec(self, name: str) -> BtfType | None:
        return self.find(name, KIND_DATASEC)

    def type_name(self, type_id: int) -> str:
        """A C-like spelling, for help texts and messages."""
        btf_type = self[type_id]
        if btf_type.kind in (KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG):
            return self.type_name(btf_type.type_id)
        if btf_type.kind == KIND_PTR:
            return self.type_name(btf_type.type_id) + " *"
        if btf_type.kind == KIND_ARRAY:
            return f"{self.type_name(btf_type.array_type)}[{btf_type.array_len}]"
        prefix = {KIND_STRUCT: "struct ", KIND_UNION: "union ", KIND_ENUM: "enum ",
                  KIND_ENUM64: "enum "}.get(btf_type.kind, "")
        return prefix + (btf_type.name or "(anon)") if btf_type.id else "void"


def _parse(data: bytes, where: str) -> list[BtfType]:
    if len(data) < HEADER.size:
        raise ArtifactError(f"{where}: not BTF (shorter than its header)")
    magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = HEADER.unpack_from(data)
    if magic != BTF_MAGIC or version != 1:
        raise ArtifactError(f"{where}: not BTF (bad magic or version)")
    start = hdr_len + type_off
    end = start + type_len
    strings = data[hdr_len + str_off : hdr_len + str_off + str_len]
    if end > len(data) or hdr_len + str_off + str_len > len(data):
        raise ArtifactError(f"{where}: BTF sections run past the end of the data")

    def name_at(offset: int) -> str:
        stop = strings.find(b"\0", offset)
        return strings[offset : stop if stop >= 0 else None].decode("utf-8", "replace")

    types = [BtfType(0, 0, "")]
    offset = start
    while offset < end:
        if len(types) > MAX_TYPES:
            raise ArtifactError(f"{where}: BTF has more than {MAX_TYPES} types")
        name_off, info, size_or_type = struct.unpack_from("<III", data, offset)
        offset += 12
        kind = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        kind_flag = info >> 31
        # the fields this kind has, beyond id, kind and name
        layout: dict[str, Any] = (
            {"size": size_or_type} if kind in (KIND_INT, KIND_STRUCT, KIND_UNION, KIND_ENUM,
                                               KIND_ENUM64, KIND_DATASEC, KIND_FLOAT)
            else {"type_id": size_or_type})
        if kind == KIND_INT:
            (encoding,) = struct.unpack_from("<I", data, offset)
            layout["int_encoding"] = (encoding >> 24) & 0xF
            layout["int_bits"] = encoding & 0xFF
            offset += 4
        elif kind == KIND_ARRAY:
            layout["array_type"], _index, layout["array_len"] = struct.unpack_from(
                "<III", data, offset)
            offset += 12
        elif kind in (KIND_STRUCT, KIND_UNION):
            members: list[Member] = []
            for _ in range(vlen):
                m_name, m_type, m_offset = struct.unpack_from("<III", data, offset)
                offset += 12
                bits = (m_offset >> 24) if kind_flag else 0
                bit_offset = (m_offset & 0xFFFFFF) if kind_flag else m_offset
                members.append(Member(name_at(m_name), m_type, bit_offset, bits))
            layout["members"] = members
        elif kind == KIND_ENUM:
            values: dict[int, str] = {}
            for _ in range(vlen):
                e_name, value = struct.unpack_from("<Ii", data, offset)
                offset += 8
                values[value] = name_at(e_name)
            layout["enum_values"] = values
            # Older compilers leave kind_flag unset even when a value is negative.
            layout["enum_signed"] = bool(kind_flag) or any(v < 0 for v in values)
        elif kind == KIND_ENUM64:
            values = {}
            for _ in range(vlen):
                e_name, low, high = struct.unpack_from("<III", data, offset)
                offset += 12
                values[(high << 32) | low] = name_at(e_name)
            layout["enum_values"] = values
            layout["enum_signed"] = bool(kind_flag)
        elif kind == KIND_FUNC_PROTO:
            offset += 8 * vlen
        elif kind in (KIND_VAR, KIND_DECL_TAG):
            offset += 4
        elif kind == KIND_DATASEC:
            variables: list[tuple[int, int, int]] = []
            for _ in range(vlen):
                variables.append(struct.unpack_from("<III", data, offset))
                offset += 12
            layout["vars"] = variables
        elif kind not in (KIND_PTR, KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST,
                          KIND_RESTRICT, KIND_FUNC, KIND_FLOAT, KIND_TYPE_TAG):
            raise ArtifactError(f"{where}: BTF type {len(types)} has unknown kind {kind}")
        types.append(BtfType(len(types), kind, name_at(name_off), **layout))
    return types
