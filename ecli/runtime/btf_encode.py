"""BTF written from struct declarations given as text: event types described outside C.

An eunomia-bpf package declares the structs its programs send as names and C
type spellings (`{"name": "comm", "type": "char[16]"}`). When the object's
own BTF lacks them, ecli decodes events with BTF built here from those
declarations: integers, chars, bools, pointers (shown as addresses) and
arrays of them, laid out as C lays them out. A declared size that the members
do not give is refused, naming the field: it would decode every event wrong.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from typing import NamedTuple

from ecli.errors import ArtifactError
from ecli.runtime import btf as b

_SIGNED, _CHAR, _BOOL = b.INT_SIGNED, b.INT_CHAR, b.INT_BOOL
# C spellings (spaces normalised) -> (size, BTF int encoding)
_INTS: dict[str, tuple[int, int]] = {
    "char": (1, _SIGNED | _CHAR), "signed char": (1, _SIGNED), "unsigned char": (1, 0),
    "_Bool": (1, _BOOL), "bool": (1, _BOOL),
    "short": (2, _SIGNED), "short int": (2, _SIGNED), "signed short": (2, _SIGNED),
    "unsigned short": (2, 0), "unsigned short int": (2, 0),
    "int": (4, _SIGNED), "signed": (4, _SIGNED), "signed int": (4, _SIGNED),
    "unsigned": (4, 0), "unsigned int": (4, 0),
    "long": (8, _SIGNED), "long int": (8, _SIGNED), "signed long": (8, _SIGNED),
    "unsigned long": (8, 0), "unsigned long int": (8, 0),
    "long long": (8, _SIGNED), "long long int": (8, _SIGNED), "signed long long": (8, _SIGNED),
    "unsigned long long": (8, 0), "unsigned long long int": (8, 0),
    "pid_t": (4, _SIGNED), "uid_t": (4, 0), "gid_t": (4, 0), "size_t": (8, 0),
    "ssize_t": (8, _SIGNED),
    **{f"{prefix}{sign}{bits}": (bits // 8, _SIGNED if sign == "s" else 0)
       for prefix in ("", "__") for sign in ("u", "s") for bits in (8, 16, 32, 64)},
    **{f"__{order}{bits}": (bits // 8, 0) for order in ("be", "le") for bits in (16, 32, 64)},
    "__int128": (16, _SIGNED), "__int128_t": (16, _SIGNED), "__s128": (16, _SIGNED),
    "unsigned __int128": (16, 0), "__uint128_t": (16, 0), "__u128": (16, 0),
}
_ENUM = re.compile(r"^enum \w+$")  # a C enum: an int
_ARRAY = re.compile(r"^(.*?)\s*\[\s*(\d+)\s*\]$")
_QUALIFIERS = re.compile(r"\b(const|volatile|restrict)\b")
POINTER = "unsigned long"  # what a pointer member decodes as: an address


class StructDecl(NamedTuple):
    name: str
    size: int
    members: tuple[tuple[str, str], ...]  # (name, C type spelling)
    field: str  # where the declaration is, for errors


def encode(structs: Sequence[StructDecl], where: str) -> bytes:
    """One BTF blob holding `structs` and the types of their members."""
    writer = _Writer()
    for decl in structs:
        writer.struct(decl, where)
    return writer.blob()


class _Writer:
    def __init__(self) -> None:
        self.strings = bytearray(b"\0")
        self.names: dict[str, int] = {"": 0}
        self.types: list[bytes] = []
        self.ints: dict[str, tuple[int, int, int]] = {}  # spelling -> (id, size, align)
        self.index_type = 0

    def _name(self, text: str) -> int:
        if text not in self.names:
            self.names[text] = len(self.strings)
            self.strings += text.encode() + b"\0"
        return self.names[text]

    def _add(self, record: bytes) -> int:
        self.types.append(record)
        return len(self.types)

    def _int(self, spelling: str) -> tuple[int, int, int]:
        if spelling not in self.ints:
            size, encoding = _INTS[spelling]
            type_id = self._add(struct.pack("<IIII", self._name(spelling), b.KIND_INT << 24,
                                            size, (encoding << 24) | size * 8))
            self.ints[spelling] = (type_id, size, size)
        return self.ints[spelling]

    def _type(self, spelling: str, where: str) -> tuple[int, int, int]:
        """(type id, size, alignment) of one member's C type."""
        text = " ".join(_QUALIFIERS.sub(" ", spelling).split())
        array = _ARRAY.match(text)
        if array:
            element, size, align = self._type(array.group(1), where)
            count = int(array.group(2))
            if not 0 < count <= 1 << 16:
                raise ArtifactError(f"{where}: array length {count} is out of range")
            index = self._int("unsigned int")[0]
            type_id = self._add(struct.pack("<IIIIII", 0, b.KIND_ARRAY << 24, 0, element,
                                            index, count))
            return type_id, size * count, align
        if text.endswith("*"):
            return self._int(POINTER)
        if _ENUM.match(text):
            return self._int("int")
        if text not in _INTS:
            raise ArtifactError(f"{where}: type {spelling!r} is not one ecli can lay out "
                                "(integers, enums, char, bool, pointers and arrays of them)")
        return self._int(text)

    def struct(self, decl: StructDecl, where: str) -> None:
        members, offset, widest = [], 0, 1
        for index, (name, spelling) in enumerate(decl.members):
            type_id, size, align = self._type(spelling, f"{where}: {decl.field}.members"
                                                        f"[{index}].type")
            offset = -(-offset // align) * align
            members.append(struct.pack("<III", self._name(name), type_id, offset * 8))
            offset += size
            widest = max(widest, align)
        laid_out = -(-offset // widest) * widest
        if laid_out != decl.size:
            raise ArtifactError(f"{where}: {decl.field}.size: {decl.size} bytes, but its "
                                f"members lay out as {laid_out} bytes")
        self._add(struct.pack("<III", self._name(decl.name),
                              (b.KIND_STRUCT << 24) | len(members), decl.size)
                  + b"".join(members))

    def blob(self) -> bytes:
        types = b"".join(self.types)
        header = b.HEADER.pack(b.BTF_MAGIC, 1, 0, b.HEADER.size, 0, len(types), len(types),
                               len(self.strings))
        return header + types + bytes(self.strings)
