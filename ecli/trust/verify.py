"""Checking that an artifact's digest carries a valid signature by a given signer.

One check, two places the signatures are read from: the content store, offline
(`verify_stored_signature`: what `ecli pull` kept beside the artifact), or the
registry (`verify_registry_signature`: fetched into a temporary store, so a
bad signature leaves nothing behind, then the same check). Two kinds are read:
cosign v2's `.sig` manifest (key-based) and Sigstore bundles attached as OCI
1.1 referrers (cosign v3's; by a key, or keyless by a certificate identity and
issuer: `ecli.trust.keyless`). A signature counts only when the signer's key or
certificate verifies it over the exact bytes AND what was signed names that
digest AND that repository; otherwise a SignatureError whose `reason` says
which of these failed.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ecli.errors import ArtifactError, NotFoundError, SignatureError
from ecli.oci import referrers, signatures
from ecli.oci.manifest import (
    ANNOTATION_REF_NAME,
    MAX_MANIFEST_BYTES,
    Descriptor,
    ImageIndex,
    parse,
)
from ecli.oci.reference import OciReference
from ecli.oci.store import Store
from ecli.trust import bundle, keyless
from ecli.trust.keys import PublicKey

Signer = PublicKey | keyless.Identity

# When several signatures fail, the reason shown is the most telling one.
_PRECEDENCE = ("other-digest", "other-repository", "wrong-identity", "wrong-issuer",
               "invalid", "garbled", "too-large", "wrong-key")


@dataclass(frozen=True)
class Verified:
    """A signature that holds: for `digest` in `repository`, by the key in `key`."""

    repository: str
    digest: str
    key: str  # the signer: its key file, or identity (issuer)
    payload: str  # digest of the signed payload, or of the bundle
    signatures: int  # how many were read
    manifest: str  # digest of the signature manifest (the `.sig` tag's, or the bundle's)


def verify_registry_signature(ref: OciReference, key: Signer) -> Verified:
    """Resolve `ref` and check its signature as the registry holds it now."""
    from ecli.oci import registry  # not for offline checks: 12 ms of imports

    with tempfile.TemporaryDirectory(prefix="ecli-verify-") as scratch:
        store = Store(Path(scratch), durable=False)  # deleted when the check is done
        # cosign's `.sig` tag first: when it holds a good signature, the referrers are
        # not asked for (two requests instead of four; the generator checks thousands)
        digest, found = registry.pull_signatures(ref, store, bundles=False)
        if found:
            with contextlib.suppress(SignatureError):
                return _verify(store, ref.name, digest, key)
        pinned = OciReference(ref.registry, ref.repository, None, digest)
        registry.pull_signatures(pinned, store, tag=False)
        return _verify(store, ref.name, digest, key)


def verify_stored_signature(store: Store, ref: OciReference, key: Signer) -> Verified:
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
    found = [d.digest for d in _signature_refs(store, ref.name, signed)]
    return (signed, "+".join(found)) if found else None


def _signature_refs(store: Store, repository: str, digest: str) -> list[Descriptor]:
    """What the store keeps of `digest`'s signatures: the `.sig` manifest, the referrers."""
    names = (_tag_name(repository, digest),
             f"{repository}:{referrers.referrers_tag(digest)}")
    return [d for d in map(store.find_ref, names) if d is not None]


def _signed_parent(store: Store, repository: str, digest: str) -> str:
    """`digest`, or the stored, signed image index of `repository` that lists it."""
    if _signature_refs(store, repository, digest):
        return digest
    prefix = f"{repository}:"
    names = (d.annotations.get(ANNOTATION_REF_NAME, "") for d in store.refs())
    for name in names:
        tag = name.removeprefix(prefix)
        signed = (signatures.signed_digest(tag) or signatures.signed_digest(tag + ".sig")) \
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


def _verify(store: Store, repository: str, digest: str, signer: Signer) -> Verified:
    where = f"{repository}@{digest}"
    sig = store.find_ref(_tag_name(repository, digest))
    listing = store.find_ref(f"{repository}:{referrers.referrers_tag(digest)}")
    if sig is None and listing is None:
        raise SignatureError(f"{where}: no signature (no {signatures.signature_tag(digest)} "
                             "tag, no Sigstore bundle among its referrers)",
                             reason="no-signature")
    failures: list[SignatureError] = []
    tried = 0
    for manifest, payload, check in (*_sig_checks(store, sig, repository, digest, signer),
                                     *_bundle_checks(store, listing, repository, digest,
                                                     signer)):
        tried += 1
        try:
            check()
        except SignatureError as exc:
            failures.append(exc)
            continue
        return Verified(repository, digest, signer.where, payload, tried, manifest)
    if not failures:
        what = "the signature manifest lists no signature" if isinstance(signer, PublicKey) \
            else "no Sigstore bundle among its referrers (a `.sig` tag holds key signatures)"
        raise SignatureError(f"{where}: {what}", reason="no-signature")
    worst = min(failures, key=lambda f: _PRECEDENCE.index(f.reason)
                if f.reason in _PRECEDENCE else len(_PRECEDENCE))
    if tried > 1:
        worst = SignatureError(f"{worst.message} (none of {tried} signatures holds)",
                               reason=worst.reason)
    raise worst


_Check = tuple[str, str, Callable[[], None]]  # manifest, payload, the check itself


def _sig_checks(store: Store, descriptor: Descriptor | None, repository: str, digest: str,
                signer: Signer) -> list[_Check]:
    """One check per signature in the `.sig` manifest (key-based only)."""
    if descriptor is None or not isinstance(signer, PublicKey):
        return []
    where = f"{repository}@{digest}"
    raw = read_bounded(store, descriptor.digest, signatures.MAX_SIGNATURE_MANIFEST_BYTES,
                       where)
    _, entries = signatures.read_manifest(raw, f"{where}: signature manifest")
    return [(descriptor.digest, entry.payload.digest,
             lambda entry=entry: _check(store, entry, repository, digest, signer, where))
            for entry in entries]


def _bundle_checks(store: Store, listing: Descriptor | None, repository: str, digest: str,
                   signer: Signer) -> list[_Check]:
    """One check per Sigstore bundle among the stored referrers."""
    where = f"{repository}@{digest}"
    return [(manifest, blob,
             lambda blob=blob: _check_bundle(store, blob, repository, digest, signer, where))
            for manifest, blob in stored_bundles(store, listing, digest, where)]


def stored_bundles(store: Store, listing: Descriptor | None, digest: str,
                   where: str) -> list[tuple[str, str]]:
    """(manifest digest, bundle blob digest) of each Sigstore bundle of `digest` that
    `listing` (the stored referrers list) names, each read within its limit."""
    if listing is None:
        return []
    raw = read_bounded(store, listing.digest, referrers.MAX_REFERRERS_BYTES, where)
    found = []
    for entry in referrers.bundle_manifests(raw, f"{where}: referrers", digest):
        manifest = read_bounded(store, entry.digest, referrers.MAX_BUNDLE_MANIFEST_BYTES, where)
        layer = referrers.bundle_layer(manifest, f"{where}: bundle {entry.digest}", digest)
        found.append((entry.digest, layer.digest))
    return found


def _check_bundle(store: Store, blob: str, repository: str, digest: str, signer: Signer,
                  where: str) -> None:
    found = bundle.read(read_bounded(store, blob, referrers.MAX_BUNDLE_BYTES, where),
                        f"{where}: bundle {blob}")
    if isinstance(signer, PublicKey):
        bundle.verify_with_key(found, signer, repository, digest, where)
    else:
        keyless.verify(found, signer, repository, digest, where)  # imports sigstore


def read_bounded(store: Store, digest: str, limit: int, where: str) -> bytes:
    """A stored blob of at most `limit` bytes; more is a too-large SignatureError."""
    try:
        return store.read_blob(digest, verify=True, max_size=limit)
    except ArtifactError as exc:
        raise SignatureError(f"{where}: {exc.message}", reason="too-large") from None


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
    if bundle.canonical(claim.repository) != bundle.canonical(repository):
        raise SignatureError(f"{where}: the signature names another repository, "
                             f"{claim.repository}", reason="other-repository")

