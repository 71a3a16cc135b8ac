"""The package config: the JSON blob every eBPF Hub artifact carries.

It tells ecli how to run the artifact (kind, object or entrypoint), what it
needs from the kernel, and how to present its options. This module is the only
reader and writer of that blob; docs/formats.md describes it field by field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from ecli.documents import load_object, plain
from ecli.errors import ArtifactError

SCHEMA_VERSION = 1
KINDS = ("bpf", "bundle", "image", "eunomia-json", "wasm")
OBJECT_KINDS = ("bpf", "eunomia-json", "wasm")  # kinds whose `object` names the layer ecli runs
NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MAX_CONFIG_BYTES = 1 << 20
# The config's records are named tuples, not dataclasses: `ecli run` imports this module,
# and a frozen dataclass costs ten times a named tuple to create. Their empty mappings
# are read-only, shared by every record.
_NONE: Mapping[str, Any] = MappingProxyType({})


class OptionInfo(NamedTuple):
    """How a `const volatile` global is shown on the command line."""

    flag: str | None = None
    description: str = ""


class Requirements(NamedTuple):
    min_kernel: str | None = None
    btf: bool = True
    features: tuple[str, ...] = ()
    program_types: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()


FIELD_FORMATS = ("errno", "ipv4", "ipv6", "hex", "duration_ns", "signal")
# ecli run's output options a bundle may declare it understands (`run_options`)
BUNDLE_RUN_OPTIONS = ("json", "timestamp", "interval", "top")


class OutputHints(NamedTuple):
    """How ecli presents what the programs produce."""

    fields: Mapping[str, str] = _NONE  # event field -> one of FIELD_FORMATS
    units: Mapping[str, str] = _NONE  # histogram map -> unit, e.g. "usecs"
    event_type: str | None = None  # the struct events are decoded as, from `event_btf`
    event_btf: str | None = None  # a file of the package: BTF compiled from an event header


METRIC_KINDS = ("counter", "gauge", "histogram")
LABEL_DECODERS = ("ksym", "errno", "syscall", "ipv4", "ipv6", "cgroup", "ifname",
                  "majorminor", "static", "hex")
BUCKET_KINDS = ("log2", "linear")


class LabelInfo(NamedTuple):
    """How one key field becomes a label: decoded by `decoder`, named `name` (default: the
    field's own name); `values` is the table of the `static` decoder (number -> text)."""

    decoder: str
    name: str = ""
    values: Mapping[str, str] = _NONE


class MetricInfo(NamedTuple):
    """How one map is exported as metrics (`[metrics.MAP]` in ecli.toml)."""

    kind: str  # one of METRIC_KINDS
    name: str = ""  # the metric's name; default PACKAGE_MAP
    help: str = ""
    labels: Mapping[str, LabelInfo] = _NONE  # key field -> label
    values: tuple[str, ...] = ()  # counter/gauge: the value fields exported (default: all)
    buckets: str = "log2"  # histogram: one of BUCKET_KINDS
    bucket_width: int = 1  # linear histogram: the width of one bucket, in the map's unit
    sum: str = ""  # histogram: the value field holding the sum of what was observed
    scale: float = 1.0  # histogram: bounds and sum times this, e.g. 1e-6 for usecs -> seconds


class PackageConfig(NamedTuple):
    name: str
    version: str
    kind: str
    description: str = ""
    object: str | None = None
    entrypoint: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    requirements: Requirements = Requirements()
    options: Mapping[str, OptionInfo] = _NONE
    output: OutputHints = OutputHints()
    run_options: tuple[str, ...] = ()  # kind bundle: ecli run options passed on to it
    metrics: Mapping[str, MetricInfo] = _NONE  # by map name

    def to_json(self) -> bytes:
        data = {"schema_version": SCHEMA_VERSION, **plain(self)}
        # fields added later are written only when set: older configs keep their bytes
        if not self.run_options:
            del data["run_options"]
        if not self.metrics:
            del data["metrics"]
        for key in ("event_type", "event_btf"):
            if data["output"][key] is None:
                del data["output"][key]
        return json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> PackageConfig:
        """Parse and check a config blob; `where` names it in errors."""
        return cls.from_dict(load_object(raw, where, what="package config",
                                         limit=MAX_CONFIG_BYTES, error=ArtifactError), where)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> PackageConfig:
        reader = _Reader(data, where)
        version = reader.get("schema_version", int, SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ArtifactError(
                f"{where}: package config schema_version {version} is not supported "
                f"(this ecli reads {SCHEMA_VERSION})",
                hint="upgrade ecli",
            )
        name = reader.require("name", str)
        if not NAME_PATTERN.match(name):
            raise ArtifactError(f"{where}: name {name!r} is not a valid package name")
        kind = reader.require("kind", str)
        if kind not in KINDS:
            raise ArtifactError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        req = _Reader(reader.get("requirements", dict, {}), f"{where}: requirements")
        options = {}
        for opt_name, opt in reader.get("options", dict, {}).items():
            opt_reader = _Reader(opt, f"{where}: options.{opt_name}")
            options[opt_name] = OptionInfo(
                flag=opt_reader.get("flag", str, None),
                description=opt_reader.get("description", str, ""),
            )
        output = _Reader(reader.get("output", dict, {}), f"{where}: output")
        hints = OutputHints(fields=_string_map(output, "fields"),
                            units=_string_map(output, "units"),
                            event_type=output.get("event_type", str, None),
                            event_btf=output.get("event_btf", str, None))
        if (hints.event_type is None) != (hints.event_btf is None):
            raise ArtifactError(f"{where}: output.event_type and output.event_btf go together")
        run_options = tuple(reader.get("run_options", list, []))
        unknown = [o for o in run_options if o not in BUNDLE_RUN_OPTIONS]
        if unknown:
            raise ArtifactError(f"{where}: run_options: unknown option {unknown[0]!r} "
                                f"(known: {', '.join(BUNDLE_RUN_OPTIONS)})")
        for field_name, fmt in hints.fields.items():
            if fmt not in FIELD_FORMATS:
                raise ArtifactError(f"{where}: output.fields.{field_name}: unknown format "
                                    f"{fmt!r} (known: {', '.join(FIELD_FORMATS)})")
        config = cls(
            name=name,
            version=reader.require("version", str),
            kind=kind,
            description=reader.get("description", str, ""),
            object=reader.get("object", str, None),
            entrypoint=tuple(reader.get("entrypoint", list, [])),
            platforms=tuple(reader.get("platforms", list, [])),
            requirements=Requirements(
                min_kernel=req.get("min_kernel", str, None),
                btf=req.get("btf", bool, True),
                features=tuple(req.get("features", list, [])),
                program_types=tuple(req.get("program_types", list, [])),
                capabilities=tuple(req.get("capabilities", list, [])),
            ),
            options=options,
            output=hints,
            run_options=run_options,
            metrics={name: _metric(info, f"{where}: metrics.{name}")
                     for name, info in reader.get("metrics", dict, {}).items()},
        )
        if kind in OBJECT_KINDS and not config.object:
            raise ArtifactError(f"{where}: a package of kind {kind!r} must name its object")
        if kind == "bundle" and not config.entrypoint:
            raise ArtifactError(f"{where}: a package of kind 'bundle' must have an entrypoint")
        return config


def _metric(data: Any, where: str) -> MetricInfo:
    reader = _Reader(data, where)
    kind = reader.require("kind", str)
    if kind not in METRIC_KINDS:
        raise ArtifactError(f"{where}: kind {kind!r} is not one of {', '.join(METRIC_KINDS)}")
    buckets = reader.get("buckets", str, "log2")
    if buckets not in BUCKET_KINDS:
        raise ArtifactError(f"{where}: buckets {buckets!r} is not one of "
                            f"{', '.join(BUCKET_KINDS)}")
    width = reader.get("bucket_width", int, 1)
    if width <= 0:
        raise ArtifactError(f"{where}: bucket_width must be a positive number")
    scale = reader.data.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
        raise ArtifactError(f"{where}: scale must be a positive number (e.g. 1e-6)")
    labels = {}
    for column, label in reader.get("labels", dict, {}).items():
        if isinstance(label, str):  # the short form: field = "DECODER"
            label = {"decoder": label}
        label_reader = _Reader(label, f"{where}: labels.{column}")
        decoder = label_reader.require("decoder", str)
        if decoder not in LABEL_DECODERS:
            raise ArtifactError(f"{where}: labels.{column}: unknown decoder {decoder!r} "
                                f"(known: {', '.join(LABEL_DECODERS)})")
        values = _string_map(label_reader, "values")
        if decoder == "static" and not values:
            raise ArtifactError(f"{where}: labels.{column}: the static decoder needs values")
        labels[column] = LabelInfo(decoder, label_reader.get("name", str, ""), values)
    return MetricInfo(kind, reader.get("name", str, ""), reader.get("help", str, ""), labels,
                      tuple(reader.get("values", list, [])), buckets, width,
                      reader.get("sum", str, ""), float(scale))


def _string_map(reader: _Reader, key: str) -> dict[str, str]:
    mapping = reader.get(key, dict, {})
    if not all(isinstance(v, str) for v in mapping.values()):
        raise ArtifactError(f"{reader.where}: {key} must map names to strings")
    return dict(mapping)


class _Reader:
    """Typed access to one JSON object, naming the field in every error."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise ArtifactError(f"{where}: expected an object, got {type(data).__name__}")
        self.data = data
        self.where = where

    def require(self, key: str, kind: type) -> Any:
        if key not in self.data:
            raise ArtifactError(f"{self.where}: missing field {key!r}")
        return self.get(key, kind, None)

    def get(self, key: str, kind: type, default: Any) -> Any:
        value = self.data.get(key, default)
        if value is default:
            return value
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ArtifactError(
                f"{self.where}: field {key!r} must be {kind.__name__}, got {type(value).__name__}"
            )
        if kind is list and not all(isinstance(item, str) for item in value):
            raise ArtifactError(f"{self.where}: field {key!r} must be a list of strings")
        return value
