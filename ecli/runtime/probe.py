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
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ecli.errors import EcliError
from ecli.kernel import system
from ecli.kernel.sections import FEATURES, lookup
from ecli.kernel.types import MAP_TYPES, PROG_TYPES, map_type_name
from ecli.runtime import libbpf
from ecli.runtime.attach.perf_event import perf_event_open_cpu_clock
from ecli.runtime.spec import ObjectSpec

EVENT_SOURCES = Path("/sys/bus/event_source/devices")

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


@dataclass(frozen=True)
class PackageNeeds:
    """What a package's config says it needs, as plain data (the CLI reads the config)."""

    min_kernel: str | None = None
    btf: bool = True
    features: tuple[str, ...] = ()
    program_types: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()


# capability key -> how a report names it: the catalogue's features, and ring buffers
CAPABILITIES = {**FEATURES, "ringbuf": "ring buffers"}


# --- the system ----------------------------------------------------------------

def probe_system() -> SystemReport:
    lib = libbpf.get()
    privileged = not system.missing_capabilities()
    prog_types = _probe_types(PROG_TYPES, lib.libbpf_probe_bpf_prog_type, privileged)
    map_types = _probe_types(MAP_TYPES, lib.libbpf_probe_bpf_map_type, privileged)
    tracing = system.tracing_dir()
    tracefs_check = Check("tracefs", tracing is not None,
                          f"mounted at {tracing}" if tracing else
                          f"not mounted (ecli mounts it when root: mount -t tracefs nodev "
                          f"{system.TRACEFS})")
    vmlinux = system.VMLINUX_BTF
    btf = Check("BTF", vmlinux.is_file(),
                str(vmlinux) if vmlinux.is_file() else
                f"{vmlinux} is missing: CO-RE objects cannot be relocated")
    return SystemReport(
        kernel=system.release(),
        libbpf=lib.version,
        btf=btf,
        tracefs=tracefs_check,
        privileges=_privileges(),
        program_types=prog_types,
        map_types=map_types,
        attach=_attach_checks(prog_types, map_types, tracing, privileged),
    )


def _probe_types(names: tuple[tuple[str, str], ...], probe: Callable[[int, None], int],
                 privileged: bool) -> dict[str, bool | None]:
    """1 → True, 0 → False, an error (libbpf cannot probe it) or no privilege → None."""
    results: dict[str, bool | None] = {}
    for value, (name, _release) in enumerate(names[1:], start=1):
        if not privileged:
            results[name] = None
            continue
        answer = probe(value, None)
        results[name] = bool(answer) if answer >= 0 else None
    return results


def _privileges() -> Check:
    caps = system.effective_capabilities()
    held = [name for name in ("CAP_SYS_ADMIN", "CAP_BPF", "CAP_PERFMON")
            if caps & (1 << system.CAPABILITIES[name])]
    who = "root" if os.geteuid() == 0 else f"uid {os.geteuid()}"
    missing = system.missing_capabilities()
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
    tcx = system.release_at_least("6.6")
    return Check("tc", True, "clsact" + (" and tcx links" if tcx else " (tcx needs kernel 6.6)"))


def _cgroup(prog_ok: bool | None) -> Check:
    mount = system.cgroup2_mount()
    if mount is None:
        return Check("cgroup", False, "cgroup v2 is not mounted (mount -t cgroup2 none DIR)")
    if not prog_ok:
        return Check("cgroup", prog_ok, "program type cgroup_skb is not supported"
                     if prog_ok is False else "unknown: probing needs root")
    return Check("cgroup", True, f"cgroup v2 at {mount}")


def _perf_event(prog_ok: bool | None) -> Check:
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
    number = SYS_BPF.get(os.uname().machine)
    if number is None:
        ctypes.set_errno(errnos.ENOSYS)
        return -1
    buffer = ctypes.create_string_buffer(attr, len(attr))
    return int(libbpf.libc().syscall(number, cmd, buffer, len(attr)))


def _errno_name(error: int) -> str:
    if error == ENOTSUPP:
        return "ENOTSUPP (not supported by this kernel)"
    return f"{errnos.errorcode.get(error, f'errno {error}')} ({os.strerror(error)})"


# --- a package -----------------------------------------------------------------

def check_package(target: str, name: str, spec: ObjectSpec | None,
                  declared: PackageNeeds | None, report: SystemReport) -> PackageReport:
    """Every requirement the object and its config imply, each checked against `report`."""
    needs: list[Check] = [_need_privileges(report), _need_btf(report)]
    if spec is not None:
        for section in spec.programs:
            needs.append(_need_section(section, report))
        for map_spec in spec.maps:
            type_name = map_type_name(map_spec.type) if map_spec.type > 0 else None
            if type_name is None:
                needs.append(Check(f"map {map_spec.name}", None,
                                   f"map type {map_spec.type} is unknown to this ecli"))
                continue
            ok = report.map_types.get(type_name)
            needs.append(Check(f"map type {type_name} (map {map_spec.name})", ok,
                               _verdict(ok)))
    if declared is not None:
        needs.extend(_declared_needs(declared, report))
    return PackageReport(target, name, _unique(needs))


def _need_privileges(report: SystemReport) -> Check:
    return Check("privileges", report.privileges.ok, report.privileges.detail)


def _need_btf(report: SystemReport) -> Check:
    return Check("kernel BTF", report.btf.ok, report.btf.detail)


def _need_section(section: str, report: SystemReport) -> Check:
    """What the catalogue says the section needs: its feature's check (kprobes, tc, ...),
    else its program type; and a kernel at least as new as the section."""
    found = lookup(section)
    if found is None:
        return Check(f"section {section}", None,
                     "not a section name libbpf knows: ecli cannot tell")
    type_ok = report.program_types.get(found.prog_type)
    if found.feature:
        check = report.attach[found.feature]
        ok = False if type_ok is False else check.ok
        detail = check.detail if type_ok is not False else \
            f"program type {found.prog_type} is not supported"
    else:
        ok, detail = type_ok, ""
    if ok and not system.release_at_least(found.min_kernel, report.kernel):
        ok, detail = False, f"needs kernel {found.min_kernel} or newer"
    return Check(f"{found.need} (section {section})", ok, _verdict(ok, detail))


def _declared_needs(declared: PackageNeeds, report: SystemReport) -> list[Check]:
    needs = []
    if declared.min_kernel:
        ok = system.release_at_least(declared.min_kernel, report.kernel)
        needs.append(Check(f"kernel {declared.min_kernel} or newer", ok,
                           f"this kernel is {report.kernel}"))
    if declared.btf:
        needs.append(_need_btf(report))
    for feature in (*declared.features, *declared.program_types):
        needs.append(_named_need(feature, report))
    caps = system.effective_capabilities()
    for cap in declared.capabilities:
        held = system.holds(cap, caps)
        if held is None:
            needs.append(Check(cap, None, "a capability this ecli does not check"))
            continue
        needs.append(Check(cap.upper(), held, "held" if held else "this process lacks it"))
    return needs


def _named_need(feature: str, report: SystemReport) -> Check:
    """A feature or program type named in the package config."""
    key = feature.lower()
    if key == "btf":
        return _need_btf(report)
    by_name = {k: k for k in CAPABILITIES} | {v: k for k, v in CAPABILITIES.items()}
    if key in by_name:
        check = report.attach[by_name[key]]
        return Check(CAPABILITIES[by_name[key]], check.ok, _verdict(check.ok, check.detail))
    if key in report.program_types:
        ok = report.program_types[key]
        return Check(f"program type {key}", ok, _verdict(ok))
    if key in report.map_types:
        ok = report.map_types[key]
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
