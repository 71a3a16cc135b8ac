"""index/inspection.json: what `generator inspect` found in each artifact, by digest.

    {"schema_version": 1,
     "digests": {"sha256:...": {"platforms": [{"os", "architecture", "digest",
                                               "inspection"?: {...}}],
                                "inspection": {...} | null}}}

A digest names immutable content, so its inspection never needs redoing: the
file is kept like the lock (committed, sorted, written atomically) and a
rebuild reads it without touching a registry. Artifacts are pulled with
ecli's registry client into an OCI store used as a cache, keyed by digest.

Every platform of an image index is pulled and inspected; each platform
entry keeps its own inspection, and the version's `inspection` (what the
JSON index publishes, whose model has one per version) is their union. The
size limit is checked on the manifests' layer descriptors before any blob
is downloaded. The analysis itself is ecli's (`ecli.runtime.analysis`), the
one `ecli run` and `ecli inspect` use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecli.documents import plain
from ecli.errors import ArtifactError, EcliError
from ecli.files import write_atomic
from ecli.hubindex import model
from ecli.oci.reference import OciReference
from ecli.runtime import analysis
from generator.entry import Index
from generator.lock import Lock
from generator.problems import GeneratorError, Problem

SCHEMA_VERSION = 1
INSPECTION_FILE = "inspection.json"
MAX_ARTIFACT_BYTES = 256 << 20
_TIGHT = (",", ":")


@dataclass(frozen=True)
class Inspected:
    platforms: tuple[model.Platform, ...] = ()
    inspection: model.Inspection | None = None  # all platforms together
    by_platform: dict[str, model.Inspection] = field(default_factory=dict)
    """Platform manifest digest -> its own inspection (image indexes only)."""


Cache = dict[str, Inspected]


@dataclass(frozen=True)
class PulledArtifact:
    """What a puller fetched: platforms, and the eBPF objects of each manifest."""

    platforms: tuple[model.Platform, ...]
    objects: dict[str, list[Path]]  # manifest digest -> its eBPF object files
    is_index: bool = False
    metrics: tuple[model.ExportedMetric, ...] = ()  # what `ecli run --metrics` exports
    options: tuple[model.ProgramOption, ...] = ()  # the program's own options (kind bpf)


Puller = Callable[[OciReference, Path], PulledArtifact]
"""Fetch an artifact by digest into a cache folder."""


@dataclass
class Outcome:
    cache: Cache
    problems: list[Problem] = field(default_factory=list)
    pulled: int = 0


def read(path: Path) -> Cache:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _error(path, f"cannot read the inspection file ({exc})") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise _error(path, f"not a version {SCHEMA_VERSION} inspection file")
    cache: Cache = {}
    try:
        for digest, item in data["digests"].items():
            where = f"{path}: {digest}"
            platforms = item.get("platforms", [])
            cache[digest] = Inspected(
                tuple(model.Platform(p["os"], p["architecture"], p["digest"])
                      for p in platforms),
                model.load_inspection(item.get("inspection"), where),
                {p["digest"]: found for p in platforms if (found := model.load_inspection(
                    p.get("inspection"), f"{where}: {p['digest']}")) is not None})
    except (KeyError, TypeError, AttributeError, EcliError) as exc:
        raise _error(path, f"the inspection file is malformed ({exc})") from None
    return cache


def write(path: Path, cache: Cache) -> None:
    """One digest per line: compact, and a pull request's diff shows what it added."""
    lines = ",\n".join(
        f"{json.dumps(digest)}: {json.dumps(_plain(item), sort_keys=True, separators=_TIGHT)}"
        for digest, item in sorted(cache.items()))
    text = f'{{"schema_version": {SCHEMA_VERSION}, "digests": {{\n{lines}\n}}}}\n'
    write_atomic(path, text.encode())


def _plain(item: Inspected) -> dict[str, object]:
    platforms = []
    for platform in item.platforms:
        written = plain(platform)
        if (own := item.by_platform.get(platform.digest)) is not None:
            written["inspection"] = plain(own)
        platforms.append(written)
    return {"platforms": platforms, "inspection": plain(item.inspection)}


def inspect_index(index: Index, lock: Lock, cache: Cache, store_dir: Path, *,
                  puller: Puller | None = None) -> Outcome:
    """Inspect every locked digest the cache lacks; entries of kind `image` are skipped."""
    outcome = Outcome(dict(cache))
    pull = puller or registry_puller
    for entry in index.entries.values():
        if entry.kind == "image":
            continue
        for version in entry.versions:
            locked = lock.get(entry.name, {}).get(version.version)
            if locked is None or locked.digest in outcome.cache:
                continue
            where = f"{entry.name} {version.version} ({locked.digest[:19]}…)"
            try:
                pulled = pull(version.reference.with_digest(locked.digest), store_dir)
                outcome.pulled += 1
                found = inspect_pulled(pulled)
            except EcliError as exc:
                outcome.problems.append(Problem(
                    entry.file, version.line, version.col, "ref", f"{where}: {exc.message}",
                    exc.hint or "push a valid eBPF Hub artifact, then run inspect again",
                    code="inspect"))
                continue
            outcome.cache[locked.digest] = found
    return outcome


def inspect_pulled(pulled: PulledArtifact) -> Inspected:
    """Each manifest's objects together (a bundle's add up), then the platforms together."""
    per_manifest = {}
    for digest, objects in pulled.objects.items():
        parts = [analysis.analyse_file(path) for path in objects]
        if parts:
            per_manifest[digest] = analysis.merge(parts)
    merged = (analysis.merge(list(per_manifest.values()), same_objects=True)
              if per_manifest else None)
    if merged is not None and (pulled.metrics or pulled.options):
        merged = merged._replace(metrics=pulled.metrics, options=pulled.options)
    return Inspected(pulled.platforms, merged, per_manifest if pulled.is_index else {})


def registry_puller(ref: OciReference, store_dir: Path, *,
                    max_bytes: int = MAX_ARTIFACT_BYTES) -> PulledArtifact:
    """Pull every platform with ecli's registry client into the OCI store at `store_dir`.

    The manifests come first; their layer and config sizes are added up and
    checked against `max_bytes`, so an artifact over the limit costs no blob
    download. Bundles are extracted (ecli.oci.tarsafe) beside the store to reach
    the eBPF objects inside.
    """
    from ecli.oci import registry
    from ecli.oci.store import Store

    manifests = registry.platform_manifests(ref)
    unique = {item.digest: item.manifest for item in manifests}
    size = sum(blob.size for manifest in unique.values() for blob in manifest.blobs)
    if size > max_bytes:
        raise ArtifactError(f"{ref}: artifact is {_mib(size)} MiB, over the hub's limit of "
                            f"{_mib(max_bytes)} MiB (nothing was downloaded)")
    store = Store(store_dir)
    store.ensure()
    platforms: list[model.Platform] = []
    objects: dict[str, list[Path]] = {}
    metrics: tuple[model.ExportedMetric, ...] = ()
    options: tuple[model.ProgramOption, ...] = ()
    for item in manifests:
        digest = item.digest
        if digest not in objects:  # platforms sharing one manifest are pulled once
            pulled = registry.pull(ref.with_digest(digest), store)
            objects[digest] = _objects(pulled.package, store_dir / "bundles" / digest.replace(
                ":", "-"), f"{ref} ({item.platform or digest[:19]})")
            if not (metrics or options) and (spec := _bpf_spec(pulled.package)) is not None:
                metrics = exported_metrics(pulled.package.config, spec)
                options = program_options(pulled.package.config, spec)
        platforms += [model.Platform(p.os, p.architecture, digest)
                      for p in registry.served_platforms(item, pulled.package)]
    is_index = any(item.platform is not None for item in manifests)
    return PulledArtifact(tuple(platforms), objects, is_index, metrics, options)


def _bpf_spec(package: Any) -> Any:
    """The parsed object of a kind-bpf package (its metrics and options are read from it),
    else None."""
    from ecli.runtime.spec import ObjectSpec

    config = package.config
    if package.object_path is None or config is None or config.kind != "bpf":
        return None
    return ObjectSpec.from_file(package.object_path)


def exported_metrics(config: Any, spec: Any) -> tuple[model.ExportedMetric, ...]:
    """What `ecli run --metrics` exports from a kind-bpf package: its [metrics] table
    checked against its object (a table that does not fit it is the publisher's error)."""
    from ecli.metrics.collect import Collector

    collector = Collector(spec, config.name, config.output.units, config.metrics)
    return tuple(model.ExportedMetric(name, kind) for name, kind in collector.names())


def program_options(config: Any, spec: Any) -> tuple[model.ProgramOption, ...]:
    """The options `ecli run NAME -h` lists for a kind-bpf package: the object's `const
    volatile` globals (ecli.runtime.options, their one reader) with the config's text."""
    from ecli.runtime.options import OptionText, object_options

    texts = {name: OptionText(info.flag, info.description)
             for name, info in config.options.items()}
    return tuple(model.ProgramOption(o.flag, o.type_name, o.default_text(spec.btf),
                                     o.description) for o in object_options(spec, texts))


def _objects(package: Any, bundle_dir: Path, where: str) -> list[Path]:
    """The eBPF objects of a pulled package: its object (kind bpf), those a wasm module
    embeds (none found: no inspection, the hub shows its permissions as unknown), or a
    bundle's."""
    from ecli.oci import mediatypes, tarsafe

    if package.config.kind == "wasm" and package.object_path is not None:
        from ecli.runtime.wasm.embedded import write_objects

        return write_objects(package.object_path, bundle_dir)
    if package.object_path is not None:  # kind bpf: must be a readable eBPF object
        return [package.object_path]
    if package.config.kind == "eunomia-json":  # the object inside its package.json
        return [_eunomia_object(package.files[package.config.object], bundle_dir, where)]
    objects = [path for path in package.files.values() if analysis.is_bpf_elf(path)]
    for layer in package.manifest.layers:
        path = package.files.get(layer.title or "")
        if layer.media_type == mediatypes.BUNDLE_TAR_GZIP and path is not None:
            if not bundle_dir.is_dir():
                tarsafe.extract(path, bundle_dir, where=where)
            objects += analysis.bpf_objects_in(bundle_dir)
    return objects


def _eunomia_object(path: Path, folder: Path, where: str) -> Path:
    """The object an eunomia package embeds, written beside the store to be analysed."""
    from ecli.oci import eunomia
    from ecli.runtime.elf import ElfFile

    package = eunomia.parse(path.read_bytes()[:eunomia.MAX_PACKAGE_BYTES + 1],
                            f"{where}: {path.name}")
    ElfFile(package.object, f"{where}: bpf_object")
    folder.mkdir(parents=True, exist_ok=True)
    obj = folder / "eunomia.bpf.o"
    obj.write_bytes(package.object)
    return obj


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.0f}" if size >= 1 << 20 else f"{size / (1 << 20):.2f}"


def _error(path: Path, message: str) -> GeneratorError:
    return GeneratorError([Problem(str(path), 1, 1, "", message, code="inspect",
                                   hint="restore it from Git, or delete it and run "
                                   "`python -m generator inspect`")])
