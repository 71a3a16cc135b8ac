"""Label decoders: a key field's number shown the way people read it.

Named in `[metrics.MAP.labels]` (ecli/oci/config.py lists the names). A
decoder returns None for a value it cannot decode (no such symbol, errno,
interface or cgroup); the caller then uses the value in hex and counts it.
Look-ups that read the system (kallsyms, the cgroup tree) are loaded once and
refreshed at most once a scrape, never once a key.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ecli.kernel.syscalls import syscall_names
from ecli.kernel.system import cgroup2_mount
from ecli.oci.config import LabelInfo
from ecli.runtime.formats import FORMATTERS
from ecli.runtime.symbols import KernelSymbols

Decode = Callable[[Any], str | None]


def plain(value: Any) -> str:
    """A label value with no decoder: numbers and text as they are."""
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def hexed(value: Any) -> str:
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return "0x" + str(value).encode().hex()


class Decoders:
    """The decoders of one run; `refresh()` before each scrape lets cached tables reload."""

    def __init__(self) -> None:
        self._ksyms: KernelSymbols | None = None
        self._cgroups: dict[int, str] = {}
        self._cgroups_fresh = False
        self._syscalls: Mapping[int, str] | None = None

    def refresh(self) -> None:
        self._cgroups_fresh = False

    def decoder(self, label: LabelInfo) -> Decode:
        if label.decoder == "static":
            return lambda value: label.values.get(plain(value))
        return {
            "ksym": self._ksym, "errno": _errno, "syscall": self._syscall,
            "ipv4": _formatted("ipv4"), "ipv6": _formatted("ipv6"), "cgroup": self._cgroup,
            "ifname": _ifname, "majorminor": _majorminor, "hex": hexed,
        }[label.decoder]

    def _ksym(self, value: Any) -> str | None:
        if not isinstance(value, int):
            return None
        if self._ksyms is None:
            self._ksyms = KernelSymbols()
        name = self._ksyms.name(value)
        return None if name.startswith("0x") else name.partition("+")[0]

    def _syscall(self, value: Any) -> str | None:
        if self._syscalls is None:
            self._syscalls = syscall_names()
        return self._syscalls.get(value) if isinstance(value, int) else None

    def _cgroup(self, value: Any) -> str | None:
        """A cgroup v2 id is its directory's inode number: walk the tree once a scrape."""
        if not isinstance(value, int):
            return None
        if value not in self._cgroups and not self._cgroups_fresh:
            mount = cgroup2_mount()  # /sys/fs/cgroup, or .../unified beside v1
            self._cgroups = _cgroup_ids(Path(mount)) if mount else {}
            self._cgroups_fresh = True
        return self._cgroups.get(value)


def _cgroup_ids(root: Path) -> dict[int, str]:
    """cgroup id -> path below the cgroup v2 root ("/" for the root itself)."""
    found = {}
    for folder, _dirs, _files in os.walk(root):
        try:
            inode = os.stat(folder).st_ino
        except OSError:  # removed while walking
            continue
        relative = os.path.relpath(folder, root)
        found[inode] = "/" if relative == "." else f"/{relative}"
    return found


def _errno(value: Any) -> str | None:
    return errno.errorcode.get(abs(value)) if isinstance(value, int) else None


def _formatted(name: str) -> Decode:
    formatter = FORMATTERS[name]

    def decode(value: Any) -> str | None:
        shown = formatter(value)
        return shown if isinstance(shown, str) and shown != value else None

    return decode


def _ifname(value: Any) -> str | None:
    try:
        return socket.if_indextoname(value) if isinstance(value, int) and value > 0 else None
    except OSError:
        return None


def _majorminor(value: Any) -> str | None:
    """The kernel's own dev_t (MKDEV: major << 20 | minor), as block-layer keys hold it."""
    return f"{value >> 20}:{value & 0xFFFFF}" if isinstance(value, int) and value >= 0 else None
