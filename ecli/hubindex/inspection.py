"""The `inspection` record of the api/v1 documents: what an eBPF object can do.

Its own leaf module because `ecli run` of a local object shows these before
loading (ecli.runtime.analysis makes them) and should not pay for importing
the whole JSON index model; `model` reads and writes them in the documents
and re-exports them, so `model.Inspection` is this class. Named tuples rather than
dataclasses: they are made at import in a fraction of the time.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles each string
# annotation, which would cost this module a third more to import.
from typing import NamedTuple


class ProgramInfo(NamedTuple):
    """One eBPF program of a version, as the hub's inspection read it from the ELF."""

    section: str
    type: str
    attach: str = ""


class MapInfo(NamedTuple):
    name: str
    type: str


class Permission(NamedTuple):
    """What a package can do, in words: level is info, elevated or dangerous."""

    id: str
    level: str
    text: str


class ExportedMetric(NamedTuple):
    """A metric `ecli run --metrics` exports (sample name, kind), from the package's
    [metrics] table and maps; the hub shows them on the package page."""

    name: str
    kind: str


class ProgramOption(NamedTuple):
    """One of the program's own options (`ecli run NAME --FLAG`), read from a `const
    volatile` global of the object and the package's text for it; the hub shows them so
    a user knows what a tool can be asked before pulling it."""

    flag: str  # without the leading "--"
    type: str  # the global's C type, as BTF names it
    default: str  # the object's initial value, as `ecli run -h` prints it
    description: str = ""


class Inspection(NamedTuple):
    """What the hub found inside the artifact (ELF and BTF), so users see it before running."""

    programs: tuple[ProgramInfo, ...] = ()
    maps: tuple[MapInfo, ...] = ()
    helpers: tuple[str, ...] = ()
    license: str = ""
    min_kernel: str | None = None
    capabilities: tuple[str, ...] = ()
    permissions: tuple[Permission, ...] = ()
    size: int = 0
    metrics: tuple[ExportedMetric, ...] = ()
    options: tuple[ProgramOption, ...] = ()  # the program's own options (kind bpf)

    @property
    def dangerous(self) -> tuple[Permission, ...]:
        return tuple(p for p in self.permissions if p.level == "dangerous")
