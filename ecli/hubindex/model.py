"""Typed form of the `api/v1` documents, with a strict reader and a writer.

Layout under a source's base URL (all paths relative to `index.json`):

    index.json              Root: schema version, generation time, where the rest is;
                            the sha256 and size of every other document, a version
                            that only grows, and the hub key's signature (when signed)
    catalog.json            Catalog: one compact entry per package, for search and list
    packages/NAME.json      PackageDocument: every version, digest and requirement
    search/index.json       the site's search index: its head (names, filters), loaded first
    search/terms/X.json     term shards by first character, loaded on the first keystroke
    search/docs/N.json      summaries of a block of packages, loaded for shown results
    search/docs.json        SearchDocs: name -> summary, kind, latest, for other tools

The reader checks shapes by hand rather than through jsonschema so that
`ecli search` stays fast; `api-v1.schema.json` beside this file is the
published schema and the tests hold the two together.

The root is signed over `root_payload`: the root object without its
`signatures`, as canonical JSON (sorted keys, no spaces, ASCII), after a
context line, so a signature made for anything else never reads as a root's.
The payload is taken from the JSON as received, not from the fields this
reader knows, so a later field is covered too. Checking a signature is the
caller's (`ecli.packages.indextrust`, with `ecli.trust.keys`): this module
stays a pure format.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles each string
# annotation, which would cost this module a third more to import.
import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from ecli.documents import load_object, plain
from ecli.errors import SourceError
from ecli.hubindex.inspection import (
    ExportedMetric,
    Inspection,
    MapInfo,
    Permission,
    ProgramInfo,
    ProgramOption,
)

SCHEMA_VERSION = 1
ROOT_FILE = "index.json"
CATALOG_FILE = "catalog.json"
PACKAGES_DIR = "packages"
SEARCH_INDEX_FILE = "search/index.json"
SEARCH_DIR = "search"
SEARCH_DOCS_FILE = "search/docs.json"
KERNEL_RESULT_KEYS = ("kernel", "arch", "result", "reason", "tested")
OPTION_KEYS = ("flag", "type", "default", "description")
MAX_DOCUMENT_BYTES = 64 << 20
ROOT_SIGNING_CONTEXT = b"ebpfhub api/v1 root\n"
# The records are named tuples, not dataclasses: `ecli run NAME` reads a package
# document through them, and creating a frozen dataclass costs ten times as much.
# Their mapping fields default to one shared empty mapping that nothing can change.
EMPTY_MAPPING: Mapping[str, Any] = MappingProxyType({})


class DocumentDigest(NamedTuple):
    """What the root says one other api/v1 document is: its bytes' sha256 (hex) and size."""

    sha256: str
    size: int


class Signer(NamedTuple):
    """Who signs every version of a package, or the hub's root: a PEM public key and its
    fingerprint (`sha256:` of the key's SubjectPublicKeyInfo DER), or, for packages only,
    keyless: the identity a Fulcio certificate must name and the OIDC issuer it comes
    from (as falcoctl's `signature.cosign` names them). Exactly one form is set."""

    key: str | None = None
    fingerprint: str | None = None
    identity: str | None = None
    issuer: str | None = None

    # `plain` leaves these out when they are None: a signer writes only the form that
    # is set, so the root keeps its strict schema.
    OMIT_NONE = frozenset({"key", "fingerprint", "identity", "issuer"})

    @property
    def name(self) -> str:
        """How messages, the lock and the page name this signer."""
        return self.fingerprint or f"{self.identity} (issuer {self.issuer})"


class Root(NamedTuple):
    schema_version: int
    generated: str
    catalog: str = CATALOG_FILE
    packages: str = PACKAGES_DIR + "/{name}.json"
    search: str | None = None
    registry_mirrors: Mapping[str, str] = EMPTY_MAPPING
    version: int = 0  # grows with every build (its UTC time in seconds); 0: an older hub
    documents: Mapping[str, DocumentDigest] = EMPTY_MAPPING  # path -> digest
    signer: Signer | None = None  # the hub key; None: an unsigned index


class RootSignature(NamedTuple):
    """One signature of the root: the signing key's fingerprint, the base64 signature."""

    keyid: str
    sig: str


class SignedRoot(NamedTuple):
    """A root as received: its fields, the bytes its signatures sign, the signatures."""

    root: Root
    payload: bytes
    signatures: tuple[RootSignature, ...]


class CatalogEntry(NamedTuple):
    name: str
    summary: str
    kind: str
    latest: str | None
    keywords: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    updated: str | None = None
    architectures: tuple[str, ...] = ()  # of the latest version; empty when unknown


class Catalog(NamedTuple):
    schema_version: int
    generated: str
    packages: tuple[CatalogEntry, ...]


class Platform(NamedTuple):
    """One platform's manifest within a (possibly multi-platform) version."""

    os: str
    architecture: str
    digest: str


class KernelResult(NamedTuple):
    """How the version's test went on one kernel of the hub's matrix (index/kernels.json)."""

    kernel: str  # uname -r: 6.1.0-57-cloud-amd64
    arch: str  # uname -m: x86_64, aarch64
    result: str  # pass, fail or unsupported
    reason: str  # a failure's: the tail of ecli's error, the verifier's log
    tested: str  # YYYY-MM-DD


class Version(NamedTuple):
    version: str
    ref: str
    repository: str
    digest: str
    platforms: tuple[Platform, ...] = ()
    published: str | None = None
    yanked: str | None = None
    requirements: Mapping[str, Any] = EMPTY_MAPPING
    permissions: tuple[str, ...] = ()  # capabilities the entry declares
    inspection: Inspection | None = None  # None when the hub has not inspected it
    signature: str | None = None  # digest of the cosign signature manifest the hub checked
    kernels: tuple[KernelResult, ...] = ()  # the kernel matrix; empty when never run


class PackageDocument(NamedTuple):
    schema_version: int
    name: str
    summary: str
    kind: str
    description: str = ""
    example: str = ""  # captured terminal output of a run, with its command lines
    license: str | None = None
    homepage: str | None = None
    source: str | None = None
    owners: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    versions: tuple[Version, ...] = ()
    signer: Signer | None = None  # None: unsigned

    def find_version(self, wanted: str | None) -> Version:
        """The named version, or the newest version that is not yanked."""
        if wanted is not None:
            for version in self.versions:
                if version.version == wanted:
                    return version
            known = ", ".join(v.version for v in self.versions) or "none"
            raise SourceError(f"{self.name} has no version {wanted} (known: {known})")
        for version in self.versions:  # newest first, by contract
            if not version.yanked:
                return version
        raise SourceError(f"{self.name} has no version that is not yanked")


class SearchDoc(NamedTuple):
    """What a search hit shows: for tools other than the site (which uses search/docs/N.json)."""

    summary: str
    kind: str
    latest: str | None = None


class SearchDocs(NamedTuple):
    schema_version: int
    packages: dict[str, SearchDoc]


def dump(document: Root | Catalog | PackageDocument | SearchDocs) -> bytes:
    """Serialise a document exactly as it is published."""
    return _compact(plain(document))


def dump_search_part(part: dict[str, Any]) -> bytes:
    """One file of the site's search index (head, term shard or summary block).

    Their shapes are documented in docs/formats.md and read only by the site's
    search script; here they are only checked to carry the schema version.
    """
    if part.get("schema_version") != SCHEMA_VERSION:
        raise ValueError("a search index part needs schema_version")
    return _compact(part)


def _compact(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=None, separators=(",", ":"),
                      ensure_ascii=False).encode() + b"\n"


def root_payload(data: dict[str, Any]) -> bytes:
    """The bytes the hub key signs: the context line, then the root without
    `signatures` as canonical JSON."""
    unsigned = {key: value for key, value in data.items() if key != "signatures"}
    return ROOT_SIGNING_CONTEXT + json.dumps(unsigned, sort_keys=True, separators=(",", ":"),
                                             ensure_ascii=True).encode()


def dump_root(root: Root, signatures: Sequence[RootSignature] = ()) -> bytes:
    """The root as published, with its signatures (none: an unsigned index)."""
    return _compact({**plain(root), "signatures": plain(list(signatures))})


def load_root(raw: bytes, where: str) -> Root:
    return _root(_document(raw, where), where)


def load_signed_root(raw: bytes, where: str) -> SignedRoot:
    """The root with what its signatures cover, for checking them (`ecli.packages.indextrust`)."""
    data = _document(raw, where)
    signatures = tuple(
        RootSignature(_get(item, "keyid", str, f"{where}: signatures[{i}]"),
                      _get(item, "sig", str, f"{where}: signatures[{i}]"))
        for i, item in enumerate(_get(data, "signatures", list, where, [])))
    return SignedRoot(_root(data, where), root_payload(data), signatures)


def _root(data: dict[str, Any], where: str) -> Root:
    documents = {}
    for path, item in _get(data, "documents", dict, where, {}).items():
        at = f"{where}: documents[{path!r}]"
        sha256 = _get(item, "sha256", str, at)
        _digest(f"sha256:{sha256}", at)
        size = _get(item, "size", int, at)
        if size < 0:
            raise SourceError(f"{at}: field 'size' must not be negative")
        documents[path] = DocumentDigest(sha256, size)
    signer = _get(data, "signer", dict, where, None)
    version = _get(data, "version", int, where, 0)
    if version < 0:
        raise SourceError(f"{where}: field 'version' must not be negative")
    return Root(
        schema_version=data["schema_version"],
        generated=_get(data, "generated", str, where),
        catalog=_get(data, "catalog", str, where, CATALOG_FILE),
        packages=_get(data, "packages", str, where, PACKAGES_DIR + "/{name}.json"),
        search=_get(data, "search", str, where, None),
        registry_mirrors=_get(data, "registry_mirrors", dict, where, {}),
        version=version,
        documents=documents,
        signer=None if signer is None else _hub_key(signer, f"{where}: signer"),
    )


def _hub_key(data: dict[str, Any], where: str) -> Signer:
    return Signer(_get(data, "key", str, where),
                  _digest(_get(data, "fingerprint", str, where), where))


def load_catalog(raw: bytes, where: str) -> Catalog:
    data = _document(raw, where)
    entries = []
    for i, item in enumerate(_get(data, "packages", list, where)):
        at = f"{where}: packages[{i}]"
        entries.append(CatalogEntry(
            name=_get(item, "name", str, at),
            summary=_get(item, "summary", str, at),
            kind=_get(item, "kind", str, at),
            latest=_get(item, "latest", str, at, None),
            keywords=_strings(item, "keywords", at),
            categories=_strings(item, "categories", at),
            owners=_strings(item, "owners", at),
            updated=_get(item, "updated", str, at, None),
            architectures=_strings(item, "architectures", at),
        ))
    return Catalog(data["schema_version"], _get(data, "generated", str, where), tuple(entries))


def load_package(raw: bytes, where: str) -> PackageDocument:
    data = _document(raw, where)
    versions = []
    for i, item in enumerate(_get(data, "versions", list, where)):
        at = f"{where}: versions[{i}]"
        platforms = tuple(
            Platform(
                os=_get(p, "os", str, f"{at}.platforms[{j}]"),
                architecture=_get(p, "architecture", str, f"{at}.platforms[{j}]"),
                digest=_digest(_get(p, "digest", str, f"{at}.platforms[{j}]"), at),
            )
            for j, p in enumerate(_get(item, "platforms", list, at, []))
        )
        versions.append(Version(
            version=_get(item, "version", str, at),
            ref=_get(item, "ref", str, at),
            repository=_get(item, "repository", str, at),
            digest=_digest(_get(item, "digest", str, at), at),
            platforms=platforms,
            published=_get(item, "published", str, at, None),
            yanked=_get(item, "yanked", str, at, None),
            requirements=_get(item, "requirements", dict, at, {}),
            permissions=_strings(item, "permissions", at),
            inspection=load_inspection(_get(item, "inspection", dict, at, None),
                                       f"{at}.inspection"),
            signature=_optional_digest(item, "signature", at),
            kernels=tuple(KernelResult(**{key: _get(k, key, str, f"{at}.kernels[{j}]")
                                          for key in KERNEL_RESULT_KEYS})
                          for j, k in enumerate(_get(item, "kernels", list, at, []))),
        ))
    signer = _get(data, "signer", dict, where, None)
    return PackageDocument(
        schema_version=data["schema_version"],
        name=_get(data, "name", str, where),
        summary=_get(data, "summary", str, where),
        kind=_get(data, "kind", str, where),
        description=_get(data, "description", str, where, ""),
        example=_get(data, "example", str, where, ""),
        license=_get(data, "license", str, where, None),
        homepage=_get(data, "homepage", str, where, None),
        source=_get(data, "source", str, where, None),
        owners=_strings(data, "owners", where),
        keywords=_strings(data, "keywords", where),
        categories=_strings(data, "categories", where),
        versions=tuple(versions),
        signer=None if signer is None else _signer(signer, f"{where}: signer"),
    )


def _signer(data: dict[str, Any], where: str) -> Signer:
    if data.get("identity") is not None or data.get("issuer") is not None:
        return Signer(identity=_get(data, "identity", str, where),
                      issuer=_get(data, "issuer", str, where))
    return Signer(_get(data, "key", str, where),
                  _digest(_get(data, "fingerprint", str, where), where))


def _optional_digest(data: Any, key: str, where: str) -> str | None:
    value = _get(data, key, str, where, None)
    return None if value is None else _digest(value, where)


def load_inspection(data: dict[str, Any] | None, where: str) -> Inspection | None:
    """An `inspection` object (as `asdict` wrote it), checked; None stays None."""
    if data is None:
        return None

    def items(key: str) -> list[Any]:
        values = _get(data, key, list, where, [])
        for i, value in enumerate(values):
            if not isinstance(value, dict):
                raise SourceError(f"{where}: {key}[{i}] must be an object")
        return values

    size = _get(data, "size", int, where, 0)
    return Inspection(
        programs=tuple(ProgramInfo(_get(p, "section", str, where), _get(p, "type", str, where),
                                   _get(p, "attach", str, where, "")) for p in items("programs")),
        maps=tuple(MapInfo(_get(m, "name", str, where), _get(m, "type", str, where))
                   for m in items("maps")),
        helpers=_strings(data, "helpers", where),
        license=_get(data, "license", str, where, ""),
        min_kernel=_get(data, "min_kernel", str, where, None),
        capabilities=_strings(data, "capabilities", where),
        permissions=tuple(Permission(_get(p, "id", str, where), _get(p, "level", str, where),
                                     _get(p, "text", str, where))
                          for p in items("permissions")),
        size=size,
        metrics=tuple(ExportedMetric(_get(m, "name", str, where), _get(m, "kind", str, where))
                      for m in items("metrics")),
        options=tuple(ProgramOption(*(_get(o, key, str, where) for key in OPTION_KEYS))
                      for o in items("options")),
    )


def load_search_docs(raw: bytes, where: str) -> SearchDocs:
    data = _document(raw, where)
    packages = {}
    for name, item in _get(data, "packages", dict, where).items():
        at = f"{where}: packages[{name!r}]"
        packages[name] = SearchDoc(
            summary=_get(item, "summary", str, at),
            kind=_get(item, "kind", str, at),
            latest=_get(item, "latest", str, at, None),
        )
    return SearchDocs(data["schema_version"], packages)


_MISSING = object()


def _document(raw: bytes, where: str) -> dict[str, Any]:
    data = load_object(raw, where, what="document", limit=MAX_DOCUMENT_BYTES, error=SourceError)
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SourceError(
            f"{where}: schema_version {version!r} is not supported (this ecli reads "
            f"{SCHEMA_VERSION})",
            hint="upgrade ecli, or point it at an index it understands",
        )
    return data


def _get(data: Any, key: str, kind: type, where: str, default: Any = _MISSING) -> Any:
    if not isinstance(data, dict):
        raise SourceError(f"{where}: expected a JSON object")
    if key not in data or data[key] is None:
        if default is _MISSING:
            raise SourceError(f"{where}: missing field {key!r}")
        return default
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SourceError(f"{where}: field {key!r} must be {kind.__name__}")
    return value


def _strings(data: Any, key: str, where: str) -> tuple[str, ...]:
    values = _get(data, key, list, where, [])
    if not all(isinstance(v, str) for v in values):
        raise SourceError(f"{where}: field {key!r} must be a list of strings")
    return tuple(values)


def _digest(value: str, where: str) -> str:
    algorithm, _, hex_part = value.partition(":")
    if algorithm != "sha256" or len(hex_part) != 64 or not all(
        c in "0123456789abcdef" for c in hex_part
    ):
        raise SourceError(f"{where}: {value!r} is not a sha256 digest")
    return value
