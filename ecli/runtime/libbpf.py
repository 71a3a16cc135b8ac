"""The only bindings to C libraries: `libbpf.so.1` and libc, through ctypes.

Every function ecli calls is declared here with its argument and return
types, and libbpf's own log lines are captured (not printed) so that errors
can quote the relevant ones, such as the verifier's log.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from ctypes import c_char_p, c_int, c_size_t, c_void_p

from ecli.errors import RuntimeLoadError

PRINT_BUFFER_BYTES = 1 << 20  # libbpf prints a verifier log in one message
PRINT_FN = ctypes.CFUNCTYPE(c_int, c_int, c_char_p, c_void_p)
SAMPLE_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)
PERF_SAMPLE_FN = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_void_p, ctypes.c_uint32)
PERF_LOST_FN = ctypes.CFUNCTYPE(None, c_void_p, c_int, ctypes.c_uint64)


class UprobeOpts(ctypes.Structure):
    """struct bpf_uprobe_opts of libbpf 1.1 (sz first: libbpf checks it)."""

    _fields_ = [("sz", c_size_t), ("ref_ctr_offset", c_size_t), ("bpf_cookie", ctypes.c_uint64),
                ("retprobe", ctypes.c_bool), ("func_name", c_char_p)]

class TcHook(ctypes.Structure):
    """struct bpf_tc_hook of libbpf 1.1: where a classic tc filter goes."""

    _fields_ = [("sz", c_size_t), ("ifindex", c_int), ("attach_point", c_int),
                ("parent", ctypes.c_uint32)]


class TcOpts(ctypes.Structure):
    """struct bpf_tc_opts of libbpf 1.1: the filter; attach fills handle and priority."""

    _fields_ = [("sz", c_size_t), ("prog_fd", c_int), ("flags", ctypes.c_uint32),
                ("prog_id", ctypes.c_uint32), ("handle", ctypes.c_uint32),
                ("priority", ctypes.c_uint32)]


_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "libbpf_set_print": (c_void_p, [PRINT_FN]),
    "libbpf_version_string": (c_char_p, []),
    "libbpf_probe_bpf_prog_type": (c_int, [c_int, c_void_p]),
    "libbpf_probe_bpf_map_type": (c_int, [c_int, c_void_p]),
    "btf__load_vmlinux_btf": (c_void_p, []),
    "btf__find_by_name_kind": (c_int, [c_void_p, c_char_p, ctypes.c_uint32]),
    "btf__free": (None, [c_void_p]),
    "bpf_object__open_file": (c_void_p, [c_char_p, c_void_p]),
    "bpf_object__load": (c_int, [c_void_p]),
    "bpf_object__close": (None, [c_void_p]),
    "bpf_object__next_map": (c_void_p, [c_void_p, c_void_p]),
    "bpf_object__next_program": (c_void_p, [c_void_p, c_void_p]),
    "bpf_map__name": (c_char_p, [c_void_p]),
    "bpf_map__type": (c_int, [c_void_p]),
    "bpf_map__fd": (c_int, [c_void_p]),
    "bpf_map__set_value_size": (c_int, [c_void_p, ctypes.c_uint32]),
    "bpf_map__initial_value": (c_void_p, [c_void_p, ctypes.POINTER(c_size_t)]),
    "bpf_program__name": (c_char_p, [c_void_p]),
    "bpf_program__section_name": (c_char_p, [c_void_p]),
    "bpf_program__attach": (c_void_p, [c_void_p]),
    "bpf_program__attach_xdp": (c_void_p, [c_void_p, c_int]),
    "bpf_program__attach_cgroup": (c_void_p, [c_void_p, c_int]),
    "bpf_program__attach_perf_event": (c_void_p, [c_void_p, c_int]),
    "bpf_program__attach_uprobe_opts": (c_void_p, [c_void_p, c_int, c_char_p, c_size_t,
                                                   ctypes.POINTER(UprobeOpts)]),
    "bpf_program__attach_usdt": (c_void_p, [c_void_p, c_int, c_char_p, c_char_p, c_char_p,
                                            c_void_p]),
    "bpf_program__set_type": (c_int, [c_void_p, c_int]),
    "bpf_program__type": (c_int, [c_void_p]),
    "bpf_link_create": (c_int, [c_int, c_int, c_int, c_void_p]),
    "bpf_tc_hook_create": (c_int, [ctypes.POINTER(TcHook)]),
    "bpf_tc_attach": (c_int, [ctypes.POINTER(TcHook), ctypes.POINTER(TcOpts)]),
    "bpf_tc_detach": (c_int, [ctypes.POINTER(TcHook), ctypes.POINTER(TcOpts)]),
    "bpf_map_get_next_key": (c_int, [c_int, c_void_p, c_void_p]),
    "bpf_map_lookup_elem": (c_int, [c_int, c_void_p, c_void_p]),
    "bpf_map_lookup_batch": (c_int, [c_int, c_void_p, c_void_p, c_void_p, c_void_p,
                                     ctypes.POINTER(ctypes.c_uint32), c_void_p]),
    "bpf_map_update_elem": (c_int, [c_int, c_void_p, c_void_p, ctypes.c_uint64]),
    "bpf_map_lookup_elem_flags": (c_int, [c_int, c_void_p, c_void_p, ctypes.c_uint64]),
    "bpf_map_delete_elem_flags": (c_int, [c_int, c_void_p, ctypes.c_uint64]),
    "libbpf_num_possible_cpus": (c_int, []),
    "bpf_program__fd": (c_int, [c_void_p]),
    "bpf_obj_get_info_by_fd": (c_int, [c_int, c_void_p, ctypes.POINTER(ctypes.c_uint32)]),
    "bpf_link__destroy": (c_int, [c_void_p]),
    "bpf_link__fd": (c_int, [c_void_p]),
    "bpf_iter_create": (c_int, [c_int]),
    "ring_buffer__new": (c_void_p, [c_int, SAMPLE_FN, c_void_p, c_void_p]),
    "ring_buffer__free": (None, [c_void_p]),
    "ring_buffer__epoll_fd": (c_int, [c_void_p]),
    "ring_buffer__consume": (c_int, [c_void_p]),
    "perf_buffer__new": (c_void_p, [c_int, c_size_t, PERF_SAMPLE_FN, PERF_LOST_FN, c_void_p,
                                    c_void_p]),
    "perf_buffer__epoll_fd": (c_int, [c_void_p]),
    "perf_buffer__consume": (c_int, [c_void_p]),
    "perf_buffer__free": (None, [c_void_p]),
}


class Libbpf:
    """libbpf with declared signatures and a buffer of its log lines."""

    def __init__(self) -> None:
        try:
            self.lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
        except OSError:
            raise RuntimeLoadError(
                "libbpf.so.1 is not installed", hint="install it: apt-get install libbpf1"
            ) from None
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(self.lib, name)
            function.restype = restype
            function.argtypes = argtypes
        self.log: list[str] = []
        self._libc = libc()
        self._print_buffer = ctypes.create_string_buffer(PRINT_BUFFER_BYTES)
        self._print_fn = PRINT_FN(self._collect)  # kept alive as long as self
        self.lib.libbpf_set_print(self._print_fn)

    def __getattr__(self, name: str) -> Callable[..., object]:
        return getattr(self.lib, name)

    @property
    def version(self) -> str:
        return self.lib.libbpf_version_string().decode()

    def _collect(self, _level: int, fmt: bytes, args: int) -> int:
        # One message may be a whole verifier log: its last lines say why, so the buffer
        # is large (made once: libbpf prints hundreds of lines per object).
        buffer = self._print_buffer
        self._libc.vsnprintf(buffer, len(buffer), fmt, args)
        self.log.append(buffer.value.decode("utf-8", "replace").rstrip("\n"))
        del self.log[:-2000]  # the tail is what matters; keep memory bounded
        return 0

    def take_log(self) -> list[str]:
        lines, self.log = self.log, []
        return lines


def last_errno(value: int | None = None) -> int:
    """libbpf returns -errno or NULL with errno set; normalise to a positive errno."""
    if value is not None and value < 0:
        return -value
    return ctypes.get_errno() or 0


def strerror(errno: int) -> str:
    return os.strerror(errno)


_instance: Libbpf | None = None
_libc: ctypes.CDLL | None = None


def get() -> Libbpf:
    global _instance
    if _instance is None:
        _instance = Libbpf()
    return _instance


def libc() -> ctypes.CDLL:
    """libc, for the few calls Python's os module lacks (mount, perf_event_open)."""
    global _libc
    if _libc is None:
        # the process's own symbols, libc's among them: ctypes.util.find_library would
        # run ldconfig in a subprocess before every attach
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.vsnprintf.argtypes = [c_char_p, c_size_t, c_char_p, c_void_p]
        _libc.mount.argtypes = [c_char_p, c_char_p, c_char_p, ctypes.c_ulong, c_void_p]
        _libc.syscall.restype = ctypes.c_long
    return _libc
