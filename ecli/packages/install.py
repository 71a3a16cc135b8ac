"""Install, upgrade and uninstall packages: the store holds bytes, the state file names them.

An install is: resolve the target to a digest, pull it into the store (blobs
land in the store's temp area and are renamed into place only once their
digest checks), prepare it (a bundle is extracted, also via a rename), and
last record it in the state file under its lock. Whatever is interrupted
before that last step leaves no record, and the next run finds the verified
blobs already there. Two installs at once serialise on the state lock and
both leave one good record.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ecli.errors import EcliError, NotFoundError, UsageError
from ecli.packages import state, targets
from ecli.packages.locate import LocatedPackage, Progress, choose_version, locate
from ecli.paths import Paths


@dataclass(frozen=True)
class Change:
    name: str
    old: str | None  # version before (None: not installed)
    new: str | None  # version after (None: removed)
    digest: str | None
    note: str = ""


def install(target: str, paths: Paths, progress: Progress | None = None, *,
            pull: str = "missing") -> tuple[Change, list[str]]:
    parsed = targets.parse(target)
    if parsed.kind == targets.PATH and not parsed.is_archive and not Path(
            parsed.text).expanduser().is_dir():
        raise UsageError(f"{target!r} is a local file: run it with `ecli run {target}`; "
                         "install takes a package name, an OCI reference, a URL, an archive "
                         "or a built package folder")
    located = locate(target, paths, progress, pull=pull, use_installed=False)
    if located.digest is None or (located.config is None and located.kind != "image"):
        raise UsageError(f"{target!r} is not a package that can be installed")
    located = _stored_copy(located, paths)
    if located.kind == "bundle":
        from ecli.packages import bundles

        bundles.extracted(located, paths)
    source = located.source or ("registry" if parsed.kind == targets.OCI else "file")
    record = state.Installed(
        name=located.name, version=located.version or "", digest=located.digest or "",
        reference=located.reference or f"ecli.local/{located.name}@{located.digest}",
        source=source, kind=located.kind, requested=parsed.selector,
        installed_at=state.now())
    with state.transaction(paths) as packages:
        old = packages.get(record.name)
        packages[record.name] = record
    note = "reinstalled" if old and old.digest == record.digest else ""
    return Change(record.name, old.version if old else None, record.version, record.digest,
                  note), list(located.warnings)


def _stored_copy(located: LocatedPackage, paths: Paths) -> LocatedPackage:
    """A package read from a folder outside the cache is copied in, so it stays."""
    from dataclasses import replace

    from ecli.oci import archive
    from ecli.oci.store import Store

    artifact = located.artifact
    cache = Store(paths.oci_store_dir)
    if artifact is None or located.digest is None:
        return located
    origin = artifact.files and next(iter(artifact.files.values()))
    if origin and Path(origin).is_relative_to(cache.root):
        return located
    source_root = Path(origin).parents[2] if origin else None
    if source_root is None:
        return located
    archive.copy(Store(source_root), located.digest, cache)
    reference = f"ecli.local/{located.name}@{located.digest}"
    cache.add_ref(reference, located.digest)
    return replace(located, reference=reference)


def uninstall(name: str, paths: Paths) -> Change:
    with state.transaction(paths) as packages:
        record = packages.pop(name, None)
        if record is None:
            raise NotFoundError(f"{name} is not installed", hint="see `ecli list`")
        remaining = dict(packages)
    if record.kind == "bundle":
        _remove_unused_bundles(paths, remaining)
    return Change(name, record.version, None, record.digest)


def _remove_unused_bundles(paths: Paths, remaining: dict[str, state.Installed]) -> None:
    """Drop extracted bundles no installed package uses (they are re-extracted on demand)."""
    keep = set()
    for record in remaining.values():
        if record.kind == "bundle":
            keep.update(bundle_dirs(record, paths))
    for folder in paths.bundles_dir.glob("sha256-*") if paths.bundles_dir.is_dir() else []:
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def bundle_dirs(record: state.Installed, paths: Paths) -> set[str]:
    from ecli.oci import artifact
    from ecli.oci.store import Store

    try:
        package = artifact.load(Store(paths.oci_store_dir), record.digest)
    except EcliError:  # a damaged record keeps nothing alive; prune says more
        return set()
    from ecli.oci import mediatypes

    return {layer.digest.replace(":", "-") for layer in package.manifest.layers
            if layer.media_type == mediatypes.BUNDLE_TAR_GZIP}


def available_upgrade(record: state.Installed, paths: Paths) -> str | None:
    """The version an upgrade would move to, from the cached index (no network)."""
    if record.source in ("registry", "file"):
        return None
    from ecli.packages.index_client import IndexClient

    try:
        _, document = IndexClient(paths, offline=True).find(record.name)
        chosen, _ = choose_version(document, _upgrade_selector(record))
    except EcliError:  # listing must work when an index is missing or stale
        return None
    if chosen.version == record.version or chosen.digest == record.digest:
        return None
    from ecli import semver

    new, old = semver.parse_version(chosen.version), semver.parse_version(record.version)
    if new and old and new <= old:
        return None
    return chosen.version


def _upgrade_selector(record: state.Installed) -> str | None:
    """An exact pin stays; a range keeps its range; nothing means newest."""
    return record.requested


def upgrade(names: list[str], paths: Paths, progress: Progress | None = None
            ) -> tuple[list[Change], list[str]]:
    installed = state.read(paths)
    unknown = [n for n in names if n not in installed]
    if unknown:
        raise NotFoundError(f"not installed: {', '.join(unknown)}", hint="see `ecli list`")
    changes, warnings = [], []
    for name in names or sorted(installed):
        record = installed[name]
        if record.source in ("registry", "file"):
            changes.append(Change(name, record.version, record.version, record.digest,
                                  f"installed from a {record.source}: nothing to upgrade from"))
            continue
        from ecli.packages.locate import locate_in_index

        located = locate_in_index(name, _upgrade_selector(record), paths, progress)
        warnings += located.warnings
        if located.digest == record.digest:
            changes.append(Change(name, record.version, record.version, record.digest,
                                  "up to date"))
            continue
        if located.kind == "bundle":
            from ecli.packages import bundles

            bundles.extracted(located, paths)
        new = state.Installed(name, located.version or "", located.digest or "",
                              located.reference or "", located.source or record.source,
                              located.kind, record.requested, state.now())
        with state.transaction(paths) as packages:
            packages[name] = new
        changes.append(Change(name, record.version, new.version, new.digest))
    return changes, warnings
