"""index/lock.json: the digests CI resolved for every version, with one owner.

    {"schema_version": 1,
     "packages": {NAME: {VERSION: {"ref": REF, "digest": "sha256:...",
                                   "resolved": "2025-01-01T00:00:00Z",
                                   "signer": "sha256:...", "signature": "sha256:..."}}}}

`signer` (the fingerprint of the entry's key, or a keyless signer's
`IDENTITY (issuer ISSUER)` as `model.Signer.name` spells it) and `signature` (the digest of
the cosign signature manifest that verified) are there only for an entry that
declares a signer, once `generator.signing` has checked that version: a
version whose digest and signer are unchanged is not verified again.

The lock is what makes builds reproducible and cheap: a version whose ref is
unchanged keeps its digest, so a rebuild asks the registry nothing. Written
atomically (temporary file, fsync, rename) with sorted keys so diffs stay small.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ecli.errors import EcliError
from ecli.files import write_atomic
from ecli.oci.reference import check_digest
from ecli.text import control_characters
from generator.problems import GeneratorError, Problem

SCHEMA_VERSION = 1
LOCK_FILE = "lock.json"


@dataclass(frozen=True)
class Locked:
    ref: str
    digest: str
    resolved: str
    signer: str | None = None
    signature: str | None = None


Lock = dict[str, dict[str, Locked]]


def read(path: Path) -> Lock:
    """The lock at `path`, or an empty lock if there is none yet."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise _error(path, f"cannot read the lock: {exc.strerror}") from None
    return parse(raw, path)


def parse(raw: bytes, path: Path | str) -> Lock:
    """A lock from its bytes (e.g. the base revision's, read with git); `path` names it."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _error(path, f"the lock is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise _error(path, f"the lock is not a version {SCHEMA_VERSION} lock file")
    lock: Lock = {}
    try:
        for name, versions in data["packages"].items():
            lock[name] = {
                version: Locked(str(item["ref"]), check_digest(str(item["digest"])),
                                str(item["resolved"]), _signer(item),
                                _optional_digest(item, "signature"))
                for version, item in versions.items()
            }
    except (KeyError, TypeError, AttributeError, ValueError, EcliError) as exc:
        raise _error(path, f"the lock is malformed ({exc})") from None
    return lock


def write(path: Path, lock: Lock) -> None:
    """Replace the lock atomically: readers see the old file or the new one."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "packages": {
            name: {version: _record(item) for version, item in sorted(versions.items())}
            for name, versions in sorted(lock.items())
        },
    }
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def _record(item: Locked) -> dict[str, str]:
    record = {"ref": item.ref, "digest": item.digest, "resolved": item.resolved}
    if item.signer and item.signature:
        record.update(signer=item.signer, signature=item.signature)
    return record


def _optional_digest(item: dict[str, object], key: str) -> str | None:
    value = item.get(key)
    return check_digest(value) if isinstance(value, str) else None


def _signer(item: dict[str, object]) -> str | None:
    """A key's fingerprint (a digest) or a keyless signer's name: one line of text."""
    value = item.get("signer")
    if not isinstance(value, str):
        return None
    if value.startswith("sha256:"):
        return check_digest(value)
    if not value.strip():
        raise ValueError("the signer is empty")
    if found := control_characters(value):
        raise ValueError(f"the signer has a control character ({found[0][1]})")
    return value


def _error(path: Path | str, message: str) -> GeneratorError:
    return GeneratorError([Problem(str(path), 1, 1, "", message, code="lock",
                                   hint="restore it from Git, or delete it and run "
                                   "`python -m generator resolve`")])
