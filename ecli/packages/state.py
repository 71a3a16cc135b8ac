"""The installed packages: one small versioned JSON file, one owner (this module).

    {"schema_version": 1,
     "packages": {"opensnoop": {"name": ..., "version": ..., "digest": ...,
                                "reference": ..., "source": ..., "kind": ...,
                                "requested": "^0.1" | null,
                                "installed_at": "2026-...Z"}}}

Readers take it as it is (a rename makes every write atomic, so a reader
sees the old file or the new). Writers hold an exclusive `fcntl` lock on a
separate lock file for the whole read-modify-write, so two `ecli install`
at once serialise instead of losing one another's record, and a writer
killed with -9 leaves the previous file intact (the kernel drops its lock).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

from ecli.errors import StateError
from ecli.files import locked, write_atomic
from ecli.paths import Paths

SCHEMA_VERSION = 1


class Installed(NamedTuple):
    name: str
    version: str
    digest: str  # the manifest digest installed (what runs)
    reference: str  # registry reference pulled, repository@digest when known
    source: str  # index source name, or "registry" / "file"
    kind: str
    requested: str | None = None  # the version or range the user asked for
    installed_at: str = ""

    @property
    def pull_reference(self) -> str:
        """A reference pinned to the installed digest, whatever was typed."""
        repository = self.reference.split("@", 1)[0]
        last = repository.rsplit("/", 1)[-1]
        if ":" in last:
            repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
        return f"{repository}@{self.digest}"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read(paths: Paths) -> dict[str, Installed]:
    path = paths.state_file
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    return _parse(raw, str(path))


def _parse(raw: bytes, where: str) -> dict[str, Installed]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise StateError(f"{where}: the state file is not JSON ({exc})",
                         hint="restore it from a backup, or delete it and install again"
                         ) from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        version = data.get("schema_version") if isinstance(data, dict) else None
        raise StateError(f"{where}: state schema_version {version!r} is not supported "
                         f"(this ecli reads {SCHEMA_VERSION})", hint="upgrade ecli")
    packages = data.get("packages")
    if not isinstance(packages, dict):
        raise StateError(f"{where}: has no 'packages' object")
    result = {}
    for name, item in packages.items():
        try:
            result[name] = Installed(**item)
        except TypeError as exc:
            raise StateError(f"{where}: entry {name!r} is malformed ({exc})") from None
    return result


@contextlib.contextmanager
def transaction(paths: Paths) -> Iterator[dict[str, Installed]]:
    """Lock, read, let the caller change the dict, write it back atomically."""
    with locked(paths.state_dir / ".lock"):
        packages = read(paths)
        yield packages
        _write(paths, packages)


def _write(paths: Paths, packages: dict[str, Installed]) -> None:
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "packages": {name: record._asdict() for name, record in sorted(packages.items())},
    }
    write_atomic(paths.state_file, json.dumps(data, indent=2).encode() + b"\n")
