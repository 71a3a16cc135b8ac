"""OCI 1.1 referrers of a manifest, and the Sigstore bundles among them: pure data.

cosign v3 attaches a signature as a Sigstore bundle: a manifest whose
`artifactType` and one layer are the bundle's media type, whose config is the
OCI empty descriptor and whose `subject` is the signed manifest. A registry
with the referrers API lists them at `GET /v2/REPO/referrers/DIGEST` (an image
index); one without (CNCF distribution) is read through the tag schema: tag
`sha256-HEX` holding that same image index, which the attaching client keeps
up to date. Every size is bounded before the bytes are asked for, and a list
that nests an index, names itself or repeats an entry (a loop) is refused.
"""

from __future__ import annotations

import json

from ecli.errors import ArtifactError, SignatureError
from ecli.oci import mediatypes
from ecli.oci.manifest import (
    Descriptor,
    ImageIndex,
    Manifest,
    empty_config,
    is_digest,
    sha256_digest,
)
from ecli.oci.signatures import parse_bounded

MAX_REFERRERS_BYTES = 256 << 10  # an index of ~1000 descriptors
MAX_REFERRERS = 256
MAX_BUNDLES = 8  # bundle manifests read for one digest
MAX_BUNDLE_MANIFEST_BYTES = 16 << 10
MAX_BUNDLE_BYTES = 256 << 10  # a keyless bundle with its chain is ~10 KiB


def referrers_tag(digest: str) -> str:
    """`sha256-HEX`: the tag-schema fallback's name for the referrers of `digest`."""
    if not is_digest(digest):
        raise ArtifactError(f"{digest!r} is not a sha256 digest")
    return digest.replace(":", "-", 1)


def bundle_manifests(raw: bytes, where: str, subject: str) -> tuple[Descriptor, ...]:
    """The Sigstore bundle manifests a referrers list names, within the limits above."""
    index = parse_bounded(raw, where, MAX_REFERRERS_BYTES, "the referrers list")
    if not isinstance(index, ImageIndex):
        raise SignatureError(f"{where}: the referrers list is not an image index",
                             reason="garbled")
    if len(index.manifests) > MAX_REFERRERS:
        raise SignatureError(f"{where}: {len(index.manifests)} referrers, more than the "
                             f"{MAX_REFERRERS} allowed", reason="too-large")
    seen = {subject, sha256_digest(raw)}
    for entry in index.manifests:
        if entry.digest in seen or entry.media_type in mediatypes.INDEX_TYPES:
            raise SignatureError(f"{where}: the referrers list loops (it names "
                                 f"{entry.digest} again, or nests an index)", reason="garbled")
        seen.add(entry.digest)
    found = tuple(e for e in index.manifests if e.artifact_type == mediatypes.SIGSTORE_BUNDLE)
    for entry in found:
        if entry.size > MAX_BUNDLE_MANIFEST_BYTES:
            raise SignatureError(f"{where}: bundle manifest {entry.digest} is {entry.size} "
                                 "bytes", reason="too-large")
    return found[:MAX_BUNDLES]


def bundle_layer(raw: bytes, where: str, subject: str) -> Descriptor:
    """The bundle blob a referrer manifest holds; it must refer to `subject`."""
    manifest = parse_bounded(raw, where, MAX_BUNDLE_MANIFEST_BYTES, "bundle manifest")
    if not isinstance(manifest, Manifest) or len(manifest.layers) != 1 \
            or manifest.layers[0].media_type != mediatypes.SIGSTORE_BUNDLE:
        raise SignatureError(f"{where}: not a Sigstore bundle manifest (one layer of "
                             f"{mediatypes.SIGSTORE_BUNDLE})", reason="garbled")
    if manifest.subject is None or manifest.subject.digest != subject:
        other = manifest.subject.digest if manifest.subject else "nothing"
        raise SignatureError(f"{where}: the bundle refers to {other}, not {subject}",
                             reason="other-digest")
    layer = manifest.layers[0]
    if layer.size > MAX_BUNDLE_BYTES:
        raise SignatureError(f"{where}: bundle {layer.digest} is {layer.size} bytes, more "
                             f"than the {MAX_BUNDLE_BYTES} allowed", reason="too-large")
    return layer


def bundle_manifest(bundle: bytes, subject: Descriptor) -> Manifest:
    """The referrer manifest attaching `bundle` to `subject`, as cosign v3 writes it."""
    config = empty_config()
    layer = Descriptor(mediatypes.SIGSTORE_BUNDLE, sha256_digest(bundle), len(bundle))
    return Manifest(mediatypes.OCI_MANIFEST, config, (layer,),
                    artifact_type=mediatypes.SIGSTORE_BUNDLE, subject=subject)


def referrers_index(entries: tuple[Descriptor, ...]) -> bytes:
    """An image index listing `entries`: the tag schema's list, and the store's own."""
    return json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                       "manifests": [e.to_dict() for e in entries]},
                      separators=(",", ":")).encode()


def referrer(manifest: Manifest) -> Descriptor:
    """The descriptor a referrers list gives `manifest`."""
    raw = manifest.to_json()
    return Descriptor(manifest.media_type, sha256_digest(raw), len(raw),
                      artifact_type=manifest.artifact_type)
