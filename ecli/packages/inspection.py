"""What a located package holds, for `ecli inspect` and before `ecli run` of a bundle.

A kind `bpf` package is its one eBPF object, analysed by
`ecli.runtime.analysis` (`ecli run` analyses the ObjectSpec it has already
parsed instead). A `bundle` is a user-space program with eBPF objects
beside it: the objects found inside the extracted bundle are analysed, the
hub's inspection of the version is read from the cached JSON index when the
package came through one, and the program itself is opaque (it may load
anything), which the report says. An `image` is all opaque.

Both run the publisher's own code with the user's power (root, for eBPF):
`program_permission` says so, as `dangerous` unless the package is the
user's own build (a path on this machine) or its signature by the signer its
index entry declares held (`LocatedPackage.signer`), then as `elevated`.
`ecli run` asks before a dangerous one, as for any dangerous eBPF permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ecli.errors import EcliError, UsageError
from ecli.hubindex.model import Inspection, Permission
from ecli.paths import Paths
from ecli.runtime import analysis
from ecli.runtime.spec import ObjectSpec

if TYPE_CHECKING:
    from ecli.packages.locate import LocatedPackage

BUNDLE_NOTE = ("the bundle's user-space program cannot be inspected: it may load other "
               "eBPF programs or do anything its user can")
WASM_NOTE = ("a wasm module runs sandboxed: it can load eBPF objects and use their maps, nothing "
             "else; ecli checks each object it loads and refuses one with a dangerous "
             "permission not listed here")
WASM_NONE_NOTE = ("no eBPF object was found inside the wasm module (it may build or unpack "
                  "one): its permissions are checked when it loads one")
IMAGE_NOTE = "a container image holds no eBPF object ecli reads: its programs are opaque"
PROGRAM_TEXT = {
    "bundle": "runs the publisher's program as root: it can do anything root can",
    "image": "runs the publisher's container as root, in the host's PID and network "
             "namespaces, with the capabilities it declares",
}


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
    program: Permission | None = None  # the publisher's program run (bundles, images)

    @property
    def summary(self) -> Inspection | None:
        """The objects together, with the hub's findings and the publisher's program
        added; None when nothing is known."""
        parts = [o.inspection for o in self.objects]
        if self.index is not None:
            parts.append(self.index)
        if self.program is not None:
            parts.append(Inspection(permissions=(self.program,)))
        return analysis.merge(parts) if parts else None


def inspect_object(path: Path, name: str | None = None) -> ObjectReport:
    spec = ObjectSpec.from_file(path)
    maps = tuple(MapDetail(m.name, m.type_name, m.key_size, m.value_size, m.max_entries)
                 for m in spec.maps)
    return ObjectReport(name or path.name, analysis.analyse(spec), maps)


def program_permission(package: LocatedPackage) -> Permission | None:
    """What running a bundle's or image's own program allows, and how much to trust it."""
    text = PROGRAM_TEXT.get(package.kind)
    if text is None:
        return None
    if package.local:
        return Permission("run-publisher-code", "elevated", f"{text} (a build on this machine)")
    if package.signer is not None:
        return Permission("run-publisher-code", "elevated",
                          f"{text} (signed by {package.signer}, as its index entry declares)")
    return Permission("run-publisher-code", "dangerous",
                      f"{text} (not signed by a signer its index entry declares)")


def inspect_package(package: LocatedPackage, paths: Paths) -> PackageReport:
    """Analyse what `package` holds; UsageError for kinds ecli cannot run."""
    head = (package.name, package.kind, package.version, package.digest)
    if package.kind == "image":
        return PackageReport(*head, note=IMAGE_NOTE, program=program_permission(package))
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
                             index_inspection(package, paths), BUNDLE_NOTE,
                             program_permission(package))
    if package.kind == "wasm" and package.object_path is not None:
        return _inspect_wasm(package.object_path, head)
    if package.object_path is None:
        raise UsageError(f"{package.name}: packages of kind {package.kind!r} hold no eBPF "
                         "object ecli can read")
    name = package.config.object if package.config and package.config.object else None
    return PackageReport(*head, (inspect_object(package.object_path, name),))


def _inspect_wasm(module: Path, head: tuple[str, str, str | None, str | None]
                  ) -> PackageReport:
    """The objects embedded in a wasm module, analysed from a scratch folder."""
    import tempfile

    from ecli.runtime.wasm.embedded import write_objects

    objects, unreadable = [], []
    with tempfile.TemporaryDirectory(prefix="ecli-wasm-") as scratch:
        for path in write_objects(module, Path(scratch)):
            try:
                objects.append(inspect_object(path))
            except EcliError as exc:
                unreadable.append(f"{path.name}: {exc.message}")
    return PackageReport(*head, tuple(objects), tuple(unreadable),
                         note=WASM_NOTE if objects else WASM_NONE_NOTE)


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
