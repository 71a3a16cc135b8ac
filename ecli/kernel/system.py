"""What the running machine offers eBPF, read from /proc and /sys (no C library).

The one owner of: the kernel release and its grammar, the vmlinux BTF path,
the process's capabilities, where tracefs and cgroup v2 are mounted, and the
online CPUs. Mounting tracefs is an action, not a fact: it lives with the
tracing hooks (`ecli.runtime.attach.tracing`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ecli.errors import KernelFeatureError, PrivilegeError

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")
TRACEFS = "/sys/kernel/tracing"
DEBUGFS_TRACING = "/sys/kernel/debug/tracing"
ONLINE_CPUS = Path("/sys/devices/system/cpu/online")
CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF = 12, 21, 38, 39
CAPABILITIES = {"CAP_NET_ADMIN": CAP_NET_ADMIN, "CAP_SYS_ADMIN": CAP_SYS_ADMIN,
                "CAP_PERFMON": CAP_PERFMON, "CAP_BPF": CAP_BPF}
_BPF_NEEDS = ("CAP_BPF", "CAP_PERFMON")  # or CAP_SYS_ADMIN, which implies both
# The numbers of a release, matched at its start (the site's kernel filter gets the pattern).
RELEASE = re.compile(r"\d+(?:\.\d+)*")


def release() -> str:
    """The running kernel's release, as uname -r prints it."""
    return os.uname().release


def parse_release(text: str) -> tuple[int, ...]:
    """The comparable numbers of a release: '6.18.44-fc-v595' -> (6, 18, 44),
    '5.8' -> (5, 8), '6.1.0-50-cloud-amd64' -> (6, 1, 0), 'weird' -> ()."""
    found = RELEASE.match(text.strip())
    return tuple(int(part) for part in found.group().split(".")) if found else ()


def release_at_least(minimum: str, running: str | None = None) -> bool:
    return parse_release(running or release()) >= parse_release(minimum)


def effective_capabilities() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def holds(capability: str, caps: int | None = None) -> bool | None:
    """Whether this process holds `capability` (CAP_SYS_ADMIN covers CAP_BPF and
    CAP_PERFMON); None for one this table does not know."""
    bit = CAPABILITIES.get(capability.upper())
    if bit is None:
        return None
    caps = effective_capabilities() if caps is None else caps
    admin = bool(caps & (1 << CAP_SYS_ADMIN)) and capability.upper() in _BPF_NEEDS
    return bool(caps & (1 << bit)) or admin


def missing_capabilities() -> list[str]:
    """What loading eBPF programs needs and this process lacks (empty when it may)."""
    caps = effective_capabilities()
    return [name for name in _BPF_NEEDS if not holds(name, caps)]


def require_bpf_privileges() -> None:
    missing = missing_capabilities()
    if missing:
        who = "root" if os.geteuid() == 0 else f"user {os.geteuid()}"
        raise PrivilegeError(
            f"loading eBPF programs needs {' and '.join(missing)} "
            f"(or CAP_SYS_ADMIN); {who} does not have them",
            hint="run ecli as root, e.g. with sudo, or grant the capabilities to ecli",
        )


def tracing_dir() -> str | None:
    """Where tracefs is mounted (its own mount, or under debugfs), if anywhere."""
    for path in (TRACEFS, DEBUGFS_TRACING):
        if os.path.isdir(os.path.join(path, "events")):
            return path
    return None


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


def online_cpus() -> list[int]:
    """'0-3,8' in /sys/devices/system/cpu/online -> [0, 1, 2, 3, 8]."""
    cpus: list[int] = []
    for part in ONLINE_CPUS.read_text().strip().split(","):
        low, _, high = part.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus
