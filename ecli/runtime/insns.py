"""Read what eBPF code does without running it: the helpers it calls, with what.

Used to infer the type of events a program sends (the size passed to
`bpf_ringbuf_reserve` or `bpf_perf_event_output` picks the struct in BTF),
and by the hub's inspection to list the helpers a package uses.

The scan is a straight-line approximation: it remembers the last constant or
map reference loaded into each register, which is how compilers emit the
arguments of a helper call right before it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from ecli.errors import ArtifactError
from ecli.runtime.elf import ElfFile, Section

INSN = struct.Struct("<BBhi")
OP_CALL = 0x85
OP_MOV64_IMM = 0xB7
OP_MOV64_REG = 0xBF
OP_LD_IMM64 = 0x18
HELPER_CALL = 0  # src_reg of a helper call (1 calls a BPF function, 2 a kfunc)
_WRITES_DST = (0x01, 0x04, 0x07)  # instruction classes LDX, ALU, ALU64

HELPER_PERF_EVENT_OUTPUT = 25
HELPER_RINGBUF_OUTPUT = 130
HELPER_RINGBUF_RESERVE = 131
# helper id -> (register holding the map, register holding the size)
EVENT_HELPERS = {
    HELPER_PERF_EVENT_OUTPUT: (2, 5),
    HELPER_RINGBUF_OUTPUT: (1, 3),
    HELPER_RINGBUF_RESERVE: (1, 2),
}


class HelperCall(NamedTuple):
    helper: int
    section: str
    args: Mapping[int, int | str] = MappingProxyType({})  # register -> constant or map


def helper_calls(elf: ElfFile, section: Section) -> list[HelperCall]:
    """Every helper call in one code section, with the known argument values."""
    maps_at = {r.offset: r.symbol.name for r in elf.relocations(section)}
    return decode_calls(elf.section_data(section), maps_at, section.name,
                        f"{elf.where}: {section.name}")


def decode_calls(code: bytes, maps_at: dict[int, str], section_name: str,
                 where: str) -> list[HelperCall]:
    """The helper calls in raw instructions; `maps_at` names the maps loaded at offsets."""
    if len(code) % INSN.size:
        raise ArtifactError(f"{where}: program size {len(code)} is not a multiple of 8")
    registers: dict[int, int | str] = {}
    calls = []
    offset = 0
    while offset + INSN.size <= len(code):
        opcode, regs, _off, imm = INSN.unpack_from(code, offset)
        dst, src = regs & 0xF, regs >> 4
        if opcode == OP_LD_IMM64:
            if offset in maps_at:
                registers[dst] = maps_at[offset]
            else:
                registers.pop(dst, None)
            offset += 2 * INSN.size  # a 16-byte instruction
            continue
        if opcode == OP_MOV64_IMM:
            registers[dst] = imm
        elif opcode == OP_MOV64_REG:
            if src in registers:
                registers[dst] = registers[src]
            else:
                registers.pop(dst, None)
        elif opcode == OP_CALL:
            if src == HELPER_CALL:
                calls.append(HelperCall(imm, section_name,
                                        {r: registers[r] for r in range(1, 6) if r in registers}))
            for clobbered in range(0, 6):
                registers.pop(clobbered, None)
        elif opcode & 0x07 in _WRITES_DST:
            registers.pop(dst, None)
        offset += INSN.size
    return calls


def event_sizes(calls: list[HelperCall]) -> dict[str, set[int]]:
    """For each map that receives events, the constant sizes its senders use."""
    sizes: dict[str, set[int]] = {}
    for call in calls:
        registers = EVENT_HELPERS.get(call.helper)
        if registers is None:
            continue
        map_reg, size_reg = registers
        map_name, size = call.args.get(map_reg), call.args.get(size_reg)
        if isinstance(map_name, str) and isinstance(size, int) and size > 0:
            sizes.setdefault(map_name, set()).add(size)
    return sizes
