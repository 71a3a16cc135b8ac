"""Signing an artifact in a registry the way `cosign sign --key` does.

Two places, as cosign's two major versions: v2's `.sig` tag (`sign_artifact`:
the payload names the digest and the repository; the signature is appended to
the signature manifest already there, fetched and checked first, so cosign's
and ours sit side by side) and v3's Sigstore bundle attached as an OCI 1.1
referrer (`attach_bundle`: a v0.3 bundle with the key's hint, DSSE over an
in-toto statement naming the digest). Signing again with the same key is a
no-op either way: ECDSA signatures differ each time, and what grows on every CI
run would only grow.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ecli.errors import SignatureError
from ecli.oci import mediatypes, referrers, registry, signatures
from ecli.oci.manifest import sha256_digest
from ecli.oci.reference import OciReference
from ecli.oci.store import Store
from ecli.trust.keys import PrivateKey

_SCRATCH_REF = "signature"


@dataclass(frozen=True)
class Signed:
    repository: str
    digest: str
    tag: str  # where the signature manifest is: sha256-HEX.sig
    payload: str  # digest of the signed payload
    signatures: int  # in the manifest now
    added: bool  # False when this key had signed the same payload already


def sign_artifact(ref: OciReference, key: PrivateKey) -> Signed:
    """Sign the digest `ref` resolves to and push the signature manifest beside it."""
    with tempfile.TemporaryDirectory(prefix="ecli-sign-") as scratch:
        store = Store(Path(scratch), durable=False)  # deleted once pushed
        digest, found = registry.pull_signatures(ref, store)
        tag = signatures.signature_tag(digest)
        entries: tuple[signatures.Entry, ...] = ()
        if found:
            descriptor = store.find_ref(f"{ref.name}:{tag}")
            assert descriptor is not None
            raw = store.read_blob(descriptor.digest, verify=True,
                                  max_size=signatures.MAX_SIGNATURE_MANIFEST_BYTES)
            _, entries = signatures.read_manifest(raw, f"{ref.name}:{tag}")
        data = signatures.payload(ref.name, digest)
        payload_digest = sha256_digest(data)
        if _already_signed(entries, data, payload_digest, key, f"{ref.name}:{tag}"):
            return Signed(ref.name, digest, tag, payload_digest, len(entries), False)
        entries = (*entries, signatures.payload_entry(data, key.sign(data)))
        manifest, config = signatures.build_manifest(entries)
        store.write_blob(data)
        store.write_blob(config)
        raw = manifest.to_json()
        store.add_ref(_SCRATCH_REF, store.write_blob(raw), manifest.media_type, len(raw))
        registry.push(store, OciReference(ref.registry, ref.repository, tag),
                      source_ref=_SCRATCH_REF)
    return Signed(ref.name, digest, tag, payload_digest, len(entries), True)


def attach_bundle(ref: OciReference, key: PrivateKey) -> Signed:
    """Sign the digest `ref` resolves to with a Sigstore bundle, attached as a referrer."""
    from ecli.trust import bundle

    subject = registry.subject(ref)
    tag = referrers.referrers_tag(subject.digest)
    with tempfile.TemporaryDirectory(prefix="ecli-sign-") as scratch:
        store = Store(Path(scratch), durable=False)  # deleted once pushed
        pinned = OciReference(ref.registry, ref.repository, None, subject.digest)
        registry.pull_signatures(pinned, store)
        public, hint = key.public(), bundle.hint_of(key.public())
        held = _bundles(store, f"{ref.name}:{tag}", subject.digest)
        for manifest, raw in held:
            if bundle.key_hint(raw) != hint:
                continue
            try:
                bundle.verify_with_key(bundle.read(raw, manifest), public, ref.name,
                                       subject.digest, manifest)
            except SignatureError:
                continue
            return Signed(ref.name, subject.digest, tag, sha256_digest(raw), len(held), False)
        data = bundle.make(key, ref.name, subject.digest)
        manifest = referrers.bundle_manifest(data, subject)
        store.write_blob(data)
        store.write_blob(mediatypes.EMPTY_CONFIG)
        digest = store.write_blob(manifest.to_json())
        registry.attach(pinned, store, digest, subject.digest)
    return Signed(ref.name, subject.digest, tag, sha256_digest(data), len(held) + 1, True)


def _bundles(store: Store, name: str, subject: str) -> list[tuple[str, bytes]]:
    """(manifest digest, bundle bytes) of each bundle `pull_signatures` kept."""
    from ecli.trust.verify import read_bounded, stored_bundles

    return [(manifest, read_bounded(store, blob, referrers.MAX_BUNDLE_BYTES, name))
            for manifest, blob in stored_bundles(store, store.find_ref(name), subject, name)]


def _already_signed(entries: tuple[signatures.Entry, ...], data: bytes, payload_digest: str,
                    key: PrivateKey, where: str) -> bool:
    public = key.public()
    for entry in entries:
        if entry.payload.digest != payload_digest:
            continue
        try:
            if public.verifies(entry.signature_bytes(where), data):
                return True
        except SignatureError:
            continue  # a garbled neighbour is not ours to judge; ours is appended
    return False
