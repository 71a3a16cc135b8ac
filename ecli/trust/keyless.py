"""Keyless signatures: a Sigstore bundle whose Fulcio certificate names who signed.

The identity (the certificate's SAN: an e-mail, or a CI workflow's URL such as
`https://github.com/ORG/REPO/.github/workflows/release.yml@refs/tags/v1`) and the
OIDC issuer (`https://token.actions.githubusercontent.com`) are what the signer
proved to Fulcio when it signed; the certificate chains to Fulcio's root and the
signature was logged in Rekor while the certificate was valid. sigstore-python
checks all of that against the production trust root it ships (TUF's
`trusted_root.json`), read from the installed package: OFFLINE, never refreshed
over the network, never written to the user's cache. It is imported only here,
only when a keyless bundle is checked (about 250 ms), so nothing else pays for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from ecli.errors import SignatureError
from ecli.trust.bundle import Bundle, check_statement

_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"  # DER UTF8String
_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"  # raw bytes (older certificates)
_PRODUCTION = "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"


@dataclass(frozen=True)
class Identity:
    """A keyless signer: the certificate identity and the OIDC issuer, matched exactly,
    except that the ref after the identity's last `@` may hold `*` wildcards: a CI
    workflow's identity names the tag it ran for (`...release.yml@refs/tags/v1.2.0`),
    so an entry declares `...release.yml@refs/tags/v*` once for all its versions.
    Everything before that `@` (host, owner, repository, workflow) is matched exactly."""

    identity: str
    issuer: str

    @property
    def where(self) -> str:
        return f"{self.identity} (issuer {self.issuer})"

    def matches(self, identity: str) -> bool:
        if "*" not in self.identity:
            return identity == self.identity
        from fnmatch import fnmatchcase

        prefix, _, ref = self.identity.rpartition("@")
        theirs, _, their_ref = identity.rpartition("@")
        return bool(prefix) and "*" not in prefix and theirs == prefix \
            and fnmatchcase(their_ref, ref)


def verify(bundle: Bundle, signer: Identity, repository: str, digest: str, where: str) -> None:
    """The bundle's certificate names `signer`, chains to Fulcio, was logged in Rekor, and its
    signature covers `digest`; otherwise a SignatureError saying which failed."""
    if not bundle.keyless:
        raise SignatureError(f"{where}: the bundle is signed with a key, not a certificate "
                             f"for {signer.identity}", reason="wrong-identity")
    from sigstore.errors import Error as SigstoreError
    from sigstore.hashes import HashAlgorithm, Hashed
    from sigstore.models import Bundle as SigstoreBundle
    from sigstore.verify import policy

    try:
        parsed = SigstoreBundle.from_json(bundle.raw)
    except (SigstoreError, ValueError, TypeError, KeyError):
        raise SignatureError(f"{where}: not a valid Sigstore bundle", reason="garbled") from None
    identity, issuer = certificate_identity(parsed.signing_certificate)
    if not signer.matches(identity):
        raise SignatureError(f"{where}: signed by {identity}, not {signer.identity}",
                             reason="wrong-identity")
    if issuer != signer.issuer:
        raise SignatureError(f"{where}: identity issued by {issuer}, not {signer.issuer}",
                             reason="wrong-issuer")
    # sigstore-python checks the issuer again, and the identity too when it is exact
    wanted = policy.OIDCIssuer(signer.issuer) if "*" in signer.identity \
        else policy.Identity(identity=signer.identity, issuer=signer.issuer)
    if bundle.envelope is None and bundle.message_digest != digest:
        raise SignatureError(f"{where}: the bundle is for another digest, "
                             f"{bundle.message_digest}", reason="other-digest")
    try:
        if bundle.envelope is None:
            _verifier().verify_artifact(
                Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(digest[7:])),
                parsed, wanted)
            return
        payload_type, payload = _verifier().verify_dsse(parsed, wanted)
    except SigstoreError as exc:
        raise _refused(exc, where) from None
    check_statement(payload_type, payload, repository, digest, where)


def certificate_identity(certificate: Any) -> tuple[str, str]:
    """(SAN, OIDC issuer) of a Fulcio certificate, as cosign's flags name them."""
    from cryptography import x509

    try:
        names = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
        identity = next(str(n.value) for n in names)
    except (x509.ExtensionNotFound, StopIteration):
        identity = ""
    issuer = ""
    for extension in certificate.extensions:
        value = getattr(extension.value, "value", b"")
        if extension.oid.dotted_string == _ISSUER_V2:
            issuer = _der_utf8(value)
            break
        if extension.oid.dotted_string == _ISSUER_V1:
            issuer = value.decode("utf-8", "replace")
    return identity, issuer


def _der_utf8(value: bytes) -> str:
    """The text of a DER UTF8String (tag 0x0c, short or long length)."""
    if len(value) < 2 or value[0] != 0x0C:
        return ""
    length, start = value[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, start = int.from_bytes(value[2:2 + count], "big"), 2 + count
    return value[start:start + length].decode("utf-8", "replace")


def _refused(exc: Exception, where: str) -> SignatureError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return SignatureError(f"{where}: the bundle does not verify ({first})", reason="invalid")


@cache
def _verifier() -> Any:
    """sigstore-python's verifier on the production trust root it ships: no network."""
    from importlib import resources

    from sigstore import _store
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    path = resources.files(_store).joinpath(_PRODUCTION, "trusted_root.json")
    with resources.as_file(path) as file:
        return Verifier(trusted_root=TrustedRoot.from_file(str(file)))
