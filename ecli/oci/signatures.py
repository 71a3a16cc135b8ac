"""cosign's signature format (v2's default), read and written: the one owner of it.

A signature of the manifest `sha256:HEX` in a repository lives in the same
repository as an OCI manifest tagged `sha256-HEX.sig`. Each of its layers is
one signature: the layer's blob is the simple-signing payload (what was
signed, byte for byte), its media type `mediatypes.COSIGN_SIMPLE_SIGNING`, and
the annotation `dev.cosignproject.cosign/signature` holds the base64
signature over those bytes. Signing again appends a layer, as cosign does.

    {"critical": {"identity": {"docker-reference": "REGISTRY/REPOSITORY"},
                  "image": {"docker-manifest-digest": "sha256:HEX"},
                  "type": "cosign container image signature"},
     "optional": null}

Pure data, no network and no crypto (ecli/trust/ checks signatures). cosign's
own source is the reference (pkg/oci/static/signature.go, pkg/oci/mutate/signatures.go,
sigstore's pkg/signature/payload). docs/formats.md describes it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from ecli.errors import ArtifactError, SignatureError
from ecli.oci import mediatypes
from ecli.oci.manifest import Descriptor, ImageIndex, Manifest, is_digest, parse, sha256_digest

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PAYLOAD_TYPE = "cosign container image signature"

# Limits on what a registry may hand us under a signature tag (cosign allows 1000 layers
# and 128 MiB payloads; a payload is a few hundred bytes, a manifest a few per signature).
MAX_SIGNATURE_MANIFEST_BYTES = 512 << 10
MAX_SIGNATURES = 100
MAX_PAYLOAD_BYTES = 64 << 10
MAX_SIGNATURE_BYTES = 1024  # decoded: an ECDSA P-256 signature is ~72, ed25519's 64

_ZERO_TIME = "0001-01-01T00:00:00Z"  # go-containerregistry's empty image, as cosign writes it


def signature_tag(digest: str) -> str:
    """`sha256-HEX.sig`: where cosign keeps the signatures of the manifest `digest`."""
    if not is_digest(digest):
        raise ArtifactError(f"{digest!r} is not a sha256 digest")
    return digest.replace(":", "-", 1) + ".sig"


def signed_digest(tag: str) -> str | None:
    """The digest a signature tag is for, or None when `tag` is not one."""
    if not tag.endswith(".sig"):
        return None
    digest = tag.removesuffix(".sig").replace("-", ":", 1)
    return digest if is_digest(digest) else None


@dataclass(frozen=True)
class Claim:
    """What a payload says was signed."""

    repository: str  # docker-reference: registry/repository
    digest: str


@dataclass(frozen=True)
class Entry:
    """One layer of a signature manifest: the payload's descriptor and its signature."""

    payload: Descriptor
    signature: str  # base64, as stored

    def signature_bytes(self, where: str) -> bytes:
        if not self.signature or len(self.signature) > MAX_SIGNATURE_BYTES * 2:
            raise SignatureError(f"{where}: signature annotation is empty or too long",
                                 reason="garbled")
        try:
            return base64.b64decode(self.signature, validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError(f"{where}: signature is not base64", reason="garbled") from None


def payload(repository: str, digest: str) -> bytes:
    """The simple-signing payload for `digest` in `repository`, byte for byte cosign's."""
    document = {"critical": {"identity": {"docker-reference": repository},
                             "image": {"docker-manifest-digest": digest},
                             "type": PAYLOAD_TYPE},
                "optional": None}
    return json.dumps(document, separators=(",", ":")).encode()


def read_payload(raw: bytes, where: str) -> Claim:
    """The claim of a payload; a garbled or truncated one is a SignatureError."""
    try:
        document = json.loads(raw)
        critical = document["critical"]
        repository = critical["identity"]["docker-reference"]
        digest = critical["image"]["docker-manifest-digest"]
        kind = critical["type"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise SignatureError(f"{where}: the signed payload is not a simple-signing document",
                             reason="garbled") from None
    if kind != PAYLOAD_TYPE or not isinstance(repository, str) or not isinstance(digest, str):
        raise SignatureError(f"{where}: the signed payload is not a cosign image signature",
                             reason="garbled")
    return Claim(repository, digest)


def parse_bounded(raw: bytes, where: str, limit: int, what: str) -> Manifest | ImageIndex:
    """A manifest or index read where signatures are, as a SignatureError when it is over
    `limit` bytes (too-large) or not one (garbled)."""
    if len(raw) > limit:
        raise SignatureError(f"{where}: {what} is larger than {limit} bytes",
                             reason="too-large")
    try:
        return parse(raw, where)
    except ArtifactError as exc:
        raise SignatureError(exc.message, reason="garbled") from None


def read_manifest(raw: bytes, where: str) -> tuple[Manifest, tuple[Entry, ...]]:
    """A signature manifest and the signatures it lists, each within the limits above."""
    manifest = parse_bounded(raw, where, MAX_SIGNATURE_MANIFEST_BYTES, "signature manifest")
    if isinstance(manifest, ImageIndex):
        raise SignatureError(f"{where}: a signature tag holds an image index",
                             reason="garbled")
    if len(manifest.layers) > MAX_SIGNATURES:
        raise SignatureError(f"{where}: {len(manifest.layers)} signatures, more than the "
                             f"{MAX_SIGNATURES} allowed", reason="too-large")
    if manifest.config.size > MAX_SIGNATURE_MANIFEST_BYTES:
        raise SignatureError(f"{where}: signature manifest config is {manifest.config.size} "
                             "bytes", reason="too-large")
    entries = tuple(Entry(layer, layer.annotations.get(SIGNATURE_ANNOTATION, ""))
                    for layer in manifest.layers)
    for entry in entries:
        if entry.payload.media_type != mediatypes.COSIGN_SIMPLE_SIGNING:
            raise SignatureError(f"{where}: layer {entry.payload.digest} is not a signature "
                                 f"({entry.payload.media_type!r})", reason="garbled")
        if entry.payload.size > MAX_PAYLOAD_BYTES:
            raise SignatureError(f"{where}: signed payload {entry.payload.digest} is "
                                 f"{entry.payload.size} bytes, more than the "
                                 f"{MAX_PAYLOAD_BYTES} allowed", reason="too-large")
    return manifest, entries


def build_manifest(entries: tuple[Entry, ...]) -> tuple[Manifest, bytes]:
    """A signature manifest listing `entries`, and its config blob."""
    config = config_for(tuple(e.payload.digest for e in entries))
    layers = tuple(Descriptor(mediatypes.COSIGN_SIMPLE_SIGNING, e.payload.digest,
                              e.payload.size, {SIGNATURE_ANNOTATION: e.signature})
                   for e in entries)
    config_descriptor = Descriptor(mediatypes.OCI_CONFIG, sha256_digest(config), len(config))
    return Manifest(mediatypes.OCI_MANIFEST, config_descriptor, layers), config


def config_for(payloads: tuple[str, ...]) -> bytes:
    """The config of a signature manifest with these payload layers, as ecli writes it:
    go-containerregistry's empty image with one history item and diff_id per layer.
    A pull rebuilds it instead of asking for it when its digest matches."""
    return json.dumps({
        "architecture": "", "created": _ZERO_TIME,
        "history": [{"created": _ZERO_TIME} for _ in payloads], "os": "",
        "rootfs": {"type": "layers", "diff_ids": list(payloads)},
        "config": {}}, separators=(",", ":")).encode()


def payload_entry(data: bytes, signature: bytes) -> Entry:
    """A new layer: `data` (a payload) signed with `signature`."""
    return Entry(Descriptor(mediatypes.COSIGN_SIMPLE_SIGNING, sha256_digest(data), len(data)),
                 base64.b64encode(signature).decode())
