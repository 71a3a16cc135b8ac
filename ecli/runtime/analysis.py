"""What an eBPF object can do, read from its ELF and BTF before anyone loads it.

One analysis for the hub (`python -m generator inspect`, every artifact's
permissions on the site and in the JSON index), for `ecli inspect` and for
`ecli run`, which shows the permissions of the very object it is about to
load. It works on the `ObjectSpec` the loader parses anyway, so a run reads
the ELF once: helper calls come from `ObjectSpec.calls` (decoded by
`ecli.runtime.insns`), named through `helper_ids.HELPERS` (generated from
libbpf's bpf_helper_defs.h by `python -m generator.helper_table`).

From program types, map types and helpers it derives the minimum kernel and
a permissions summary in three levels: `dangerous` (e.g. `bpf_probe_write_user`
writes user memory), `elevated` (reads kernel memory, hooks a network
interface) and `info` (observes kernel events). The minimum kernel is a lower
bound: the newest of the releases that added each program type, map type and
helper used (helpers by id: ids are assigned in release order), and 5.4 for
any object with BTF relocation records (.BTF.ext: kernel BTF for CO-RE).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ecli.hubindex.inspection import Inspection, MapInfo, Permission, ProgramInfo
from ecli.kernel.sections import lookup
from ecli.kernel.system import parse_release
from ecli.kernel.types import map_type_release
from ecli.runtime.elf import ELF_MAGIC, EM_BPF
from ecli.runtime.helper_ids import HELPERS
from ecli.runtime.spec import ObjectSpec

# First helper id of each release: a helper needs the release of the greatest anchor
# at or below its id.
HELPER_RELEASES: tuple[tuple[int, str], ...] = (
    (1, "3.18"), (4, "4.1"), (12, "4.2"), (17, "4.3"), (23, "4.4"), (26, "4.5"),
    (27, "4.6"), (31, "4.8"), (37, "4.9"), (39, "4.10"), (42, "4.11"), (43, "4.12"),
    (45, "4.13"), (48, "4.14"), (53, "4.15"), (58, "4.16"), (60, "4.17"), (65, "4.18"),
    (82, "4.19"), (84, "4.20"), (93, "5.1"), (101, "5.2"), (109, "5.3"), (111, "5.5"),
    (119, "5.6"), (120, "5.7"), (125, "5.8"), (140, "5.10"), (156, "5.11"), (162, "5.12"),
    (164, "5.13"), (166, "5.14"), (169, "5.15"), (179, "5.16"), (181, "5.17"),
    (186, "5.18"), (191, "5.19"), (209, "6.1"), (210, "6.2"),
)

# helper -> (permission id, level, what it lets the program do)
HELPER_PERMISSIONS: dict[str, tuple[str, str, str]] = {
    "bpf_probe_write_user": ("write-user-memory", "dangerous",
                             "writes into the memory of running processes"),
    "bpf_override_return": ("override-return", "dangerous",
                            "overrides the return value of kernel functions"),
    "bpf_send_signal": ("send-signal", "dangerous", "sends signals to processes (can kill them)"),
    "bpf_send_signal_thread": ("send-signal", "dangerous",
                               "sends signals to processes (can kill them)"),
    "bpf_sys_bpf": ("bpf-syscall", "dangerous", "loads or changes other eBPF programs and maps"),
    "bpf_probe_read": ("read-kernel-memory", "elevated", "reads kernel memory"),
    "bpf_probe_read_str": ("read-kernel-memory", "elevated", "reads kernel memory"),
    "bpf_probe_read_kernel": ("read-kernel-memory", "elevated", "reads kernel memory"),
    "bpf_probe_read_kernel_str": ("read-kernel-memory", "elevated", "reads kernel memory"),
    "bpf_probe_read_user": ("read-user-memory", "elevated",
                            "reads the memory of running processes"),
    "bpf_probe_read_user_str": ("read-user-memory", "elevated",
                                "reads the memory of running processes"),
    "bpf_copy_from_user": ("read-user-memory", "elevated",
                           "reads the memory of running processes"),
    "bpf_copy_from_user_task": ("read-user-memory", "elevated",
                                "reads the memory of running processes"),
    "bpf_d_path": ("read-paths", "info", "reads file paths"),
    "bpf_skb_store_bytes": ("modify-packets", "elevated", "modifies network packets"),
    "bpf_redirect": ("redirect-packets", "elevated", "redirects network packets"),
    "bpf_redirect_map": ("redirect-packets", "elevated", "redirects network packets"),
    "bpf_clone_redirect": ("redirect-packets", "elevated", "redirects network packets"),
}

# the hub's kind of program (`ecli.kernel.sections`: Section.kind) -> (permission id, level,
# text); the capability comes from the catalogue
_OBSERVE = ("observe-kernel", "info", "observes kernel events")
_KERNEL_FUNCTIONS = ("observe-kernel", "info", "observes kernel functions")
_USER_FUNCTIONS = ("observe-programs", "info", "observes functions of user programs")
_INTERFACE = ("network-hook", "elevated",
              "hooks a network interface: can drop, change or redirect its packets")
_SOCKETS = ("network-sockets", "elevated", "redirects socket data")
_ROUTES = ("network-hook", "elevated", "processes packets of routes (lightweight tunnels)")
PROGRAM_PERMISSIONS: dict[str, tuple[str, str, str]] = {
    "tracepoint": _OBSERVE, "raw_tracepoint": _OBSERVE, "raw_tracepoint_writable": _OBSERVE,
    "tracing": _KERNEL_FUNCTIONS, "kprobe": _KERNEL_FUNCTIONS, "kprobe_multi": _KERNEL_FUNCTIONS,
    "tracing_iter": ("observe-kernel", "info", "walks kernel objects"),
    "perf_event": ("observe-kernel", "info", "samples CPUs"),
    "uprobe": _USER_FUNCTIONS, "uprobe_multi": _USER_FUNCTIONS,
    "usdt": ("observe-programs", "info", "observes probes of user programs"),
    "tracing_fmod_ret": ("override-return", "dangerous",
                         "overrides the return value of kernel functions"),
    "lsm": ("security-hook", "dangerous", "can deny operations through security hooks"),
    "struct_ops": ("replace-kernel", "dangerous", "replaces kernel behaviour (struct_ops)"),
    "ext": ("replace-programs", "dangerous", "replaces functions of other eBPF programs"),
    "syscall": ("bpf-syscall", "dangerous", "loads or changes other eBPF programs and maps"),
    "xdp": _INTERFACE, "tc": _INTERFACE, "netkit": _INTERFACE,
    "tc_action": ("network-hook", "elevated", "acts on a network interface's packets"),
    "cgroup_skb": ("cgroup-network", "elevated", "filters the network traffic of a cgroup"),
    "cgroup_sock": ("cgroup-network", "elevated", "controls the sockets of a cgroup"),
    "cgroup_sock_addr": ("cgroup-network", "elevated",
                         "rewrites or denies the connections of a cgroup"),
    "cgroup_sockopt": ("cgroup-network", "elevated", "changes socket options of a cgroup"),
    "cgroup_device": ("cgroup-devices", "elevated", "controls device access of a cgroup"),
    "cgroup_sysctl": ("cgroup-sysctl", "elevated", "controls sysctl access of a cgroup"),
    "sock_ops": ("network-sockets", "elevated", "changes TCP socket behaviour"),
    "sk_skb": _SOCKETS, "sk_reuseport": ("network-sockets", "elevated",
                                          "chooses sockets for incoming packets"),
    "sk_msg": ("network-sockets", "elevated", "redirects socket messages"),
    "sk_lookup": ("network-sockets", "elevated", "chooses sockets for incoming connections"),
    "socket_filter": ("network-observe", "info", "reads packets of a socket"),
    "flow_dissector": ("network-hook", "elevated", "changes packet flow dissection"),
    "netfilter": ("network-hook", "elevated", "filters packets in netfilter"),
    "lwt_in": _ROUTES, "lwt_out": _ROUTES, "lwt_xmit": _ROUTES, "lwt_seg6local": _ROUTES,
    "lirc_mode2": ("input-devices", "elevated", "decodes infrared remote-control input"),
}
MAX_OBJECTS = 64  # eBPF objects analysed inside one bundle
MAX_FILES = 10_000  # files of a bundle looked at for them
LEVELS = ("dangerous", "elevated", "info")
LEVEL_ORDER = {level: i for i, level in enumerate(LEVELS)}


def analyse(spec: ObjectSpec) -> Inspection:
    """What `spec` (an object already parsed) can do; no I/O but one stat."""
    programs = tuple(program_info(section) for section in spec.programs)
    helpers = {call.helper for call in spec.calls}
    helper_names = tuple(sorted(HELPERS.get(h, f"helper#{h}") for h in helpers))
    releases = ["5.4" if spec.has_btf_ext else "4.1"]
    releases += [found.min_kernel for found in spec.section_defs() if found]
    releases += [release for m in spec.maps if (release := map_type_release(m.type))]
    releases += [_helper_release(h) for h in helpers]
    permissions, capabilities = permissions_of(programs, helper_names)
    try:
        size = spec.path.stat().st_size
    except OSError:
        size = 0
    return Inspection(
        programs=programs, maps=tuple(MapInfo(m.name, m.type_name) for m in spec.maps),
        helpers=helper_names, license=spec.license,
        min_kernel=max(releases, key=parse_release), capabilities=capabilities,
        permissions=permissions, size=size)


def analyse_file(path: Path) -> Inspection:
    """Parse and analyse one object file; ArtifactError when it is not a readable one."""
    return analyse(ObjectSpec.from_file(path))


def merge(parts: list[Inspection], *, same_objects: bool = False) -> Inspection:
    """One summary of several inspections.

    The objects of one bundle (`same_objects=False`) add up: their sizes are
    summed. The platforms of one image index (`same_objects=True`) are the
    same program built for each architecture: the size is the largest one.
    Programs and maps met twice are listed once; the minimum kernel is the
    newest; permissions and capabilities are derived again from the union.
    """
    if len(parts) == 1:
        return parts[0]
    programs = tuple(dict.fromkeys(p for part in parts for p in part.programs))
    helpers = tuple(sorted({h for part in parts for h in part.helpers}))
    permissions, capabilities = permissions_of(programs, helpers)
    kernels = [part.min_kernel for part in parts if part.min_kernel]
    sizes = [part.size for part in parts]
    return Inspection(
        programs=programs, maps=tuple(dict.fromkeys(m for part in parts for m in part.maps)),
        helpers=helpers,
        license=" / ".join(sorted({part.license for part in parts if part.license})),
        min_kernel=max(kernels, key=parse_release) if kernels else None,
        capabilities=tuple(sorted({*capabilities, *(c for p in parts for c in p.capabilities)})),
        permissions=_union_permissions(permissions, parts),
        size=max(sizes) if same_objects else sum(sizes))


def is_bpf_elf(path: Path) -> bool:
    """An ELF file for machine 247 (eBPF): what a bundle's other files are not."""
    try:
        with path.open("rb") as stream:
            head = stream.read(20)
    except OSError:
        return False
    return (head[:4] == ELF_MAGIC and len(head) == 20
            and int.from_bytes(head[18:20], "little") == EM_BPF)


def bpf_objects_in(root: Path) -> list[Path]:
    """The eBPF objects among the regular files under `root` (symlinks not followed)."""
    found: list[Path] = []
    looked = 0
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            looked += 1
            if looked > MAX_FILES:
                return found
            path = Path(folder, name)
            if not path.is_symlink() and path.is_file() and is_bpf_elf(path):
                found.append(path)
                if len(found) == MAX_OBJECTS:
                    return found
    return found


def shown(inspection: Inspection, verbose: bool) -> tuple[Permission, ...]:
    """The permissions worth a line before a run: info ones only when asked."""
    return tuple(p for p in inspection.permissions if verbose or p.level != "info")


def program_info(section: str) -> ProgramInfo:
    """The hub's kind of program and its attach point, from the catalogue."""
    found = lookup(section)
    if found is None:
        return ProgramInfo(section, "unknown", "")
    return ProgramInfo(section, found.kind, found.attach_point(section))


def permissions_of(programs: tuple[ProgramInfo, ...], helpers: tuple[str, ...]
                   ) -> tuple[tuple[Permission, ...], tuple[str, ...]]:
    """(permissions, most dangerous first; capabilities) of these programs and helpers."""
    found: dict[str, Permission] = {}
    capabilities = {"CAP_BPF"}
    for program in programs:
        rule = PROGRAM_PERMISSIONS.get(program.type)
        if rule is not None:
            pid, level, text = rule
            if program.type in ("xdp", "tc") and program.attach:
                text += f" ({program.attach})"
            found.setdefault(pid, Permission(pid, level, text))
        section = lookup(program.section)
        if section is not None:
            capabilities.add(section.capability)
    for helper in helpers:
        rule_h = HELPER_PERMISSIONS.get(helper)
        if rule_h is not None:
            pid, level, text = rule_h
            found.setdefault(pid, Permission(pid, level, f"{text} ({helper})"))
            if level == "dangerous":
                capabilities.add("CAP_SYS_ADMIN")
    return _ordered(found.values()), tuple(sorted(capabilities))


def _union_permissions(derived: tuple[Permission, ...], parts: list[Inspection]
                       ) -> tuple[Permission, ...]:
    """The derived permissions, plus any a part carries that the rules do not know
    (an inspection read from an index written by a newer hub)."""
    found = {p.id: p for p in derived}
    for part in parts:
        for permission in part.permissions:
            found.setdefault(permission.id, permission)
    return _ordered(found.values())


def _ordered(permissions: Iterable[Permission]) -> tuple[Permission, ...]:
    return tuple(sorted(permissions,
                        key=lambda p: (LEVEL_ORDER.get(p.level, len(LEVELS)), p.id)))


def _helper_release(helper: int) -> str:
    release = HELPER_RELEASES[0][1]
    for first, name in HELPER_RELEASES:
        if helper >= first:
            release = name
    return release

