"""Attaching the programs of a loaded object, one module per hook family, one `Link` protocol.

This layer sits on top of the loader: the runner loads an object, then
enters `Attached(loaded, settings)`. Each program's hook family comes from
the catalogue (`ecli.kernel.sections`) and picks the module that attaches
it: `tracing` (tracepoints, raw tracepoints, kprobes, fentry/fexit, LSM,
iterators: libbpf attaches them from the section name), `uprobe` (uprobes
and USDT), `network` (XDP, tc/tcx), `cgroup` and `perf_event`; a family
module is imported only when a program needs it. Programs that something
else attaches (sk_msg to a sockmap, struct_ops through its map) stay loaded,
with no link. Every link is tied to a file descriptor of this process, so
the kernel detaches it if ecli dies.
"""

from __future__ import annotations

import errno as errnos
import importlib
import os
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from ecli.errors import KernelFeatureError, RuntimeLoadError
from ecli.kernel.sections import Section, lookup
from ecli.runtime import libbpf
from ecli.runtime.loader import LoadedObject
from ecli.runtime.options import AttachSettings

# hook family (Section.hook) -> the module of this package that attaches it
FAMILIES = {
    "tracepoint": "tracing", "raw_tracepoint": "tracing", "kprobe": "tracing",
    "tracing": "tracing", "lsm": "tracing", "iter": "tracing", "uprobe": "uprobe",
    "usdt": "uprobe", "xdp": "network", "tc": "network", "cgroup": "cgroup",
    "perf_event": "perf_event",
}


class Link(Protocol):
    """One attachment; closing it detaches the program."""

    def close(self) -> None: ...


class LibbpfLink:
    """A `struct bpf_link *` of libbpf."""

    def __init__(self, pointer: int) -> None:
        self.pointer: int | None = pointer

    def close(self) -> None:
        if self.pointer:
            libbpf.get().bpf_link__destroy(self.pointer)
            self.pointer = None


class FdLink:
    """A bare BPF link file descriptor (BPF_LINK_CREATE)."""

    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def checked(link: int | None, where: str, name: str, section: str, found: Section, *,
            interface: str | None = None) -> LibbpfLink:
    """The link libbpf returned, or the error that explains why there is none."""
    if link:
        return LibbpfLink(link)
    raise attach_error(libbpf.last_errno(), where, name, section, found, interface=interface)


def attach_error(error: int, where: str, name: str, section: str, found: Section, *,
                 interface: str | None = None) -> Exception:
    from ecli.runtime import features

    what = f"{where}: cannot attach {name} ({section})"
    missing = features.lacking(found)
    if missing:
        return KernelFeatureError(f"{what}: {missing}", hint="see 'ecli doctor'")
    if error == errnos.EBUSY and interface:
        return RuntimeLoadError(f"{what}: interface {interface} already has a program attached",
                                hint="detach it first (ip link set dev IFACE xdp off)")
    if error == errnos.ENOENT and found.hook in ("uprobe", "usdt"):
        return RuntimeLoadError(f"{what}: the binary or its symbol was not found")
    tail = [line for line in libbpf.get().take_log() if line.strip()][-3:]
    return RuntimeLoadError(f"{what}: {libbpf.strerror(error)}"
                            + ("\n" + "\n".join(tail) if tail else ""))


class AttachedProgram(NamedTuple):
    """What `bpftool prog show` calls it: the kernel's id, name and attach section."""

    id: int
    name: str
    section: str


def attach_program(program: int, name: str, section: str, settings: AttachSettings,
                   where: str) -> Sequence[Link]:
    """The links of one loaded program (none for one that something else attaches)."""
    found = lookup(section)
    if found is None or not found.hook:
        return []
    family = importlib.import_module(f"{__name__}.{FAMILIES[found.hook]}")
    links: Sequence[Link] = family.attach(program, name, section, found, settings, where)
    return links


class Attached:
    """Every program of one loaded object attached, for a `with` block; detached on exit."""

    def __init__(self, loaded: LoadedObject, settings: AttachSettings) -> None:
        self.loaded = loaded
        self.settings = settings
        self.programs: list[AttachedProgram] = []
        self.iterators: list[tuple[AttachedProgram, LibbpfLink]] = []  # read, not waited on
        self._links: list[Link] = []

    def __enter__(self) -> Attached:
        try:
            for program, name, section in self.loaded.programs():
                links = attach_program(program, name, section, self.settings, self.loaded.name)
                self._links.extend(links)
                attached = AttachedProgram(self.loaded.program_id(program), name, section)
                self.programs.append(attached)
                if (found := lookup(section)) is not None and found.hook == "iter":
                    self.iterators.extend((attached, link) for link in links
                                          if isinstance(link, LibbpfLink))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        for link in self._links:
            link.close()
        self._links.clear()
