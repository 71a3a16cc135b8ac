"""The eBPF objects a wasm-bpf module carries, found in its bytes for permissions.

wasm-bpf modules embed their object as a byte array (a skeleton or an `xxd -i`
header), which the linker places whole in a data segment. An ELF header for
machine 247 (eBPF), 64-bit, whose section table and sections fit in what
follows, is taken as one object; its length is where its last section or the
section table ends. A module that builds, downloads or compresses its object
shows none here: `ecli run` then vets the object when the module loads it
(`hostabi.BpfHost.vet`), and the hub lists the module without permissions.
Pure Python: no wasm runtime, no C library.
"""

from __future__ import annotations

import struct
from pathlib import Path

ELF_HEAD = b"\x7fELF\x02"  # 64-bit; the byte order follows
EM_BPF = 247
SHT_NOBITS = 8
MAX_OBJECTS = 16


def find_objects(module: bytes) -> list[bytes]:
    """The eBPF objects embedded in `module`, in order, each whole."""
    found: list[bytes] = []
    start = module.find(ELF_HEAD)
    while start >= 0 and len(found) < MAX_OBJECTS:
        size = _object_size(module, start)
        if size:
            found.append(module[start : start + size])
            start = module.find(ELF_HEAD, start + size)
        else:
            start = module.find(ELF_HEAD, start + 1)
    return found


def write_objects(module: Path, folder: Path) -> list[Path]:
    """The embedded objects written as `folder/<module>.N.bpf.o`, for the analysis."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, data in enumerate(find_objects(module.read_bytes())):
        path = folder / f"{module.stem}.{number}.bpf.o"
        path.write_bytes(data)
        paths.append(path)
    return paths


def _object_size(data: bytes, start: int) -> int:
    """The length of the ELF object at `start`, or 0 when it is not a whole eBPF one."""
    if len(data) - start < 64 or data[start + 5] not in (1, 2):
        return 0
    order = "<" if data[start + 5] == 1 else ">"
    machine, = struct.unpack_from(order + "H", data, start + 18)
    if machine != EM_BPF:
        return 0
    shoff, = struct.unpack_from(order + "Q", data, start + 0x28)
    shentsize, shnum = struct.unpack_from(order + "HH", data, start + 0x3A)
    end = shoff + shentsize * shnum
    if shentsize != 64 or shnum == 0 or start + end > len(data):
        return 0
    for index in range(shnum):
        kind, = struct.unpack_from(order + "I", data, start + shoff + 64 * index + 4)
        offset, size = struct.unpack_from(order + "QQ", data, start + shoff + 64 * index + 24)
        if kind != SHT_NOBITS:
            end = max(end, offset + size)
    return end if start + end <= len(data) else 0
