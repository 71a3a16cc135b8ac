"""What this kernel can do for eBPF, probed for real, and whether a package fits.

`ecli doctor` is built on this module. Program and map types are probed the
way `bpftool feature probe` does it (libbpf loads a trivial program or creates
a small map of each type); attach points are checked where they live (the
kprobe and uprobe PMUs, tracefs, cgroup v2), fentry by loading a real fentry
program against a kernel function's BTF id and linking it, and perf events by
opening a software CPU-clock event. Everything probed is closed again at once.
Nothing here prints: results are plain data for the CLI to render.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import os
import platform
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ecli.oci.config import PackageConfig
from ecli.runtime import libbpf, privileges, tracefs
from ecli.runtime.attach import cgroup2_mount
from ecli.runtime.spec import ObjectSpec

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")
EVENT_SOURCES = Path("/sys/bus/event_source/devices")

# enum bpf_prog_type and enum bpf_map_type (include/uapi/linux/bpf.h), by value.
PROG_TYPES = (
    "unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp",
    "perf_event", "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops",
    "sk_skb", "cgroup_device", "sk_msg", "raw_tracepoint", "cgroup_sock_addr", "lwt_seg6local",
    "lirc_mode2", "sk_reuseport", "flow_dissector", "cgroup_sysctl", "raw_tracepoint_writable",
    "cgroup_sockopt", "tracing", "struct_ops", "ext", "lsm", "sk_lookup", "syscall", "netfilter",
)
MAP_TYPES = (
    "unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash", "percpu_array",
    "stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash", "lpm_trie", "array_of_maps",
    "hash_of_maps", "devmap", "sockmap", "cpumap", "xskmap", "sockhash", "cgroup_storage",
    "reuseport_sockarray", "percpu_cgroup_storage", "queue", "stack", "sk_storage",
    "devmap_hash", "struct_ops", "ringbuf", "inode_storage", "task_storage", "bloom_filter",
    "user_ringbuf", "cgrp_storage", "arena",
)

# The raw bpf(2) interface, for the fentry probe (libbpf 1.1 cannot be told the BTF id).
SYS_BPF = {"x86_64": 321, "aarch64": 280}
BPF_PROG_LOAD, BPF_LINK_CREATE = 5, 28
BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY = 26, 24
BTF_KIND_FUNC = 12
ENOTSUPP = 524  # the kernel's internal "not supported", which leaks to user space
# union bpf_attr for BPF_PROG_LOAD, up to log_true_size (offsets from the uapi header):
# prog_type@0 insn_cnt@4 insns@8 license@16 log_level@24 log_size@28 log_buf@32
# kern_version@40 prog_flags@44 prog_name[16]@48 prog_ifindex@64 expected_attach_type@68
# prog_btf_fd@72 func_info_rec_size@76 func_info@80 func_info_cnt@88
# line_info_rec_size@92 line_info@96 line_info_cnt@104 attach_btf_id@108
# attach_btf_obj_fd@112 core_relo_cnt@116 fd_array@120 core_relos@128
# core_relo_rec_size@136 log_true_size@140
PROG_LOAD_ATTR = struct.Struct("<IIQQIIQII16sIIIIQIIQIIIIQQII")
# union bpf_attr for BPF_LINK_CREATE: prog_fd@0 target_fd@4 attach_type@8 flags@12,
# then per-type fields (all zero for a tracing link).
LINK_CREATE_ATTR = struct.Struct("<IIII48x")
# r0 = 0; exit: the smallest program the verifier accepts.
RETURN_ZERO = bytes([0xB7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])
FENTRY_TARGETS = ("bpf_fentry_test1", "do_sys_openat2", "vfs_read")


@dataclass(frozen=True)
class Check:
    """One line of the report: available (True/False), or unknown (None), and why."""

    name: str
    ok: bool | None
    detail: str = ""


@dataclass(frozen=True)
class SystemReport:
    kernel: str
    libbpf: str
    btf: Check
    tracefs: Check
    privileges: Check
    program_types: dict[str, bool | None]
    map_types: dict[str, bool | None]
    attach: dict[str, Check]  # capability key -> check; see CAPABILITIES

    @property
    def ok(self) -> bool:
        """The basics every package needs: kernel BTF and the privilege to load."""
        return bool(self.btf.ok and self.privileges.ok)


@dataclass(frozen=True)
class PackageReport:
    target: str
    name: str
    requirements: list[Check] = field(default_factory=list)

    @property
    def can_run(self) -> bool:
        return all(r.ok is not False for r in self.requirements)


# capability key -> how a report names it
CAPABILITIES = {
    "kprobe": "kprobes", "fentry": "fentry/fexit (BPF trampolines)", "uprobe": "uprobes",
    "tracepoint": "tracepoints", "raw_tracepoint": "raw tracepoints", "xdp": "XDP",
    "tc": "tc (clsact, tcx)", "cgroup": "cgroup hooks", "perf_event": "perf events",
    "ringbuf": "ring buffers",
}
# section prefix -> capability key; the first match wins (longer prefixes first).
_SECTIONS = (
    (("kprobe", "kretprobe", "ksyscall", "kretsyscall"), "kprobe"),
    (("fentry", "fexit", "fmod_ret"), "fentry"),
    (("uprobe", "uretprobe", "usdt"), "uprobe"),
    (("tracepoint/", "tp/"), "tracepoint"),
    (("raw_tracepoint", "raw_tp"), "raw_tracepoint"),
    (("xdp",), "xdp"),
    (("tc", "classifier", "tcx/"), "tc"),
    (("cgroup",), "cgroup"),
    (("perf_event",), "perf_event"),
)
# section prefix -> program type, for sections with no attach capability of their own
_SECTION_PROG_TYPES = (("tp_btf/", "tracing"), ("iter/", "tracing"), ("lsm/", "lsm"),
                       ("struct_ops", "struct_ops"), ("socket", "socket_filter"),
                       ("sk_skb", "sk_skb"), ("sk_msg", "sk_msg"), ("sockops", "sock_ops"),
                       ("flow_dissector", "flow_dissector"), ("syscall", "syscall"))


# --- the system ----------------------------------------------------------------

def probe_system() -> SystemReport:
    lib = libbpf.get()
    privileged = not privileges.missing_capabilities()
    prog_types = _probe_types(PROG_TYPES, lib.libbpf_probe_bpf_prog_type, privileged)
    map_types = _probe_types(MAP_TYPES, lib.libbpf_probe_bpf_map_type, privileged)
    tracing = tracefs.tracing_dir()
    tracefs_check = Check("tracefs", tracing is not None,
                          f"mounted at {tracing}" if tracing else
                          f"not mounted (ecli mounts it when root: mount -t tracefs nodev "
                          f"{tracefs.TRACEFS})")
    btf = Check("BTF", VMLINUX_BTF.is_file(),
                str(VMLINUX_BTF) if VMLINUX_BTF.is_file() else
                f"{VMLINUX_BTF} is missing: CO-RE objects cannot be relocated")
    return SystemReport(
        kernel=platform.release(),
        libbpf=lib.version,
        btf=btf,
        tracefs=tracefs_check,
        privileges=_privileges(),
        program_types=prog_types,
        map_types=map_types,
        attach=_attach_checks(prog_types, map_types, tracing, privileged),
    )


def _probe_types(names: tuple[str, ...], probe: Callable[[int, None], int],
                 privileged: bool) -> dict[str, bool | None]:
    """1 → True, 0 → False, an error (libbpf cannot probe it) or no privilege → None."""
    results: dict[str, bool | None] = {}
    for value, name in enumerate(names[1:], start=1):
        if not privileged:
            results[name] = None
            continue
        answer = probe(value, None)
        results[name] = bool(answer) if answer >= 0 else None
    return results


def _privileges() -> Check:
    caps = privileges.effective_capabilities()
    held = [name for name, bit in (("CAP_SYS_ADMIN", privileges.CAP_SYS_ADMIN),
                                   ("CAP_BPF", privileges.CAP_BPF),
                                   ("CAP_PERFMON", privileges.CAP_PERFMON)) if caps & (1 << bit)]
    who = "root" if os.geteuid() == 0 else f"uid {os.geteuid()}"
    missing = privileges.missing_capabilities()
    if missing:
        return Check("privileges", False, f"{who}; missing {' and '.join(missing)} "
                                          "(or CAP_SYS_ADMIN): run as root")
    return Check("privileges", True, f"{who}, with {', '.join(held)}")


def _attach_checks(prog: dict[str, bool | None], maps: dict[str, bool | None],
                   tracing: str | None, privileged: bool) -> dict[str, Check]:
    def by_type(key: str, prog_type: str, where: str = "") -> Check:
        ok = prog[prog_type]
        if ok is None:
            return Check(key, None, "unknown: probing needs root")
        return Check(key, ok, where if ok else f"program type {prog_type} is not supported")

    tracepoint = by_type("tracepoint", "tracepoint",
                         f"tracefs at {tracing}" if tracing else
                         "tracefs not mounted yet (ecli mounts it when root)")
    if tracepoint.ok and not tracing and not privileged:
        tracepoint = Check("tracepoint", False, "tracefs is not mounted and only root can")
    checks = [
        _event_source("kprobe", tracing, prog["kprobe"]),
        _fentry() if privileged else Check("fentry", None, "unknown: probing needs root"),
        _event_source("uprobe", tracing, prog["kprobe"]),  # uprobes are kprobe-type programs
        tracepoint,
        by_type("raw_tracepoint", "raw_tracepoint", "BPF_RAW_TRACEPOINT_OPEN"),
        by_type("xdp", "xdp", "native or generic (skb) mode on --ifname"),
        _tc(prog["sched_cls"]),
        _cgroup(prog["cgroup_skb"]),
        _perf_event(prog["perf_event"]),
        Check("ringbuf", maps["ringbuf"],
              "BPF_MAP_TYPE_RINGBUF" if maps["ringbuf"] else
              "unknown: probing needs root" if maps["ringbuf"] is None else
              "map type ringbuf is not supported (kernel 5.8 or newer)"),
    ]
    return {check.name: check for check in checks}


def _event_source(kind: str, tracing: str | None, prog_ok: bool | None) -> Check:
    """kprobes and uprobes attach through their PMU, or through tracefs's *_events files."""
    pmu = EVENT_SOURCES / kind
    legacy = Path(tracing, f"{kind}_events") if tracing else None
    if pmu.is_dir():
        where = f"PMU {pmu}"
    elif legacy is not None and legacy.exists():
        where = f"{legacy}"
    else:
        return Check(kind, False, f"no {kind} PMU ({pmu}) and no {kind}_events in tracefs: "
                                  f"the kernel is built without CONFIG_{kind.upper()}_EVENTS")
    if prog_ok is False:
        return Check(kind, False, "program type kprobe is not supported")
    return Check(kind, True if prog_ok else None, where)


def _tc(prog_ok: bool | None) -> Check:
    if not prog_ok:
        return Check("tc", prog_ok, "program type sched_cls is not supported"
                     if prog_ok is False else "unknown: probing needs root")
    tcx = _kernel_at_least((6, 6))
    return Check("tc", True, "clsact" + (" and tcx links" if tcx else " (tcx needs kernel 6.6)"))


def _cgroup(prog_ok: bool | None) -> Check:
    mount = cgroup2_mount()
    if mount is None:
        return Check("cgroup", False, "cgroup v2 is not mounted (mount -t cgroup2 none DIR)")
    if not prog_ok:
        return Check("cgroup", prog_ok, "program type cgroup_skb is not supported"
                     if prog_ok is False else "unknown: probing needs root")
    return Check("cgroup", True, f"cgroup v2 at {mount}")


def _perf_event(prog_ok: bool | None) -> Check:
    from ecli.errors import EcliError
    from ecli.runtime.attach import perf_event_open_cpu_clock

    if not prog_ok:
        return Check("perf_event", prog_ok, "program type perf_event is not supported"
                     if prog_ok is False else "unknown: probing needs root")
    try:
        os.close(perf_event_open_cpu_clock(0, 1))
    except EcliError as error:
        return Check("perf_event", False, error.message)
    return Check("perf_event", True, "software CPU clock (sampling)")


def _fentry() -> Check:
    """Load a fentry program on a kernel function and link it: the only sure test."""
    lib = libbpf.get()
    btf = lib.btf__load_vmlinux_btf()
    if not btf:
        return Check("fentry", False, "the kernel's BTF cannot be read")
    try:
        target = next(((name, type_id) for name in FENTRY_TARGETS
                       if (type_id := lib.btf__find_by_name_kind(btf, name.encode(),
                                                                 BTF_KIND_FUNC)) > 0), None)
    finally:
        lib.btf__free(btf)
    if target is None:
        return Check("fentry", None, "no known kernel function in BTF to probe with")
    name, type_id = target
    fd, error, log = _load_fentry(type_id)
    if fd < 0:
        reason = f": {log}" if log else ""
        return Check("fentry", False, f"the kernel refused to load a fentry program on "
                                      f"{name}: {_errno_name(error)}{reason}")
    try:
        link = _bpf(BPF_LINK_CREATE, LINK_CREATE_ATTR.pack(fd, 0, BPF_TRACE_FENTRY, 0))
        if link < 0:
            return Check("fentry", False, f"attaching a fentry program to {name} failed "
                                          f"with {_errno_name(ctypes.get_errno())}")
        os.close(link)
    finally:
        os.close(fd)
    return Check("fentry", True, f"probed on {name}")


def _load_fentry(btf_id: int) -> tuple[int, int, str]:
    """BPF_PROG_LOAD of RETURN_ZERO as fentry on `btf_id`: (fd or -1, errno, last log line)."""
    insns = ctypes.create_string_buffer(RETURN_ZERO, len(RETURN_ZERO))
    license_ = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(16384)
    attr = PROG_LOAD_ATTR.pack(
        BPF_PROG_TYPE_TRACING, len(RETURN_ZERO) // 8, ctypes.addressof(insns),
        ctypes.addressof(license_), 1, len(log), ctypes.addressof(log), 0, 0,
        b"ecli_probe", 0, BPF_TRACE_FENTRY, 0, 0, 0, 0, 0, 0, 0, btf_id, 0, 0, 0, 0, 0, 0)
    fd = _bpf(BPF_PROG_LOAD, attr)
    error = ctypes.get_errno() if fd < 0 else 0
    lines = [line for line in log.value.decode("utf-8", "replace").splitlines() if line.strip()]
    return fd, error, (lines[-1] if lines and fd < 0 else "")


def _bpf(cmd: int, attr: bytes) -> int:
    number = SYS_BPF.get(platform.machine())
    if number is None:
        ctypes.set_errno(errnos.ENOSYS)
        return -1
    buffer = ctypes.create_string_buffer(attr, len(attr))
    return int(libbpf.libc().syscall(number, cmd, buffer, len(attr)))


def _errno_name(error: int) -> str:
    if error == ENOTSUPP:
        return "ENOTSUPP (not supported by this kernel)"
    return f"{errnos.errorcode.get(error, f'errno {error}')} ({os.strerror(error)})"


def _kernel_at_least(version: tuple[int, ...]) -> bool:
    return kernel_version_tuple(platform.release()) >= version


def kernel_version_tuple(text: str) -> tuple[int, ...]:
    """'6.18.44-fc-v595' -> (6, 18, 44); '5.8' -> (5, 8)."""
    numbers = []
    for part in text.split("-", 1)[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


# --- a package -----------------------------------------------------------------

def check_package(target: str, name: str, spec: ObjectSpec | None,
                  config: PackageConfig | None, system: SystemReport) -> PackageReport:
    """Every requirement the object and its config imply, each checked against `system`."""
    needs: list[Check] = [_need_privileges(system), _need_btf(system)]
    if spec is not None:
        for section in spec.programs:
            needs.append(_need_section(section, system))
        for map_spec in spec.maps:
            type_name = MAP_TYPES[map_spec.type] if 0 < map_spec.type < len(MAP_TYPES) else None
            if type_name is None:
                needs.append(Check(f"map {map_spec.name}", None,
                                   f"map type {map_spec.type} is unknown to this ecli"))
                continue
            ok = system.map_types.get(type_name)
            needs.append(Check(f"map type {type_name} (map {map_spec.name})", ok,
                               _verdict(ok)))
    if config is not None:
        needs.extend(_config_needs(config, system))
    return PackageReport(target, name, _unique(needs))


def _need_privileges(system: SystemReport) -> Check:
    return Check("privileges", system.privileges.ok, system.privileges.detail)


def _need_btf(system: SystemReport) -> Check:
    return Check("kernel BTF", system.btf.ok, system.btf.detail)


def _need_section(section: str, system: SystemReport) -> Check:
    for prefixes, key in _SECTIONS:
        if section.startswith(prefixes):
            check = system.attach[key]
            return Check(f"{CAPABILITIES[key]} (section {section})", check.ok,
                         _verdict(check.ok, check.detail))
    for prefix, prog_type in _SECTION_PROG_TYPES:
        if section.startswith(prefix):
            ok = system.program_types.get(prog_type)
            return Check(f"program type {prog_type} (section {section})", ok, _verdict(ok))
    return Check(f"section {section}", None, "unknown attach type: ecli cannot tell")


def _config_needs(config: PackageConfig, system: SystemReport) -> list[Check]:
    req = config.requirements
    needs = []
    if req.min_kernel:
        have = kernel_version_tuple(system.kernel)
        ok = have >= kernel_version_tuple(req.min_kernel)
        needs.append(Check(f"kernel {req.min_kernel} or newer", ok,
                           f"this kernel is {system.kernel}"))
    if req.btf:
        needs.append(_need_btf(system))
    for feature in (*req.features, *req.program_types):
        needs.append(_named_need(feature, system))
    caps = privileges.effective_capabilities()
    admin = bool(caps & (1 << privileges.CAP_SYS_ADMIN))
    known = {"CAP_SYS_ADMIN": privileges.CAP_SYS_ADMIN, "CAP_BPF": privileges.CAP_BPF,
             "CAP_PERFMON": privileges.CAP_PERFMON, "CAP_NET_ADMIN": 12}
    for cap in req.capabilities:
        bit = known.get(cap.upper())
        if bit is None:
            needs.append(Check(cap, None, "a capability this ecli does not check"))
            continue
        held = bool(caps & (1 << bit)) or (admin and cap.upper() in ("CAP_BPF", "CAP_PERFMON"))
        needs.append(Check(cap.upper(), held, "held" if held else "this process lacks it"))
    return needs


def _named_need(feature: str, system: SystemReport) -> Check:
    """A feature or program type named in the package config."""
    key = feature.lower()
    if key == "btf":
        return _need_btf(system)
    by_name = {k: k for k in CAPABILITIES} | {v: k for k, v in CAPABILITIES.items()}
    if key in by_name:
        check = system.attach[by_name[key]]
        return Check(CAPABILITIES[by_name[key]], check.ok, _verdict(check.ok, check.detail))
    if key in system.program_types:
        ok = system.program_types[key]
        return Check(f"program type {key}", ok, _verdict(ok))
    if key in system.map_types:
        ok = system.map_types[key]
        return Check(f"map type {key}", ok, _verdict(ok))
    return Check(feature, None, "a requirement this ecli does not know how to check")


def _verdict(ok: bool | None, detail: str = "") -> str:
    if ok is None:
        return detail or "unknown"
    if ok:
        return "available"
    return "not available on this kernel" + (f"; {detail}" if detail else "")


def _unique(checks: list[Check]) -> list[Check]:
    seen: set[str] = set()
    return [c for c in checks if not (c.name in seen or seen.add(c.name))]
