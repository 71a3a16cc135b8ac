"""Attach the programs of a loaded object by their sections: the catalogue names the hook."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ecli.kernel.sections import lookup
from ecli.runtime.attach import Link, cgroup, network, perf_event, tracing, uprobe
from ecli.runtime.attach.settings import AttachSettings
from ecli.runtime.loader import LoadedObject

_WITH_SETTINGS: dict[str, Callable[..., Sequence[Link]]] = {
    "uprobe": uprobe.attach, "usdt": uprobe.attach, "xdp": network.attach,
    "tc": network.attach, "cgroup": cgroup.attach, "perf_event": perf_event.attach,
}
_FROM_NAME = ("tracepoint", "raw_tracepoint", "kprobe", "tracing", "lsm", "iter")


@dataclass(frozen=True)
class AttachedProgram:
    """What `bpftool prog show` calls it: the kernel's id, name and attach section."""

    id: int
    name: str
    section: str


def attach_program(program: int, name: str, section: str, settings: AttachSettings,
                   where: str) -> list[Link]:
    """The links of one program; none for a section that something else attaches
    (sk_msg to a sockmap, struct_ops through its map, ...): it stays loaded."""
    found = lookup(section)
    if found is None or not found.hook:
        return []
    if found.hook in _FROM_NAME:
        return list(tracing.attach(program, name, section, found, where))
    return list(_WITH_SETTINGS[found.hook](program, name, section, found, settings, where))


class Attached:
    """Every program of one loaded object attached, for a `with` block; detached on exit."""

    def __init__(self, loaded: LoadedObject, settings: AttachSettings) -> None:
        self.loaded = loaded
        self.settings = settings
        self.programs: list[AttachedProgram] = []
        self._links: list[Link] = []

    def __enter__(self) -> Attached:
        try:
            for program, name, section in self.loaded.programs():
                self._links.extend(attach_program(program, name, section, self.settings,
                                                  self.loaded.name))
                self.programs.append(AttachedProgram(self.loaded.program_id(program), name,
                                                     section))
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
