"""What an eBPF object contains, read from its ELF and BTF without the kernel.

`ObjectSpec.from_file` is the first step of every run (and of the hub's
inspection): it finds the programs and their attach sections, the maps with
their key and value types, and the read-only globals that become options.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import NamedTuple

from ecli.errors import ArtifactError, UsageError
from ecli.files import read_limited
from ecli.kernel.sections import Section as SectionDef
from ecli.kernel.sections import lookup
from ecli.kernel.types import MAP_PERF_EVENT_ARRAY, MAP_RINGBUF, map_type_name
from ecli.runtime import btf as b
from ecli.runtime.elf import ElfFile, Section
from ecli.runtime.insns import HelperCall, event_sizes, helper_calls

MAX_OBJECT_BYTES = 64 << 20
LOST_SUFFIX = "__lost"  # ECLI_RINGBUF's counter of events the ring buffer had no room for
_NOT_PROGRAMS = ("license", "version", "maps")


class MapSpec(NamedTuple):
    name: str
    type: int
    max_entries: int
    key_type: int | None  # BTF type ids, when the definition names them
    value_type: int | None
    key_size: int = 0  # bytes: __uint(key_size, N), else the size of the key type
    value_size: int = 0

    @property
    def type_name(self) -> str:
        return map_type_name(self.type) or str(self.type)


class GlobalSpec(NamedTuple):
    """A global variable: in .rodata a load-time option, in .bss live state."""

    name: str
    type_id: int
    offset: int
    size: int
    default: bytes


class ObjectSpec(NamedTuple):
    path: Path
    btf: b.Btf
    programs: tuple[str, ...]  # attach section names, e.g. tracepoint/syscalls/sys_enter_openat
    maps: tuple[MapSpec, ...]
    rodata: tuple[GlobalSpec, ...]
    bss: tuple[GlobalSpec, ...]
    license: str
    calls: tuple[HelperCall, ...] = ()
    uses_core: bool = False  # has CO-RE relocations: needs the running kernel's BTF
    has_btf_ext: bool = False  # has a .BTF.ext section (line info, relocations)

    @classmethod
    def from_file(cls, path: Path) -> ObjectSpec:
        where = str(path)
        data = read_limited(path, MAX_OBJECT_BYTES, ArtifactError, where)
        elf = ElfFile(data, where)
        btf_section = elf.section(".BTF")
        if btf_section is None:
            raise ArtifactError(f"{where}: the object has no BTF",
                                hint="compile it with clang -g so ecli can read its types")
        spec = b.Btf.parse(elf.section_data(btf_section), where)
        license_section = elf.section("license")
        programs = _program_sections(elf)
        return cls(
            path=path,
            btf=spec,
            programs=tuple(section.name for section in programs),
            maps=_maps(spec, where),
            rodata=_globals(elf, spec, ".rodata"),
            bss=_globals(elf, spec, ".bss"),
            calls=tuple(call for section in _code_sections(elf, programs)
                        for call in helper_calls(elf, section)),
            uses_core=_has_core_relocations(elf),
            has_btf_ext=elf.section(".BTF.ext") is not None,
            license=(elf.section_data(license_section).split(b"\0")[0].decode("ascii", "replace")
                     if license_section else ""),
        )

    def section_defs(self) -> tuple[SectionDef | None, ...]:
        """The catalogue's entry for each program's section (None: libbpf rejects the name)."""
        return tuple(lookup(name) for name in self.programs)

    def event_maps(self) -> list[MapSpec]:
        return [m for m in self.maps if m.type in (MAP_RINGBUF, MAP_PERF_EVENT_ARRAY)]

    def lost_counter(self, map_name: str) -> GlobalSpec | None:
        return next((g for g in self.bss if g.name == map_name + LOST_SUFFIX), None)

    def event_sizes(self, event_map: MapSpec) -> set[int]:
        """The constant sizes the programs send to `event_map` (empty: unknown)."""
        return event_sizes(list(self.calls)).get(event_map.name, set())

    def event_type(self, event_map: MapSpec, named: str | None = None) -> int | None:
        """The BTF type of the events `event_map` carries, or None when unknown.

        In order: a struct given by name (`--event-type`); the map's own value
        type (`__type(value, struct event)`); the one struct whose size the
        programs pass when they send to this map; None (print raw bytes).
        """
        if named:
            found = self.btf.find(named, b.KIND_STRUCT) or self.btf.find(named, b.KIND_TYPEDEF)
            if found is None:
                raise UsageError(
                    f"--event-type: no struct or typedef {named!r} in the object's BTF")
            return found.id
        if event_map.value_type is not None:
            value = self.btf.strip(event_map.value_type)
            if value.kind in (b.KIND_STRUCT, b.KIND_UNION):
                return event_map.value_type
        sizes = self.event_sizes(event_map)
        if len(sizes) != 1:
            return None
        (size,) = sizes
        candidates = [t for t in self.btf.types
                      if t.kind == b.KIND_STRUCT and t.size == size and t.name]
        if len(candidates) > 1:  # prefer the conventional names
            preferred = [t for t in candidates if t.name.endswith(("event", "event_t", "data_t"))]
            candidates = preferred or candidates
        return candidates[0].id if len(candidates) == 1 else None


def _code_sections(elf: ElfFile, programs: list[Section]) -> list[Section]:
    """The programs, and .text where their shared subprograms live."""
    text = elf.section(".text")
    return [*programs, text] if text is not None and text.size else programs


def _has_core_relocations(elf: ElfFile) -> bool:
    """Whether .BTF.ext carries CO-RE relocation records (its header's core_relo_len)."""
    section = elf.section(".BTF.ext")
    if section is None:
        return False
    data = elf.section_data(section)
    if len(data) < 32:
        return False
    header_len, core_relo_len = struct.unpack_from("<I", data, 4)[0], struct.unpack_from(
        "<I", data, 28)[0]
    return header_len >= 32 and core_relo_len > 4  # more than the record-size word


def _program_sections(elf: ElfFile) -> list[Section]:
    return [
        section for section in elf.sections
        if section.name and not section.name.startswith(".")
        and section.name not in _NOT_PROGRAMS and section.size
    ]


def _maps(spec: b.Btf, where: str) -> tuple[MapSpec, ...]:
    datasec = spec.datasec(".maps")
    if datasec is None:
        return ()
    maps = []
    for var_id, _offset, _size in datasec.vars:
        var = spec[var_id]
        definition = spec.strip(var.type_id)
        if definition.kind != b.KIND_STRUCT:
            raise ArtifactError(f"{where}: map {var.name!r} is not a BTF map definition")
        fields: dict[str, int] = {}
        types: dict[str, int] = {}
        for member in definition.members:
            pointer = spec.strip(member.type_id)
            if pointer.kind != b.KIND_PTR:
                continue
            target = spec.strip(pointer.type_id)
            if member.name in ("key", "value"):
                types[member.name] = pointer.type_id
            elif target.kind == b.KIND_ARRAY:  # __uint(name, N) is int (*name)[N]
                fields[member.name] = target.array_len
        key, value = types.get("key"), types.get("value")
        maps.append(MapSpec(
            var.name, fields.get("type", 0), fields.get("max_entries", 0), key, value,
            fields.get("key_size") or (spec.size_of(key) if key is not None else 0),
            fields.get("value_size") or (spec.size_of(value) if value is not None else 0)))
    return tuple(maps)


def _globals(elf: ElfFile, spec: b.Btf, name: str) -> tuple[GlobalSpec, ...]:
    section = elf.section(name)
    datasec = spec.datasec(name)
    if section is None or datasec is None:
        return ()
    data = elf.section_data(section)
    offsets = {s.name: s.value for s in elf.symbols() if s.section_index == section.index}
    globals_ = []
    for var_id, _offset, size in datasec.vars:
        var = spec[var_id]
        offset = offsets.get(var.name)
        if offset is None or offset + size > len(data):
            continue
        globals_.append(GlobalSpec(var.name, var.type_id, offset, size,
                                   data[offset : offset + size]))
    return tuple(globals_)
