"""One eBPF object in the kernel, owned for the duration of a `with` block.

Opening, setting options, loading and attaching happen on entry; links,
ring buffers and the object are released on exit, whatever the reason. The
kernel also frees everything when the process dies (nothing is pinned), so
even `kill -9` leaves no program attached.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import struct
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from ecli.errors import (
    KernelFeatureError,
    PrivilegeError,
    RuntimeLoadError,
    VerifierError,
)
from ecli.runtime import libbpf, privileges, tracefs
from ecli.runtime.spec import MAP_RINGBUF, ObjectSpec

VERIFIER_TAIL_LINES = 20
_TRACEFS_PREFIXES = ("tracepoint/", "tp/", "kprobe/", "kretprobe/", "uprobe", "uretprobe")
# Attach types this ecli knows a kernel may lack, with the feature to name.
_FEATURES = {"kprobe/": "kprobes", "kretprobe/": "kprobes", "ksyscall/": "kprobes",
             "fentry/": "fentry (BPF trampolines)", "fexit/": "fexit (BPF trampolines)"}

SampleHandler = Callable[[bytes], None]


@dataclass(frozen=True)
class AttachedProgram:
    """What `bpftool prog show` calls it: the kernel's id, name and attach section."""

    id: int
    name: str
    section: str


class LoadedObject:
    def __init__(self, spec: ObjectSpec, rodata: dict[str, bytes], name: str) -> None:
        self.spec = spec
        self.rodata = rodata
        self.name = name
        self.lib = libbpf.get()
        self._obj: int | None = None
        self._links: list[int] = []
        self.programs: list[AttachedProgram] = []
        self._ringbuf: int | None = None
        self._callbacks: list[object] = []
        self._failure: BaseException | None = None

    def __enter__(self) -> LoadedObject:
        try:
            self._open()
            self._load()
            self._attach()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._ringbuf:
            self.lib.ring_buffer__free(self._ringbuf)
            self._ringbuf = None
        for link in self._links:
            self.lib.bpf_link__destroy(link)
        self._links.clear()
        if self._obj:
            self.lib.bpf_object__close(self._obj)
            self._obj = None

    def _maps(self):  # yields (pointer, name)
        current = None
        while True:
            current = self.lib.bpf_object__next_map(self._obj, current)
            if not current:
                return
            yield current, self.lib.bpf_map__name(current).decode()

    def _programs(self):
        current = None
        while True:
            current = self.lib.bpf_object__next_program(self._obj, current)
            if not current:
                return
            yield current

    def _open(self) -> None:
        self._obj = self.lib.bpf_object__open_file(str(self.spec.path).encode(), None)
        if not self._obj:
            error = libbpf.last_errno()
            raise RuntimeLoadError(f"{self.name}: libbpf cannot open the object: "
                                   f"{libbpf.strerror(error)}{self._log_tail(3)}")
        ringbufs = {m.name for m in self.spec.maps if m.type == MAP_RINGBUF}
        for pointer, map_name in self._maps():
            if map_name in ringbufs:
                # A ring buffer declared with __type(value, struct event) keeps the
                # event type in BTF; the kernel wants its value size to be zero.
                self.lib.bpf_map__set_value_size(pointer, 0)
            elif map_name.endswith(".rodata") and self.rodata:
                self._write_rodata(pointer)

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
        privileges.require_bpf_privileges()
        self.lib.take_log()
        result = self.lib.bpf_object__load(self._obj)
        if result == 0:
            return
        error = libbpf.last_errno(result)
        log = self.lib.take_log()
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
        raise RuntimeLoadError(f"{self.name}: loading failed: {libbpf.strerror(error)}"
                               + _tail(log, 5))

    def _attach(self) -> None:
        for program in self._programs():
            section = self.lib.bpf_program__section_name(program).decode()
            program_name = self.lib.bpf_program__name(program).decode()
            missing = next((f for p, f in _FEATURES.items() if section.startswith(p)), None)
            if section.startswith(_TRACEFS_PREFIXES):
                tracefs.ensure_mounted()
            self.lib.take_log()
            link = self.lib.bpf_program__attach(program)
            if not link:
                error = libbpf.last_errno()
                where = f"{self.name}: cannot attach {program_name} ({section})"
                if missing:
                    raise KernelFeatureError(
                        f"{where}: this kernel does not support {missing}",
                        hint=f"the package needs {missing}; see 'ecli doctor'",
                    )
                raise RuntimeLoadError(f"{where}: {libbpf.strerror(error)}"
                                       + self._log_tail(3))
            self._links.append(link)
            self.programs.append(AttachedProgram(self._program_id(program), program_name,
                                                 section))

    def _program_id(self, program: int) -> int:
        # struct bpf_prog_info starts with __u32 type, __u32 id.
        info = ctypes.create_string_buffer(8)
        size = ctypes.c_uint32(len(info))
        fd = self.lib.bpf_program__fd(program)
        if self.lib.bpf_obj_get_info_by_fd(fd, info, ctypes.byref(size)) != 0:
            return 0
        return struct.unpack_from("<II", info.raw)[1]

    def open_ring_buffers(self, handlers: dict[str, SampleHandler]) -> None:
        """Route each ring buffer map's samples to its handler (by map name)."""
        fds = {name: self.lib.bpf_map__fd(p) for p, name in self._maps() if name in handlers}
        for map_name, handler in handlers.items():
            callback = libbpf.SAMPLE_FN(self._sample_callback(handler))
            self._callbacks.append(callback)  # ctypes callbacks must outlive the buffer
            if self._ringbuf is None:
                self._ringbuf = self.lib.ring_buffer__new(fds[map_name], callback, None, None)
                if not self._ringbuf:
                    raise RuntimeLoadError(f"{self.name}: cannot open ring buffer {map_name}")
            elif self.lib.ring_buffer__add(self._ringbuf, fds[map_name], callback, None) < 0:
                raise RuntimeLoadError(f"{self.name}: cannot open ring buffer {map_name}")

    def poll(self, timeout_ms: int) -> int:
        """Wait for samples and hand them to the handlers; returns how many."""
        if self._ringbuf is None:
            return 0
        result = self.lib.ring_buffer__poll(self._ringbuf, timeout_ms)
        if self._failure is not None:  # a handler raised inside the ctypes callback
            failure, self._failure = self._failure, None
            raise failure
        if result < 0 and -result != errnos.EINTR:
            raise RuntimeLoadError(f"{self.name}: polling the ring buffer failed: "
                                   f"{libbpf.strerror(-result)}")
        return max(result, 0)

    def _sample_callback(self, handler: SampleHandler) -> Callable[[int, int, int], int]:
        def callback(_ctx: int, data: int, size: int) -> int:
            try:
                handler(ctypes.string_at(data, size))
            except BaseException as exc:  # ctypes would print and drop it
                self._failure = exc
                return -errnos.ECANCELED
            return 0

        return callback

    def _log_tail(self, lines: int) -> str:
        return _tail(self.lib.take_log(), lines)


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
