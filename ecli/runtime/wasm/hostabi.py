"""The host ABI a wasm-bpf module imports (`wasm_bpf`), over ecli's loader and attach layer.

The names and signatures are those of eunomia-bpf's wasm-bpf runtimes
(runtime/cpp/src/wasm-bpf.cpp, runtime/wasm-bpf-rs/src/bpf/), so a module
built for them runs unchanged:

    wasm_load_bpf_object(i32 buf, i32 size) -> i64 handle (0: failed)
    wasm_attach_bpf_program(i64 handle, i32 name, i32 target) -> i32
    wasm_bpf_map_fd_by_name(i64 handle, i32 name) -> i32 fd
    wasm_bpf_map_operate(i32 fd, i32 cmd, i32 key, i32 value, i32 next_key, i64 flags) -> i32
    wasm_bpf_buffer_poll(i64 handle, i32 fd, i32 sample_func, i32 ctx, i32 data,
                         i32 max_size, i32 timeout_ms) -> i32
    wasm_close_bpf_object(i64 handle) -> i32

and, for modules of wasm-bpf's Go SDK (TinyGo cannot pass a function
pointer), `callback-wrapper.wasm_bpf_buffer_poll(i64, i32 fd, i32 ctx, i32 data,
i32 max_size, i32 timeout_ms) -> i32`, which calls the module's export
`go-callback` for each sample.

A pointer or length outside the module's memory, or a string with no end, is
a fault of the module: it ends the run with one line (`WasmError`), where the
reference runtimes return -1 and carry on. A failed load or attach raises
ecli's own error (verifier log, missing kernel feature), which says more than
the module could. Lookups of names and handles that do not exist return -1,
as the reference does. A module may operate only on the maps of objects it
loaded itself, never on another descriptor of ecli's process; every object
is closed when the run ends, whatever the module did.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wasmtime

from ecli.errors import WasmError
from ecli.kernel.sections import lookup
from ecli.kernel.types import MAP_PERF_EVENT_ARRAY, MAP_RINGBUF
from ecli.runtime import libbpf
from ecli.runtime.attach import AttachedProgram, Link, attach_program
from ecli.runtime.loader import LoadedObject
from ecli.runtime.mapread import PERCPU_TYPES
from ecli.runtime.options import AttachSettings
from ecli.runtime.ringbuf import Samples
from ecli.runtime.spec import MAX_OBJECT_BYTES, ObjectSpec
from ecli.runtime.streams import EventStreams

MODULE = "wasm_bpf"
GO_MODULE, GO_CALLBACK = "callback-wrapper", "go-callback"  # wasm-bpf's Go SDK
I32, I64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
# (module, name) -> (parameters, results, our method), as the reference runtimes register them
IMPORTS: dict[tuple[str, str], tuple[list[wasmtime.ValType], list[wasmtime.ValType], str]] = {
    (MODULE, "wasm_load_bpf_object"): ([I32, I32], [I64], "wasm_load_bpf_object"),
    (MODULE, "wasm_attach_bpf_program"): ([I64, I32, I32], [I32], "wasm_attach_bpf_program"),
    (MODULE, "wasm_bpf_map_fd_by_name"): ([I64, I32], [I32], "wasm_bpf_map_fd_by_name"),
    (MODULE, "wasm_bpf_map_operate"): ([I32, I32, I32, I32, I32, I64], [I32],
                                       "wasm_bpf_map_operate"),
    (MODULE, "wasm_bpf_buffer_poll"): ([I64, I32, I32, I32, I32, I32, I32], [I32],
                                       "wasm_bpf_buffer_poll"),
    (MODULE, "wasm_close_bpf_object"): ([I64], [I32], "wasm_close_bpf_object"),
    (GO_MODULE, "wasm_bpf_buffer_poll"): ([I64, I32, I32, I32, I32, I32], [I32],
                                          "go_buffer_poll"),
}
MAX_STRING = 4096  # a program, map or interface name; a cgroup path
MAX_OBJECTS = 64  # loaded at once by one module: each holds kernel memory
POLL_SLICE_MS = 100  # a long poll wakes this often to see a stop
# bpf(2) map commands the module may use (linux/bpf.h)
LOOKUP, UPDATE, DELETE, NEXT_KEY = 1, 2, 3, 4
MAP_INFO_BYTES = 80  # struct bpf_map_info up to and including name[16]


class Stopped(Exception):
    """Raised inside a host function when the run is asked to stop (duration, a signal)."""


class _Object:
    """One object the module loaded: the loaded object, its links and event streams."""

    def __init__(self, loaded: LoadedObject) -> None:
        self.loaded = loaded
        self.links: list[Link] = []
        self.streams: dict[int, tuple[EventStreams, deque[bytes]]] = {}
        self.fds = {loaded.map_fd(m.name): m for m in loaded.spec.maps}

    def close(self) -> None:
        for streams, _pending in self.streams.values():
            streams.close()
        self.streams.clear()
        for link in self.links:
            link.close()
        self.links.clear()
        self.loaded.close()


class BpfHost:
    """The state behind the `wasm_bpf` imports of one module instance.

    `vet` sees each object before it loads and may refuse it (the CLI checks that
    its permissions were shown); `on_attached` gets every program attached so far,
    after each attach (`ecli run --status-file`, `--detach`); `stopping` is polled
    by every host call.
    """

    def __init__(self, name: str, vet: Callable[[ObjectSpec], None] | None = None,
                 on_attached: Callable[[list[AttachedProgram]], None] | None = None) -> None:
        self.name = name
        self.vet = vet
        self.on_attached = on_attached
        self.attached: list[AttachedProgram] = []
        self.stopping = False
        self.events = 0
        self._objects: dict[int, _Object] = {}
        self._next = 1
        self._scratch = tempfile.TemporaryDirectory(prefix="ecli-wasm-")

    def define(self, linker: wasmtime.Linker) -> None:
        for (module, name), (params, results, method) in IMPORTS.items():
            linker.define_func(module, name, wasmtime.FuncType(params, results),
                               self._guarded(getattr(self, method),
                                             name if module == MODULE else f"{module}.{name}"),
                               access_caller=True)

    def _guarded(self, function: Callable[..., int], label: str) -> Callable[..., int]:
        """The import as wasmtime calls it: a stop ends the run, errors name the import."""
        def call(caller: wasmtime.Caller, *args: int) -> int:
            if self.stopping:
                raise Stopped
            return function(_Memory(caller, self.name, label), *args)
        return call

    def close(self) -> None:
        """Close every object the module left open: links, buffers, programs, maps."""
        for handle in list(self._objects):
            self._objects.pop(handle).close()
        self._scratch.cleanup()

    # The imports, in the reference's order.

    def wasm_load_bpf_object(self, memory: _Memory, buf: int, size: int) -> int:
        if size <= 0 or size > MAX_OBJECT_BYTES:
            raise memory.fault(f"object size {size} is not between 1 and {MAX_OBJECT_BYTES}")
        if len(self._objects) >= MAX_OBJECTS:
            raise memory.fault(f"the module has {MAX_OBJECTS} objects loaded already")
        data = memory.read(buf, size, "the object")
        handle = self._next
        path = Path(self._scratch.name) / f"object-{handle}.bpf.o"
        path.write_bytes(data)
        spec = ObjectSpec.from_file(path)
        if self.vet is not None:
            self.vet(spec)
        loaded = LoadedObject(spec, {}, f"{self.name}: object {handle}").__enter__()
        path.unlink()
        self._objects[handle] = _Object(loaded)
        self._next += 1
        return handle

    def wasm_attach_bpf_program(self, memory: _Memory, handle: int, name: int,
                                target: int) -> int:
        program_name = memory.string(name, "the program name")
        where = memory.string(target, "the attach target") if target else None
        found = self._objects.get(handle)
        if found is None:
            return -1
        for program, program_name_, section in found.loaded.programs():
            if program_name_ == program_name:
                entry = lookup(section)
                hook = entry.hook if entry is not None else None
                settings = AttachSettings(
                    ifname=where if hook in ("xdp", "tc") else None,
                    cgroup=where if hook == "cgroup" else None)
                found.links.extend(attach_program(program, program_name, section, settings,
                                                  found.loaded.name))
                self.attached.append(AttachedProgram(found.loaded.program_id(program),
                                                     program_name, section))
                if self.on_attached is not None:
                    self.on_attached(list(self.attached))
                return 0
        return -1

    def wasm_bpf_map_fd_by_name(self, memory: _Memory, handle: int, name: int) -> int:
        map_name = memory.string(name, "the map name")
        found = self._objects.get(handle)
        if found is None:
            return -1
        for fd, spec in found.fds.items():
            if spec.name == map_name:
                return fd
        return -1

    def wasm_bpf_map_operate(self, memory: _Memory, fd: int, cmd: int, key: int, value: int,
                             next_key: int, flags: int) -> int:
        if not any(fd in found.fds for found in self._objects.values()):
            return -errnos.EBADF  # not a map of the module's own objects
        map_type, key_size, value_size = _map_info(fd)
        if map_type in PERCPU_TYPES:
            value_size = ((value_size + 7) & ~7) * libbpf.get().libbpf_num_possible_cpus()
        lib = libbpf.get()
        key_buffer = (ctypes.create_string_buffer(memory.read(key, key_size, "the key"))
                      if key or cmd != NEXT_KEY else None)
        if cmd == LOOKUP:
            out = ctypes.create_string_buffer(value_size)
            memory.check(value, value_size, "the value")
            result = lib.bpf_map_lookup_elem_flags(fd, key_buffer, out, flags)
            if result == 0:
                memory.write(value, out.raw)
        elif cmd == UPDATE:
            data = ctypes.create_string_buffer(memory.read(value, value_size, "the value"))
            result = lib.bpf_map_update_elem(fd, key_buffer, data, flags)
        elif cmd == DELETE:
            result = lib.bpf_map_delete_elem_flags(fd, key_buffer, flags)
        elif cmd == NEXT_KEY:
            out = ctypes.create_string_buffer(key_size)
            memory.check(next_key, key_size, "the next key")
            result = lib.bpf_map_get_next_key(fd, key_buffer, out)
            if result == 0:
                memory.write(next_key, out.raw)
        else:
            return -errnos.EINVAL
        return result if result >= 0 else -libbpf.last_errno(result)

    def wasm_bpf_buffer_poll(self, memory: _Memory, handle: int, fd: int, sample_func: int,
                             ctx: int, data: int, max_size: int, timeout_ms: int) -> int:
        return self._poll(memory, handle, fd, lambda: memory.callback(sample_func), ctx, data,
                          max_size, timeout_ms)

    def go_buffer_poll(self, memory: _Memory, handle: int, fd: int, ctx: int, data: int,
                       max_size: int, timeout_ms: int) -> int:
        return self._poll(memory, handle, fd, lambda: memory.exported(GO_CALLBACK), ctx, data,
                          max_size, timeout_ms)

    def _poll(self, memory: _Memory, handle: int, fd: int,
              callback_of: Callable[[], Callable[[int, int, int], int]], ctx: int, data: int,
              max_size: int, timeout_ms: int) -> int:
        memory.check(data, max_size, "the poll buffer")
        found = self._objects.get(handle)
        if found is None:
            return -1
        spec = found.fds.get(fd)
        if spec is None:
            return -errnos.ENOENT
        if spec.type not in (MAP_RINGBUF, MAP_PERF_EVENT_ARRAY):
            return -errnos.EINVAL
        callback = callback_of()
        if fd not in found.streams:
            pending: deque[bytes] = deque()

            def keep(samples: Samples, pending: deque[bytes] = pending) -> None:
                view = samples.data  # valid only until the handler returns: copied
                pending.extend(bytes(view[o : o + s])
                               for o, s in zip(samples.offsets, samples.sizes, strict=True))

            streams = EventStreams(found.loaded.name)
            streams.add(spec, fd, keep)
            found.streams[fd] = (streams, pending)
        streams, pending = found.streams[fd]
        waited = 0
        while not pending and (timeout_ms < 0 or waited <= timeout_ms):
            slice_ms = POLL_SLICE_MS if timeout_ms < 0 else min(POLL_SLICE_MS,
                                                                timeout_ms - waited)
            streams.poll(max(slice_ms, 0) / 1000)
            if self.stopping:
                raise Stopped
            waited += max(slice_ms, 1)
        delivered = 0
        while pending:
            sample = pending.popleft()[:max_size]
            memory.write(data, sample)
            self.events += 1
            delivered += 1
            result = callback(ctx, data, len(sample))
            if result != 0:
                return result if result < 0 else delivered
        return delivered

    def wasm_close_bpf_object(self, _memory: _Memory, handle: int) -> int:
        found = self._objects.pop(handle, None)
        if found is None:
            return -1
        found.close()
        return 0


class _Memory:
    """The calling module's memory and table, every access checked against their bounds."""

    def __init__(self, caller: wasmtime.Caller, name: str, function: str) -> None:
        self.caller = caller
        self.where = f"{name}: {function}"
        memory = caller.get("memory")
        if not isinstance(memory, wasmtime.Memory):
            raise WasmError(f"{self.where}: the module exports no memory named 'memory'")
        self.memory = memory

    def fault(self, what: str) -> WasmError:
        return WasmError(f"{self.where}: {what}")

    def check(self, address: int, size: int, what: str) -> None:
        length = self.memory.data_len(self.caller)
        address &= 0xFFFFFFFF
        if size < 0 or address + size > length:
            raise self.fault(f"{what} at {address:#x}, {size} bytes, lies outside the module's "
                             f"memory ({length} bytes)")

    def read(self, address: int, size: int, what: str) -> bytes:
        self.check(address, size, what)
        address &= 0xFFFFFFFF
        return bytes(self.memory.read(self.caller, address, address + size))

    def write(self, address: int, data: bytes) -> None:
        self.check(address, len(data), "the output")
        self.memory.write(self.caller, data, address & 0xFFFFFFFF)

    def string(self, address: int, what: str) -> str:
        length = self.memory.data_len(self.caller)
        address &= 0xFFFFFFFF
        if address >= length:
            raise self.fault(f"{what} at {address:#x} lies outside the module's memory "
                             f"({length} bytes)")
        chunk = bytes(self.memory.read(self.caller, address, min(length, address + MAX_STRING)))
        end = chunk.find(b"\0")
        if end < 0:
            raise self.fault(f"{what} at {address:#x} has no terminating NUL within "
                             f"{MAX_STRING} bytes or the module's memory")
        return chunk[:end].decode("utf-8", "replace")

    def callback(self, index: int) -> Callable[[int, int, int], int]:
        """The sample callback: entry `index` of the module's function table, (i32 ctx,
        i32 data, i32 size) -> i32 as the reference calls it."""
        table = self.caller.get("__indirect_function_table")
        if not isinstance(table, wasmtime.Table):
            raise self.fault("the module exports no __indirect_function_table (link it with "
                             "--export-table) for the sample callback")
        size = table.size(self.caller)
        entry: Any = table.get(self.caller, index & 0xFFFFFFFF) if 0 <= index < size else None
        if not isinstance(entry, wasmtime.Func):
            raise self.fault(f"sample callback {index} is not a function of the module's table "
                             f"({size} entries)")
        return self._callable(entry, f"sample callback {index}")

    def exported(self, name: str) -> Callable[[int, int, int], int]:
        """The sample callback the module exports as `name` (the Go SDK's way)."""
        entry = self.caller.get(name)
        if not isinstance(entry, wasmtime.Func):
            raise self.fault(f"the module exports no function {name!r} for the sample callback")
        return self._callable(entry, f"sample callback {name!r}")

    def _callable(self, entry: wasmtime.Func, what: str) -> Callable[[int, int, int], int]:
        kind = entry.type(self.caller)
        if ([str(p) for p in kind.params], [str(r) for r in kind.results]) != (
                ["i32"] * 3, ["i32"]):
            raise self.fault(f"{what} is not (i32, i32, i32) -> i32")
        caller = self.caller

        def call(ctx: int, data: int, size: int) -> int:
            result = entry(caller, ctx, data, size)
            return int(result) if result is not None else 0
        return call


def _map_info(fd: int) -> tuple[int, int, int]:
    """(type, key size, value size) of a map, from the kernel."""
    info = ctypes.create_string_buffer(MAP_INFO_BYTES)
    size = ctypes.c_uint32(MAP_INFO_BYTES)
    if libbpf.get().bpf_obj_get_info_by_fd(fd, info, ctypes.byref(size)) != 0:
        raise WasmError(f"map fd {fd}: cannot read its description from the kernel")
    values = ctypes.cast(info, ctypes.POINTER(ctypes.c_uint32))
    return values[0], values[2], values[3]
