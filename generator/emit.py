"""The api/v1 documents, built from valid entries and the lock.

Every document is written through `ecli.hubindex.model`, the one owner of that
format; this module only decides what goes into it. A version the lock does
not cover (or covers for a different ref) is a problem, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecli.hubindex import model
from ecli.trust.keys import PrivateKey, parse_public
from generator import kernelfilter, rootsign, search
from generator.entry import Entry, Index
from generator.inspection import Cache
from generator.kernelresults import Results, for_version
from generator.lock import Lock
from generator.problems import Problem

API_DIR = "api/v1"


@dataclass(frozen=True)
class Documents:
    root: model.Root
    catalog: model.Catalog
    packages: dict[str, model.PackageDocument]
    search_docs: model.SearchDocs


def check_lock(index: Index, lock: Lock) -> list[Problem]:
    """Every version needs a digest locked for its current ref, and a signed entry's
    versions a signature checked for its current signer (`generator.signing`)."""
    problems = []
    for entry in index.entries.values():
        fingerprint = signer(entry).name if entry.signed else None
        for version in entry.versions:
            locked = lock.get(entry.name, {}).get(version.version)
            if locked is None or locked.ref != version.ref:
                what = "has no digest in the lock" if locked is None else (
                    f"is locked for a different ref ({locked.ref})")
            elif fingerprint and locked.signer != fingerprint:
                what = "has no signature checked for its signer"
            else:
                continue
            problems.append(Problem(
                entry.file, version.line, version.col, "ref",
                f"{entry.name} {version.version} {what}", code="lock",
                hint="run `python -m generator resolve` (or build without --offline)"))
    return problems


def signer(entry: Entry) -> model.Signer:
    """The entry's signer as api/v1 publishes it: the PEM and its fingerprint, or the
    keyless identity and issuer."""
    if entry.signer_key is None:
        return model.Signer(identity=entry.signer_identity, issuer=entry.signer_issuer)
    key = parse_public(entry.signer_key.encode(), f"{entry.file}: signer.key")
    return model.Signer(entry.signer_key, key.fingerprint())


def documents(index: Index, lock: Lock, generated: str,
              inspected: Cache | None = None, kernels: Results | None = None) -> Documents:
    """The in-memory documents; `check_lock` must have passed.

    Without `inspected`, the package documents lack platforms and inspections
    (a build that reuses cached pages completes them with `completed`).
    """
    packages = {name: package(entry, lock, inspected or {}, kernels)
                for name, entry in sorted(index.entries.items())}
    return _documents(packages, generated, {})


def completed(documents: Documents, packages: dict[str, model.PackageDocument],
              architectures: dict[str, tuple[str, ...]]) -> Documents:
    """`documents` with some package documents replaced by their complete form, and the
    architectures of the others (kept from the build that rendered them) in the catalog."""
    return _documents({**documents.packages, **packages}, documents.root.generated,
                      architectures)


def _documents(packages: dict[str, model.PackageDocument], generated: str,
               architectures: dict[str, tuple[str, ...]]) -> Documents:
    catalog = model.Catalog(model.SCHEMA_VERSION, generated, tuple(
        model.CatalogEntry(
            name=name, summary=doc.summary, kind=doc.kind,
            latest=_latest(doc), keywords=doc.keywords, categories=doc.categories,
            owners=doc.owners, updated=max((v.published or "" for v in doc.versions),
                                           default="") or None,
            architectures=(architectures[name] if name in architectures
                           else architectures_of(doc)),
        )
        for name, doc in packages.items()
    ))
    root = model.Root(model.SCHEMA_VERSION, generated, search=model.SEARCH_INDEX_FILE)
    search_docs = model.SearchDocs(model.SCHEMA_VERSION, {
        name: model.SearchDoc(doc.summary, doc.kind, _latest(doc))
        for name, doc in packages.items()
    })
    return Documents(root, catalog, packages, search_docs)


def write(documents: Documents, site_dir: Path,
          popularity: dict[str, int] | None = None, hub_key: PrivateKey | None = None) -> Path:
    """Write api/v1 under `site_dir` (a fresh build directory) and return its path.

    The per-package documents are written by `fill`, beside each package page,
    before this; the root is written last, listing them all (`rootsign`).
    """
    api = site_dir / API_DIR
    (api / model.PACKAGES_DIR).mkdir(parents=True, exist_ok=True)
    (api / model.CATALOG_FILE).write_bytes(model.dump(documents.catalog))
    files = search.build(documents.catalog, popularity)
    folder = api / model.SEARCH_DIR
    (folder / "terms").mkdir(parents=True, exist_ok=True)
    (folder / "docs").mkdir(parents=True, exist_ok=True)
    (api / model.SEARCH_INDEX_FILE).write_bytes(model.dump_search_part(files.head))
    for key, shard in files.shards.items():
        (folder / "terms" / f"{key}.json").write_bytes(model.dump_search_part(shard))
    for number, block in enumerate(files.blocks):
        (folder / "docs" / f"{number}.json").write_bytes(model.dump_search_part(block))
    (api / model.SEARCH_DOCS_FILE).write_bytes(model.dump(documents.search_docs))
    (api / kernelfilter.FILE).write_bytes(
        model.dump_search_part(kernelfilter.build(documents.packages)))
    rootsign.write(api, documents.root, hub_key)
    return api


def package(entry: Entry, lock: Lock, inspected: Cache,
            kernels: Results | None = None) -> model.PackageDocument:
    versions = []
    for version in entry.versions:
        locked = lock[entry.name][version.version]
        capabilities = version.requirements.get("capabilities", ())
        found = inspected.get(locked.digest)
        versions.append(model.Version(
            version=version.version, ref=version.ref, repository=version.reference.name,
            digest=locked.digest, published=locked.resolved, yanked=version.yanked,
            requirements=dict(version.requirements), permissions=tuple(capabilities),
            kernels=tuple(model.KernelResult(**r.published()) for r in for_version(
                kernels or {}, entry.name, version.version, locked.digest)),
            platforms=found.platforms if found else (),
            inspection=found.inspection if found else None,
            signature=locked.signature if entry.signed else None,
        ))
    return model.PackageDocument(
        schema_version=model.SCHEMA_VERSION, name=entry.name, summary=entry.summary,
        kind=entry.kind, description=entry.description, example=entry.example,
        license=entry.license,
        homepage=entry.homepage, source=entry.source, owners=entry.owners,
        keywords=entry.keywords, categories=entry.categories, versions=tuple(versions),
        signer=signer(entry) if entry.signed else None,
    )


def architectures_of(document: model.PackageDocument) -> tuple[str, ...]:
    """Architectures of the newest usable version; empty when it names none (any)."""
    latest = next((v for v in document.versions if not v.yanked), None)
    if latest is None:
        return ()
    return tuple(sorted({_ARCH.get(p.architecture, p.architecture) for p in latest.platforms}))


_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def _latest(document: model.PackageDocument) -> str | None:
    return next((v.version for v in document.versions if not v.yanked), None)
