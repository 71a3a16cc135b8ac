"""Names for code addresses: kernel ones from /proc/kallsyms, user ones from ELF.

Used to print the stacks a profiler collects. A user address is placed in its
mapping from /proc/PID/maps, turned into a file offset, then into the
binary's own virtual address through its PT_LOAD segments, and looked up in
its function symbols. Anything that cannot be resolved (a process gone, a
stripped binary, JIT code) is shown as its address, never an error.
"""

from __future__ import annotations

import bisect
import contextlib
import mmap
from dataclasses import dataclass
from pathlib import Path

from ecli.errors import ArtifactError
from ecli.runtime.elf import ElfFile, Segment


class KernelSymbols:
    def __init__(self, kallsyms: str = "/proc/kallsyms") -> None:
        entries = []
        with contextlib.suppress(OSError), open(kallsyms) as source:
            for line in source:
                address, kind, name = line.split()[:3]
                if kind in "tTwW" and int(address, 16):
                    entries.append((int(address, 16), name))
        entries.sort()
        self._addresses = [a for a, _ in entries]
        self._names = [n for _, n in entries]

    def name(self, address: int) -> str:
        i = bisect.bisect_right(self._addresses, address) - 1
        if i < 0:
            return f"0x{address:x}"
        return f"{self._names[i]}+0x{address - self._addresses[i]:x}"


@dataclass(frozen=True)
class _Mapping:
    start: int
    end: int
    offset: int
    path: str


class _Binary:
    """The function symbols and load segments of one ELF file."""

    def __init__(self, path: str) -> None:
        self.segments: list[Segment] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.names: list[str] = []
        try:
            with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0,
                                                      access=mmap.ACCESS_READ) as data:
                elf = ElfFile(data, path, machine=None)
                self.segments = elf.segments()
                functions = sorted(elf.functions(), key=lambda s: s.value)
        except (OSError, ValueError, ArtifactError):
            return
        self.starts = [f.value for f in functions]
        self.ends = [f.value + max(f.size, 1) for f in functions]
        self.names = [f.name for f in functions]

    def name(self, file_offset: int) -> str | None:
        vaddr = next((file_offset - s.offset + s.vaddr for s in self.segments
                      if s.offset <= file_offset < s.offset + s.filesz), None)
        if vaddr is None:
            return None
        i = bisect.bisect_right(self.starts, vaddr) - 1
        if i >= 0 and vaddr < self.ends[i]:
            return self.names[i]
        return None


class UserSymbols:
    """Symbolises addresses of live processes; caches binaries across processes."""

    def __init__(self) -> None:
        self._binaries: dict[str, _Binary] = {}
        self._maps: dict[int, list[_Mapping]] = {}

    def name(self, pid: int, address: int) -> str:
        mapping = next((m for m in self._mappings(pid) if m.start <= address < m.end), None)
        if mapping is None:
            return f"0x{address:x}"
        binary = self._binaries.get(mapping.path)
        if binary is None:
            binary = self._binaries[mapping.path] = _Binary(mapping.path)
        offset = address - mapping.start + mapping.offset
        found = binary.name(offset)
        return found or f"{Path(mapping.path).name}+0x{offset:x}"

    def _mappings(self, pid: int) -> list[_Mapping]:
        if pid not in self._maps:
            found = []
            with contextlib.suppress(OSError), open(f"/proc/{pid}/maps") as maps:
                for line in maps:
                    fields = line.split(maxsplit=5)
                    if len(fields) == 6 and "x" in fields[1] and fields[5].startswith("/"):
                        start, end = (int(x, 16) for x in fields[0].split("-"))
                        found.append(_Mapping(start, end, int(fields[2], 16),
                                              fields[5].strip()))
            self._maps[pid] = found
        return self._maps[pid]
