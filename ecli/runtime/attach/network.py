"""XDP and tc on the interface `--ifname` names; tc programs attach as tcx links.

Kernels before 6.6 have no tcx: there a tc program becomes a classic tc filter
on the interface's clsact qdisc (`TcFilter`, through libbpf's netlink calls),
removed when the run ends. Unlike a link, such a filter is not tied to a file
descriptor: if ecli is killed with SIGKILL it stays until `tc filter del` (the
clsact qdisc ecli may have added stays too, empty and harmless).
"""

from __future__ import annotations

import ctypes
import errno as errnos
import socket

from ecli.errors import UsageError
from ecli.kernel.sections import Section
from ecli.runtime import libbpf
from ecli.runtime.attach import FdLink, LibbpfLink, attach_error, checked
from ecli.runtime.options import AttachSettings

BPF_TCX_INGRESS, BPF_TCX_EGRESS = 46, 47
BPF_TC_INGRESS, BPF_TC_EGRESS = 1, 2  # enum bpf_tc_attach_point of libbpf


def attach(program: int, name: str, section: str, found: Section, settings: AttachSettings,
           where: str) -> list[LibbpfLink | FdLink]:
    ifindex = _ifindex(settings, name)
    lib = libbpf.get()
    if found.hook == "xdp":
        return [checked(lib.bpf_program__attach_xdp(program, ifindex), where, name, section,
                        found, interface=settings.ifname)]
    egress = section.endswith("egress")
    program_fd = lib.bpf_program__fd(program)
    fd = lib.bpf_link_create(program_fd, ifindex, BPF_TCX_EGRESS if egress else BPF_TCX_INGRESS,
                             None)
    if fd >= 0:
        return [FdLink(fd)]
    error = libbpf.last_errno(fd)
    if error == errnos.EINVAL:  # no tcx before Linux 6.6: a classic tc filter
        hook = libbpf.TcHook(ctypes.sizeof(libbpf.TcHook), ifindex,
                             BPF_TC_EGRESS if egress else BPF_TC_INGRESS, 0)
        created = lib.bpf_tc_hook_create(ctypes.byref(hook))
        opts = libbpf.TcOpts(ctypes.sizeof(libbpf.TcOpts), program_fd, 0, 0, 0, 0)
        if created in (0, -errnos.EEXIST) and lib.bpf_tc_attach(ctypes.byref(hook),
                                                                ctypes.byref(opts)) == 0:
            return [TcFilter(hook, opts)]
    raise attach_error(error, where, name, section, found, interface=settings.ifname)


class TcFilter:
    """A classic tc filter ecli added (kernels without tcx); closing it deletes it."""

    def __init__(self, hook: libbpf.TcHook, opts: libbpf.TcOpts) -> None:
        self.hook: libbpf.TcHook | None = hook
        self.opts = opts

    def close(self) -> None:
        if self.hook is not None:  # detach names the filter by handle and priority only
            gone = libbpf.TcOpts(ctypes.sizeof(libbpf.TcOpts), 0, 0, 0, self.opts.handle,
                                 self.opts.priority)
            libbpf.get().bpf_tc_detach(ctypes.byref(self.hook), ctypes.byref(gone))
            self.hook = None


def _ifindex(settings: AttachSettings, name: str) -> int:
    if not settings.ifname:
        raise UsageError(f"program {name} attaches to a network interface: "
                         "name it with --ifname IFACE")
    try:
        return socket.if_nametoindex(settings.ifname)
    except OSError:
        raise UsageError(f"--ifname: no network interface named {settings.ifname!r}") from None
