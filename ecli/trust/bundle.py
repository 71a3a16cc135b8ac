"""Sigstore bundles (v0.3) that sign an OCI manifest digest: reading, key-based checks, making.

cosign v3 signs an image with a DSSE envelope around an in-toto statement whose
subject is the manifest digest (predicate type `cosign/sign/v1`); with a key the
bundle carries only that key's hint, with a certificate it is checked by
`ecli.trust.keyless` through sigstore-python. A bundle counts for a digest only
when its statement names that digest (and, when it names one, that repository);
a bundle signing a blob (`messageSignature`) counts when its message digest is
that digest. Pure JSON and `keys`: no sigstore-python here, so key-based bundles
cost what `.sig` signatures cost.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from ecli.errors import SignatureError
from ecli.oci import mediatypes
from ecli.trust.keys import PrivateKey, PublicKey

IN_TOTO = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
PREDICATE = "https://sigstore.dev/cosign/sign/v1"
MEDIA_TYPES = (mediatypes.SIGSTORE_BUNDLE, "application/vnd.dev.sigstore.bundle+json;version=0.3",
               "application/vnd.dev.sigstore.bundle+json;version=0.2")


@dataclass(frozen=True)
class Bundle:
    """The parts of a bundle ecli reads; `raw` is handed whole to sigstore-python."""

    raw: bytes
    keyless: bool  # a certificate (Fulcio), not a key hint
    envelope: dict[str, Any] | None  # the DSSE envelope, or None for a messageSignature
    message_digest: str | None  # sha256:HEX of a messageSignature bundle


def read(raw: bytes, where: str) -> Bundle:
    """A bundle's JSON; garbled, truncated or of another kind: a one-line SignatureError."""
    try:
        document = json.loads(raw)
        kind = document["mediaType"]
        material = document["verificationMaterial"]
        keyless = "certificate" in material or "x509CertificateChain" in material
        if not keyless and "publicKey" not in material:
            raise KeyError("publicKey")
        envelope = document.get("dsseEnvelope")
        message = document.get("messageSignature")
        digest = None
        if envelope is None:
            found = message["messageDigest"]
            if found["algorithm"] != "SHA2_256":
                raise ValueError(found["algorithm"])
            digest = "sha256:" + base64.b64decode(found["digest"], validate=True).hex()
        elif not isinstance(envelope, dict):
            raise TypeError("dsseEnvelope")
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError,
            binascii.Error):
        raise SignatureError(f"{where}: not a Sigstore bundle (garbled or truncated)",
                             reason="garbled") from None
    if kind not in MEDIA_TYPES:
        raise SignatureError(f"{where}: unsupported Sigstore bundle media type {kind!r}",
                             reason="garbled")
    return Bundle(raw, keyless, envelope, digest)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature is over."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def verify_with_key(bundle: Bundle, key: PublicKey, repository: str, digest: str,
                    where: str) -> None:
    """The key signed the envelope, and its statement names `digest` in `repository`."""
    if bundle.keyless or bundle.envelope is None:
        raise SignatureError(f"{where}: the bundle is not signed with a key (it carries a "
                             "certificate, or signs a blob)", reason="wrong-key")
    payload_type, payload, signatures = _envelope(bundle.envelope, where)
    message = pae(payload_type, payload)
    if not any(key.verifies(signature, message) for signature in signatures):
        raise SignatureError(f"{where}: bundle not signed by the key {key.where} (another "
                             "key, or an altered envelope)", reason="wrong-key")
    check_statement(payload_type, payload, repository, digest, where)


def check_statement(payload_type: str, payload: bytes, repository: str, digest: str,
                    where: str) -> None:
    """The signed in-toto statement names `digest` (and `repository`, when it names one)."""
    try:
        statement = json.loads(payload)
        subjects = statement["subject"]
        names = {(s.get("name") or "", "sha256:" + s["digest"]["sha256"]) for s in subjects}
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise SignatureError(f"{where}: the signed statement is not an in-toto statement",
                             reason="garbled") from None
    if payload_type != IN_TOTO or statement.get("_type") != STATEMENT_V1:
        raise SignatureError(f"{where}: the signed payload is not an in-toto statement "
                             f"({payload_type})", reason="garbled")
    matching = [name for name, signed in names if signed == digest]
    if not matching:
        others = ", ".join(sorted(signed for _, signed in names)) or "nothing"
        raise SignatureError(f"{where}: the bundle is for another digest, {others}",
                             reason="other-digest")
    if not any(not name or canonical(name) == canonical(repository) for name in matching):
        raise SignatureError(f"{where}: the bundle names another repository, {matching[0]}",
                             reason="other-repository")


def canonical(repository: str) -> str:
    """Docker Hub has two names; cosign writes index.docker.io."""
    host, _, rest = repository.partition("/")
    return f"docker.io/{rest}" if host in ("index.docker.io", "registry-1.docker.io") \
        else repository


def make(key: PrivateKey, repository: str, digest: str) -> bytes:
    """A key-based v0.3 bundle signing `digest` in `repository`, as `cosign sign --key`
    (v3, --tlog-upload=false) writes it: DSSE over an in-toto statement, the key's hint."""
    algorithm, hexdigest = digest.split(":", 1)
    statement = json.dumps({"_type": STATEMENT_V1,
                            "subject": [{"name": repository, "digest": {algorithm: hexdigest}}],
                            "predicateType": PREDICATE, "predicate": {}},
                           separators=(",", ":")).encode()
    signature = key.sign(pae(IN_TOTO, statement))
    hint = hint_of(key.public())
    return json.dumps({
        "mediaType": mediatypes.SIGSTORE_BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "dsseEnvelope": {"payload": base64.b64encode(statement).decode(),
                         "payloadType": IN_TOTO,
                         "signatures": [{"sig": base64.b64encode(signature).decode(),
                                         "keyid": ""}]}}, separators=(",", ":")).encode()


def key_hint(raw: bytes) -> str | None:
    """The key hint of a key-based bundle, to skip re-signing; None if there is none."""
    try:
        return json.loads(raw)["verificationMaterial"]["publicKey"]["hint"]
    except (ValueError, KeyError, TypeError):
        return None


def hint_of(key: PublicKey) -> str:
    """The key hint: base64 of the SHA-256 of the key's SubjectPublicKeyInfo."""
    return base64.b64encode(bytes.fromhex(key.fingerprint().removeprefix("sha256:"))).decode()


def _envelope(envelope: dict[str, Any], where: str) -> tuple[str, bytes, list[bytes]]:
    try:
        payload_type = envelope["payloadType"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [base64.b64decode(s["sig"], validate=True)
                      for s in envelope["signatures"][:8]]
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise SignatureError(f"{where}: the bundle's DSSE envelope is garbled",
                             reason="garbled") from None
    if not isinstance(payload_type, str) or not signatures:
        raise SignatureError(f"{where}: the bundle's DSSE envelope has no signature",
                             reason="garbled")
    return payload_type, payload, signatures
