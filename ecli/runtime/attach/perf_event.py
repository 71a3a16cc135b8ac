"""perf_event programs: one software CPU-clock sampling event per online CPU, `--freq` Hz."""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Callable

from ecli.errors import KernelFeatureError, RuntimeLoadError, UsageError
from ecli.kernel import system
from ecli.kernel.sections import Section
from ecli.runtime import libbpf
from ecli.runtime.attach import LibbpfLink, attach_error
from ecli.runtime.options import AttachSettings

PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK = 1, 0
PERF_FLAG_FD_CLOEXEC = 8
PERF_ATTR_FREQ = 1 << 10
SYS_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}


def attach(program: int, name: str, section: str, found: Section, settings: AttachSettings,
           where: str) -> list[LibbpfLink]:
    if settings.freq <= 0:
        raise UsageError("--freq must be a positive number of samples per second")
    links: list[LibbpfLink] = []
    try:
        for cpu in system.online_cpus():
            fd = perf_event_open_cpu_clock(cpu, settings.freq)
            link = libbpf.get().bpf_program__attach_perf_event(program, fd)
            if not link:
                error = libbpf.last_errno()
                os.close(fd)
                raise attach_error(error, where, name, section, found)
            links.append(LibbpfLink(link))  # the link owns the perf event fd
    except BaseException:
        for opened in links:
            opened.close()
        raise
    return links


def perf_event_open_cpu_clock(cpu: int, freq: int) -> int:
    """A software CPU-clock sampling event on one CPU (hardware PMUs may be absent)."""
    attr = bytearray(128)
    struct.pack_into("<IIQQQQQ", attr, 0, PERF_TYPE_SOFTWARE, len(attr),
                     PERF_COUNT_SW_CPU_CLOCK, freq, 0, 0, PERF_ATTR_FREQ)
    return perf_event_open(attr, cpu)


def perf_event_open(attr: bytes | bytearray, cpu: int) -> int:
    """perf_event_open(2) of `attr` (a struct perf_event_attr) on one CPU, every process."""
    number = SYS_PERF_EVENT_OPEN.get(os.uname().machine)
    if number is None:
        raise KernelFeatureError(f"perf events are not supported on {os.uname().machine} here")
    buffer = ctypes.create_string_buffer(bytes(attr))
    syscall: Callable[..., int] = libbpf.libc().syscall
    fd = syscall(number, buffer, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC)
    if fd < 0:
        error = ctypes.get_errno()
        raise RuntimeLoadError(f"perf_event_open on CPU {cpu} failed: {os.strerror(error)}")
    return fd
