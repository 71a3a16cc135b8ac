"""Verifying a hub package against the signer its index entry declares, before it is used.

Called by `locate` for every package located through an index (pull, install,
run, and the run of an installed package), after the artifact is in the store
and before anything runs or is recorded: the signature `ecli pull` kept beside
the artifact is checked offline (`ecli.trust.verify.verify_stored_signature`),
so a cached run asks no network. The source's policy decides the rest:
`off` checks nothing; `warn` (default) lets an unsigned package through with a
warning; `require` refuses it. A declared signer whose signature does not hold
is refused under `warn` and `require` alike.

A check that held is remembered (`Paths.verified_dir`), keyed by the sha256 of
the repository, the signed digest, the signatures' digests and the signer's
name (key fingerprint, or identity and issuer): content addresses, so the same
bytes are not checked twice, and importing `cryptography` (about 20 ms; 250 ms
for sigstore-python's keyless check) is spared to cached runs.
Any change of signature, artifact or key is another key, checked afresh.

The verdict names the signer whose signature held, so `ecli run` can tell a
bundle or image its declared publisher signed from one anybody could have pushed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ecli.errors import SignatureError
from ecli.oci.reference import OciReference

if TYPE_CHECKING:
    from ecli.hubindex.model import PackageDocument, Signer, Version
    from ecli.oci.store import Store
    from ecli.packages.sources import Source
    from ecli.trust import verify


class Verdict(NamedTuple):
    warnings: list[str]
    signer: str | None = None  # the declared signer whose signature held (`Signer.name`)


def check(source: Source, document: PackageDocument, version: Version, ref: OciReference,
          store: Store, verified_dir: Path) -> Verdict:
    """The warnings to show and who signed; a SignatureError naming package and version
    when refused."""
    what = f"{document.name} {version.version}"
    signer = _to_check(source, document, what)
    if isinstance(signer, Verdict):
        return signer
    from ecli.trust.verify import stored_signature, verify_stored_signature

    found = stored_signature(store, ref)
    memo = verified_dir / _memo_name(ref.name, found, signer.name) if found else None

    def verify() -> None:
        with _refusal(what, source, document):
            verify_stored_signature(store, ref, declared(signer, _where(source, document)))

    return _checked_once(memo, signer, verify)


def signature_hint(source: Source, document: PackageDocument, version: Version) -> str | None:
    """What `registry.pull` should fetch of a version's signatures: the signature manifest
    the hub verified (its digest, two requests), none when nothing will be checked (""),
    or, with a signer but no recorded digest, whatever the registry has (None)."""
    if document.signer is None or source.signatures == "off":
        return ""
    return version.signature


def check_image(source: Source, document: PackageDocument, version: Version,
                ref: OciReference, verified_dir: Path, *, offline: bool) -> Verdict:
    """`check` for a kind `image` package, which podman or docker pulls, not ecli: its
    signatures are read from the registry into a scratch store (nothing kept) unless a
    check of the same digest, signature and signer held before (then no network)."""
    what = f"{document.name} {version.version}"
    signer = _to_check(source, document, what)
    if isinstance(signer, Verdict):
        return signer
    memo = verified_dir / _memo_name(ref.name, (ref.digest or "", version.signature or ""),
                                     signer.name) if version.signature else None

    def verify() -> None:
        if offline:
            raise SignatureError(f"{what}: its signature is not checked yet, and nothing may "
                                 "be pulled (--pull never)", reason="no-signature",
                                 hint=f"run it once with --pull missing to check {signer.name}")
        from ecli.trust.verify import verify_registry_signature

        with _refusal(what, source, document):
            verify_registry_signature(ref, declared(signer, _where(source, document)))

    return _checked_once(memo, signer, verify)


def _checked_once(memo: Path | None, signer: Signer, verify: Callable[[], None]) -> Verdict:
    """`verify`, unless `memo` says the same check (same bytes, same signer) held before;
    remembered when it holds."""
    if memo is None or not memo.exists():
        verify()
        if memo is not None:
            from ecli.files import write_atomic

            write_atomic(memo, b"")  # creates verified_dir when missing
    return Verdict([], signer.name)


def _to_check(source: Source, document: PackageDocument, what: str) -> Signer | Verdict:
    """The declared signer to check against, or the verdict when there is nothing to
    check (policy off, or no signer declared)."""
    if source.signatures == "off":
        return Verdict([])
    signer = document.signer
    if signer is not None:
        from ecli.trust.keys import pem_fingerprint

        if signer.key is not None and pem_fingerprint(signer.key) != signer.fingerprint:
            raise SignatureError(f"{what}: the index's signer key does not match its "
                                 f"fingerprint {signer.fingerprint}", reason="key")
        return signer
    if source.signatures == "require":
        raise SignatureError(f"{what}: unsigned (its index entry declares no signer), and "
                             f"source {source.name} requires signatures",
                             reason="unsigned", hint="ask its publisher to sign it, or "
                             f"ecli sources add {source.name} ... --signatures warn")
    return Verdict([f"{what} is unsigned: its index entry declares no signer (source "
                    f"{source.name})"])


@contextmanager
def _refusal(what: str, source: Source, document: PackageDocument) -> Iterator[None]:
    """A signature that does not hold, named with the package and the declared signer."""
    assert document.signer is not None
    try:
        yield
    except SignatureError as exc:
        raise SignatureError(f"{what}: signature refused: {exc.message}", reason=exc.reason,
                             hint=f"the index ({source.name}) says it is signed by "
                             f"{document.signer.name}") from None


def _where(source: Source, document: PackageDocument) -> str:
    return f"{source.name}: {document.name}'s signer"


def declared(signer: Signer, where: str) -> verify.Signer:
    """What `ecli.trust.verify` checks against: the key, or the identity and issuer."""
    from ecli.trust.keyless import Identity
    from ecli.trust.keys import parse_public

    if signer.key is not None:
        return parse_public(signer.key.encode(), where)
    assert signer.identity is not None and signer.issuer is not None
    return Identity(signer.identity, signer.issuer)


def _memo_name(repository: str, found: tuple[str, str], fingerprint: str) -> str:
    signed, manifest = found
    return hashlib.sha256(f"{repository}\n{signed}\n{manifest}\n{fingerprint}".encode()
                          ).hexdigest()
