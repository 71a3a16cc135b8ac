"""Checking, at publish time, that every version of a signed entry is signed by its signer.

Runs right after `resolve`, in the same step (`python -m generator resolve`
and `build`), because that is when a version's digest becomes known and the
lock is written: the check reads the registry's cosign signature of the
locked digest through `ecli.trust` and records in the lock the signer's
fingerprint and the signature manifest's digest, which `emit` publishes in
api/v1. A version whose digest and signer are unchanged is not checked again
unless `refresh` (the scheduled re-check, so a signature that stops
verifying fails it). Entries without a signer are left alone: unsigned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ecli.errors import EcliError
from ecli.oci.reference import OciReference
from ecli.trust.keyless import Identity
from ecli.trust.keys import PublicKey, parse_public
from generator.entry import Entry, EntryVersion, Index
from generator.lock import Lock, Locked
from generator.problems import Problem

Signer = PublicKey | Identity
Checker = Callable[[OciReference, Signer], str]  # the signature manifest's digest
WORKERS = 8


def check(index: Index, lock: Lock, *, offline: bool = False, refresh: bool = False,
          checker: Checker | None = None) -> tuple[Lock, list[Problem], int]:
    """`lock` with each signed version's signer and signature recorded, the problems
    (one per version whose signature does not verify), and how many were checked."""
    wanted: list[tuple[Entry, EntryVersion, Signer, str, Locked]] = []
    new = {name: dict(versions) for name, versions in lock.items()}
    for entry in index.entries.values():
        if not entry.signed:
            continue
        key, fingerprint = _signer(entry)
        for version in entry.versions:
            locked = lock[entry.name][version.version]
            if locked.signer == fingerprint and locked.signature and not refresh:
                continue
            wanted.append((entry, version, key, fingerprint, locked))
    if offline:
        return new, [_problem(e, v, "its signature is not checked yet, and --offline forbids "
                              "asking the registry") for e, v, _, _, _ in wanted], 0
    ask = checker or _registry_checker
    with ThreadPoolExecutor(max_workers=max(1, min(WORKERS, len(wanted)))) as pool:
        answers = list(pool.map(lambda item: _ask(ask, item[1], item[4], item[2]), wanted))
    problems = []
    for (entry, version, _key, fingerprint, locked), (signature, error) in zip(
            wanted, answers, strict=True):
        if signature is None:
            problems.append(_problem(entry, version, f"the signature does not verify: {error}"))
        else:
            new[entry.name][version.version] = dataclasses.replace(
                locked, signer=fingerprint, signature=signature)
    return new, problems, len(wanted)


def _signer(entry: Entry) -> tuple[Signer, str]:
    """What the signatures are checked against, and its name in the lock (the key's
    fingerprint, or `IDENTITY (issuer ISSUER)`, as `model.Signer.name` spells it)."""
    if entry.signer_key is not None:
        key = parse_public(entry.signer_key.encode(), f"{entry.file}: signer.key")
        return key, key.fingerprint()
    assert entry.signer_identity is not None and entry.signer_issuer is not None
    identity = Identity(entry.signer_identity, entry.signer_issuer)
    return identity, identity.where


def _registry_checker(reference: OciReference, key: Signer) -> str:
    from ecli.trust.verify import verify_registry_signature  # the registry client: lazily

    return verify_registry_signature(reference, key).manifest


def _ask(checker: Checker, version: EntryVersion, locked: Locked,
         key: Signer) -> tuple[str | None, str | None]:
    reference = version.reference._replace(tag=None, digest=locked.digest)
    try:
        return checker(reference, key), None
    except EcliError as exc:
        return None, exc.message
    except OSError as exc:
        return None, str(exc)


def _problem(entry: Entry, version: EntryVersion, message: str) -> Problem:
    return Problem(entry.file, version.line, version.col, "ref",
                   f"{entry.name} {version.version}: {message}",
                   "sign that digest as the entry declares (ecli sign REF --key FILE, cosign "
                   "sign --key; keyless: cosign sign in the CI the identity names), or fix "
                   "signer", code="signature")
