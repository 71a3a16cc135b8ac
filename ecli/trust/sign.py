"""Signing an artifact in a registry the way `cosign sign --key` does (v2, `.sig` tag).

The reference is resolved to its digest; the payload names that digest and
the repository; the signature is appended to the signature manifest already
there (fetched and checked first), so cosign's and ours sit side by side.
Signing again with the same key is a no-op: cosign's ECDSA signatures differ
each time, and a manifest growing on every CI run would only grow.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ecli.errors import SignatureError
from ecli.oci import registry, signatures
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
        store = Store(Path(scratch))
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
