"""What this kernel can do for eBPF, probed for real, and whether a package fits.

`ecli doctor` is built on this module. Program and map types are probed the
way `bpftool feature probe` does it (libbpf loads a trivial program or creates
a small map of each type); attach points are checked where they live (the
kprobe and uprobe PMUs, tracefs, cgroup v2), fentry by loading a real fentry
program against a kernel function's BTF id and linking it, the BPF LSM by its
hooks in BTF, the active LSMs and a real LSM program linked, and perf events by
opening a software CPU-clock event. Everything probed is closed again at once.
Nothing here prints: results are plain data for the CLI to render.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from ecli.errors import EcliError
from ecli.kernel import system
from ecli.kernel.sections import FEATURES, lookup
from ecli.kernel.types import MAP_TYPES, PROG_TYPES, map_type_name
from ecli.runtime import features, libbpf
from ecli.runtime.attach.perf_event import perf_event_open_cpu_clock
from ecli.runtime.features import Check
from ecli.runtime.spec import ObjectSpec


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
        features.fentry() if privileged else Check("fentry", None, "unknown: probing needs root"),
        features.bpf_lsm(privileged),
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
    """The PMU or tracefs file, and kprobe-type programs (uprobes are kprobe-type too)."""
    found = features.event_source(kind, tracing)
    if found.ok and prog_ok is False:
        return Check(kind, False, "program type kprobe is not supported")
    return Check(kind, True if prog_ok else None, found.detail) if found.ok else found


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
