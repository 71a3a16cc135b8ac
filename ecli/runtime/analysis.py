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
from ecli.runtime.helper_ids import HELPERS
from ecli.runtime.spec import ObjectSpec

# (section prefix, program type, kernel release that added it); longest prefix first.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("tracepoint/", "tracepoint", "4.7"), ("tp/", "tracepoint", "4.7"),
    ("raw_tracepoint.w/", "raw_tracepoint_writable", "5.2"),
    ("raw_tracepoint/", "raw_tracepoint", "4.17"), ("raw_tp/", "raw_tracepoint", "4.17"),
    ("tp_btf/", "tracing", "5.5"), ("fentry/", "tracing", "5.5"), ("fexit/", "tracing", "5.5"),
    ("fmod_ret/", "tracing_fmod_ret", "5.7"), ("iter/", "tracing_iter", "5.8"),
    ("kprobe.multi/", "kprobe_multi", "5.18"), ("kretprobe.multi/", "kprobe_multi", "5.18"),
    ("kprobe/", "kprobe", "4.1"), ("kretprobe/", "kprobe", "4.1"),
    ("ksyscall/", "kprobe", "4.1"), ("kretsyscall/", "kprobe", "4.1"),
    ("uprobe.multi/", "uprobe_multi", "6.6"), ("uprobe", "uprobe", "4.3"),
    ("uretprobe", "uprobe", "4.3"), ("usdt", "usdt", "4.3"),
    ("perf_event", "perf_event", "4.9"), ("lsm/", "lsm", "5.7"), ("lsm.s/", "lsm", "5.7"),
    ("xdp", "xdp", "4.8"), ("tcx/", "tc", "6.6"), ("tc", "tc", "4.1"),
    ("classifier", "tc", "4.1"), ("action", "tc_action", "4.1"),
    ("cgroup_skb/", "cgroup_skb", "4.10"), ("cgroup/sock_", "cgroup_sock_addr", "4.17"),
    ("cgroup/sock", "cgroup_sock", "4.10"), ("cgroup/dev", "cgroup_device", "4.15"),
    ("cgroup/sysctl", "cgroup_sysctl", "5.2"), ("cgroup/", "cgroup_sock_addr", "4.17"),
    ("sockops", "sock_ops", "4.13"), ("sk_skb", "sk_skb", "4.14"), ("sk_msg", "sk_msg", "4.17"),
    ("sk_lookup", "sk_lookup", "5.9"), ("socket", "socket_filter", "3.19"),
    ("struct_ops", "struct_ops", "5.6"), ("syscall", "syscall", "5.14"),
    ("flow_dissector", "flow_dissector", "4.20"), ("netfilter", "netfilter", "6.4"),
)

MAP_KERNELS = {27: "5.8", 31: "5.16", 28: "5.10", 29: "5.11", 30: "5.11"}

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

# program type -> (permission id, level, text, capability)
PROGRAM_PERMISSIONS: dict[str, tuple[str, str, str, str]] = {
    "tracepoint": ("observe-kernel", "info", "observes kernel events", "CAP_PERFMON"),
    "raw_tracepoint": ("observe-kernel", "info", "observes kernel events", "CAP_PERFMON"),
    "raw_tracepoint_writable": ("observe-kernel", "info", "observes kernel events",
                                "CAP_PERFMON"),
    "tracing": ("observe-kernel", "info", "observes kernel functions", "CAP_PERFMON"),
    "tracing_iter": ("observe-kernel", "info", "walks kernel objects", "CAP_PERFMON"),
    "kprobe": ("observe-kernel", "info", "observes kernel functions", "CAP_PERFMON"),
    "kprobe_multi": ("observe-kernel", "info", "observes kernel functions", "CAP_PERFMON"),
    "perf_event": ("observe-kernel", "info", "samples CPUs", "CAP_PERFMON"),
    "uprobe": ("observe-programs", "info", "observes functions of user programs",
               "CAP_PERFMON"),
    "uprobe_multi": ("observe-programs", "info", "observes functions of user programs",
                     "CAP_PERFMON"),
    "usdt": ("observe-programs", "info", "observes probes of user programs", "CAP_PERFMON"),
    "tracing_fmod_ret": ("override-return", "dangerous",
                         "overrides the return value of kernel functions", "CAP_SYS_ADMIN"),
    "lsm": ("security-hook", "dangerous", "can deny operations through security hooks",
            "CAP_SYS_ADMIN"),
    "struct_ops": ("replace-kernel", "dangerous", "replaces kernel behaviour (struct_ops)",
                   "CAP_SYS_ADMIN"),
    "syscall": ("bpf-syscall", "dangerous", "loads or changes other eBPF programs and maps",
                "CAP_SYS_ADMIN"),
    "xdp": ("network-hook", "elevated",
            "hooks a network interface: can drop, change or redirect its packets",
            "CAP_NET_ADMIN"),
    "tc": ("network-hook", "elevated",
           "hooks a network interface: can drop, change or redirect its packets",
           "CAP_NET_ADMIN"),
    "tc_action": ("network-hook", "elevated", "acts on a network interface's packets",
                  "CAP_NET_ADMIN"),
    "cgroup_skb": ("cgroup-network", "elevated", "filters the network traffic of a cgroup",
                   "CAP_NET_ADMIN"),
    "cgroup_sock": ("cgroup-network", "elevated", "controls the sockets of a cgroup",
                    "CAP_NET_ADMIN"),
    "cgroup_sock_addr": ("cgroup-network", "elevated",
                         "rewrites or denies the connections of a cgroup", "CAP_NET_ADMIN"),
    "cgroup_device": ("cgroup-devices", "elevated", "controls device access of a cgroup",
                      "CAP_SYS_ADMIN"),
    "cgroup_sysctl": ("cgroup-sysctl", "elevated", "controls sysctl access of a cgroup",
                      "CAP_SYS_ADMIN"),
    "sock_ops": ("network-sockets", "elevated", "changes TCP socket behaviour",
                 "CAP_NET_ADMIN"),
    "sk_skb": ("network-sockets", "elevated", "redirects socket data", "CAP_NET_ADMIN"),
    "sk_msg": ("network-sockets", "elevated", "redirects socket messages", "CAP_NET_ADMIN"),
    "sk_lookup": ("network-sockets", "elevated", "chooses sockets for incoming connections",
                  "CAP_NET_ADMIN"),
    "socket_filter": ("network-observe", "info", "reads packets of a socket", "CAP_NET_RAW"),
    "flow_dissector": ("network-hook", "elevated", "changes packet flow dissection",
                       "CAP_NET_ADMIN"),
    "netfilter": ("network-hook", "elevated", "filters packets in netfilter", "CAP_NET_ADMIN"),
}
ELF_MAGIC = b"\x7fELF"
EM_BPF = 247
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
    releases += [_section_release(p.section) for p in programs]
    releases += [MAP_KERNELS[m.type] for m in spec.maps if m.type in MAP_KERNELS]
    releases += [_helper_release(h) for h in helpers]
    permissions, capabilities = permissions_of(programs, helper_names)
    try:
        size = spec.path.stat().st_size
    except OSError:
        size = 0
    return Inspection(
        programs=programs, maps=tuple(MapInfo(m.name, m.type_name) for m in spec.maps),
        helpers=helper_names, license=spec.license,
        min_kernel=max(releases, key=release_key), capabilities=capabilities,
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
        min_kernel=max(kernels, key=release_key) if kernels else None,
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


def release_key(release: str) -> tuple[int, ...]:
    return tuple(int(p) for p in release.split(".") if p.isdigit())


def program_info(section: str) -> ProgramInfo:
    """Program type and attach point of a section name, as libbpf reads it."""
    for prefix, kind, _release in SECTIONS:
        if section.startswith(prefix):
            attach = section[len(prefix):].lstrip("/")
            return ProgramInfo(section, kind, attach.replace("/", ":", 1)
                               if kind == "tracepoint" else attach)
    return ProgramInfo(section, "unknown", "")


def permissions_of(programs: tuple[ProgramInfo, ...], helpers: tuple[str, ...]
                   ) -> tuple[tuple[Permission, ...], tuple[str, ...]]:
    """(permissions, most dangerous first; capabilities) of these programs and helpers."""
    found: dict[str, Permission] = {}
    capabilities = {"CAP_BPF"}
    for program in programs:
        rule = PROGRAM_PERMISSIONS.get(program.type)
        if rule is not None:
            pid, level, text, capability = rule
            if program.type in ("xdp", "tc") and program.attach:
                text += f" ({program.attach})"
            found.setdefault(pid, Permission(pid, level, text))
            capabilities.add(capability)
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


def _section_release(section: str) -> str:
    return next((release for prefix, _k, release in SECTIONS if section.startswith(prefix)),
                "4.1")


def _helper_release(helper: int) -> str:
    release = HELPER_RELEASES[0][1]
    for first, name in HELPER_RELEASES:
        if helper >= first:
            release = name
    return release

