"""Verifying a hub package against the signer its index entry declares, before it is used.

Called by `locate` for every package located through an index (pull, install,
run, and the run of an installed package), after the artifact is in the store
and before anything runs or is recorded: the signature `ecli pull` kept beside
the artifact is checked offline (`ecli.trust.verify.verify_stored_signature`),
so a cached run asks no network. The source's policy decides the rest:
`off` checks nothing; `warn` (default) lets an unsigned package through with a
warning; `require` refuses it. A declared signer whose signature does not hold
is refused under `warn` and `require` alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecli.errors import SignatureError
from ecli.oci.reference import OciReference

if TYPE_CHECKING:
    from ecli.hubindex.model import PackageDocument, Version
    from ecli.oci.store import Store
    from ecli.packages.sources import Source


def check(source: Source, document: PackageDocument, version: Version, ref: OciReference,
          store: Store) -> list[str]:
    """The warnings to show; a SignatureError naming package and version when refused."""
    what = f"{document.name} {version.version}"
    if source.signatures == "off":
        return []
    if document.signer is None:
        if source.signatures == "require":
            raise SignatureError(f"{what}: unsigned (its index entry declares no signer), and "
                                 f"source {source.name} requires signatures",
                                 reason="unsigned", hint="ask its publisher to sign it, or "
                                 f"ecli sources add {source.name} ... --signatures warn")
        return [f"{what} is unsigned: its index entry declares no signer (source "
                f"{source.name})"]
    from ecli.trust.keys import parse_public
    from ecli.trust.verify import verify_stored_signature

    key = parse_public(document.signer.key.encode(), f"{source.name}: {document.name}'s signer")
    if key.fingerprint() != document.signer.fingerprint:
        raise SignatureError(f"{what}: the index's signer key does not match its fingerprint "
                             f"{document.signer.fingerprint}", reason="key")
    try:
        verify_stored_signature(store, ref, key)
    except SignatureError as exc:
        raise SignatureError(f"{what}: signature refused: {exc.message}", reason=exc.reason,
                             hint=f"the index ({source.name}) says it is signed by "
                             f"{document.signer.fingerprint}") from None
    return []
