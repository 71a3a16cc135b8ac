"""The only OCI registry client: resolve, pull into the store, push from a layout.

On the standard library alone: HTTP through an ecli.net transport (`http.client`,
kept-alive connections, the registry's CA, an overall deadline per request),
401 challenges answered by
ecli.oci.auth (Basic, and the Bearer token flow), credentials asked of
ecli.oci.credentials (ecli's auth.json, docker's config.json, credential helpers).
A pull costs no more start-up than that: requests and oras-py, which this
client was built on before, took about 0.27 s to import for a 0.05 s download.
The distribution API calls are made here so that every byte is checked: a
manifest is hashed before it is trusted, a blob is hashed and measured while
it streams into the store, and nothing is tagged until all of it is there.

Every failure leaves as a RegistryError (or DigestMismatchError) whose one-line
message names the reference; socket, TLS and HTTP failures stop at this boundary.
Registries on localhost, 127.0.0.1 and ::1 are spoken to over plain HTTP, as
docker does; others over HTTPS unless listed in ECLI_INSECURE_REGISTRIES.
"""

from __future__ import annotations

import io
import os
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple, overload

from ecli.errors import (
    ArtifactError,
    DigestMismatchError,
    NotFoundError,
    RegistryError,
    SignatureError,
    TransportError,
)
from ecli.net import trust
from ecli.net.base import CHUNK_SIZE, Response, Transport
from ecli.oci import artifact, mediatypes, referrers, signatures
from ecli.oci.auth import Authenticator, error_detail
from ecli.oci.config import MAX_CONFIG_BYTES, PackageConfig
from ecli.oci.manifest import (
    MAX_MANIFEST_BYTES,
    Descriptor,
    ImageIndex,
    Manifest,
    Platform,
    is_digest,
    parse,
    sha256_digest,
)
from ecli.oci.reference import OciReference
from ecli.oci.store import Store

ProgressFn = Callable[[str, int, int], None]
"""Called as progress(what, bytes_done, bytes_total) while blobs move."""

INSECURE_ENV = "ECLI_INSECURE_REGISTRIES"
ACCEPT_MANIFESTS = ", ".join((*mediatypes.MANIFEST_TYPES, *mediatypes.INDEX_TYPES))
_LOOPBACK = {"localhost", "127.0.0.1", "[::1]", "::1"}


@dataclass(frozen=True)
class PulledArtifact:
    """What `pull` stored: the manifest to run and the package it describes."""

    reference: OciReference
    digest: str  # the image manifest (the platform's one when an index was followed)
    media_type: str
    size: int
    manifest: Manifest
    package: artifact.Package
    index_digest: str | None = None


def is_plain_http(registry: str) -> bool:
    """True for loopback registries and those listed in ECLI_INSECURE_REGISTRIES."""
    host = registry[: registry.index("]") + 1] if registry.startswith("[") else (
        registry.split(":", 1)[0])
    if host in _LOOPBACK:
        return True
    listed = {item.strip() for item in os.environ.get(INSECURE_ENV, "").split(",")}
    return registry in listed or host in listed


def resolve(ref: OciReference) -> str:
    """The digest of the manifest (or index) `ref` names, checked by hashing it."""
    with _Client(ref) as client:
        _, _, digest = client.fetch_manifest(ref.selector)
    return digest


class PlatformManifest(NamedTuple):
    digest: str
    platform: Platform | None  # None: a plain manifest, not an index
    manifest: Manifest


def platform_manifests(ref: OciReference) -> list[PlatformManifest]:
    """Every platform `ref` offers, with its manifest; no blob read.

    For checks that must happen before downloading anything (the hub's size
    limit): a plain manifest is one item with platform None; an image index
    gives one item per platform, skipping `unknown` entries (build
    attestations). Two platforms may share one manifest digest (an eBPF object
    is the same for amd64 and arm64): each is listed, the manifest read once.
    """
    with _Client(ref) as client:
        raw, media_type, digest = client.fetch_manifest(ref.selector)
        parsed = _parse(raw, str(ref), media_type)
        if not isinstance(parsed, ImageIndex):
            return [PlatformManifest(digest, None, parsed)]
        read: dict[str, Manifest] = {}
        found: list[PlatformManifest] = []
        for descriptor in parsed.manifests:
            platform = descriptor.platform
            if platform is None or platform.os == "unknown":
                continue
            if descriptor.digest not in read:
                read[descriptor.digest] = client.fetch_listed(ref, descriptor)[2]
            found.append(PlatformManifest(descriptor.digest, platform, read[descriptor.digest]))
    if not found:
        raise ArtifactError(f"{ref}: the image index lists no platform")
    return found


def served_platforms(item: PlatformManifest, package: artifact.Package) -> list[Platform]:
    """The platforms one manifest of `platform_manifests` serves, once pulled: its index
    entry's, or for a plain manifest those its package config declares (`ecli build`
    writes its build.platforms there); empty when nothing says, as a bumblebee artifact.
    The matrix needs it to skip an amd64-only package on arm64 without running it."""
    if item.platform is not None:
        return [item.platform]
    where = f"{package.config.name} {package.digest}: package config platforms"
    return [Platform.parse(text, where) for text in package.config.platforms]


def published_version(ref: OciReference) -> tuple[str, str | None] | None:
    """What `ref` names in its registry, for `ecli publish` to pin and check: the
    digest, and the version an ecli package's config declares (None for any other
    artifact); None when the registry has no such tag or digest. Reads the manifest
    (the first platform's, for an index) and the small config, no layer."""
    with _Client(ref) as client:
        found = client.fetch_manifest(ref.selector, MAX_MANIFEST_BYTES, missing_ok=True)
        if found is None:
            return None
        raw, media_type, digest = found
        manifest = _parse(raw, str(ref), media_type)
        if isinstance(manifest, ImageIndex):
            first = next((d for d in manifest.manifests
                          if d.platform is None or d.platform.os != "unknown"), None)
            if first is None:
                return digest, None
            manifest = client.fetch_listed(ref, first)[2]
        if manifest.config.media_type != mediatypes.PACKAGE_CONFIG:
            return digest, None
        _check_package_manifest(manifest, ref)
        response = client.request("GET", f"/blobs/{manifest.config.digest}",
                                  action="get config", headers={"Accept-Encoding": "identity"})
        with response:
            data = client._read_limited(response, MAX_CONFIG_BYTES, "package config")
        if sha256_digest(data) != manifest.config.digest:
            raise DigestMismatchError(f"{ref}: package config digest mismatch: expected "
                                      f"{manifest.config.digest}, got {sha256_digest(data)}")
        return digest, PackageConfig.from_json(data, f"{ref}: package config").version


def pull_signatures(ref: OciReference, store: Store, *, tag: bool = True,
                    bundles: bool = True) -> tuple[str, bool]:
    """The digest `ref` resolves to, and whether a signature of it was found (then kept
    in `store`: see `_Client.fetch_signatures`): cosign's `.sig` tag, the Sigstore
    bundles among its referrers, or (by default) both."""
    with _Client(ref) as client:
        digest = ref.digest or client.fetch_manifest(ref.selector)[2]
        return digest, client.fetch_signatures(digest, store, tag=tag, bundles=bundles)


def subject(ref: OciReference) -> Descriptor:
    """The descriptor of the manifest `ref` names: what a referrer's `subject` points at."""
    with _Client(ref) as client:
        raw, media_type, digest = client.fetch_manifest(ref.selector)
    return Descriptor(media_type or parse(raw, str(ref)).media_type, digest, len(raw))


def attach(ref: OciReference, store: Store, manifest: str, subject: str) -> None:
    """Push the referrer manifest `manifest` of `subject` (and its blobs) from `store`; on a
    registry without the referrers API, add it to the tag schema's list too (the image
    index tagged `sha256-HEX`, as cosign v3 and oras keep it)."""
    with _Client(ref) as client:
        client.push_manifest(store, manifest, manifest, None)
        probe = client.request("GET", f"/referrers/{subject}", action="list referrers",
                               ok=(200, 404), headers={"Accept": mediatypes.OCI_INDEX})
        probe.close()
        if probe.status == 200:
            return  # the registry lists it itself
        tag = referrers.referrers_tag(subject)
        found = client.fetch_manifest(tag, referrers.MAX_REFERRERS_BYTES, missing_ok=True)
        listed: tuple[Descriptor, ...] = ()
        if found is not None:
            index = parse(found[0], f"{ref.name}:{tag}")
            if not isinstance(index, ImageIndex):
                raise ArtifactError(f"{ref.name}:{tag} is not an image index of referrers")
            listed = index.manifests
        raw = store.read_blob(manifest, verify=True, max_size=MAX_MANIFEST_BYTES)
        parsed = parse(raw, f"{ref.name}@{manifest}")
        entry = Descriptor(parsed.media_type, manifest, len(raw),
                           artifact_type=getattr(parsed, "artifact_type", None))
        if any(d.digest == manifest for d in listed):
            return
        client.put_manifest(referrers.referrers_index((*listed, entry)), mediatypes.OCI_INDEX,
                            tag)


def check_login(registry: str, username: str, password: str) -> None:
    """Ask the registry's /v2/ endpoint whether these credentials are accepted."""
    with _Client(OciReference(registry, "ecli-login-check", "latest")) as client:
        client.use_credential(username, password)
        try:
            client.request("GET", f"{client.scheme}://{client.host}/v2/", action="log in"
                           ).close()
        except RegistryError as exc:
            message = exc.message.replace(f"{client.ref}: ", f"{registry}: ", 1)
            raise RegistryError(message, hint=exc.hint) from None


def pull(ref: OciReference, store: Store, progress: ProgressFn | None = None, *,
         platform: Platform | None = None, mirrors: Sequence[str] = (),
         force: bool = False, transport: Transport | None = None,
         signature: str | None = None) -> PulledArtifact:
    """Fetch the package `ref` names into `store`, verify every byte, tag it `str(ref)`.

    The signatures of the digest `ref` resolves to are kept too when the
    registry has some (see `_Client.fetch_signatures`; `signature` is the
    signature manifest's digest when an index recorded it, "" to fetch none),
    so that they can be verified offline later; their validity is not judged here.

    An image index is followed to the manifest of `platform` (the host's by
    default). A reference by digest already in the store needs no network
    unless `force` (pull policy `always`). `mirrors` are hosts tried in order
    before the registry itself; any failure on a mirror moves to the next,
    and since every byte is checked against its digest, a mirror cannot
    change what is pulled. `transport` replaces the network (tests).
    """
    if ref.digest and store.has(ref.digest) and not force:
        try:
            return _already_stored(ref, store, platform)
        except NotFoundError:
            pass  # an index kept for another platform: this one's manifest is fetched
    for endpoint in (*mirrors, None):
        try:
            with _Client(ref, endpoint, transport) as client:
                return _pull_from(client, ref, store, progress, platform, signature)
        except DigestMismatchError:
            raise
        except RegistryError as exc:
            if endpoint is None:
                raise
            del exc  # this mirror failed; the next endpoint is tried
    raise AssertionError("unreachable: the registry itself is the last endpoint")


def _pull_from(client: _Client, ref: OciReference, store: Store, progress: ProgressFn | None,
               platform: Platform | None, signature: str | None) -> PulledArtifact:
    raw, media_type, digest = client.fetch_manifest(ref.selector)
    parsed = _parse(raw, str(ref), media_type)
    index: tuple[bytes, str] | None = None
    chosen_platform = None
    if isinstance(parsed, ImageIndex):
        index = (raw, digest)
        chosen = _select(parsed, ref, platform)
        chosen_platform = chosen.platform
        raw, digest, parsed = client.fetch_listed(ref, chosen)
    _check_package_manifest(parsed, ref)
    for blob in parsed.blobs:
        client.fetch_blob(blob, store, progress)
    store.write_blob(raw, digest, where=f"{ref}: manifest")
    if index is not None:
        store.write_blob(index[0], index[1], where=f"{ref}: index")
    if signature != "":
        client.fetch_signatures(index[1] if index else digest, store, signature)
    package = artifact.load(store, digest, reference=ref)._replace(
        index_digest=index[1] if index else None)
    store.add_ref(str(ref), digest, parsed.media_type, len(raw), platform=chosen_platform,
                  artifact_type=parsed.artifact_type)
    return PulledArtifact(ref, digest, parsed.media_type, len(raw), parsed, package,
                          index[1] if index else None)


def push(source: Store | Path, ref: OciReference, *, source_ref: str | None = None,
         progress: ProgressFn | None = None) -> str:
    """Push an artifact from an OCI layout to `ref`; return its manifest digest.

    Which artifact: `source_ref` if given, else the one tagged like `ref`, else
    the most recently tagged one. Blobs go first (skipped when the registry
    already has them), the manifest last, under `ref`'s tag.
    """
    store = source if isinstance(source, Store) else Store(Path(source))
    if not store.exists():
        raise NotFoundError(f"no OCI layout at {store.root}", hint="run `ecli build` first")
    digest = _pick_manifest(store, ref, source_ref)
    with _Client(ref) as client:
        client.push_manifest(store, digest, ref.tag or digest, progress)
    return digest


# -- helpers --------------------------------------------------------------------


def _already_stored(ref: OciReference, store: Store, platform: Platform | None) -> PulledArtifact:
    assert ref.digest is not None
    raw = store.read_blob(ref.digest, verify=True, max_size=MAX_MANIFEST_BYTES)
    parsed = _parse(raw, str(ref))
    digest, index_digest = ref.digest, None
    if isinstance(parsed, ImageIndex):
        index_digest = ref.digest
        digest = _select(parsed, ref, platform).digest
        raw = store.read_blob(digest, verify=True, max_size=MAX_MANIFEST_BYTES)
        parsed = _parse(raw, str(ref))
        if isinstance(parsed, ImageIndex):
            raise ArtifactError(f"{ref}: an image index inside an image index is not supported")
    package = artifact.load(store, digest, reference=ref)._replace(index_digest=index_digest)
    store.add_ref(str(ref), digest, parsed.media_type, len(raw),
                  artifact_type=parsed.artifact_type)
    return PulledArtifact(ref, digest, parsed.media_type, len(raw), parsed, package, index_digest)


def _parse(raw: bytes, where: str, media_type: str | None = None) -> Manifest | ImageIndex:
    return parse(raw, where, media_type)


def _select(index: ImageIndex, ref: OciReference, platform: Platform | None) -> Descriptor:
    try:
        chosen = index.select(platform)
    except ArtifactError as exc:
        raise ArtifactError(f"{ref}: {exc.message}") from None
    if chosen.size > MAX_MANIFEST_BYTES:
        raise ArtifactError(f"{ref}: manifest {chosen.digest} is larger than "
                            f"{MAX_MANIFEST_BYTES} bytes")
    return chosen


def _check_package_manifest(manifest: Manifest, ref: OciReference) -> None:
    """Refuse what is not an eBPF package before downloading any layer."""
    if manifest.config.media_type not in mediatypes.CONFIG_TYPES and not (
            manifest.config.media_type == mediatypes.OCI_EMPTY
            and manifest.artifact_type == mediatypes.WASM_CONFIG):
        raise ArtifactError(
            f"{ref}: not an eBPF package (config media type {manifest.config.media_type!r})",
            hint="container images (kind `image`) run with podman or docker",
        )
    if manifest.config.size > MAX_CONFIG_BYTES:
        raise ArtifactError(f"{ref}: package config is larger than {MAX_CONFIG_BYTES} bytes")


def _pick_manifest(store: Store, ref: OciReference, source_ref: str | None) -> str:
    if ref.digest:
        if not store.has(ref.digest):
            raise NotFoundError(f"{ref.digest} is not in the layout {store.root}")
        return ref.digest
    if source_ref:
        digest = store.resolve_ref(source_ref)
        if digest is None:
            raise NotFoundError(f"no artifact tagged {source_ref!r} in {store.root}")
        return digest
    if ref.tag and (digest := store.resolve_ref(ref.tag)):
        return digest
    refs = store.refs()
    if not refs:
        raise NotFoundError(f"the layout {store.root} holds no artifact",
                            hint="run `ecli build` first")
    return refs[-1].digest


def _fail(ref: OciReference, exc: TransportError, action: str) -> RegistryError:
    """A transport failure as the one-line error users know, naming the reference."""
    if exc.kind == "tls":
        return RegistryError(f"{ref}: {exc.message}",
                             hint=f"for a registry on plain HTTP, list it in {INSECURE_ENV}")
    if exc.kind == "timeout":
        return RegistryError(f"{ref}: {action}: {exc.message}")
    if exc.kind == "unreachable":
        return RegistryError(f"{ref}: {exc.message}",
                             hint="is the registry running and the address right?")
    return RegistryError(f"{ref}: {action} failed: {exc.reason}")


class _Client:
    """One repository on one registry: URLs, credentials, error translation."""

    def __init__(self, ref: OciReference, endpoint: str | None = None,
                 transport: Transport | None = None) -> None:
        from ecli.oci import credentials

        self.ref = ref
        registry = endpoint or ref.registry
        self.host = "registry-1.docker.io" if registry in ("docker.io", "index.docker.io") \
            else registry
        ca = trust.ca_file(registry)
        self.scheme = "http" if is_plain_http(registry) and ca is None else "https"
        self.base = f"{self.scheme}://{self.host}/v2/{ref.repository}"
        self._own_transport = transport is None
        if transport is None:
            from ecli.net.transport import HTTPTransport

            transport = HTTPTransport(ca_file=ca)  # its token service and storage too
        self.transport = transport
        self.auth = Authenticator(str(ref), self.transport,
                                  lambda: credentials.lookup(registry))

    def use_credential(self, username: str, password: str) -> None:
        """Authenticate with these instead of any stored credential (`ecli login`)."""
        from ecli.oci.credentials import Credential

        self.auth.use(Credential(username, password))

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._own_transport:
            self.transport.close()

    # -- requests ---------------------------------------------------------------

    def request(self, method: str, url: str, *, action: str, ok: tuple[int, ...] = (200,),
                headers: dict[str, str] | None = None,
                data: bytes | BinaryIO | None = None) -> Response:
        """One call to the registry, authenticated when challenged, errors translated."""
        if not url.startswith(("http://", "https://")):
            url = self.base + url
        for attempt in range(2):
            try:
                response = self.transport.request(
                    method, url, headers={**(headers or {}), **self.auth.header}, body=data)
            except TransportError as exc:
                raise _fail(self.ref, exc, action) from None
            if response.status == 401 and attempt == 0:
                try:
                    retry = self.auth.answer(response, action)
                except BaseException:
                    response.close()
                    raise
                if retry:
                    response.close()
                    continue
            break  # an unanswered 401 keeps its body: the message below comes from it
        if response.status not in ok:
            with response:
                message = _registry_message(response)
            code = response.status
            if code == 400 and self.scheme == "http" and (not message or "HTTPS" in message):
                raise RegistryError(
                    f"{self.ref}: {self.host} speaks HTTPS, not plain HTTP",
                    hint=f"trust its CA: ecli login {self.host} --ca-file CA.pem "
                         f"(or set ECLI_CA_FILE)")
            if code in (401, 403):
                raise RegistryError(f"{self.ref}: {action}: access denied (HTTP {code}{message})",
                                    hint="log in to the registry, or check the repository name")
            if code == 404:
                raise RegistryError(f"{self.ref}: {action}: not found (HTTP 404{message})")
            raise RegistryError(f"{self.ref}: {action}: registry answered HTTP {code}{message}")
        return response

    # -- pull -----------------------------------------------------------------

    @overload
    def fetch_manifest(self, selector: str, limit: int = ...,
                       missing_ok: Literal[False] = ...) -> tuple[bytes, str | None, str]: ...
    @overload
    def fetch_manifest(self, selector: str, limit: int, missing_ok: Literal[True]
                       ) -> tuple[bytes, str | None, str] | None: ...

    def fetch_manifest(self, selector: str, limit: int = MAX_MANIFEST_BYTES,
                       missing_ok: bool = False) -> tuple[bytes, str | None, str] | None:
        """(bytes, Content-Type, digest) of a manifest; the digest is computed, not trusted.

        `missing_ok`: None when the registry has no such manifest (HTTP 404).
        """
        response = self.request("GET", f"/manifests/{selector}", action="get manifest",
                                ok=(200, 404) if missing_ok else (200,),
                                headers={"Accept": ACCEPT_MANIFESTS,
                                         "Accept-Encoding": "identity"})
        if response.status == 404:
            response.close()
            return None
        with response:
            raw = self._read_limited(response, limit, "manifest")
            content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
            claimed = response.headers.get("Docker-Content-Digest") or ""
        digest = sha256_digest(raw)
        if is_digest(selector) and digest != selector:
            raise DigestMismatchError(
                f"{self.ref}: manifest digest mismatch: expected {selector}, got {digest}")
        if claimed.startswith("sha256:") and claimed != digest:
            raise DigestMismatchError(
                f"{self.ref}: manifest digest mismatch: the registry says {claimed}, "
                f"its bytes hash to {digest}")
        return raw, content_type or None, digest

    def fetch_listed(self, ref: OciReference, listed: Descriptor) -> tuple[bytes, str, Manifest]:
        """The platform manifest an image index lists (raw, digest, parsed): as long as the
        index says, and not another index."""
        raw, media_type, digest = self.fetch_manifest(listed.digest)
        if len(raw) != listed.size:
            raise DigestMismatchError(f"{ref}: manifest {listed.digest} is {len(raw)} bytes, "
                                      f"the index says {listed.size}")
        manifest = _parse(raw, f"{ref} ({listed.platform})", media_type or listed.media_type)
        if isinstance(manifest, ImageIndex):
            raise ArtifactError(f"{ref}: an image index inside an image index is not supported")
        return raw, digest, manifest

    def fetch_blob(self, blob: Descriptor, store: Store, progress: ProgressFn | None) -> None:
        """Stream one blob into the store, checking its size and digest on the way."""
        label = blob.title or blob.digest
        if store.borrow(blob.digest):
            if progress:
                progress(label, blob.size, blob.size)
            return
        response = self.request("GET", f"/blobs/{blob.digest}", action=f"get blob {label}",
                                headers={"Accept-Encoding": "identity"})

        def chunks() -> Iterator[bytes]:
            done = 0
            for chunk in response.iter_chunks(CHUNK_SIZE):
                done += len(chunk)
                if progress:
                    progress(label, done, blob.size)
                yield chunk

        with response:
            try:
                store.write_blob(chunks(), blob.digest, expected_size=blob.size,
                                 where=f"{self.ref}: {label}")
            except TransportError as exc:
                raise _fail(self.ref, exc, f"download of {label}") from None

    def _read_limited(self, response: Response, limit: int, what: str) -> bytes:
        try:
            data = response.read(limit)
        except TransportError as exc:
            raise _fail(self.ref, exc, f"reading the {what}") from None
        if len(data) > limit:
            raise ArtifactError(f"{self.ref}: {what} is larger than {limit} bytes")
        return data

    def fetch_signatures(self, digest: str, store: Store, hint: str | None = None, *,
                         tag: bool = True, bundles: bool = True) -> bool:
        """Keep the signatures of `digest` in the store, where `ecli.trust.verify` reads
        them offline: cosign's `.sig` manifest (`tag`) and the Sigstore bundles among its
        OCI 1.1 referrers (`bundles`). False when there is none. `hint`, the digest of
        the signature manifest the index recorded, is fetched directly: two requests."""
        if hint is not None:
            return self._fetch_hinted(digest, hint, store)
        found = tag and self._fetch_sig_tag(digest, store)
        return (bundles and self._fetch_bundles(digest, store)) or found

    def _fetch_hinted(self, digest: str, hint: str, store: Store) -> bool:
        where = f"{self.ref.name}@{hint}: signature"
        try:
            found = self.fetch_manifest(hint, signatures.MAX_SIGNATURE_MANIFEST_BYTES,
                                        missing_ok=True)
        except ArtifactError as exc:
            raise SignatureError(exc.message, reason="too-large") from None
        if found is None:
            return False  # gone from the registry: the check says "no signature"
        raw = found[0]
        try:
            kind = parse(raw, where)
        except ArtifactError as exc:
            raise SignatureError(exc.message, reason="garbled") from None
        if isinstance(kind, Manifest) and kind.artifact_type == mediatypes.SIGSTORE_BUNDLE:
            layer = referrers.bundle_layer(raw, where, digest)
            self._keep_bundles(digest, [(raw, layer)], store)
        else:
            self._keep_sig(digest, raw, hint, store)
        return True

    def _fetch_sig_tag(self, digest: str, store: Store) -> bool:
        tag = signatures.signature_tag(digest)
        try:
            found = self.fetch_manifest(tag, signatures.MAX_SIGNATURE_MANIFEST_BYTES,
                                        missing_ok=True)
        except ArtifactError as exc:  # larger than the limit
            raise SignatureError(exc.message, reason="too-large") from None
        if found is None:
            return False
        self._keep_sig(digest, found[0], found[2], store)
        return True

    def _keep_sig(self, digest: str, raw: bytes, sig_digest: str, store: Store) -> None:
        """The payloads, and the config (never read) rebuilt from them rather than asked
        for when it is the one ecli writes, so the store holds a complete manifest."""
        where = f"{self.ref.name}:{signatures.signature_tag(digest)}"
        manifest, _ = signatures.read_manifest(raw, where)
        for blob in manifest.layers:
            self.fetch_blob(blob, store, None)
        self._keep_config(manifest.config, signatures.config_for(
            tuple(layer.digest for layer in manifest.layers)), store)
        store.write_blob(raw, sig_digest, where=f"{where}: manifest")
        store.add_ref(where, sig_digest, manifest.media_type, len(raw))

    def _keep_config(self, config: Descriptor, expected: bytes, store: Store) -> None:
        """A signature's config blob: `expected` when it hashes to the descriptor's digest
        (no request), else asked for."""
        if store.has(config.digest):
            return
        if sha256_digest(expected) == config.digest:
            store.write_blob(expected, config.digest)
        else:
            self.fetch_blob(config, store, None)

    def _fetch_bundles(self, digest: str, store: Store) -> bool:
        listing = self._referrers(digest)
        if listing is None:
            return False
        where = f"{self.ref.name}: referrers of {digest}"
        found = []
        for entry in referrers.bundle_manifests(listing, where, digest):
            raw = self.fetch_manifest(entry.digest, referrers.MAX_BUNDLE_MANIFEST_BYTES)[0]
            found.append((raw, referrers.bundle_layer(raw, f"{self.ref.name}@{entry.digest}",
                                                      digest)))
        self._keep_bundles(digest, found, store)
        return bool(found)

    def _referrers(self, digest: str) -> bytes | None:
        """The referrers list of `digest`: the API's answer, or the tag schema's when the
        registry has no such API (404); None when neither has one."""
        limit = referrers.MAX_REFERRERS_BYTES
        response = self.request("GET", f"/referrers/{digest}", action="list referrers",
                                ok=(200, 404), headers={"Accept": mediatypes.OCI_INDEX})
        try:
            if response.status == 200:
                with response:
                    return self._read_limited(response, limit, "referrers list")
            response.close()
            found = self.fetch_manifest(referrers.referrers_tag(digest), limit,
                                        missing_ok=True)
        except ArtifactError as exc:
            raise SignatureError(exc.message, reason="too-large") from None
        return found[0] if found else None

    def _keep_bundles(self, digest: str, found: list[tuple[bytes, Descriptor]],
                      store: Store) -> None:
        """Each bundle and its manifest, and a referrers list of them tagged
        `REPOSITORY:sha256-HEX` (the tag schema's name) for offline checks."""
        if not found:
            return
        entries = []
        for raw, layer in found:
            self.fetch_blob(layer, store, None)
            self._keep_config(parse(raw, f"{self.ref.name}: bundle manifest").config,
                              mediatypes.EMPTY_CONFIG, store)
            manifest_digest = store.write_blob(raw, where=f"{self.ref.name}: bundle manifest")
            entries.append(Descriptor(mediatypes.OCI_MANIFEST, manifest_digest, len(raw),
                                      artifact_type=mediatypes.SIGSTORE_BUNDLE))
        listing = referrers.referrers_index(tuple(entries))
        store.add_ref(f"{self.ref.name}:{referrers.referrers_tag(digest)}",
                      store.write_blob(listing), mediatypes.OCI_INDEX, len(listing))

    # -- push -----------------------------------------------------------------

    def push_manifest(self, store: Store, digest: str, target: str,
                      progress: ProgressFn | None) -> None:
        raw = store.read_blob(digest, verify=True, max_size=MAX_MANIFEST_BYTES)
        parsed = parse(raw, f"{store.root}: {digest}")
        if isinstance(parsed, ImageIndex):
            for child in parsed.manifests:
                self.push_manifest(store, child.digest, child.digest, progress)
        else:
            for blob in parsed.blobs:
                self.push_blob(store, blob, progress)
        self.put_manifest(raw, parsed.media_type, target)

    def put_manifest(self, raw: bytes, media_type: str, target: str) -> None:
        digest = sha256_digest(raw)
        response = self.request("PUT", f"/manifests/{target}", action="put manifest",
                                ok=(200, 201, 202), data=raw,
                                headers={"Content-Type": media_type})
        claimed = response.headers.get("Docker-Content-Digest") or ""
        response.close()
        if claimed.startswith("sha256:") and claimed != digest:
            raise DigestMismatchError(
                f"{self.ref}: the registry stored the manifest as {claimed}, expected {digest}")

    def push_blob(self, store: Store, blob: Descriptor, progress: ProgressFn | None) -> None:
        label = blob.title or blob.digest
        path = store.blob_path(blob.digest)
        if not path.is_file():
            raise ArtifactError(f"{store.root}: blob {blob.digest} ({label}) is missing")
        head = self.request("HEAD", f"/blobs/{blob.digest}", action=f"check blob {label}",
                            ok=(200, 404))
        head.close()
        if head.status == 404:
            start = self.request("POST", "/blobs/uploads/", action=f"start upload of {label}",
                                 ok=(202,), headers={"Content-Length": "0"})
            start.close()
            location = start.headers.get("Location")
            if not location:
                raise RegistryError(f"{self.ref}: the registry gave no upload location")
            url = _with_query(urllib.parse.urljoin(start.url, location), digest=blob.digest)
            with open(path, "rb") as content:
                done = self.request("PUT", url, action=f"upload {label}", ok=(201, 204),
                                    data=_Reporting(content, label, blob.size, progress),
                                    headers={"Content-Type": "application/octet-stream",
                                             "Content-Length": str(blob.size)})
                done.close()
        if progress:
            progress(label, blob.size, blob.size)


class _Reporting(io.RawIOBase):
    """A file being uploaded that reports how much has been read (sent) so far."""

    def __init__(self, file: BinaryIO, label: str, total: int,
                 progress: ProgressFn | None) -> None:
        self._file, self._label, self._total, self._progress = file, label, total, progress
        self._done = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self._done = self._file.seek(offset, whence)
        return self._done

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._done += len(data)
        if self._progress and data and self._done < self._total:
            self._progress(self._label, self._done, self._total)
        return data


def _registry_message(response: Response) -> str:
    """The first `errors[].message` of a distribution error body, if any."""
    try:
        body = response.read(8192)
    except TransportError:  # an error body is a courtesy; its absence is not an error
        return ""
    return error_detail(body)


def _with_query(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query.extend(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
