"""eunomia-bpf's JSON package (`package.json`): reading it strictly, and writing one.

eunomia-bpf's compiler (ecc) ships a program as one JSON document:

    {"bpf_object": BASE64(ZLIB(ELF)), "bpf_object_size": N,
     "meta": {"bpf_skel": {"obj_name", "maps", "progs", "data_sections", "doc"},
              "export_types": [{"name", "size", "type_id", "members": [{"name", "type"}]}],
              "eunomia_version", ...}}

This module is the only reader and writer of that shape (docs/formats.md,
"eunomia-bpf JSON packages"). It is pure data: the object comes out as bytes for
the runtime's own checks, the rest as plain dataclasses. Everything from
outside is bounded before it is decoded (the document's size, the declared
object size, the inflated bytes), and every error names the document and the
field (`meta.export_types[0].members[2].type`). Unknown and duplicate fields are
errors, so a typo is not silently ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ecli.errors import ArtifactError

MAX_OBJECT_BYTES = 64 << 20  # the runtime's limit on an eBPF object (ecli.runtime.spec)
# base64 of a zlib stream that did not shrink, plus the metadata
MAX_PACKAGE_BYTES = MAX_OBJECT_BYTES * 4 // 3 + (4 << 20)
MAX_ITEMS = 4096  # variables, maps, programs, types, members: each list at most this long


@dataclass(frozen=True)
class Variable:
    """A global of a data section; `.rodata` ones are the program's options."""

    section: str
    name: str
    type: str
    description: str = ""
    long: str | None = None  # cmdarg.long: the option's flag (cmdarg.short is checked only)


@dataclass(frozen=True)
class ExportType:
    """A struct the programs send, as eunomia describes it."""

    name: str
    size: int
    members: tuple[tuple[str, str], ...]  # (name, C type)
    field: str  # where it is in the document: meta.export_types[N]


@dataclass(frozen=True)
class EunomiaPackage:
    object: bytes
    name: str  # bpf_skel.obj_name
    description: str  # bpf_skel.doc.brief (or description)
    variables: tuple[Variable, ...]
    programs: tuple[tuple[str, str], ...]  # (name, attach)
    export_types: tuple[ExportType, ...]
    where: str

    @property
    def options(self) -> tuple[Variable, ...]:
        return tuple(v for v in self.variables if v.section == ".rodata")


def looks_like_package(data: bytes) -> bool:
    """A JSON document rather than an ELF object (stdin, downloads)."""
    return data.lstrip()[:1] == b"{"


def parse(raw: bytes, where: str) -> EunomiaPackage:
    """The package in `raw`; one ArtifactError naming `where` and the field otherwise."""
    if len(raw) > MAX_PACKAGE_BYTES:
        raise ArtifactError(f"{where}: eunomia package is larger than "
                            f"{MAX_PACKAGE_BYTES >> 20} MiB")
    try:
        data = json.loads(raw, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{where}: eunomia package is not valid JSON ({exc})") from None
    except _Duplicate as exc:
        raise ArtifactError(f"{where}: field {exc.args[0]!r} appears twice") from None
    top = _Fields(data, where, "", {"bpf_object": str, "bpf_object_size": int, "meta": dict},
                  required=("bpf_object", "bpf_object_size", "meta"))
    obj = _object(top.get("bpf_object"), top.get("bpf_object_size"), where)
    meta = _Fields(top.get("meta"), where, "meta",
                   {"bpf_skel": dict, "export_types": list, "eunomia_version": str,
                    "perf_buffer_pages": int, "perf_buffer_time_ms": int,
                    "poll_timeout_ms": int, "debug_verbose": bool, "print_header": bool,
                    "enable_multiple_export_types": bool},
                   required=("bpf_skel",))
    skel = _Fields(meta.get("bpf_skel"), where, "meta.bpf_skel",
                   {"obj_name": str, "maps": list, "progs": (list, type(None)),
                    "data_sections": list, "doc": dict}, required=("obj_name",))
    doc = _Fields(skel.get("doc", {}), where, "meta.bpf_skel.doc",
                  {"version": str, "brief": str, "details": str, "description": str})
    name = skel.get("obj_name")
    if not name:
        raise ArtifactError(f"{where}: meta.bpf_skel.obj_name: empty")
    _items(skel, "maps", _map)  # checked; ecli finds the maps in the object itself
    return EunomiaPackage(
        object=obj, name=name, description=doc.get("brief", doc.get("description", "")),
        variables=tuple(v for _i, s in _items(skel, "data_sections") for v in _section(s)),
        programs=tuple((p.get("name"), p.get("attach")) for _i, p in _items(skel, "progs", _prog)),
        export_types=tuple(_export_type(t) for _i, t in _items(meta, "export_types")),
        where=where)


def dump(obj: bytes, meta: dict[str, Any]) -> bytes:
    """A package.json for `obj` and `meta`, as ecc writes one (zlib, then base64)."""
    document = {"bpf_object": base64.b64encode(zlib.compress(obj, 9)).decode(),
                "bpf_object_size": len(obj), "meta": meta}
    return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"


def _object(encoded: str, size: int, where: str) -> bytes:
    """The ELF object, bounded by its declared size before anything is decoded."""
    if not 0 < size <= MAX_OBJECT_BYTES:
        raise ArtifactError(f"{where}: bpf_object_size {size} is not between 1 and "
                            f"{MAX_OBJECT_BYTES} ({MAX_OBJECT_BYTES >> 20} MiB)")
    if len(encoded) > (MAX_OBJECT_BYTES + 1024) * 4 // 3 + 4:
        raise ArtifactError(f"{where}: bpf_object is longer than an object of "
                            f"{MAX_OBJECT_BYTES >> 20} MiB can be")
    try:
        packed = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ArtifactError(f"{where}: bpf_object is not valid base64 ({exc})") from None
    if packed[:4] == b"\x7fELF":  # stored uncompressed: eunomia's older packages
        data = packed
    else:
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(packed, size + 1)  # never more than declared, plus one
        except zlib.error as exc:
            raise ArtifactError(f"{where}: bpf_object is neither an ELF object nor zlib data "
                                f"({exc})") from None
        if not inflater.eof and len(data) <= size:
            raise ArtifactError(f"{where}: bpf_object: the zlib data is truncated")
    if len(data) > size:
        raise ArtifactError(f"{where}: bpf_object inflates to more than {size} bytes, the "
                            "bpf_object_size it declares")
    if len(data) < size:
        raise ArtifactError(f"{where}: bpf_object holds {len(data)} bytes but bpf_object_size "
                            f"says {size}")
    return data


def _section(section: _Fields) -> list[Variable]:
    fields = _Fields(section.data, section.where, section.field,
                     {"name": str, "variables": list}, required=("name",))
    section_name = fields.get("name")
    found = []
    for _i, variable in _items(fields, "variables"):
        var = _Fields(variable.data, variable.where, variable.field,
                      {"name": str, "type": str, "description": str, "value": object,
                       "cmdarg": dict, "size": int, "offset": int, "align": int},
                      required=("name", "type"))
        cmdarg = _Fields(var.get("cmdarg", {}), var.where, f"{var.field}.cmdarg",
                         {"default": object, "long": str, "short": str, "help": str})
        found.append(Variable(section_name, var.get("name"), var.get("type"),
                              var.get("description", cmdarg.get("help", "")),
                              cmdarg.get("long", None)))
    return found


def _map(item: _Fields) -> _Fields:
    return _Fields(item.data, item.where, item.field,
                   {"name": str, "ident": str, "mmaped": bool, "sample": dict,
                    "description": str, "export_config": dict, "intepreter": dict},
                   required=("name",))


def _prog(item: _Fields) -> _Fields:
    return _Fields(item.data, item.where, item.field,
                   {"name": str, "attach": str, "link": bool, "description": str,
                    "flags": int, "ifindex": int, "tchook": dict, "tcopts": dict,
                    "xdpopts": dict}, required=("name", "attach"))


def _export_type(item: _Fields) -> ExportType:
    fields = _Fields(item.data, item.where, item.field,
                     {"name": str, "members": list, "size": int, "type_id": int},
                     required=("name", "members", "size"))
    members = []
    for _i, member in _items(fields, "members"):
        fields_of = _Fields(member.data, member.where, member.field,
                            {"name": str, "type": str}, required=("name", "type"))
        members.append((fields_of.get("name"), fields_of.get("type")))
    names = [name for name, _type in members]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise ArtifactError(f"{item.where}: {item.field}.members: {twice!r} appears twice")
    size = fields.get("size")
    if not 0 < size <= 1 << 20:
        raise ArtifactError(f"{item.where}: {item.field}.size: {size} is not a struct size")
    return ExportType(fields.get("name"), size, tuple(members), item.field)


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _value in pairs]
    if len(set(keys)) != len(keys):
        raise _Duplicate(next(k for k in keys if keys.count(k) > 1))
    return dict(pairs)


class _Fields:
    """One JSON object of the document: only `known` fields, each of its type."""

    def __init__(self, data: Any, where: str, path: str, known: dict[str, Any],
                 required: tuple[str, ...] = ()) -> None:
        self.where, self.field = where, path
        if not isinstance(data, dict):
            raise ArtifactError(f"{where}: {path or 'the document'}: expected an object, "
                                f"got {type(data).__name__}")
        for key, value in data.items():
            prefix = f"{path}." if path else ""
            if key not in known:
                raise ArtifactError(f"{where}: {prefix}{key}: unknown field (known: "
                                    f"{', '.join(sorted(known))})")
            kind = known[key]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ArtifactError(f"{where}: {prefix}{key}: expected "
                                    f"{_kind_name(kind)}, got {type(value).__name__}")
        missing = next((key for key in required if key not in data), None)
        if missing is not None:
            raise ArtifactError(f"{where}: {path + '.' if path else ''}{missing}: missing")
        self.data = data

    def get(self, key: str, default: Any = None) -> Any:
        value = self.data.get(key, default)
        return default if value is None else value


def _kind_name(kind: Any) -> str:
    names = {str: "a string", int: "an integer", dict: "an object", list: "a list",
             bool: "true or false"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, "null") for k in kinds)


def _items(fields: _Fields, key: str,
           check: Callable[[_Fields], _Fields] | None = None) -> list[tuple[int, _Fields]]:
    """The objects of a list field, each named by its index; at most MAX_ITEMS."""
    values = fields.get(key, [])
    path = f"{fields.field}.{key}" if fields.field else key
    if len(values) > MAX_ITEMS:
        raise ArtifactError(f"{fields.where}: {path}: more than {MAX_ITEMS} entries")
    found = []
    for index, value in enumerate(values):
        if not isinstance(value, dict):
            raise ArtifactError(f"{fields.where}: {path}[{index}]: expected an object, "
                                f"got {type(value).__name__}")
        item = _Fields(value, fields.where, f"{path}[{index}]", dict.fromkeys(value, object))
        found.append((index, check(item) if check else item))
    return found
