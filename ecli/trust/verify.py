"""Checking that an artifact's digest carries a valid signature by a given key.

One check, two places the signature is read from: the content store, offline
(`verify_stored_signature`: what `ecli pull` kept beside the artifact), or the
registry (`verify_registry_signature`: fetched into a temporary store, so a
bad signature leaves nothing behind, then the same check). A signature counts
only when the key verifies it over the payload's exact bytes AND the payload
names that digest AND that repository; otherwise a SignatureError whose
`reason` says which of these failed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ecli.errors import ArtifactError, NotFoundError, SignatureError
from ecli.oci import signatures
from ecli.oci.manifest import ANNOTATION_REF_NAME, MAX_MANIFEST_BYTES, ImageIndex, parse
from ecli.oci.reference import OciReference
from ecli.oci.store import Store
from ecli.trust.keys import PublicKey

# When several signatures fail, the reason shown is the most telling one.
_PRECEDENCE = ("other-digest", "other-repository", "garbled", "too-large", "wrong-key")


@dataclass(frozen=True)
class Verified:
    """A signature that holds: for `digest` in `repository`, by the key in `key`."""

    repository: str
    digest: str
    key: str
    payload: str  # digest of the signed payload
    signatures: int  # how many the signature manifest lists
    manifest: str  # digest of the signature manifest (the `sha256-HEX.sig` tag's)


def verify_registry_signature(ref: OciReference, key: PublicKey) -> Verified:
    """Resolve `ref` and check its signature as the registry holds it now."""
    from ecli.oci import registry  # not for offline checks: 12 ms of imports

    with tempfile.TemporaryDirectory(prefix="ecli-verify-") as scratch:
        store = Store(Path(scratch))
        digest, _ = registry.pull_signatures(ref, store)
        return _verify(store, ref.name, digest, key)


def verify_stored_signature(store: Store, ref: OciReference, key: PublicKey) -> Verified:
    """Check, with no network, the signature `ecli pull` kept beside `ref` in `store`.

    The signature may be of the image index `ref` was pulled through: the digest
    tagged `ref` in the store is then one of the manifests that index lists.
    """
    digest = ref.digest or store.resolve_ref(str(ref))
    if digest is None:
        raise NotFoundError(f"{ref} is not in the store", hint=f"ecli pull {ref}")
    return _verify(store, ref.name, _signed_parent(store, ref.name, digest), key)


def stored_signature(store: Store, ref: OciReference) -> tuple[str, str] | None:
    """The digest whose signature `verify_stored_signature` would check, and the digest
    of that signature manifest in `store`; None when there is none. Nothing is checked:
    this names the bytes a check is about (for remembering one)."""
    digest = ref.digest or store.resolve_ref(str(ref))
    if digest is None:
        return None
    signed = _signed_parent(store, ref.name, digest)
    descriptor = store.find_ref(_tag_name(ref.name, signed))
    return (signed, descriptor.digest) if descriptor is not None else None


def _signed_parent(store: Store, repository: str, digest: str) -> str:
    """`digest`, or the stored, signed image index of `repository` that lists it."""
    if store.find_ref(_tag_name(repository, digest)):
        return digest
    prefix = f"{repository}:"
    names = (d.annotations.get(ANNOTATION_REF_NAME, "") for d in store.refs())
    for name in names:
        signed = signatures.signed_digest(name.removeprefix(prefix)) \
            if name.startswith(prefix) else None
        if signed is None or not store.has(signed):
            continue
        parsed = parse(store.read_blob(signed, verify=True, max_size=MAX_MANIFEST_BYTES),
                       f"{repository}@{signed}")
        if isinstance(parsed, ImageIndex) and any(m.digest == digest for m in parsed.manifests):
            return signed
    return digest


def _tag_name(repository: str, digest: str) -> str:
    return f"{repository}:{signatures.signature_tag(digest)}"


def _verify(store: Store, repository: str, digest: str, key: PublicKey) -> Verified:
    where = f"{repository}@{digest}"
    descriptor = store.find_ref(_tag_name(repository, digest))
    if descriptor is None:
        raise SignatureError(f"{where}: no signature (no {signatures.signature_tag(digest)} "
                             "tag)", reason="no-signature")
    try:
        raw = store.read_blob(descriptor.digest, verify=True,
                              max_size=signatures.MAX_SIGNATURE_MANIFEST_BYTES)
    except ArtifactError as exc:
        raise SignatureError(f"{where}: {exc.message}", reason="too-large") from None
    _, entries = signatures.read_manifest(raw, f"{where}: signature manifest")
    if not entries:
        raise SignatureError(f"{where}: the signature manifest lists no signature",
                             reason="no-signature")
    failures: list[SignatureError] = []
    for entry in entries:
        try:
            _check(store, entry, repository, digest, key, where)
        except SignatureError as exc:
            failures.append(exc)
            continue
        return Verified(repository, digest, key.where, entry.payload.digest, len(entries),
                        descriptor.digest)
    worst = min(failures, key=lambda f: _PRECEDENCE.index(f.reason))
    if len(entries) > 1:
        worst = SignatureError(f"{worst.message} (none of {len(entries)} signatures holds)",
                               reason=worst.reason)
    raise worst


def _check(store: Store, entry: signatures.Entry, repository: str, digest: str,
           key: PublicKey, where: str) -> None:
    signature = entry.signature_bytes(where)
    data = store.read_blob(entry.payload.digest, verify=True,
                           max_size=signatures.MAX_PAYLOAD_BYTES)
    if not key.verifies(signature, data):
        raise SignatureError(f"{where}: not signed by the key {key.where} (another key, or "
                             "an altered payload)", reason="wrong-key")
    claim = signatures.read_payload(data, where)
    if claim.digest != digest:
        raise SignatureError(f"{where}: the signature is for another digest, {claim.digest}",
                             reason="other-digest")
    if _canonical(claim.repository) != _canonical(repository):
        raise SignatureError(f"{where}: the signature names another repository, "
                             f"{claim.repository}", reason="other-repository")


def _canonical(repository: str) -> str:
    """Docker Hub has two names; cosign writes index.docker.io."""
    host, _, rest = repository.partition("/")
    return f"docker.io/{rest}" if host in ("index.docker.io", "registry-1.docker.io") \
        else repository
