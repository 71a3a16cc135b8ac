"""Tracepoints, raw tracepoints, kprobes, fentry/fexit, LSM and iterators.

libbpf attaches all of these from the section name alone
(`bpf_program__attach`); tracepoints need tracefs, mounted here if absent.
"""

from __future__ import annotations

import ctypes
import os

from ecli.errors import KernelFeatureError
from ecli.kernel import system
from ecli.kernel.sections import Section
from ecli.runtime import libbpf
from ecli.runtime.attach import LibbpfLink, checked
from ecli.runtime.options import AttachSettings


def attach(program: int, name: str, section: str, found: Section, _settings: AttachSettings,
           where: str) -> list[LibbpfLink]:
    if found.tracefs:
        ensure_tracefs()
    return [checked(libbpf.get().bpf_program__attach(program), where, name, section, found)]


def ensure_tracefs() -> str:
    """The tracing directory, mounting tracefs first when fresh machines left it out."""
    found = system.tracing_dir()
    if found:
        return found
    if libbpf.libc().mount(b"nodev", system.TRACEFS.encode(), b"tracefs", 0, None) != 0:
        error = ctypes.get_errno()
        raise KernelFeatureError(
            f"tracefs is not mounted and mounting it failed: {os.strerror(error)}",
            hint=f"mount it yourself: mount -t tracefs nodev {system.TRACEFS}",
        )
    return system.TRACEFS
