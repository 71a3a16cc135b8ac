"""From what a user typed to a package on disk, pulling only when the policy allows.

Targets are parsed by `ecli.packages.targets` (names, ranges, digests, OCI references,
URLs, paths). Names resolve to a digest through the JSON index, so what runs
is exactly what the hub's CI inspected; an installed package (`ecli install`)
answers for its bare name, pinned to the digest installed. A digest already
in the store is never downloaded again (and is re-verified when read).

Pull policies, as podman's: `missing` (default) pulls what the store lacks,
`always` asks the registry (and the index) again, `never` works only from
the store and the cached index, and says so when something is missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from ecli import semver
from ecli.errors import (
    ArtifactError,
    NotFoundError,
    PolicyError,
    SignatureError,
    SourceError,
    UsageError,
)
from ecli.oci import reference as references
from ecli.oci.config import PackageConfig
from ecli.packages import kernelmatrix, policy, targets
from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.hubindex import model
    from ecli.oci.artifact import Package
    from ecli.oci.eunomia import EunomiaPackage
    from ecli.oci.store import Store
    from ecli.packages import signing, state
    from ecli.packages.sources import Source

Progress = Callable[[str], None]
PULL_POLICIES = ("missing", "always", "never")
MAX_DOWNLOAD_BYTES = 1 << 30


class LocatedPackage(NamedTuple):
    name: str
    object_path: Path | None  # the eBPF object of a kind `bpf` package, the module of `wasm`
    config: PackageConfig | None  # None for a bare .bpf.o and for images
    digest: str | None = None
    version: str | None = None
    reference: str | None = None  # the registry reference it came from
    kind: str = "bpf"
    artifact: Package | None = None  # the package's manifest and files, when stored
    source: str | None = None  # the index source a name resolved through
    requirements: Mapping[str, Any] = MappingProxyType({})  # the index entry's requirements
    warnings: tuple[str, ...] = ()
    signer: str | None = None  # the declared signer whose signature held (`Signer.name`)
    local: bool = False  # a file, folder or layout on this machine: the user's own build
    eunomia: EunomiaPackage | None = None  # an eunomia-bpf JSON package (object_path: its object)


def locate(target: str, paths: Paths, progress: Progress | None = None, *,
           pull: str = "missing", use_installed: bool = True) -> LocatedPackage:
    if pull not in PULL_POLICIES:
        raise UsageError(f"--pull {pull!r}: expected one of {', '.join(PULL_POLICIES)}")
    if policy.no_pull(paths):
        pull = "never"
    parsed = targets.parse(target)
    if parsed.kind == targets.PATH:
        return _local(Path(parsed.text).expanduser(), paths)._replace(local=True)
    if parsed.kind == targets.STDIN:
        return _stdin(paths)
    if parsed.kind == targets.URL:
        return _download(parsed, paths, pull, progress)
    if parsed.kind == targets.OCI:
        assert parsed.oci is not None
        return _from_store(parsed.oci, paths, parsed.oci.repository.rsplit("/", 1)[-1],
                           progress, pull)[0]
    assert parsed.name is not None
    if use_installed and parsed.selector is None and pull != "always":
        installed = _installed(parsed.name, paths, progress, pull)
        if installed is not None:
            return installed
    return locate_in_index(parsed.name, parsed.selector, paths, progress, pull)


def locate_in_index(name: str, selector: str | None, paths: Paths,
                    progress: Progress | None = None, pull: str = "missing") -> LocatedPackage:
    from ecli.packages import signing
    from ecli.packages.index_client import IndexClient

    client = IndexClient(paths, offline=pull == "never")
    source, document = client.find(name)
    chosen, warnings = choose_version(document, selector)
    ref = references.parse(f"{chosen.repository}@{chosen.digest}")
    if document.kind == "image":
        policy.check_reference(paths, name, str(ref))
        verdict = signing.check_image(source, document, chosen, ref, paths.verified_dir,
                                      offline=pull == "never")
        return LocatedPackage(name, None, None, chosen.digest, chosen.version, str(ref),
                              "image", source=source.name,
                              requirements=dict(chosen.requirements),
                              warnings=tuple(client.warnings + warnings + verdict.warnings),
                              signer=verdict.signer)
    located, verdict = _from_store(
        ref, paths, name, progress, pull,
        check=lambda store: _verified(source, document, chosen, ref, store, paths),
        signature=signing.signature_hint(source, document, chosen))
    assert verdict is not None
    # The index's name and version, not the artifact's: they are what the user asked for.
    return located._replace(name=document.name, source=source.name,
                            requirements=dict(chosen.requirements),
                            warnings=tuple(client.warnings + warnings + verdict.warnings),
                            version=chosen.version, signer=verdict.signer)


def _verified(source: Source, document: model.PackageDocument, version: model.Version,
              ref: references.OciReference, store: Store, paths: Paths) -> signing.Verdict:
    """The source's signature policy applied to what is in `store` (no network)."""
    from ecli.packages import signing

    return signing.check(source, document, version, ref, store, paths.verified_dir)


def choose_version(document: model.PackageDocument, selector: str | None
                   ) -> tuple[model.Version, list[str]]:
    """The version `selector` names, with its warnings: yanked, or this machine outside
    the kernels the hub proved it on (`kernelmatrix`)."""
    chosen, warnings = _choose(document, selector)
    outside = kernelmatrix.machine_warning(document.name, chosen)
    return chosen, [*warnings, outside] if outside else warnings


def _choose(document: model.PackageDocument, selector: str | None
            ) -> tuple[model.Version, list[str]]:
    """The version `selector` names; yanked versions only when named exactly."""
    versions = list(document.versions)
    if selector and selector.startswith("sha256:"):
        for version in versions:
            if selector in (version.digest, *(p.digest for p in version.platforms)):
                return version, _yank_warning(document.name, version)
        raise NotFoundError(f"{document.name} has no version with digest {selector}")
    if selector:
        for version in versions:
            if version.version == selector:
                return version, _yank_warning(document.name, version)
        if semver.is_version(selector) and selector.count(".") == 2:
            known = ", ".join(v.version for v in versions) or "none"
            raise NotFoundError(f"{document.name} has no version {selector} (known: {known})")
    wanted = semver.parse_range(selector) if selector else semver.parse_range("*")
    live = [v for v in versions if not v.yanked]
    best = wanted.best(v.version for v in live)
    if best is None and not selector and live:
        return live[0], []  # versions that are not semver: the index's order (newest first)
    if best is None:
        known = ", ".join(v.version + (" (yanked)" if v.yanked else "") for v in versions)
        if selector and wanted.best(v.version for v in versions):
            raise NotFoundError(f"{document.name}@{selector}: only yanked versions match "
                                f"(known: {known})",
                                hint="name a yanked version exactly to use it anyway")
        what = f"{document.name}@{selector}" if selector else document.name
        raise NotFoundError(f"{what}: no version that is not yanked matches (known: "
                            f"{known or 'none'})")
    return next(v for v in live if v.version == best), []


def _yank_warning(name: str, version: model.Version) -> list[str]:
    if not version.yanked:
        return []
    return [f"{name} {version.version} is yanked ({version.yanked}); using it because "
            "it was named"]


def _installed(name: str, paths: Paths, progress: Progress | None,
               pull: str) -> LocatedPackage | None:
    from ecli.packages import state

    record = state.read(paths).get(name)
    if record is None or record.kind == "image":
        return None
    ref = references.parse(record.pull_reference)
    located, verdict = _from_store(ref, paths, name, progress, pull,
                                   check=lambda store: _installed_verified(record, ref, store,
                                                                           paths))
    assert verdict is not None
    return located._replace(source=record.source, version=record.version,
                            warnings=tuple(verdict.warnings), signer=verdict.signer)


def _installed_verified(record: state.Installed, ref: references.OciReference, store: Store,
                        paths: Paths) -> signing.Verdict:
    """An installed hub package is checked again at each run, against the signer in the
    cached package document of the source it was installed from: offline."""
    from ecli.packages import signing
    from ecli.packages.index_client import IndexClient

    client = IndexClient(paths, offline=True)
    source = next((s for s in client.sources if s.name == record.source), None)
    if source is None or source.signatures == "off":
        return signing.Verdict([])
    try:
        document = client.package(source, record.name)
        version = next(v for v in document.versions
                       if record.digest in (v.digest, *(p.digest for p in v.platforms)))
    except (NotFoundError, SourceError, StopIteration):
        problem = (f"{record.name} {record.version}: its signature cannot be checked: the "
                   f"cached index of source {source.name} does not list this digest")
        if source.signatures == "require":
            raise SignatureError(problem, reason="unsigned",
                                 hint=f"ecli update, or ecli install {record.name}") from None
        return signing.Verdict([problem])
    return _verified(source, document, version, ref, store, paths)


# -- local files, folders and archives -------------------------------------------


def _local(path: Path, paths: Paths) -> LocatedPackage:
    from ecli.oci.store import Store

    if path.is_dir():
        for layout in (path, path / "build" / "oci"):
            if (layout / "oci-layout").is_file():
                return _newest_in_layout(Store(layout), paths)
        raise NotFoundError(f"{path}: neither an OCI layout (no oci-layout file) nor a "
                            "package folder with build/oci", hint=f"run `ecli build {path}`")
    if not path.is_file():
        raise NotFoundError(f"{path}: no such file or folder")
    if path.name.endswith(targets.ARCHIVE_SUFFIXES):
        return _from_archive(path, paths)
    if path.name.endswith(targets.EUNOMIA_SUFFIX):
        from ecli.packages import eunomia

        return _eunomia(eunomia.read(path), str(path), paths, local=True)
    if path.name.endswith(targets.WASM_SUFFIX):
        return LocatedPackage(path.name.removesuffix(targets.WASM_SUFFIX), path, None,
                              kind="wasm")
    name = path.name.removesuffix(".o").removesuffix(".bpf")
    return LocatedPackage(name, path, None)


def _newest_in_layout(store: Store, paths: Paths) -> LocatedPackage:
    from ecli.oci import artifact

    refs = store.refs()
    if not refs:
        raise NotFoundError(f"the layout {store.root} holds no artifact")
    return _from_package(artifact.load(store, refs[-1].digest), None, paths)


def _from_archive(path: Path, paths: Paths) -> LocatedPackage:
    from ecli.errors import EcliError
    from ecli.oci import archive, artifact
    from ecli.oci.manifest import ANNOTATION_REF_NAME
    from ecli.oci.store import Store

    store = Store(paths.oci_store_dir)
    refs = archive.load(path, store)
    package = artifact.load(store, refs[0].digest)
    reference = f"ecli.local/{package.config.name}@{package.digest}"
    try:  # the archive's own name for it, when that is a registry reference
        named = references.parse(refs[0].annotations.get(ANNOTATION_REF_NAME, ""))
        reference = f"{named.name}@{package.digest}"
    except EcliError:
        pass
    return _from_package(package, reference, paths)


def _stdin(paths: Paths) -> LocatedPackage:
    """`-`: an eBPF object (or an eunomia package) piped in, kept by its digest under
    downloads/ so the run reads it as a file; refused whole (nothing kept) when it is
    empty, too big or not an object."""
    import sys

    from ecli.files import write_atomic
    from ecli.oci import eunomia
    from ecli.oci.manifest import sha256_digest
    from ecli.runtime.spec import MAX_OBJECT_BYTES

    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("stdin: a terminal, not an eBPF object",
                         hint="pipe one in: cat x.bpf.o | ecli run -")
    data = sys.stdin.buffer.read(eunomia.MAX_PACKAGE_BYTES + 1)
    if not data:
        raise UsageError("stdin: empty: no eBPF object was piped in",
                         hint="pipe one in: cat x.bpf.o | ecli run -")
    if eunomia.looks_like_package(data):
        return _eunomia(data, "stdin", paths, local=True)
    if len(data) > MAX_OBJECT_BYTES:
        raise ArtifactError(f"stdin: larger than {MAX_OBJECT_BYTES >> 20} MiB")
    _check_object(data, "stdin")
    digest = sha256_digest(data)
    path = paths.downloads_dir / f"stdin-{digest.removeprefix('sha256:')[:32]}.bpf.o"
    write_atomic(path, data)
    return LocatedPackage("stdin", path, None, digest=digest, local=True)


def _eunomia(raw: bytes, where: str, paths: Paths, **fields: Any) -> LocatedPackage:
    """An eunomia-bpf JSON package: run as its embedded object (packages/eunomia.py)."""
    from ecli.packages import eunomia

    package, path = eunomia.unpack(raw, where, paths)
    return LocatedPackage(**{"name": package.name, "object_path": path, "config": None,
                             "kind": "eunomia-json", "eunomia": package, **fields})


def _check_package(data: bytes, where: str) -> None:
    """A downloaded eunomia package is checked whole before it is kept."""
    from ecli.packages import eunomia

    eunomia.check(data, where)


def _check_object(data: bytes, where: str) -> None:
    """The ELF checks a run makes, before anything is kept, naming where it came from."""
    from ecli.runtime.elf import ElfFile

    ElfFile(data, where)


def _download(target: targets.Target, paths: Paths, pull: str,
              progress: Progress | None) -> LocatedPackage:
    json = target.text.split("#", 1)[0].endswith(targets.EUNOMIA_SUFFIX)
    suffix = ".tar" if target.is_archive else targets.EUNOMIA_SUFFIX if json else ".bpf.o"
    key = hashlib.sha256(target.text.encode()).hexdigest()[:32]
    cached = paths.downloads_dir / f"url-{key}{suffix}"
    policy.check_reference(paths, Path(target.text).name, target.text)
    if not cached.exists() or pull == "always":
        if pull == "never":
            raise NotFoundError(f"{target.text} was never downloaded and "
                                f"{policy.no_pull(paths) or '--pull is never'}")
        from ecli.oci.eunomia import MAX_PACKAGE_BYTES
        from ecli.runtime.spec import MAX_OBJECT_BYTES

        if progress:
            progress(f"downloading {target.text}")
        archive = target.is_archive
        limit = (MAX_DOWNLOAD_BYTES if archive else MAX_PACKAGE_BYTES if json
                 else MAX_OBJECT_BYTES)
        _fetch_url(target.text, cached, paths.tmp_dir, limit,
                   None if archive else _check_package if json else _check_object)
    if target.pinned_digest:
        from ecli.oci.manifest import sha256_digest

        actual = sha256_digest(cached.read_bytes())
        if actual != target.pinned_digest:
            cached.unlink(missing_ok=True)
            from ecli.errors import DigestMismatchError

            raise DigestMismatchError(f"{target.text}: digest mismatch: expected "
                                      f"{target.pinned_digest}, got {actual}")
    if target.is_archive:
        return _from_archive(cached, paths)
    if json:
        return _eunomia(cached.read_bytes(), target.text, paths, reference=target.text)
    name = Path(target.text).name.removesuffix(".o").removesuffix(".bpf")
    return LocatedPackage(name, cached, None, reference=target.text)


def _fetch_url(url: str, destination: Path, tmp_dir: Path, limit: int,
               check: Callable[[bytes, str], None] | None = None) -> None:
    """Download `url` to `destination` whole or not at all, through an ecli.net transport
    (its overall deadline), refusing more than `limit` bytes or what `check` rejects."""
    import tempfile

    from ecli.files import owned_prefix, remove_orphans
    from ecli.net.transport import HTTPTransport
    from ecli.packages.index_client import fetching, open_url

    transport = HTTPTransport()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    destination.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(tmp_dir)  # downloads a killed ecli left
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=owned_prefix("download"))
    try:
        with open(fd, "wb") as out, fetching(url), open_url(transport, url) as response:
            done = 0
            for chunk in response.iter_chunks():
                done += len(chunk)
                if done > limit:
                    raise SourceError(f"{url}: larger than {limit >> 20} MiB")
                out.write(chunk)
        if check is not None:
            check(Path(tmp).read_bytes(), url)
        Path(tmp).replace(destination)
    except OSError as exc:
        raise SourceError(f"{url}: cannot save the download: {exc.strerror}") from None
    finally:
        transport.close()
        Path(tmp).unlink(missing_ok=True)


# -- the store and registries -----------------------------------------------------


def _from_store(ref: references.OciReference, paths: Paths, name: str,
                progress: Progress | None, pull: str = "missing", *,
                check: Callable[[Store], signing.Verdict] | None = None,
                signature: str | None = None) -> tuple[LocatedPackage, signing.Verdict | None]:
    """The package `ref` names, pulled by the pull policy, and `check`'s verdict on it.

    What is pulled is pulled into a staging store and `check`ed there first: a
    package refused (its signature does not hold) leaves nothing in the store.
    `signature` is passed to `registry.pull` (the signature manifest's digest the
    index recorded, or "" for none)."""
    from ecli.oci import artifact
    from ecli.oci.store import Store

    policy.check_reference(paths, name, str(ref))
    store = Store(paths.oci_store_dir)
    package = None if pull == "always" else artifact.find(store, ref)
    if package is not None:
        return _from_package(package, str(ref), paths, name), check(store) if check else None
    if pull == "never":
        refusal = policy.no_pull(paths)
        raise NotFoundError(f"{name}: {ref} is not in the local store and "
                            f"{refusal or '--pull is never'}",
                            hint="ecli policy set pull missing" if refusal
                            else "pull it first, or use --pull missing")
    with store.staging() as staged:
        pulled = pull_package(ref, paths, progress, force=pull == "always", store=staged,
                              signature=signature)
        verdict = check(staged) if check else None
        store.adopt(staged)
    return _from_package(artifact.load(store, pulled.digest, reference=ref), str(ref),
                         paths, name), verdict


def pull_package(ref: references.OciReference, paths: Paths, progress: Progress | None,
                 *, force: bool = False, blob_progress: Any = None, store: Store | None = None,
                 signature: str | None = None) -> Package:
    """Pull `ref` through its mirrors into the store (or `store`); the package it holds,
    when the policy allows the reference and allows pulling."""
    from ecli.oci import mirrors, registry
    from ecli.oci.store import Store

    name = ref.repository.rsplit("/", 1)[-1]
    policy.check_reference(paths, name, str(ref))
    refusal = policy.no_pull(paths)
    if refusal:
        raise PolicyError(f"{name}: {ref} not pulled: {refusal}",
                          hint="ecli policy set pull missing")
    store = store or Store(paths.oci_store_dir)
    if progress:
        progress(f"pulling {ref}")
    pulled = registry.pull(ref, store, blob_progress, force=force,
                           mirrors=mirrors.for_registry(paths, ref.registry),
                           signature=signature)
    return pulled.package


def _from_package(package: Package, reference: str | None, paths: Paths,
                  name: str = "") -> LocatedPackage:
    config = package.config
    if config.kind == "eunomia-json":
        from ecli.packages import eunomia

        assert config.object is not None
        where = f"{reference or package.digest}: {config.object}"
        unpacked, path = eunomia.unpack(eunomia.read(package.files[config.object]), where,
                                        paths)
        return LocatedPackage(config.name or name, path, config, package.digest,
                              config.version, reference, config.kind, package,
                              eunomia=unpacked)
    return LocatedPackage(config.name or name, package.object_path, config, package.digest,
                          config.version, reference, config.kind, package)
