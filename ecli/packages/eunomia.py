"""An eunomia-bpf JSON package made runnable: its object on disk, its options and event types.

The format is read by `ecli.oci.eunomia`; here the embedded object is checked
as any `.bpf.o` is (`ElfFile`) and kept by its digest under downloads/, so the
runtime loads it like any other object. The declared export types decode the
events when the object's BTF lacks them (BTF built by `ecli.runtime.btf_encode`);
when the object has a struct of the same name, the two must agree (size and
each member's name, in order), else the package is refused before anything is
loaded; then the object's own BTF decodes. `.rodata` variables with descriptions
become the program's options (`-h`), a variable's `cmdarg.long` its flag.
"""

from __future__ import annotations

from pathlib import Path

from ecli.errors import ArtifactError
from ecli.oci import eunomia
from ecli.paths import Paths
from ecli.runtime import btf as b
from ecli.runtime.btf_encode import StructDecl, encode
from ecli.runtime.elf import ElfFile
from ecli.runtime.event_header import EventTypes
from ecli.runtime.options import OptionText


def read(path: Path) -> bytes:
    """A package file's bytes, bounded before they are read whole."""
    try:
        with path.open("rb") as handle:
            return handle.read(eunomia.MAX_PACKAGE_BYTES + 1)
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read the eunomia package: {exc.strerror}") from None


def check(raw: bytes, where: str) -> eunomia.EunomiaPackage:
    """The package in `raw`, refused whole when it, its object or its export types are bad."""
    package = eunomia.parse(raw, where)
    elf = ElfFile(package.object, f"{where}: bpf_object")
    event_types(package, _object_btf(elf, where))
    return package


def unpack(raw: bytes, where: str, paths: Paths) -> tuple[eunomia.EunomiaPackage, Path]:
    """The package in `raw` and its object written out by digest; nothing is kept when it
    is refused."""
    from ecli.files import write_atomic
    from ecli.oci.manifest import sha256_digest

    package = check(raw, where)
    digest = sha256_digest(package.object).removeprefix("sha256:")
    path = paths.downloads_dir / f"eunomia-{digest[:32]}.bpf.o"
    if not path.exists():
        write_atomic(path, package.object)
    return package, path


def _object_btf(elf: ElfFile, where: str) -> b.Btf | None:
    section = elf.section(".BTF")
    return None if section is None else b.Btf.parse(elf.section_data(section),
                                                  f"{where}: bpf_object")


def event_types(package: eunomia.EunomiaPackage, own: b.Btf | None = None) -> EventTypes | None:
    """The declared export types as BTF, or None when the object's own BTF has them all
    (then it decodes the events itself)."""
    if not package.export_types:
        return None
    if own is None:
        own = _object_btf(ElfFile(package.object, package.where), package.where)
    missing = False
    for declared in package.export_types:
        theirs = own.find(declared.name, b.KIND_STRUCT) if own is not None else None
        if theirs is None:
            missing = True
        else:
            _agree(declared, theirs, package.where)
    if not missing:
        return None
    raw = encode([StructDecl(t.name, t.size, t.members, t.field) for t in package.export_types],
                 package.where)
    return EventTypes(b.Btf.parse(raw, package.where), raw, f"{package.where}: meta.export_types",
                      tuple(t.name for t in package.export_types))


def _agree(declared: eunomia.ExportType, theirs: b.BtfType, where: str) -> None:
    """A declared struct the object's BTF also has: the same size and members, in order."""
    if theirs.size != declared.size:
        raise ArtifactError(f"{where}: {declared.field}.size: {declared.size} bytes, but struct "
                            f"{declared.name} in the object's BTF is {theirs.size}")
    mine = [name for name, _type in declared.members]
    actual = [m.name for m in theirs.members]
    for index, (expected, found) in enumerate(zip(mine, actual, strict=False)):
        if expected != found:
            raise ArtifactError(f"{where}: {declared.field}.members[{index}]: {expected!r} "
                                f"contradicts the object's BTF ({found!r} is member {index} of "
                                f"struct {declared.name})")
    if len(mine) != len(actual):
        raise ArtifactError(f"{where}: {declared.field}.members: {len(mine)} member(s), but "
                            f"struct {declared.name} in the object's BTF has {len(actual)}")


def options(package: eunomia.EunomiaPackage) -> dict[str, OptionText]:
    """Flags and help of the `.rodata` variables, for the runtime's option parser."""
    return {v.name: OptionText(v.long, v.description) for v in package.options}
