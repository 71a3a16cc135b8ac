"""Tracepoints need tracefs, which fresh machines often leave unmounted."""

from __future__ import annotations

import ctypes
import os

from ecli.errors import KernelFeatureError
from ecli.runtime import libbpf

TRACEFS = "/sys/kernel/tracing"
DEBUGFS_TRACING = "/sys/kernel/debug/tracing"


def tracing_dir() -> str | None:
    for path in (TRACEFS, DEBUGFS_TRACING):
        if os.path.isdir(os.path.join(path, "events")):
            return path
    return None


def ensure_mounted() -> str:
    """Return the tracing directory, mounting tracefs first when it is absent."""
    found = tracing_dir()
    if found:
        return found
    if libbpf.libc().mount(b"nodev", TRACEFS.encode(), b"tracefs", 0, None) != 0:
        error = ctypes.get_errno()
        raise KernelFeatureError(
            f"tracefs is not mounted and mounting it failed: {os.strerror(error)}",
            hint=f"mount it yourself: mount -t tracefs nodev {TRACEFS}",
        )
    return TRACEFS
