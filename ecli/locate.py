"""From what a user typed to a package on disk, pulling only when needed.

A target is one of:
  * a path to a `.bpf.o` (run as is, options from its BTF);
  * an OCI reference, `registry/repo:tag` or `...@sha256:...`;
  * a package name, `NAME` or `NAME@VERSION`, looked up in the sources.
Names resolve to a digest through the JSON index, so what runs is exactly
what the hub's CI inspected; a digest already in the store is never
downloaded again (and is re-verified when read).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ecli.errors import NotFoundError, ReferenceError_
from ecli.oci import reference as references
from ecli.oci.config import NAME_PATTERN, PackageConfig
from ecli.paths import Paths

Progress = Callable[[str], None]
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,2}([-+][0-9A-Za-z.+-]+)?$")


@dataclass(frozen=True)
class LocatedPackage:
    name: str
    object_path: Path | None  # the eBPF object of a kind `bpf` package
    config: PackageConfig | None  # None for a bare .bpf.o
    digest: str | None = None
    version: str | None = None
    reference: str | None = None  # the registry reference it came from


def locate(target: str, paths: Paths, progress: Progress | None = None) -> LocatedPackage:
    if _is_path(target):
        return _local_object(Path(target))
    if references.looks_like_oci(target):
        ref = references.parse(target)
        return _from_store(ref, paths, ref.repository.rsplit("/", 1)[-1], progress)
    name, at, version = target.partition("@")
    if not NAME_PATTERN.match(name) or (at and not _VERSION.match(version)):
        raise ReferenceError_(
            f"{target!r} is not a package name, an OCI reference or a path",
            hint="use NAME, NAME@VERSION, REGISTRY/REPO:TAG or ./file.bpf.o",
        )
    from ecli.index_client import IndexClient

    _source, document = IndexClient(paths).find(name)
    chosen = document.find_version(version or None)
    ref = references.parse(f"{chosen.repository}@{chosen.digest}")
    return _from_store(ref, paths, name, progress)


def _is_path(target: str) -> bool:
    return target.startswith(("/", "./", "../", "~")) or target.endswith(".o")


def _local_object(path: Path) -> LocatedPackage:
    path = path.expanduser()
    if not path.is_file():
        raise NotFoundError(f"{path}: no such file")
    name = path.name.removesuffix(".o").removesuffix(".bpf")
    return LocatedPackage(name, path, None)


def _from_store(ref: references.OciReference, paths: Paths, name: str,
                progress: Progress | None) -> LocatedPackage:
    from ecli.oci import artifact
    from ecli.oci.store import Store

    store = Store(paths.oci_store_dir)
    package = artifact.find(store, ref)
    if package is None:
        from ecli.oci import registry

        if progress:
            progress(f"pulling {ref}")
        pulled = registry.pull(ref, store)
        package = artifact.load(store, pulled.digest, reference=ref)
    return LocatedPackage(package.config.name or name, package.object_path, package.config,
                          package.digest, package.config.version, str(ref))
