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
from typing import TYPE_CHECKING, NamedTuple

from ecli.errors import EcliError, NotFoundError, UsageError
from ecli.hubindex import model
from ecli.packages import state, targets
from ecli.packages.locate import LocatedPackage, Progress, choose_version, locate
from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.packages.index_client import IndexClient
    from ecli.packages.sources import Source


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
    return located._replace(reference=reference)


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


class Outlook(NamedTuple):
    """What the cached index offers an installed package beyond its version."""

    newer: str | None  # the newest version its selector allows, when newer: `upgrade` moves
    newest: str | None  # the newest of all, when newer: shown even to an exact pin

    @property
    def held(self) -> bool:
        """A newer version exists that the install's selector keeps it from."""
        return self.newest is not None and self.newest != self.newer


def outlook(record: state.Installed, paths: Paths) -> Outlook:
    """Newer versions for `record`, from the cached index (no network)."""
    if record.source in ("registry", "file"):
        return Outlook(None, None)
    from ecli.packages.index_client import IndexClient

    try:
        _, document = IndexClient(paths, offline=True).find(record.name)
    except EcliError:  # listing must work when an index is missing or stale
        return Outlook(None, None)
    newer = _newer(document, record, record.requested)
    return Outlook(newer, _newer(document, record, None) if record.requested else newer)


def refresh_installed(client: IndexClient, source: Source, paths: Paths) -> list[str]:
    """Fetch again the package documents of what is installed from `source`, whose
    catalog just changed, so `list --outdated` sees new versions with no network; the
    problems, one line each (the update itself stands)."""
    problems = []
    for record in state.read(paths).values():
        if record.source == source.name:
            try:
                client.package(source, record.name)
            except EcliError as exc:
                problems.append(f"{source.name}: {record.name}: {exc.message}")
    return problems


def _newer(document: model.PackageDocument, record: state.Installed,
           selector: str | None) -> str | None:
    """The version `selector` chooses in `document`, when it is newer than `record`'s."""
    from ecli import semver

    try:
        chosen, _ = choose_version(document, selector)
    except EcliError:
        return None
    if chosen.version == record.version or chosen.digest == record.digest:
        return None
    new, old = semver.parse_version(chosen.version), semver.parse_version(record.version)
    if new and old and new <= old:
        return None
    return chosen.version


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

        located = locate_in_index(name, record.requested, paths, progress)
        warnings += located.warnings
        if located.digest == record.digest:
            held = outlook(record, paths).newest if record.requested else None
            note = (f"stays at {record.version}, as installed ({name}@{record.requested}); "
                    f"{held} exists: ecli install {name}@{held}") if held else "up to date"
            changes.append(Change(name, record.version, record.version, record.digest, note))
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
