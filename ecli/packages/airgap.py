"""Air-gapped use: `ecli save` archives that carry their index entries, loaded as a source.

`save` writes an OCI image-layout archive (`ecli.oci.archive`) of the packages
named, the cosign signature manifests kept beside them in the store, and, for
each package located through an index, its index entry: an artifact
(`INDEX_ENTRY`) whose one layer is the package's api/v1 document cut down to
the versions saved.

`load` reads the archive into a scratch layout in the store's temp area and
checks everything there: every blob against its digest (`archive.load`),
every version an entry names is in the archive, and each version's signature
against the signer its entry declares, as `ecli.packages.signing` checks any
hub package. Only then are the blobs copied into the store and the entries
written as a local source: the folder `Paths.archives_dir/archive-STEM`
(index.json, catalog.json, packages/) added to the sources as `archive-STEM`,
which `ecli sources list` shows. Loading an archive of the same file name
again replaces that source. A refused archive leaves nothing: no blob, no
ref, no source. The scratch folder carries the loader's pid, so a killed load
is swept like any temporary file (`ecli.files.remove_orphans`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ecli.errors import ArtifactError, EcliError, SignatureError, UsageError
from ecli.files import owned_prefix, remove_orphans
from ecli.hubindex import model
from ecli.oci import archive, mediatypes
from ecli.oci import reference as references
from ecli.oci.config import NAME_PATTERN
from ecli.oci.manifest import (
    ANNOTATION_REF_NAME,
    MAX_MANIFEST_BYTES,
    Descriptor,
    ImageIndex,
    Manifest,
    empty_config,
    parse,
    sha256_digest,
)
from ecli.oci.store import Store
from ecli.packages.sources import Source
from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.packages.install import Change
    from ecli.packages.locate import LocatedPackage, Progress

SOURCE_PREFIX = "archive-"
ANNOTATION_PACKAGE = "dev.ebpfhub.package.name"


@dataclass(frozen=True)
class Saved:
    reference: str  # the org.opencontainers.image.ref.name in the archive
    digest: str
    name: str | None = None  # the package, when its index entry travels with it
    version: str | None = None


@dataclass(frozen=True)
class Loaded:
    source: str | None  # the source made of the archive's entries; None: it carries none
    packages: tuple[Saved, ...]  # every named manifest loaded, signatures excepted
    warnings: tuple[str, ...]


# -- save ------------------------------------------------------------------------------


def save(packages: Sequence[LocatedPackage], paths: Paths, output: Path
         ) -> tuple[int, list[Saved]]:
    """Write `packages` (located, in the store), their signatures and index entries to
    `output`; its size and what it names."""
    store = Store(paths.oci_store_dir)
    refs: dict[str, Descriptor] = {}
    saved: list[Saved] = []
    documents: dict[str, tuple[model.PackageDocument, set[str]]] = {}
    for located in packages:
        entry = _index_entry(located, store, paths)
        if entry is not None:
            document, version = entry
            digest, name = version.digest, f"{version.repository}:{version.version}"
            documents.setdefault(document.name, (document, set()))[1].add(digest)
            saved.append(Saved(name, digest, document.name, version.version))
            repository: str | None = version.repository
        else:
            assert located.digest is not None
            digest = located.digest
            name = located.reference or f"ecli.local/{located.name}@{digest}"
            saved.append(Saved(name, digest))
            repository = _repository(name)
        refs[name] = _descriptor(store, digest, name)
        if repository is not None:
            signature = _signature(store, repository, digest)
            if signature is not None:
                refs[signature.annotations[ANNOTATION_REF_NAME]] = signature
    extra, blobs = [], {}
    for document, digests in documents.values():
        descriptor, entry_blobs = _entry_manifest(document, digests)
        extra.append(descriptor)
        blobs.update(entry_blobs)
    return archive.save(store, list(refs.values()), output, extra, blobs), saved


def _index_entry(located: LocatedPackage, store: Store, paths: Paths
                 ) -> tuple[model.PackageDocument, model.Version] | None:
    """The index document and version `located` resolved through, when its source still
    lists them and the store holds that version's own digest (of a multi-platform
    version: its image index)."""
    if located.artifact is None or located.digest is None:
        raise UsageError(f"{located.name}: not a stored package: nothing to save")
    files = list(located.artifact.files.values())
    if files and not files[0].is_relative_to(store.root):
        raise UsageError(f"{located.name} lives outside the cache; install it first")
    if located.source is None:
        return None
    from ecli.packages.index_client import IndexClient

    client = IndexClient(paths)  # the document is cached once located; fetched if dropped
    source = next((s for s in client.sources if s.name == located.source), None)
    if source is None:
        return None
    document = client.package(source, located.name)
    for version in document.versions:
        if located.digest in (version.digest, *(p.digest for p in version.platforms)):
            return (document, version) if store.has(version.digest) else None
    return None


def _repository(name: str) -> str | None:
    try:
        return references.parse(name).name
    except EcliError:
        return None


def _descriptor(store: Store, digest: str, name: str) -> Descriptor:
    raw = store.read_blob(digest, verify=True, max_size=MAX_MANIFEST_BYTES)
    parsed = parse(raw, f"{name}@{digest}")
    artifact_type = parsed.artifact_type if isinstance(parsed, Manifest) else None
    return Descriptor(parsed.media_type, digest, len(raw), {ANNOTATION_REF_NAME: name},
                      artifact_type=artifact_type)


def _signature(store: Store, repository: str, digest: str) -> Descriptor | None:
    """The signature manifest kept for `repository@digest`, named as its registry tag."""
    from ecli.oci.signatures import signature_tag
    from ecli.trust.verify import stored_signature

    found = stored_signature(store, references.parse(f"{repository}@{digest}"))
    if found is None:
        return None
    name = f"{repository}:{signature_tag(found[0])}"
    return _descriptor(store, found[1], name)


def _entry_manifest(document: model.PackageDocument, digests: set[str]
                    ) -> tuple[Descriptor, dict[str, bytes]]:
    """The entry artifact of `document`'s saved versions, and its blobs by digest."""
    kept = document._replace(versions=tuple(v for v in document.versions
                                             if v.digest in digests))
    raw = model.dump(kept)
    layer = Descriptor(mediatypes.INDEX_PACKAGE_DOCUMENT, sha256_digest(raw), len(raw),
                       {mediatypes.ANNOTATION_TITLE: f"{document.name}.json"})
    config = empty_config()
    manifest = Manifest(mediatypes.OCI_MANIFEST, config, (layer,), mediatypes.INDEX_ENTRY,
                        {ANNOTATION_PACKAGE: document.name})
    body = manifest.to_json()
    descriptor = Descriptor(mediatypes.OCI_MANIFEST, sha256_digest(body), len(body),
                            {ANNOTATION_PACKAGE: document.name},
                            artifact_type=mediatypes.INDEX_ENTRY)
    return descriptor, {layer.digest: raw, config.digest: mediatypes.EMPTY_CONFIG,
                        descriptor.digest: body}


# -- load ------------------------------------------------------------------------------


def source_name(archive_path: Path) -> str:
    """`archive-STEM`: the source an archive's entries become, named after its file."""
    stem = re.sub(r"\.(tar|tar\.gz|tgz)$", "", archive_path.name)
    return (SOURCE_PREFIX + re.sub(r"[^A-Za-z0-9_.-]", "-", stem))[:64]


def load(path: Path, paths: Paths) -> Loaded:
    """Check the archive whole, then store its blobs and make its entries a source."""
    where = str(path)
    store = Store(paths.oci_store_dir)
    store.ensure()
    scratch_dir = Path(tempfile.mkdtemp(dir=store.root / ".tmp", prefix=owned_prefix("load")))
    try:
        scratch = Store(scratch_dir)
        refs = archive.load(path, scratch)
        source = _archive_source(path, paths)
        name = source.name
        documents, warnings = _checked_entries(refs, scratch, source, where)
        carried = [d for d in refs if d.artifact_type != mediatypes.INDEX_ENTRY]
        for descriptor in carried:
            archive.copy(scratch, descriptor.digest, store)
        for descriptor in carried:
            ref_name = descriptor.annotations.get(ANNOTATION_REF_NAME)
            if ref_name:
                store.add_ref(ref_name, descriptor.digest, descriptor.media_type,
                              descriptor.size, platform=descriptor.platform,
                              artifact_type=descriptor.artifact_type)
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)
    if documents:
        _write_source(source, documents, paths)
    return Loaded(name if documents else None, _listing(carried, documents),
                  tuple(warnings))


def _archive_source(path: Path, paths: Paths) -> Source:
    """The source `path`'s entries become; a policy set on it before is kept
    (`ecli sources add archive-STEM DIR --signatures require`, then load again)."""
    from ecli.packages import sources

    name = source_name(path)
    before = next((s for s in sources.load(paths.sources_file) if s.name == name), None)
    location = str(paths.archives_dir / name)
    if before is None:
        return Source(name, location)
    return Source(name, location, before.priority, before.signatures)


def _checked_entries(refs: list[Descriptor], scratch: Store, source: Source, where: str
                     ) -> tuple[list[model.PackageDocument], list[str]]:
    """The archive's index entries, each version in the archive and its signature
    checked against the entry's signer; the warnings (unsigned versions)."""
    from ecli.packages import signing

    documents: dict[str, model.PackageDocument] = {}
    warnings: list[str] = []
    carried = {d.digest for d in refs if d.artifact_type != mediatypes.INDEX_ENTRY}
    for descriptor in refs:
        if descriptor.artifact_type != mediatypes.INDEX_ENTRY:
            continue
        document = _entry_document(scratch, descriptor, where)
        if document.name in documents:
            raise ArtifactError(f"{where}: two index entries for package {document.name}")
        documents[document.name] = document
        for version in document.versions:
            what = f"{where}: index entry {document.name} {version.version}"
            if version.digest not in carried:
                raise ArtifactError(f"{what} names {version.digest}, which is not a package "
                                    "in the archive")
            try:
                ref = references.parse(f"{version.repository}@{version.digest}")
            except EcliError as exc:
                raise ArtifactError(f"{what}: {exc.message}") from None
            try:
                verdict = signing.check(source, document, version, ref,
                                        scratch, scratch.root / "verified")
            except SignatureError as exc:
                raise SignatureError(f"{where}: {exc.message}", reason=exc.reason,
                                     hint=exc.hint) from None
            warnings += verdict.warnings
    return list(documents.values()), warnings


def _entry_document(scratch: Store, descriptor: Descriptor, where: str
                    ) -> model.PackageDocument:
    at = f"{where}: index entry {descriptor.digest}"
    parsed = parse(scratch.read_blob(descriptor.digest, verify=True,
                                     max_size=MAX_MANIFEST_BYTES), at)
    layers = [] if isinstance(parsed, ImageIndex) else [
        layer for layer in parsed.layers
        if layer.media_type == mediatypes.INDEX_PACKAGE_DOCUMENT]
    if len(layers) != 1:
        raise ArtifactError(f"{at}: expected one {mediatypes.INDEX_PACKAGE_DOCUMENT} layer, "
                            f"found {len(layers)}")
    raw = scratch.read_blob(layers[0].digest, verify=True, max_size=model.MAX_DOCUMENT_BYTES)
    document = model.load_package(raw, f"{at}: {layers[0].title or layers[0].digest}")
    if not NAME_PATTERN.match(document.name):
        raise ArtifactError(f"{at}: {document.name!r} is not a valid package name")
    named = descriptor.annotations.get(ANNOTATION_PACKAGE)
    if named is not None and named != document.name:
        raise ArtifactError(f"{at}: describes {document.name!r}, its descriptor says {named!r}")
    return document


def _listing(carried: list[Descriptor], documents: list[model.PackageDocument]
             ) -> tuple[Saved, ...]:
    """What was loaded by name: each package manifest, with its entry's name and version."""
    from ecli.oci.signatures import signed_digest

    versions = {v.digest: (d.name, v.version) for d in documents for v in d.versions}
    listing = []
    for descriptor in carried:
        ref_name = descriptor.annotations.get(ANNOTATION_REF_NAME, "")
        if signed_digest(ref_name.rsplit(":", 1)[-1]) is not None:
            continue  # a signature: it travels with its package
        name, version = versions.get(descriptor.digest, (None, None))
        listing.append(Saved(ref_name, descriptor.digest, name, version))
    return tuple(listing)


def _write_source(source: Source, documents: list[model.PackageDocument],
                  paths: Paths) -> None:
    """The entries as a local api/v1 folder, swapped in whole, then added as a source and
    read into the index cache (replacing what a same-named archive left there)."""
    from ecli.packages import sources
    from ecli.packages.index_client import IndexClient

    folder = Path(source.location)
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(folder.parent)  # what a killed load left half-written
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=owned_prefix(f".{folder.name}")))
    try:
        generated = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        (work / model.PACKAGES_DIR).mkdir()
        (work / model.ROOT_FILE).write_bytes(model.dump(model.Root(model.SCHEMA_VERSION,
                                                                   generated)))
        entries = tuple(model.CatalogEntry(
            d.name, d.summary, d.kind, next((v.version for v in d.versions if not v.yanked),
                                            None), d.keywords, d.categories, d.owners)
            for d in sorted(documents, key=lambda d: d.name))
        (work / model.CATALOG_FILE).write_bytes(model.dump(model.Catalog(
            model.SCHEMA_VERSION, generated, entries)))
        for document in documents:
            (work / model.PACKAGES_DIR / f"{document.name}.json").write_bytes(
                model.dump(document))
        if folder.exists():
            old = folder.with_name(f"{work.name}.old")
            folder.rename(old)
            work.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    added = sources.add(paths.sources_file, source.name, str(folder), source.priority,
                        source.signatures)
    IndexClient(paths).update(added)


# -- install ---------------------------------------------------------------------------


def install_archive(path: Path, paths: Paths, progress: Progress | None = None
                    ) -> tuple[list[Change], list[str]]:
    """Load `path`, then install every package its entries name, from the store only
    (as `docker load` loads every image, and `pip install -r` every requirement)."""
    from ecli.packages.install import install

    loaded = load(path, paths)
    named = [p for p in loaded.packages if p.name is not None]
    if not named:  # an archive of references only (or another tool's): its first package
        change, found = install(str(path), paths, progress, pull="never")
        return [change], [*loaded.warnings, *found]
    changes, warnings = [], list(loaded.warnings)
    for package in named:
        change, found = install(f"{package.name}@{package.version}", paths, progress,
                                pull="never")
        changes.append(change)
        warnings += found
    return changes, list(dict.fromkeys(warnings))
