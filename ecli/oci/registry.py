"""The only OCI registry client: resolve, pull into the store, push from a layout.

Built on oras-py for what it does well (a session that ignores cookies,
credentials from the docker config and credential helpers, bearer-token
requests); the distribution API calls themselves are made here so that every
byte is checked: a manifest is hashed before it is trusted, a blob is hashed
and measured while it streams into the store, and nothing is tagged until all
of it is there. oras-py is imported inside functions only: importing it costs
about 0.33 s, and `ecli run` of a cached package never needs it.

Every failure leaves as a RegistryError (or DigestMismatchError) whose one-line
message names the reference; requests and oras exceptions stop at this boundary.
Registries on localhost, 127.0.0.1 and ::1 are spoken to over plain HTTP, as
docker does; others over HTTPS unless listed in ECLI_INSECURE_REGISTRIES.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecli.errors import ArtifactError, DigestMismatchError, NotFoundError, RegistryError
from ecli.oci import artifact, mediatypes
from ecli.oci.config import MAX_CONFIG_BYTES
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

if TYPE_CHECKING:
    import requests

ProgressFn = Callable[[str, int, int], None]
"""Called as progress(what, bytes_done, bytes_total) while blobs move."""

INSECURE_ENV = "ECLI_INSECURE_REGISTRIES"
TIMEOUT = (10.0, 60.0)  # connect, read (seconds)
CHUNK_SIZE = 1 << 16
ACCEPT_MANIFESTS = ", ".join((*mediatypes.MANIFEST_TYPES, *mediatypes.INDEX_TYPES))
_LOOPBACK = {"localhost", "127.0.0.1", "[::1]", "::1"}
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"\)\]]+)")


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
    _, _, digest = _Client(ref).fetch_manifest(ref.selector)
    return digest


def check_login(registry: str, username: str, password: str) -> None:
    """Ask the registry's /v2/ endpoint whether these credentials are accepted."""
    client = _Client(OciReference(registry, "ecli-login-check", "latest"))
    client.use_credential(username, password)
    try:
        client.request("GET", f"{client.scheme}://{client.host}/v2/", action="log in").close()
    except RegistryError as exc:
        message = exc.message.replace(f"{client.ref}: ", f"{registry}: ", 1)
        raise RegistryError(message, hint=exc.hint) from None


def pull(ref: OciReference, store: Store, progress: ProgressFn | None = None, *,
         platform: Platform | None = None, mirrors: Sequence[str] = (),
         force: bool = False) -> PulledArtifact:
    """Fetch the package `ref` names into `store`, verify every byte, tag it `str(ref)`.

    An image index is followed to the manifest of `platform` (the host's by
    default). A reference by digest already in the store needs no network
    unless `force` (pull policy `always`). `mirrors` are hosts tried in order
    before the registry itself; any failure on a mirror moves to the next,
    and since every byte is checked against its digest, a mirror cannot
    change what is pulled.
    """
    if ref.digest and store.has(ref.digest) and not force:
        return _already_stored(ref, store, platform)
    for endpoint in (*mirrors, None):
        try:
            return _pull_from(_Client(ref, endpoint), ref, store, progress, platform)
        except DigestMismatchError:
            raise
        except RegistryError as exc:
            if endpoint is None:
                raise
            del exc  # this mirror failed; the next endpoint is tried
    raise AssertionError("unreachable: the registry itself is the last endpoint")


def _pull_from(client: _Client, ref: OciReference, store: Store, progress: ProgressFn | None,
               platform: Platform | None) -> PulledArtifact:
    raw, media_type, digest = client.fetch_manifest(ref.selector)
    parsed = _parse(raw, str(ref), media_type)
    index: tuple[bytes, str] | None = None
    chosen_platform = None
    if isinstance(parsed, ImageIndex):
        index = (raw, digest)
        chosen = _select(parsed, ref, platform)
        chosen_platform = chosen.platform
        raw, media_type, digest = client.fetch_manifest(chosen.digest)
        if len(raw) != chosen.size:
            raise DigestMismatchError(
                f"{ref}: manifest {chosen.digest} is {len(raw)} bytes, "
                f"the index says {chosen.size}")
        parsed = _parse(raw, f"{ref} ({chosen.platform})", media_type or chosen.media_type)
        if isinstance(parsed, ImageIndex):
            raise ArtifactError(f"{ref}: an image index inside an image index is not supported")
    _check_package_manifest(parsed, ref)
    for blob in parsed.blobs:
        client.fetch_blob(blob, store, progress)
    store.write_blob(raw, digest, where=f"{ref}: manifest")
    if index is not None:
        store.write_blob(index[0], index[1], where=f"{ref}: index")
    package = artifact.load(store, digest, reference=ref)
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
    _Client(ref).push_manifest(store, digest, ref.tag or digest, progress)
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
    package = artifact.load(store, digest, reference=ref)
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
    if manifest.config.media_type not in mediatypes.CONFIG_TYPES:
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


def _reason(exc: BaseException) -> str:
    match = _ERRNO.search(str(exc))
    return match.group(1).strip().lower() if match else type(exc).__name__


def _registry_message(response: requests.Response) -> str:
    """The first `errors[].message` of a distribution error body, if any."""
    try:
        body = next(response.iter_content(8192), b"")
    except Exception:  # an error body is a courtesy; its absence is not an error
        return ""
    try:
        errors = json.loads(body).get("errors") or []
        first = errors[0]
        return f": {first.get('message') or first.get('code')}"
    except Exception:  # not distribution's JSON: a short plain-text reason, if any
        text = body[:200].decode(errors="replace").strip().splitlines()
        return f": {text[0]}" if text and text[0].isprintable() else ""


class _Client:
    """One repository on one registry: URLs, credentials, error translation."""

    def __init__(self, ref: OciReference, endpoint: str | None = None) -> None:
        import oras.container
        import oras.provider

        from ecli import credentials

        self.ref = ref
        registry = endpoint or ref.registry
        self.host = "registry-1.docker.io" if registry in ("docker.io", "index.docker.io") \
            else registry
        ca = credentials.ca_file(registry)
        self.verify: bool | str = str(ca) if ca else True
        self.scheme = "http" if is_plain_http(registry) and ca is None else "https"
        self.base = f"{self.scheme}://{self.host}/v2/{ref.repository}"
        self._oras = oras.provider.Registry(hostname=self.host, insecure=self.scheme == "http",
                                            tls_verify=self.verify)
        self._auth_header: dict[str, str] = {}
        try:
            self._oras.auth.load_configs(oras.container.Container(ref.repository,
                                                                  registry=registry),
                                         configs=credentials.docker_configs())
        except Exception as exc:  # a broken docker config: say so, do not guess
            raise RegistryError(f"{ref}: cannot read registry credentials: {exc}") from None
        own = credentials.find(registry)
        if own is not None:
            self._oras.auth.set_basic_auth(own.username, own.password)

    def use_credential(self, username: str, password: str) -> None:
        """Authenticate with these instead of any stored credential (`ecli login`)."""
        self._oras.auth.set_basic_auth(username, password)

    # -- requests ---------------------------------------------------------------

    def request(self, method: str, url: str, *, action: str, ok: tuple[int, ...] = (200,),
                headers: dict[str, str] | None = None, data: Any = None,
                stream: bool = False) -> requests.Response:
        """One call to the registry, authenticated when challenged, errors translated."""
        import requests

        if not url.startswith(("http://", "https://")):
            url = self.base + url
        for attempt in range(2):
            if hasattr(data, "seek"):
                data.seek(0)
            try:
                response = self._oras.session.request(
                    method, url, headers={**(headers or {}), **self._auth_header}, data=data,
                    stream=stream, timeout=TIMEOUT, verify=self.verify,
                )
            except requests.exceptions.SSLError as exc:
                raise RegistryError(
                    f"{self.ref}: TLS error talking to {self.host}: {_reason(exc)}",
                    hint=f"for a registry on plain HTTP, list it in {INSECURE_ENV}",
                ) from None
            except requests.exceptions.Timeout:
                raise RegistryError(f"{self.ref}: {self.host} did not answer in time") from None
            except requests.exceptions.ConnectionError as exc:
                raise RegistryError(f"{self.ref}: cannot reach {self.host}: {_reason(exc)}",
                                    hint="is the registry running and the address right?"
                                    ) from None
            except requests.exceptions.RequestException as exc:
                raise RegistryError(f"{self.ref}: {action} failed: {_reason(exc)}") from None
            if response.status_code == 401 and attempt == 0 and self._authenticate(response):
                response.close()
                continue
            break
        if response.status_code not in ok:
            message = _registry_message(response)
            response.close()
            code = response.status_code
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

    def _authenticate(self, response: requests.Response) -> bool:
        """Answer a 401 challenge (Basic or Bearer); True when worth retrying."""
        import oras.auth.utils
        import requests

        challenge = response.headers.get("Www-Authenticate", "")
        scheme = challenge.split(" ", 1)[0].lower()
        basic = getattr(self._oras.auth, "_basic_auth", None)
        if scheme == "basic":
            if not basic:
                return False
            self._auth_header = {"Authorization": f"Basic {basic}"}
            return True
        if scheme != "bearer":
            return False
        parsed = oras.auth.utils.parse_auth_header(challenge)
        if not parsed.realm:
            return False
        try:
            token = self._oras.auth.request_token(parsed)
        except (requests.exceptions.RequestException, ValueError) as exc:
            raise RegistryError(f"{self.ref}: cannot get a token from {parsed.realm}: "
                                f"{_reason(exc)}") from None
        if not token:
            return False
        self._auth_header = {"Authorization": f"Bearer {token}"}
        return True

    # -- pull -----------------------------------------------------------------

    def fetch_manifest(self, selector: str) -> tuple[bytes, str | None, str]:
        """(bytes, Content-Type, digest) of a manifest; the digest is computed, not trusted."""
        response = self.request("GET", f"/manifests/{selector}", action="get manifest",
                                headers={"Accept": ACCEPT_MANIFESTS,
                                         "Accept-Encoding": "identity"}, stream=True)
        with response:
            raw = self._read_limited(response, MAX_MANIFEST_BYTES, "manifest")
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            claimed = response.headers.get("Docker-Content-Digest", "")
        digest = sha256_digest(raw)
        if is_digest(selector) and digest != selector:
            raise DigestMismatchError(
                f"{self.ref}: manifest digest mismatch: expected {selector}, got {digest}")
        if claimed.startswith("sha256:") and claimed != digest:
            raise DigestMismatchError(
                f"{self.ref}: manifest digest mismatch: the registry says {claimed}, "
                f"its bytes hash to {digest}")
        return raw, content_type or None, digest

    def fetch_blob(self, blob: Descriptor, store: Store, progress: ProgressFn | None) -> None:
        """Stream one blob into the store, checking its size and digest on the way."""
        import requests

        label = blob.title or blob.digest
        if store.has(blob.digest):
            if progress:
                progress(label, blob.size, blob.size)
            return
        response = self.request("GET", f"/blobs/{blob.digest}", action=f"get blob {label}",
                                headers={"Accept-Encoding": "identity"}, stream=True)

        def chunks() -> Iterator[bytes]:
            done = 0
            for chunk in response.iter_content(CHUNK_SIZE):
                done += len(chunk)
                if progress:
                    progress(label, done, blob.size)
                yield chunk

        with response:
            try:
                store.write_blob(chunks(), blob.digest, expected_size=blob.size,
                                 where=f"{self.ref}: {label}")
            except requests.exceptions.RequestException as exc:
                raise RegistryError(f"{self.ref}: download of {label} failed: "
                                    f"{_reason(exc)}") from None

    def _read_limited(self, response: requests.Response, limit: int, what: str) -> bytes:
        import requests

        data = bytearray()
        try:
            for chunk in response.iter_content(CHUNK_SIZE):
                data += chunk
                if len(data) > limit:
                    raise ArtifactError(f"{self.ref}: {what} is larger than {limit} bytes")
        except requests.exceptions.RequestException as exc:
            raise RegistryError(f"{self.ref}: reading the {what} failed: {_reason(exc)}") from None
        return bytes(data)

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
        response = self.request("PUT", f"/manifests/{target}", action="put manifest",
                                ok=(200, 201, 202), data=raw,
                                headers={"Content-Type": parsed.media_type})
        claimed = response.headers.get("Docker-Content-Digest", "")
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
        if head.status_code == 404:
            start = self.request("POST", "/blobs/uploads/", action=f"start upload of {label}",
                                 ok=(202,), headers={"Content-Length": "0"})
            start.close()
            location = start.headers.get("Location")
            if not location:
                raise RegistryError(f"{self.ref}: the registry gave no upload location")
            url = _with_query(urllib.parse.urljoin(start.url, location), digest=blob.digest)
            with open(path, "rb") as content:
                done = self.request("PUT", url, action=f"upload {label}", ok=(201, 204),
                                    data=content,
                                    headers={"Content-Type": "application/octet-stream",
                                             "Content-Length": str(blob.size)})
                done.close()
        if progress:
            progress(label, blob.size, blob.size)


def _with_query(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query.extend(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
