"""`ecli build` of kind `eunomia-json`: an eunomia-bpf package.json made by our own tooling.

eunomia-bpf's compiler (ecc) runs bpftool and libclang to describe an object;
we describe it from what ecli already reads: the object's ELF and BTF
(`ObjectSpec`: maps, program sections and their functions, `.rodata` globals
with their C types), the descriptions and flags of `[options.VAR]` in
ecli.toml (ecc takes them from `///` comments), and the event header
(`output.event_header`, ecc's `--header-only` header) compiled to BTF as
`ecli run --event-header` does, from which the chosen event struct becomes
`meta.export_types`. The format itself is written by `ecli.oci.eunomia.dump`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecli.errors import BuildError
from ecli.oci import eunomia
from ecli.oci.config import PackageConfig
from ecli.runtime import btf as b
from ecli.runtime.elf import ElfFile
from ecli.runtime.event_header import EventTypes
from ecli.runtime.spec import ObjectSpec

PACKAGE_FILE = "package.json"  # the layer's title, as ecc names its output
GENERATOR = "ebpfhub-ecli"  # meta.eunomia_version: who wrote it


def write(config: PackageConfig, object_path: Path, target: Path,
          event: tuple[EventTypes, int] | None) -> Path:
    """package.json for the object at `object_path`, written to `target`; `event` is the
    header's BTF and the event struct chosen in it (build.py's choice, as for kind bpf)."""
    spec = ObjectSpec.from_file(object_path)
    data = object_path.read_bytes()
    meta: dict[str, Any] = {"bpf_skel": _skeleton(config, spec, ElfFile(data, str(object_path))),
                            "eunomia_version": GENERATOR}
    if event is not None:
        meta["export_types"] = [_export_type(*event)]
    target.write_bytes(eunomia.dump(data, meta))
    return target


def _skeleton(config: PackageConfig, spec: ObjectSpec, elf: ElfFile) -> dict[str, Any]:
    sections = {s.index: s.name for s in elf.sections}
    # a program's function: a sized symbol of its section (functions() skips offset 0)
    programs = [{"name": f.name, "attach": sections[f.section_index], "link": True}
                for f in elf.symbols()
                if f.size and f.name and sections.get(f.section_index) in spec.programs]
    variables = []
    for global_ in spec.rodata:
        info = config.options.get(global_.name)
        variable: dict[str, Any] = {"name": global_.name,
                                    "type": spec.btf.type_name(global_.type_id)}
        if info is not None and info.description:
            variable["description"] = info.description
        if info is not None and info.flag:
            variable["cmdarg"] = {"long": info.flag}
        variables.append(variable)
    skeleton: dict[str, Any] = {
        "obj_name": config.name,
        "maps": [{"name": m.name, "ident": m.name} for m in spec.maps],
        "progs": programs,
        "data_sections": [{"name": ".rodata", "variables": variables}] if variables else [],
    }
    if config.description:
        skeleton["doc"] = {"brief": config.description, "version": config.version}
    return skeleton


def _export_type(types: EventTypes, type_id: int) -> dict[str, Any]:
    """The event struct of the header, as ecc's bpftool dump describes it."""
    chosen = types.btf.strip(type_id)
    if chosen.kind != b.KIND_STRUCT:
        raise BuildError(f"{types.where}: the event type {chosen.name!r} is not a struct")
    return {"name": chosen.name, "size": chosen.size, "type_id": chosen.id,
            "members": [{"name": m.name, "type": types.btf.type_name(m.type_id)}
                        for m in chosen.members]}
