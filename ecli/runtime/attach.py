"""Attach a loaded program by its section name: one function per kind of hook.

Each returns links that detach when closed; every one is tied to a file
descriptor of this process, so the kernel detaches them if ecli dies. What a
hook needs from the user (an interface, a cgroup, a process) comes in
`AttachSettings`, and a missing one is a usage error naming the option.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import os
import platform
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from ecli.errors import KernelFeatureError, RuntimeLoadError, UsageError
from ecli.runtime import libbpf, tracefs

BPF_PROG_TYPE_SCHED_CLS = 3
BPF_TCX_INGRESS, BPF_TCX_EGRESS = 46, 47
PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK = 1, 0
PERF_FLAG_FD_CLOEXEC = 8
PERF_ATTR_FREQ = 1 << 10
SYS_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}

_TRACEFS_PREFIXES = ("tracepoint/", "tp/", "uprobe", "uretprobe", "usdt")
# Attach types some kernels lack, with the feature to name when attaching fails.
_FEATURES = {"kprobe/": "kprobes", "kretprobe/": "kprobes", "ksyscall/": "kprobes",
             "kretsyscall/": "kprobes", "fentry/": "fentry (BPF trampolines)",
             "fexit/": "fexit (BPF trampolines)", "fmod_ret/": "fmod_ret (BPF trampolines)"}
TC_SECTIONS = ("tc", "classifier", "tc/ingress", "tc/egress", "tcx/ingress", "tcx/egress")


@dataclass(frozen=True)
class AttachSettings:
    """What the user said about where to attach (`--pid`, `--ifname`, ...)."""

    pid: int | None = None
    ifname: str | None = None
    cgroup: str | None = None  # default: the root of the cgroup v2 hierarchy
    freq: int = 49


class Link:
    """An attachment: a libbpf link, or a bare link file descriptor."""

    def __init__(self, pointer: int | None = None, fd: int | None = None) -> None:
        self.pointer = pointer
        self.fd = fd

    def close(self) -> None:
        if self.pointer:
            libbpf.get().bpf_link__destroy(self.pointer)
            self.pointer = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def needs(section: str) -> set[str]:
    """Which AttachSettings fields a section uses: for building the options."""
    if is_xdp(section) or section in TC_SECTIONS:
        return {"ifname"}
    if section.startswith(("uprobe", "uretprobe", "usdt")):
        return {"pid"}
    if section.startswith("perf_event"):
        return {"freq"}
    if is_cgroup(section):
        return {"cgroup"}
    return set()


def prepare(program: int, section: str) -> None:
    """Before load: give a type to sections libbpf 1.1 does not know (tc/ingress, tcx/*)."""
    if section in TC_SECTIONS:
        libbpf.get().bpf_program__set_type(program, BPF_PROG_TYPE_SCHED_CLS)


def attach(program: int, name: str, section: str, settings: AttachSettings,
           where: str) -> list[Link]:
    feature = next((f for p, f in _FEATURES.items() if section.startswith(p)), None)
    if section.startswith(_TRACEFS_PREFIXES):
        tracefs.ensure_mounted()
    lib = libbpf.get()
    lib.take_log()
    if is_xdp(section):
        return [_checked(lib.bpf_program__attach_xdp(program, _ifindex(settings, name)),
                         where, name, section, interface=settings.ifname)]
    if section in TC_SECTIONS:
        return [_tcx(program, name, section, settings, where)]
    if is_cgroup(section):
        return [_cgroup(program, name, section, settings, where)]
    if section.startswith("perf_event"):
        return _perf_event(program, name, section, settings, where)
    if section.startswith(("uprobe", "uretprobe")) and settings.pid is not None:
        return [_uprobe(program, name, section, settings, where)]
    if section.startswith("usdt") and settings.pid is not None:
        path, provider, probe = _split_target(section, 3, where)
        return [_checked(lib.bpf_program__attach_usdt(program, settings.pid, path.encode(),
                                                      provider.encode(), probe.encode(), None),
                         where, name, section)]
    return [_checked(lib.bpf_program__attach(program), where, name, section, feature=feature)]


def is_xdp(section: str) -> bool:
    return section == "xdp" or section.startswith(("xdp/", "xdp."))


def is_cgroup(section: str) -> bool:
    return section.startswith(("cgroup", "sockops", "sk_msg"))


def _checked(link: int | None, where: str, name: str, section: str, *,
             feature: str | None = None, interface: str | None = None) -> Link:
    if link:
        return Link(pointer=link)
    error = libbpf.last_errno()
    raise _attach_error(error, where, name, section, feature=feature, interface=interface)


def _attach_error(error: int, where: str, name: str, section: str, *,
                  feature: str | None = None, interface: str | None = None) -> Exception:
    what = f"{where}: cannot attach {name} ({section})"
    if feature:
        return KernelFeatureError(f"{what}: this kernel does not support {feature}",
                                  hint=f"the package needs {feature}; see 'ecli doctor'")
    if error == errnos.EBUSY and interface:
        return RuntimeLoadError(f"{what}: interface {interface} already has a program attached",
                                hint="detach it first (ip link set dev IFACE xdp off)")
    if error == errnos.ENOENT and section.startswith(("uprobe", "uretprobe", "usdt")):
        return RuntimeLoadError(f"{what}: the binary or its symbol was not found")
    tail = [line for line in libbpf.get().take_log() if line.strip()][-3:]
    return RuntimeLoadError(f"{what}: {libbpf.strerror(error)}"
                            + ("\n" + "\n".join(tail) if tail else ""))


def _ifindex(settings: AttachSettings, name: str) -> int:
    if not settings.ifname:
        raise UsageError(f"program {name} attaches to a network interface: "
                         "name it with --ifname IFACE")
    try:
        return socket.if_nametoindex(settings.ifname)
    except OSError:
        raise UsageError(f"--ifname: no network interface named {settings.ifname!r}") from None


def _tcx(program: int, name: str, section: str, settings: AttachSettings, where: str) -> Link:
    lib = libbpf.get()
    direction = BPF_TCX_EGRESS if section.endswith("egress") else BPF_TCX_INGRESS
    fd = lib.bpf_link_create(lib.bpf_program__fd(program), _ifindex(settings, name),
                             direction, None)
    if fd < 0:
        raise _attach_error(libbpf.last_errno(fd), where, name, section,
                            interface=settings.ifname)
    return Link(fd=fd)


def _cgroup(program: int, name: str, section: str, settings: AttachSettings, where: str) -> Link:
    path = settings.cgroup or cgroup2_root()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise UsageError(f"--cgroup: cannot open {path}: {exc.strerror}") from None
    try:
        link = libbpf.get().bpf_program__attach_cgroup(program, fd)
        if not link and libbpf.last_errno() == errnos.EBADF:
            raise UsageError(f"--cgroup: {path} is not a cgroup v2 directory",
                             hint=f"cgroup v2 is mounted at {cgroup2_root()}")
        return _checked(link, where, name, section)
    finally:
        os.close(fd)  # the link keeps its own reference to the cgroup


def cgroup2_mount() -> str | None:
    """Where cgroup v2 is mounted (/sys/fs/cgroup, or .../unified beside v1), if anywhere."""
    try:
        with open("/proc/self/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) > 2 and fields[2] == "cgroup2":
                    return fields[1]
    except OSError:
        pass
    return None


def cgroup2_root() -> str:
    mount = cgroup2_mount()
    if mount is None:
        raise KernelFeatureError("cgroup v2 is not mounted",
                                 hint="mount it: mount -t cgroup2 none /sys/fs/cgroup/unified")
    return mount


def _uprobe(program: int, name: str, section: str, settings: AttachSettings, where: str) -> Link:
    path, function = _split_target(section, 2, where)
    options = libbpf.UprobeOpts(sz=ctypes.sizeof(libbpf.UprobeOpts),
                                retprobe=section.startswith("uretprobe"),
                                func_name=function.encode())
    link = libbpf.get().bpf_program__attach_uprobe_opts(
        program, settings.pid or -1, path.encode(), 0, ctypes.byref(options))
    return _checked(link, where, name, section)


def _split_target(section: str, parts: int, where: str) -> list[str]:
    """'uprobe//bin/bash:readline' -> ['/bin/bash', 'readline']."""
    _kind, _, target = section.partition("/")
    fields = target.split(":")
    if len(fields) != parts or not all(fields):
        raise RuntimeLoadError(f"{where}: cannot read the attach target of section {section!r}")
    return fields


def _perf_event(program: int, name: str, section: str, settings: AttachSettings,
                where: str) -> list[Link]:
    if settings.freq <= 0:
        raise UsageError("--freq must be a positive number of samples per second")
    links: list[Link] = []
    try:
        for cpu in online_cpus():
            fd = perf_event_open_cpu_clock(cpu, settings.freq)
            link = libbpf.get().bpf_program__attach_perf_event(program, fd)
            if not link:
                error = libbpf.last_errno()
                os.close(fd)
                raise _attach_error(error, where, name, section)
            links.append(Link(pointer=link))  # the link owns the perf event fd
    except BaseException:
        for link in links:
            link.close()
        raise
    return links


def perf_event_open_cpu_clock(cpu: int, freq: int) -> int:
    """A software CPU-clock sampling event on one CPU (hardware PMUs may be absent)."""
    attr = bytearray(128)
    struct.pack_into("<IIQQQQQ", attr, 0, PERF_TYPE_SOFTWARE, len(attr),
                     PERF_COUNT_SW_CPU_CLOCK, freq, 0, 0, PERF_ATTR_FREQ)
    number = SYS_PERF_EVENT_OPEN.get(platform.machine())
    if number is None:
        raise KernelFeatureError(f"perf events are not supported on {platform.machine()} here")
    buffer = ctypes.create_string_buffer(bytes(attr))
    syscall: Callable[..., int] = libbpf.libc().syscall
    fd = syscall(number, buffer, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC)
    if fd < 0:
        error = ctypes.get_errno()
        raise RuntimeLoadError(f"perf_event_open on CPU {cpu} failed: {os.strerror(error)}")
    return fd


def online_cpus() -> list[int]:
    with open("/sys/devices/system/cpu/online") as online:
        text = online.read().strip()
    cpus: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus
