"""A source's signed index: the root checked against the pinned hub key, every document
against the root, and no root older than one already accepted.

The hub signs its root (`index.json`), which lists the sha256 and size of
every other api/v1 document (`ecli.hubindex.model`). A source pins the key
(`ecli sources add --key FILE`, or the first signed root seen: trust on
first use). Then a root is accepted only when signed by that key and not
older than the last one accepted from that source (kept in the state
folder: clearing the cache does not forget it); a pinned source that serves
an unsigned root is refused (a downgrade), and a document whose bytes differ
from what the root lists is refused before it is stored or used. So a mirror
or CDN that alters a catalog or package document (to point ecli at another
digest), or serves an old signed root, is caught, naming the source.

A source that never served a signed root, and has no key pinned, is read as
before: unsigned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import NamedTuple

from ecli.errors import IndexTrustError, SignatureError, SourceError
from ecli.files import locked, write_atomic
from ecli.hubindex import model
from ecli.packages.sources import Source


class CheckedRoot(NamedTuple):
    root: model.Root
    first_use: model.Signer | None  # a hub key seen for the first time: the caller pins it


def check_root(source: Source, raw: bytes, where: str, accepted: int) -> CheckedRoot:
    """The root in `raw`, checked against `source`'s pinned key and the last version
    `accepted` from it; IndexTrustError naming the source when it fails."""
    pinned = source.hub_key is not None and source.hub_key_fingerprint is not None
    try:
        signed = model.load_signed_root(raw, where)
    except SourceError as exc:
        if pinned:  # a root that cannot be read cannot be checked: refused, not skipped
            raise IndexTrustError(f"source {source.name}: {exc.message}", hint=exc.hint) from None
        raise
    root, named = signed.root, f"source {source.name}: {where}"
    if not pinned:
        if not signed.signatures:
            return CheckedRoot(root, None)  # unsigned, and no key pinned: as before
        if root.signer is None:
            raise IndexTrustError(f"{named}: signed, but names no hub key")
        _verify(signed, root.signer, named, pinned=False)
        first_use: model.Signer | None = root.signer
    else:
        if not signed.signatures:
            raise IndexTrustError(
                f"{named} is unsigned, but hub key {source.hub_key_fingerprint} is pinned for "
                "this source: refusing the downgrade",
                hint=f"if the hub stopped signing: ecli sources add {source.name} "
                f"{source.location}")
        assert source.hub_key is not None and source.hub_key_fingerprint is not None
        _verify(signed, model.Signer(source.hub_key, source.hub_key_fingerprint), named,
                pinned=True)
        first_use = None
    if root.version < accepted:
        raise IndexTrustError(f"{named} is version {root.version}, older than version "
                              f"{accepted} accepted before: refusing a replayed root")
    return CheckedRoot(root, first_use)


def check_document(source: Source, root: model.Root, relative: str, raw: bytes) -> None:
    """`raw`, the document at `relative`, is what the root lists; nothing to check for an
    unsigned root that lists nothing (a hub that predates the signed index)."""
    listed = root.documents.get(relative)
    if listed is None:
        if root.documents or root.signer is not None:
            raise IndexTrustError(f"source {source.name}: {relative} is not listed in its "
                                  f"signed {model.ROOT_FILE}: refused")
        return
    sha256 = hashlib.sha256(raw).hexdigest()
    if sha256 != listed.sha256 or len(raw) != listed.size:
        shown = f"{len(raw)}+" if len(raw) > listed.size else str(len(raw))
        raise IndexTrustError(
            f"source {source.name}: {relative} does not match its signed {model.ROOT_FILE} "
            f"(got sha256 {sha256[:16]}…, {shown} bytes; listed sha256 {listed.sha256[:16]}…, "
            f"{listed.size} bytes): refused, nothing stored",
            hint="a mirror, proxy or CDN altered it, or the hub is mid-deploy: retry later")


def matches(root: model.Root, relative: str, path: Path) -> bool:
    """Whether the file at `path` holds the bytes the root lists for `relative`."""
    listed = root.documents.get(relative)
    try:
        if listed is None or path.stat().st_size != listed.size:
            return False
        return hashlib.sha256(path.read_bytes()).hexdigest() == listed.sha256
    except OSError:
        return False


def read_limit(root: model.Root, relative: str) -> int:
    """How many bytes to read of `relative`: its listed size (one more tells "too large")."""
    listed = root.documents.get(relative)
    return model.MAX_DOCUMENT_BYTES if listed is None else min(listed.size,
                                                                model.MAX_DOCUMENT_BYTES)


def accepted(versions_file: Path, name: str) -> int:
    """The highest root version accepted from source `name`; 0 when none yet."""
    value = _versions(versions_file).get(name, 0)
    return value if isinstance(value, int) else 0


def accept(versions_file: Path, name: str, version: int) -> None:
    """Remember `version` as accepted from `name` (never lowering what is kept)."""
    with locked(versions_file.with_name(versions_file.name + ".lock")):
        versions = _versions(versions_file)
        if version > versions.get(name, 0):
            versions[name] = version
            write_atomic(versions_file, json.dumps(versions, sort_keys=True).encode())


def forget(versions_file: Path, name: str) -> None:
    """Drop what was accepted from `name`: the source is being replaced."""
    with locked(versions_file.with_name(versions_file.name + ".lock")):
        versions = _versions(versions_file)
        if versions.pop(name, None) is not None:
            write_atomic(versions_file, json.dumps(versions, sort_keys=True).encode())


def _versions(versions_file: Path) -> dict[str, int]:
    try:
        data = json.loads(versions_file.read_bytes())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, int)} if isinstance(data, dict) \
        else {}


def _verify(signed: model.SignedRoot, key: model.Signer, named: str, *, pinned: bool) -> None:
    """One of the root's signatures is `key`'s over the root's payload."""
    from ecli.trust.keys import parse_public

    whose = "the pinned hub key" if pinned else "the hub key it names"
    try:
        public = parse_public(key.key.encode(), f"{named}: hub key")
    except SignatureError as exc:
        raise IndexTrustError(exc.message) from None
    if public.fingerprint() != key.fingerprint:
        raise IndexTrustError(f"{named}: {whose} is not {key.fingerprint}")
    signatures = [s for s in signed.signatures if s.keyid == key.fingerprint]
    if not signatures:
        others = ", ".join(sorted({s.keyid for s in signed.signatures}))
        raise IndexTrustError(f"{named} is not signed by {whose} {key.fingerprint} "
                              f"(signed by {others[:200]}): refused",
                              hint="if the hub changed its key, check the new one and pin it: "
                              "ecli sources add NAME URL --key FILE")
    for signature in signatures:
        try:
            raw = base64.b64decode(signature.sig, validate=True)
        except (binascii.Error, ValueError):
            continue
        if public.verifies(raw, signed.payload):
            return
    raise IndexTrustError(f"{named}: its signature by {whose} {key.fingerprint} does not "
                          "verify: refused")
