"""Whether this process may load and attach eBPF programs, and what is missing."""

from __future__ import annotations

import os

from ecli.errors import PrivilegeError

CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF = 21, 38, 39
_NEEDED = {"CAP_BPF": CAP_BPF, "CAP_PERFMON": CAP_PERFMON}


def effective_capabilities() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def missing_capabilities() -> list[str]:
    caps = effective_capabilities()
    if caps & (1 << CAP_SYS_ADMIN):
        return []
    return [name for name, bit in _NEEDED.items() if not caps & (1 << bit)]


def require_bpf_privileges() -> None:
    missing = missing_capabilities()
    if missing:
        who = "root" if os.geteuid() == 0 else f"user {os.geteuid()}"
        raise PrivilegeError(
            f"loading eBPF programs needs {' and '.join(missing)} "
            f"(or CAP_SYS_ADMIN); {who} does not have them",
            hint="run ecli as root, e.g. with sudo, or grant the capabilities to ecli",
        )
