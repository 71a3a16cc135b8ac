"""One eBPF object loaded in the kernel, owned for the duration of a `with` block.

Opening, setting options and loading happen on entry; the object (its
programs and maps) is released on exit, whatever the reason. Attaching is
the next layer up (`ecli.runtime.attach`); what loading needs to know about
a section (its program type, when this libbpf does not know the name) comes
from the catalogue. The kernel also frees everything when the process dies
(nothing is pinned), so even `kill -9` leaves no program loaded.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import struct
from collections.abc import Iterator
from types import TracebackType

from ecli.errors import KernelFeatureError, PrivilegeError, RuntimeLoadError, VerifierError
from ecli.kernel import sections, system, types
from ecli.runtime import btf as b
from ecli.runtime import libbpf
from ecli.runtime.spec import GlobalSpec, MapSpec, ObjectSpec

VERIFIER_TAIL_LINES = 20
PERF_ARRAY_VALUE_SIZE = 4  # the kernel's fixed value size: a perf event fd


class LoadedObject:
    def __init__(self, spec: ObjectSpec, rodata: dict[str, bytes], name: str) -> None:
        self.spec = spec
        self.rodata = rodata
        self.name = name
        self.lib = libbpf.get()
        self._obj: int | None = None

    def __enter__(self) -> LoadedObject:
        try:
            self._open()
            self._load()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._obj:
            self.lib.bpf_object__close(self._obj)
            self._obj = None

    def map_fd(self, name: str) -> int:
        for pointer, map_name in self._maps():
            if map_name == name:
                return self.lib.bpf_map__fd(pointer)
        raise RuntimeLoadError(f"{self.name}: no map named {name!r}")

    def read_global(self, global_: GlobalSpec) -> bytes:
        """The current value of a .bss global, read from the kernel's copy of .bss."""
        for pointer, map_name in self._maps():
            if map_name.endswith(".bss"):
                size = ctypes.c_size_t()
                self.lib.bpf_map__initial_value(pointer, ctypes.byref(size))
                value = ctypes.create_string_buffer(size.value)
                zero = ctypes.c_uint32(0)
                fd = self.lib.bpf_map__fd(pointer)
                if (self.lib.bpf_map_lookup_elem(fd, ctypes.byref(zero), value) == 0
                        and global_.offset + global_.size <= size.value):
                    return value.raw[global_.offset : global_.offset + global_.size]
        return bytes(global_.size)

    def _maps(self) -> Iterator[tuple[int, str]]:
        current = None
        while current := self.lib.bpf_object__next_map(self._obj, current):
            yield current, self.lib.bpf_map__name(current).decode()

    def programs(self) -> Iterator[tuple[int, str, str]]:
        """(libbpf program pointer, name, section) of each program, in ELF order."""
        current = None
        while current := self.lib.bpf_object__next_program(self._obj, current):
            yield (current, self.lib.bpf_program__name(current).decode(),
                   self.lib.bpf_program__section_name(current).decode())

    def _open(self) -> None:
        self._obj = self.lib.bpf_object__open_file(str(self.spec.path).encode(), None)
        if not self._obj:
            error = libbpf.last_errno()
            raise RuntimeLoadError(f"{self.name}: libbpf cannot open the object: "
                                   f"{libbpf.strerror(error)}{self._log_tail(3)}")
        by_name = {m.name: m for m in self.spec.maps}
        for pointer, map_name in self._maps():
            spec = by_name.get(map_name)
            if spec and spec.type == types.MAP_RINGBUF:
                # A ring buffer declared with __type(value, struct event) keeps the
                # event type in BTF; the kernel wants its value size to be zero.
                self.lib.bpf_map__set_value_size(pointer, 0)
            elif spec and spec.type == types.MAP_PERF_EVENT_ARRAY and self._struct_valued(spec):
                self.lib.bpf_map__set_value_size(pointer, PERF_ARRAY_VALUE_SIZE)
            elif map_name.endswith(".rodata") and self.rodata:
                self._write_rodata(pointer)
        for program, _name, section in self.programs():
            self._give_type(program, section)

    def _give_type(self, program: int, section: str) -> None:
        """A section this libbpf does not know (tc/ingress, tcx/* in 1.1) gets its type here."""
        found = sections.lookup(section)
        if found is not None and self.lib.bpf_program__type(program) == 0:
            self.lib.bpf_program__set_type(program, types.PROG_TYPE_VALUES[found.prog_type])

    def _struct_valued(self, spec: MapSpec) -> bool:
        return spec.value_type is not None and self.spec.btf.strip(spec.value_type).kind in (
            b.KIND_STRUCT, b.KIND_UNION)

    def _write_rodata(self, pointer: int) -> None:
        size = ctypes.c_size_t()
        address = self.lib.bpf_map__initial_value(pointer, ctypes.byref(size))
        if not address:
            raise RuntimeLoadError(f"{self.name}: cannot set options: .rodata is not mapped")
        by_name = {g.name: g for g in self.spec.rodata}
        for name, value in self.rodata.items():
            global_ = by_name[name]
            if global_.offset + len(value) > size.value:
                raise RuntimeLoadError(f"{self.name}: option {name} lies outside .rodata")
            ctypes.memmove(address + global_.offset, value, len(value))

    def _load(self) -> None:
        system.require_bpf_privileges()
        if self.spec.uses_core and not system.VMLINUX_BTF.exists():
            raise KernelFeatureError(
                f"{self.name}: this kernel has no BTF ({system.VMLINUX_BTF}), which this CO-RE "
                "program needs to adapt itself to the kernel",
                hint="use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distributions' are)")
        self.lib.take_log()
        result = self.lib.bpf_object__load(self._obj)
        if result == 0:
            return
        error = libbpf.last_errno(result)
        log = self.lib.take_log()
        self._raise_if_lacking()
        verifier = _verifier_log(log)
        if error == errnos.EPERM and not verifier:
            raise PrivilegeError(f"{self.name}: the kernel refused to load the object "
                                 "(EPERM)", hint="run as root")
        if verifier:
            raise VerifierError(
                f"{self.name}: the kernel verifier rejected the program; "
                f"last lines of its log:\n" + "\n".join(verifier[-VERIFIER_TAIL_LINES:]),
                log="\n".join(verifier),
            )
        self._raise_if_unsupported()
        raise RuntimeLoadError(f"{self.name}: loading failed: {libbpf.strerror(error)}"
                               + _tail(log, 5))

    def _raise_if_lacking(self) -> None:
        """After a failed load: name a kernel feature a program's section needs and this
        kernel lacks (BPF trampolines for fentry and LSM programs), if that is why."""
        from ecli.runtime import features

        for _program, name, section in self.programs():
            found = sections.lookup(section)
            missing = features.lacking(found) if found is not None else None
            if missing:
                raise KernelFeatureError(f"{self.name}: cannot load {name} ({section}): "
                                         f"{missing}", hint="see 'ecli doctor'")

    def _raise_if_unsupported(self) -> None:
        """After a failed load: name a map or program type this kernel lacks, if that is why."""
        candidates = [
            ("map type", types.map_type_name, self.lib.bpf_map__type(pointer),
             self.lib.libbpf_probe_bpf_map_type, f"map {name!r}")
            for pointer, name in self._maps()
        ] + [
            ("program type", types.prog_type_name, self.lib.bpf_program__type(program),
             self.lib.libbpf_probe_bpf_prog_type, f"program {name}")
            for program, name, _section in self.programs()
        ]
        for what, name_of, kind, probe, owner in candidates:
            if _unsupported(probe(kind, None)):
                type_name = name_of(kind) or str(kind)
                raise KernelFeatureError(
                    f"{self.name}: this kernel does not support {what} {type_name} ({owner})",
                    hint="see 'ecli doctor' for what it supports")

    def program_id(self, program: int) -> int:
        """The kernel's id of a loaded program (what `bpftool prog show` lists)."""
        # struct bpf_prog_info starts with __u32 type, __u32 id.
        info = ctypes.create_string_buffer(8)
        size = ctypes.c_uint32(len(info))
        fd = self.lib.bpf_program__fd(program)
        if self.lib.bpf_obj_get_info_by_fd(fd, info, ctypes.byref(size)) != 0:
            return 0
        return struct.unpack_from("<II", info.raw)[1]

    def _log_tail(self, lines: int) -> str:
        return _tail(self.lib.take_log(), lines)


def _unsupported(probed: int) -> bool:
    """libbpf's probes: 1 supported, 0 not, -EOPNOTSUPP a type libbpf itself does not know."""
    return probed == 0 or probed == -errnos.EOPNOTSUPP


def _verifier_log(log: list[str]) -> list[str]:
    text = "\n".join(log)
    begin = text.rfind("-- BEGIN PROG LOAD LOG --")
    if begin < 0:
        return []
    end = text.find("-- END PROG LOAD LOG --", begin)
    body = text[begin + len("-- BEGIN PROG LOAD LOG --") : end if end > 0 else None]
    return [line for line in body.splitlines() if line.strip()]


def _tail(log: list[str], lines: int) -> str:
    useful = [line for line in log if line.strip()]
    return ("\n" + "\n".join(useful[-lines:])) if useful else ""
