"""XDP and tc on the interface `--ifname` names; tc programs attach as tcx links."""

from __future__ import annotations

import socket

from ecli.errors import UsageError
from ecli.kernel.sections import Section
from ecli.runtime import libbpf
from ecli.runtime.attach import FdLink, LibbpfLink, attach_error, checked
from ecli.runtime.options import AttachSettings

BPF_TCX_INGRESS, BPF_TCX_EGRESS = 46, 47


def attach(program: int, name: str, section: str, found: Section, settings: AttachSettings,
           where: str) -> list[LibbpfLink | FdLink]:
    ifindex = _ifindex(settings, name)
    lib = libbpf.get()
    if found.hook == "xdp":
        return [checked(lib.bpf_program__attach_xdp(program, ifindex), where, name, section,
                        found, interface=settings.ifname)]
    direction = BPF_TCX_EGRESS if section.endswith("egress") else BPF_TCX_INGRESS
    fd = lib.bpf_link_create(lib.bpf_program__fd(program), ifindex, direction, None)
    if fd < 0:
        raise attach_error(libbpf.last_errno(fd), where, name, section, found,
                           interface=settings.ifname)
    return [FdLink(fd)]


def _ifindex(settings: AttachSettings, name: str) -> int:
    if not settings.ifname:
        raise UsageError(f"program {name} attaches to a network interface: "
                         "name it with --ifname IFACE")
    try:
        return socket.if_nametoindex(settings.ifname)
    except OSError:
        raise UsageError(f"--ifname: no network interface named {settings.ifname!r}") from None
