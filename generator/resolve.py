"""Resolve each version's OCI reference to the digest of its manifest.

Only what the lock does not already know costs a request: a version whose ref
is unchanged keeps its locked digest, and a ref that names a digest needs no
request at all. A record's date (`resolved`, published as the version's
`published`) is kept while its digest is the same. So a rebuild with nothing
changed asks the registry nothing, and `--offline` works whenever the lock is
complete. Failures become problems naming the package and version; the
caller leaves the lock untouched then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ecli.errors import EcliError
from ecli.oci.reference import OciReference, check_digest
from generator.entry import Entry, EntryVersion, Index
from generator.lock import Lock, Locked
from generator.problems import Problem

Resolver = Callable[[OciReference], str]
WORKERS = 8
ATTEMPTS = 3
BACKOFF = 0.25  # seconds before the second attempt; doubled before each next one
_TRANSIENT = ("cannot reach", "did not answer", "HTTP 5", "HTTP 429")


@dataclass
class Resolution:
    lock: Lock
    problems: list[Problem] = field(default_factory=list)
    requests: int = 0
    changed: bool = False
    moved: list[str] = field(default_factory=list)  # "name version: old -> new"


def resolve(index: Index, old: Lock, *, offline: bool = False, refresh: bool = False,
            resolver: Resolver | None = None, fail_on_moved: bool = False) -> Resolution:
    """A new lock for exactly the index's versions; entries gone from the index drop out.

    `refresh` asks again for every reference, pinned digests included, so the
    scheduled re-resolve also notices artifacts that vanished. A tag that
    now names other content is listed in `moved`; with `fail_on_moved` it is a
    problem showing both digests, since a published version must not change.
    """
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    new: Lock = {}
    wanted: list[tuple[Entry, EntryVersion]] = []
    for entry in index.entries.values():
        locked_versions = old.get(entry.name, {})
        new[entry.name] = {}
        for version in entry.versions:
            known = locked_versions.get(version.version)
            if known is not None and known.ref != version.ref:
                known = None  # the entry now points elsewhere
            if version.reference.digest is not None and not (refresh and not offline):
                new[entry.name][version.version] = known or _record(
                    locked_versions.get(version.version), version.ref,
                    version.reference.digest, now)
            elif known is not None and (offline or not refresh):
                new[entry.name][version.version] = known
            else:
                wanted.append((entry, version))
    result = Resolution(new)
    if offline:
        result.problems = [_problem(entry, version, "not in the lock, and --offline forbids "
                                    "asking the registry",
                                    "run `python -m generator resolve` with network access")
                           for entry, version in wanted]
    elif wanted:
        ask = resolver or _registry_resolver()
        result.requests = len(wanted)
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(wanted))) as pool:
            answers = list(pool.map(lambda pair: _ask(ask, pair[1].reference), wanted))
        for (entry, version), (digest, error) in zip(wanted, answers, strict=True):
            if digest is not None:
                known = old.get(entry.name, {}).get(version.version)
                same_ref = known is not None and known.ref == version.ref
                if same_ref and known and known.digest != digest:
                    result.moved.append(f"{entry.name} {version.version}: {known.digest} -> "
                                        f"{digest}")
                    if fail_on_moved:
                        result.problems.append(_problem(
                            entry, version, f"the tag moved: {version.ref} was "
                            f"{known.digest} when published and is now {digest}",
                            "a published version must not change: push the old content "
                            "back under this tag, or yank the version", code="moved"))
                        new[entry.name][version.version] = known
                        continue
                unchanged = same_ref and known is not None and known.digest == digest
                new[entry.name][version.version] = (
                    known if unchanged and known else _record(
                        old.get(entry.name, {}).get(version.version), version.ref, digest, now))
            else:
                text = error if error and version.ref in error else (
                    f"cannot resolve {version.ref}: {error}")
                result.problems.append(_problem(entry, version, text,
                                                "check that the tag was pushed and the "
                                                "registry is reachable"))
    result.changed = new != old
    return result


def _record(before: Locked | None, ref: str, digest: str, now: str) -> Locked:
    """A version keeps the date it was first recorded while its digest stays the same
    (a ref rewritten to pin that digest is the same publication)."""
    same = before is not None and before.digest == digest
    return Locked(ref, digest, before.resolved if same and before else now)


def _registry_resolver() -> Resolver:
    """Imported lazily: validation and offline builds never load the registry client."""
    from ecli.oci.registry import resolve as registry_resolve

    return registry_resolve


def _ask(resolver: Resolver, reference: OciReference) -> tuple[str | None, str | None]:
    """The digest, retrying transient failures (unreachable, 5xx, 429) with back-off."""
    error = ""
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        try:
            return check_digest(resolver(reference)), None
        except EcliError as exc:
            error = exc.message
        except OSError as exc:
            error = str(exc)
        if not any(mark in error for mark in _TRANSIENT):
            break
    return None, error


def _problem(entry: Entry, version: EntryVersion, message: str, hint: str,
             code: str = "resolve") -> Problem:
    return Problem(entry.file, version.line, version.col, "ref",
                   f"{entry.name} {version.version}: {message}", hint, code=code)
