"""Signing keys: reading them, signing and checking bytes, making a pair.

The only importer of `cryptography`, and only inside these functions: ecli's
other commands never pay for it (`python -X importtime -m ecli --help`).
Public keys are PEM SubjectPublicKeyInfo, ECDSA P-256 (signatures over the
SHA-256 of the message, ASN.1 DER, as cosign makes them) or ed25519 (over the
message itself). Private keys: PKCS#8 or SEC 1 PEM, unencrypted, or cosign's
own encrypted file (`cosign generate-key-pair`, read by `cosign_key`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecli.errors import SignatureError
from ecli.files import write_atomic

MAX_KEY_FILE_BYTES = 64 << 10
PASSWORD_ENV = "COSIGN_PASSWORD"


@dataclass(frozen=True)
class PublicKey:
    """A key that checks signatures; `where` names its file in messages."""

    key: Any  # EllipticCurvePublicKey (P-256) or Ed25519PublicKey
    where: str

    def verifies(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                self.key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            else:
                self.key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def fingerprint(self) -> str:
        """`sha256:HEX` of the SubjectPublicKeyInfo DER: the one name of a signer that
        the index, api/v1, the site and ecli's messages share."""
        from cryptography.hazmat.primitives import serialization

        return _spki_fingerprint(self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))

    def pem(self) -> str:
        """The key as PEM text (SubjectPublicKeyInfo), as api/v1 publishes a signer's."""
        from cryptography.hazmat.primitives import serialization

        return self.key.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class PrivateKey:
    key: Any  # EllipticCurvePrivateKey (P-256) or Ed25519PrivateKey
    where: str

    def sign(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(message, ec.ECDSA(hashes.SHA256()))
        return self.key.sign(message)

    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key(), self.where)


def pem_fingerprint(pem: str) -> str | None:
    """`PublicKey.fingerprint` read from the PEM text alone (its body is the SPKI DER), so
    a cached run can name a key without importing `cryptography`; None if not PEM."""
    import base64
    import binascii

    lines = pem.strip().splitlines()
    if len(lines) < 3 or lines[0] != "-----BEGIN PUBLIC KEY-----" \
            or lines[-1] != "-----END PUBLIC KEY-----":
        return None
    try:
        der = base64.b64decode("".join(lines[1:-1]), validate=True)
    except binascii.Error:
        return None
    return _spki_fingerprint(der)


def _spki_fingerprint(der: bytes) -> str:
    import hashlib

    return f"sha256:{hashlib.sha256(der).hexdigest()}"


def load_public(path: Path) -> PublicKey:
    """A PEM public key file; anything else is a one-line SignatureError naming it."""
    return parse_public(_read(path), str(path))


def parse_public(data: bytes, where: str) -> PublicKey:
    """A PEM public key from its bytes (a file, or an index entry's `signer.key`);
    `where` names it in the one-line SignatureError when it is not one."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError):
        raise SignatureError(f"{where}: not a PEM public key", reason="key") from None
    _check_kind(key, where)
    return PublicKey(key, where)


def load_private(path: Path) -> PrivateKey:
    """A PEM private key file: PKCS#8 / SEC 1, or cosign's encrypted one (its password
    from COSIGN_PASSWORD, as cosign reads it)."""
    from cryptography.hazmat.primitives.serialization import (
        load_der_private_key,
        load_pem_private_key,
    )

    from ecli.trust import cosign_key

    data = _read(path)
    try:
        if cosign_key.is_cosign_key(data):
            password = os.environ.get(PASSWORD_ENV)
            if password is None:
                raise SignatureError(f"{path}: an encrypted cosign key: set {PASSWORD_ENV}",
                                     reason="key")
            key = load_der_private_key(cosign_key.decrypt(data, password.encode(), str(path)),
                                       None)
        else:
            key = load_pem_private_key(data, None)
    except (ValueError, TypeError):
        raise SignatureError(f"{path}: not an unencrypted PEM private key (PKCS#8 or SEC 1) "
                             "nor a cosign key", reason="key") from None
    _check_kind(key, path)
    return PrivateKey(key, str(path))


def generate(folder: Path, kind: str = "ecdsa-p256") -> tuple[Path, Path]:
    """Write a new pair, `ecli.key` (PKCS#8 PEM, mode 0600) and `ecli.pub`; refuse to
    overwrite either."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    private_path, public_path = folder / "ecli.key", folder / "ecli.pub"
    for path in (private_path, public_path):
        if path.exists():
            raise SignatureError(f"{path}: already exists; not overwriting a key",
                                 reason="key")
    key = ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" \
        else ec.generate_private_key(ec.SECP256R1())
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(private_path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), mode=0o600)
    write_atomic(public_path, key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read the key ({exc.strerror})",
                             reason="key") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise SignatureError(f"{path}: larger than a key file", reason="key")
    return data


def _check_kind(key: Any, path: Path | str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        if isinstance(key.curve, ec.SECP256R1):
            return
    elif isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return
    raise SignatureError(f"{path}: only ECDSA P-256 and ed25519 keys are supported",
                         reason="key")
