"""cgroup hooks (cgroup_skb, cgroup/*, sockops, lsm_cgroup) on the `--cgroup` directory."""

from __future__ import annotations

import errno as errnos
import os

from ecli.errors import UsageError
from ecli.kernel import system
from ecli.kernel.sections import Section
from ecli.runtime import libbpf
from ecli.runtime.attach import LibbpfLink, checked
from ecli.runtime.options import AttachSettings


def attach(program: int, name: str, section: str, found: Section, settings: AttachSettings,
           where: str) -> list[LibbpfLink]:
    path = settings.cgroup or system.cgroup2_root()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise UsageError(f"--cgroup: cannot open {path}: {exc.strerror}") from None
    try:
        link = libbpf.get().bpf_program__attach_cgroup(program, fd)
        if not link and libbpf.last_errno() == errnos.EBADF:
            raise UsageError(f"--cgroup: {path} is not a cgroup v2 directory",
                             hint=f"cgroup v2 is mounted at {system.cgroup2_root()}")
        return [checked(link, where, name, section, found)]
    finally:
        os.close(fd)  # the link keeps its own reference to the cgroup
