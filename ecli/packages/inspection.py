"""What a located package holds, for `ecli inspect` and before `ecli run` of a bundle.

A kind `bpf` package is its one eBPF object, analysed by
`ecli.runtime.analysis` (`ecli run` analyses the ObjectSpec it has already
parsed instead). A `bundle` is a user-space program with eBPF objects
beside it: the objects found inside the extracted bundle are analysed, the
hub's inspection of the version is read from the cached JSON index when the
package came through one, and the program itself is opaque (it may load
anything), which the report says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ecli.errors import EcliError, UsageError
from ecli.hubindex.model import Inspection
from ecli.paths import Paths
from ecli.runtime import analysis
from ecli.runtime.spec import ObjectSpec

if TYPE_CHECKING:
    from ecli.packages.locate import LocatedPackage

BUNDLE_NOTE = ("the bundle's user-space program cannot be inspected: it may load other "
               "eBPF programs or do anything its user can")


@dataclass(frozen=True)
class MapDetail:
    """A map as `ecli inspect` shows it: the index's MapInfo plus its sizes."""

    name: str
    type: str
    key_size: int
    value_size: int
    max_entries: int


@dataclass(frozen=True)
class ObjectReport:
    name: str  # the object's path inside the package
    inspection: Inspection
    maps: tuple[MapDetail, ...]


@dataclass(frozen=True)
class PackageReport:
    name: str
    kind: str
    version: str | None
    digest: str | None
    objects: tuple[ObjectReport, ...] = ()
    unreadable: tuple[str, ...] = ()  # "object: why" for objects that could not be read
    index: Inspection | None = None  # the hub's inspection of this version (bundles)
    note: str = ""

    @property
    def summary(self) -> Inspection | None:
        """The objects together, with the hub's findings added; None when nothing is known."""
        parts = [o.inspection for o in self.objects]
        if self.index is not None:
            parts.append(self.index)
        return analysis.merge(parts) if parts else None


def inspect_object(path: Path, name: str | None = None) -> ObjectReport:
    spec = ObjectSpec.from_file(path)
    maps = tuple(MapDetail(m.name, m.type_name, m.key_size, m.value_size, m.max_entries)
                 for m in spec.maps)
    return ObjectReport(name or path.name, analysis.analyse(spec), maps)


def inspect_package(package: LocatedPackage, paths: Paths) -> PackageReport:
    """Analyse what `package` holds; UsageError for kinds with nothing to read (images)."""
    head = (package.name, package.kind, package.version, package.digest)
    if package.kind == "bundle":
        from ecli.packages import bundles

        root = bundles.extracted(package, paths)
        objects, unreadable = [], []
        for path in analysis.bpf_objects_in(root):
            relative = str(path.relative_to(root))
            try:
                objects.append(inspect_object(path, relative))
            except EcliError as exc:
                unreadable.append(f"{relative}: {exc.message}")
        return PackageReport(*head, tuple(objects), tuple(unreadable),
                             index_inspection(package, paths), BUNDLE_NOTE)
    if package.object_path is None:
        raise UsageError(f"{package.name}: packages of kind {package.kind!r} hold no eBPF "
                         "object ecli can read", hint="container images are not inspected")
    name = package.config.object if package.config and package.config.object else None
    return PackageReport(*head, (inspect_object(package.object_path, name),))


def index_inspection(package: LocatedPackage, paths: Paths) -> Inspection | None:
    """The hub's inspection of this version, from the cached JSON index; None when unknown."""
    if package.source is None or package.digest is None:
        return None
    from ecli.packages.index_client import IndexClient

    client = IndexClient(paths, offline=True)
    source = next((s for s in client.sources if s.name == package.source), None)
    if source is None:
        return None
    try:
        document = client.package(source, package.name)
    except EcliError:
        return None
    for version in document.versions:
        if package.digest in (version.digest, *(p.digest for p in version.platforms)):
            return version.inspection
    return None
