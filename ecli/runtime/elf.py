"""Just enough of ELF64 to read an eBPF object: sections and symbols.

Objects come from strangers, so every offset and size is bounds-checked and
every failure is an ArtifactError naming the file.
"""

from __future__ import annotations

import mmap
import struct
from typing import NamedTuple

from ecli.errors import ArtifactError

EM_BPF = 247
ELF_MAGIC = b"\x7fELF"
SHT_SYMTAB = 2
SHT_NOBITS = 8
SHT_REL = 9
SHT_DYNSYM = 11
_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")
_REL = struct.Struct("<QQ")
_PROGRAM_HEADER = struct.Struct("<IIQQQQQQ")
PT_LOAD = 1
STT_FUNC = 2


class Section(NamedTuple):
    index: int
    name: str
    type: int
    offset: int
    size: int


class Symbol(NamedTuple):
    name: str
    section_index: int
    value: int
    size: int


class Segment(NamedTuple):
    """A PT_LOAD program header: where file bytes land in memory."""

    offset: int
    vaddr: int
    filesz: int


class Relocation(NamedTuple):
    offset: int  # byte offset in the section it applies to
    symbol: Symbol


def is_elf(path: str) -> bool:
    """Whether the file at `path` starts as an ELF file does (False when it cannot be read)."""
    try:
        with open(path, "rb") as stream:
            return stream.read(len(ELF_MAGIC)) == ELF_MAGIC
    except OSError:
        return False


class ElfFile:
    """A parsed ELF file: an eBPF object, or (with `machine=None`) any 64-bit binary.

    `data` may be bytes or an mmap: large binaries are read only where needed.
    """

    def __init__(self, data: bytes | mmap.mmap, where: str, machine: int | None = EM_BPF
                 ) -> None:
        self.data = data
        self.where = where
        if len(data) < _HEADER.size or data[:4] != ELF_MAGIC:
            raise ArtifactError(f"{where}: not an ELF file")
        ident = data[:16]
        if ident[4] != 2 or ident[5] != 1:
            raise ArtifactError(f"{where}: not a 64-bit little-endian ELF object")
        fields = _HEADER.unpack_from(data)
        actual, shoff, shentsize, shnum, shstrndx = (
            fields[2], fields[6], fields[11], fields[12], fields[13])
        if machine is not None and actual != machine:
            raise ArtifactError(f"{where}: ELF machine {actual} is not eBPF (247)",
                                hint="compile with clang -target bpf")
        self._phoff, self._phnum = fields[5], fields[10]
        if shentsize != _SECTION.size or shoff + shnum * shentsize > len(data):
            raise ArtifactError(f"{where}: ELF section table is truncated or malformed")
        raw = [_SECTION.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
        if shstrndx >= shnum:
            raise ArtifactError(f"{where}: ELF section name table index is out of range")
        names = self._slice(raw[shstrndx][4], raw[shstrndx][5])
        self.sections = [
            Section(i, _cstring(names, s[0], where), s[1], s[4], s[5]) for i, s in enumerate(raw)
        ]
        self._by_name = {s.name: s for s in self.sections}
        self._links = [s[6] for s in raw]
        self._infos = [s[7] for s in raw]

    def section(self, name: str) -> Section | None:
        return self._by_name.get(name)

    def section_data(self, section: Section) -> bytes:
        if section.type == SHT_NOBITS:
            return bytes(section.size)
        return self._slice(section.offset, section.size)

    def segments(self) -> list[Segment]:
        found = []
        for i in range(self._phnum):
            offset = self._phoff + i * _PROGRAM_HEADER.size
            if offset + _PROGRAM_HEADER.size > len(self.data):
                break
            kind, _flags, p_offset, vaddr, _paddr, filesz, _memsz, _align = (
                _PROGRAM_HEADER.unpack_from(self.data, offset))
            if kind == PT_LOAD:
                found.append(Segment(p_offset, vaddr, filesz))
        return found

    def functions(self) -> list[Symbol]:
        """Function symbols from .symtab, or .dynsym when the binary is stripped."""
        for kind in (SHT_SYMTAB, SHT_DYNSYM):
            table = next((s for s in self.sections if s.type == kind), None)
            if table is not None:
                found = [s for s, info in self._symbols_of(table) if info & 0xF == STT_FUNC
                         and s.value]
                if found:
                    return found
        return []

    def symbols(self) -> list[Symbol]:
        table = next((s for s in self.sections if s.type == SHT_SYMTAB), None)
        if table is None:
            return []
        return [symbol for symbol, _info in self._symbols_of(table)]

    def _symbols_of(self, table: Section) -> list[tuple[Symbol, int]]:
        link = self._links[table.index]
        if link >= len(self.sections):
            raise ArtifactError(f"{self.where}: ELF symbol table has a bad string table link")
        strings = self.section_data(self.sections[link])
        data = self.section_data(table)
        return [
            (Symbol(_cstring(strings, name, self.where), shndx, value, size), info)
            for name, info, _other, shndx, value, size in (
                _SYMBOL.unpack_from(data, off)
                for off in range(0, len(data) - _SYMBOL.size + 1, _SYMBOL.size)
            )
        ]

    def relocations(self, section: Section) -> list[Relocation]:
        """The relocations that apply to `section` (map references in eBPF code)."""
        symbols: list[Symbol] | None = None
        found = []
        for rel in self.sections:
            if rel.type != SHT_REL or self._infos[rel.index] != section.index:
                continue
            symbols = symbols if symbols is not None else self.symbols()
            data = self.section_data(rel)
            for off in range(0, len(data) - _REL.size + 1, _REL.size):
                offset, info = _REL.unpack_from(data, off)
                index = info >> 32
                if index >= len(symbols):
                    raise ArtifactError(f"{self.where}: relocation names symbol {index}, "
                                        "which does not exist")
                found.append(Relocation(offset, symbols[index]))
        return found

    def _slice(self, offset: int, size: int) -> bytes:
        if offset + size > len(self.data):
            raise ArtifactError(f"{self.where}: ELF section runs past the end of the file")
        return self.data[offset : offset + size]


def _cstring(table: bytes, offset: int, where: str) -> str:
    if offset >= len(table) and offset != 0:
        raise ArtifactError(f"{where}: string offset {offset} is out of range")
    end = table.find(b"\0", offset)
    return table[offset : end if end >= 0 else len(table)].decode("utf-8", "replace")
