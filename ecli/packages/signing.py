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
the repository, the signed digest, the signature manifest's digest and the
key's fingerprint: all content addresses, so the same bytes are not checked
twice, and importing `cryptography` (about 20 ms) is spared to cached runs.
Any change of signature, artifact or key is another key, checked afresh.

The verdict names the signer whose signature held, so `ecli run` can tell a
bundle or image its declared publisher signed from one anybody could have pushed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ecli.errors import SignatureError
from ecli.oci.reference import OciReference

if TYPE_CHECKING:
    from ecli.hubindex.model import PackageDocument, Version
    from ecli.oci.store import Store
    from ecli.packages.sources import Source


class Verdict(NamedTuple):
    warnings: list[str]
    signer: str | None = None  # the fingerprint of the declared signer whose signature held


def check(source: Source, document: PackageDocument, version: Version, ref: OciReference,
          store: Store, verified_dir: Path) -> Verdict:
    """The warnings to show and who signed; a SignatureError naming package and version
    when refused."""
    what = f"{document.name} {version.version}"
    if source.signatures == "off":
        return Verdict([])
    if document.signer is None:
        if source.signatures == "require":
            raise SignatureError(f"{what}: unsigned (its index entry declares no signer), and "
                                 f"source {source.name} requires signatures",
                                 reason="unsigned", hint="ask its publisher to sign it, or "
                                 f"ecli sources add {source.name} ... --signatures warn")
        return Verdict([f"{what} is unsigned: its index entry declares no signer (source "
                        f"{source.name})"])
    from ecli.trust.keys import pem_fingerprint
    from ecli.trust.verify import stored_signature

    if pem_fingerprint(document.signer.key) != document.signer.fingerprint:
        raise SignatureError(f"{what}: the index's signer key does not match its fingerprint "
                             f"{document.signer.fingerprint}", reason="key")
    found = stored_signature(store, ref)
    memo = verified_dir / _memo_name(ref.name, found, document.signer.fingerprint) \
        if found else None
    signed = Verdict([], document.signer.fingerprint)
    if memo is not None and memo.exists():
        return signed
    _verify(what, source, document, ref, store)
    if memo is not None:
        from ecli.files import write_atomic

        write_atomic(memo, b"")  # creates verified_dir when missing
    return signed


def _verify(what: str, source: Source, document: PackageDocument, ref: OciReference,
            store: Store) -> None:
    from ecli.trust.keys import parse_public
    from ecli.trust.verify import verify_stored_signature

    assert document.signer is not None
    key = parse_public(document.signer.key.encode(), f"{source.name}: {document.name}'s signer")
    try:
        verify_stored_signature(store, ref, key)
    except SignatureError as exc:
        raise SignatureError(f"{what}: signature refused: {exc.message}", reason=exc.reason,
                             hint=f"the index ({source.name}) says it is signed by "
                             f"{document.signer.fingerprint}") from None


def _memo_name(repository: str, found: tuple[str, str], fingerprint: str) -> str:
    signed, manifest = found
    return hashlib.sha256(f"{repository}\n{signed}\n{manifest}\n{fingerprint}".encode()
                          ).hexdigest()
