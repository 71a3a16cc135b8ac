"""index/inspection.json: what `generator inspect` found in each artifact, by digest.

    {"schema_version": 1,
     "digests": {"sha256:...": {"platforms": [{"os", "architecture", "digest"}],
                                "inspection": {...} | null}}}

A digest names immutable content, so its inspection never needs redoing: the
file is kept like the lock (committed, sorted, written atomically) and a
rebuild reads it without touching a registry. Artifacts are pulled with
ecli's registry client into an OCI store used as a cache, keyed by digest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ecli.atomic import write_atomic
from ecli.errors import EcliError
from ecli.hubindex import model
from ecli.oci.reference import OciReference
from generator import inspect
from generator.entry import Index
from generator.lock import Lock
from generator.problems import GeneratorError, Problem

SCHEMA_VERSION = 1
INSPECTION_FILE = "inspection.json"
MAX_ARTIFACT_BYTES = 256 << 20
ELF_BPF = b"\x7fELF"
_TIGHT = (",", ":")


@dataclass(frozen=True)
class Inspected:
    platforms: tuple[model.Platform, ...] = ()
    inspection: model.Inspection | None = None


Cache = dict[str, Inspected]
Puller = Callable[[OciReference, Path], tuple[list[Path], tuple[model.Platform, ...]]]
"""Fetch an artifact by digest into a cache folder: (its eBPF object files, its platforms)."""


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
            cache[digest] = Inspected(
                tuple(model.Platform(p["os"], p["architecture"], p["digest"])
                      for p in item.get("platforms", [])),
                model.load_inspection(item.get("inspection"), where))
    except (KeyError, TypeError, AttributeError, EcliError) as exc:
        raise _error(path, f"the inspection file is malformed ({exc})") from None
    return cache


def write(path: Path, cache: Cache) -> None:
    """One digest per line: compact, and a pull request's diff shows what it added."""
    lines = ",\n".join(
        f"{json.dumps(digest)}: {json.dumps(model.plain(item), sort_keys=True, separators=_TIGHT)}"
        for digest, item in sorted(cache.items()))
    text = f'{{"schema_version": {SCHEMA_VERSION}, "digests": {{\n{lines}\n}}}}\n'
    write_atomic(path, text.encode())


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
                objects, platforms = pull(version.reference.with_digest(locked.digest),
                                          store_dir)
                outcome.pulled += 1
                parts = [inspect.inspect_object(obj) for obj in objects]
            except EcliError as exc:
                outcome.problems.append(Problem(
                    entry.file, version.line, version.col, "ref", f"{where}: {exc.message}",
                    exc.hint or "push a valid eBPF Hub artifact, then run inspect again",
                    code="inspect"))
                continue
            outcome.cache[locked.digest] = Inspected(
                platforms, inspect.merge(parts) if parts else None)
    return outcome


def registry_puller(ref: OciReference, store_dir: Path) -> tuple[list[Path],
                                                                 tuple[model.Platform, ...]]:
    """Pull with ecli's registry client into the OCI store at `store_dir`."""
    from ecli.errors import ArtifactError
    from ecli.oci.manifest import ImageIndex, parse
    from ecli.oci.registry import pull
    from ecli.oci.store import Store

    store = Store(store_dir)
    store.ensure()
    pulled = pull(ref, store)
    size = sum(blob.size for blob in pulled.manifest.blobs)
    if size > MAX_ARTIFACT_BYTES:
        raise ArtifactError(f"{ref}: artifact is {size >> 20} MiB, over the hub's limit of "
                            f"{MAX_ARTIFACT_BYTES >> 20} MiB")
    platforms: tuple[model.Platform, ...] = ()
    if pulled.index_digest is not None:
        parsed = parse(store.read_blob(pulled.index_digest), str(ref))
        if isinstance(parsed, ImageIndex):
            platforms = tuple(model.Platform(d.platform.os, d.platform.architecture, d.digest)
                              for d in parsed.manifests if d.platform is not None)
    else:
        platforms = tuple(_platform(text, pulled.digest)
                          for text in pulled.package.config.platforms if "/" in text)
    main_object = pulled.package.object_path  # kind bpf: must be a readable eBPF object
    objects = [main_object] if main_object is not None else [
        path for path in pulled.package.files.values() if _is_bpf_elf(path)]
    return objects, platforms


def _platform(text: str, digest: str) -> model.Platform:
    os_name, _, architecture = text.partition("/")
    return model.Platform(os_name, architecture.split("/")[0], digest)


def _is_bpf_elf(path: Path) -> bool:
    """An ELF file for machine 247 (eBPF); other files of a bundle are not inspected."""
    with path.open("rb") as stream:
        head = stream.read(20)
    return head[:4] == ELF_BPF and len(head) == 20 and int.from_bytes(head[18:20], "little") == 247


def _error(path: Path, message: str) -> GeneratorError:
    return GeneratorError([Problem(str(path), 1, 1, "", message, code="inspect",
                                   hint="restore it from Git, or delete it and run "
                                   "`python -m generator inspect`")])
