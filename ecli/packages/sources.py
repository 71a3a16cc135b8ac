"""The configured sources: where ecli finds JSON indexes of packages.

A source is a name and a location: an `http(s)://` URL or a local folder
holding `index.json` (a mirror, or a hub built on this machine). Kept in one
small JSON file, written atomically.

Until that file exists, one source is configured: the public hub
(`DEFAULT_SOURCE_URL`, named `DEFAULT_SOURCE_NAME`, searched last). Adding a
source writes the file with the default kept in it; `ecli sources remove hub`
drops it; `ecli sources set-default URL` points it elsewhere (a mirror), and
`ECLI_DEFAULT_SOURCE` overrides it for one environment (empty: none).

Each source carries its signature policy (`ecli sources add ... --signatures`):
`warn` (the default) runs an unsigned package with a warning, `require`
refuses it, `off` checks nothing; a package whose entry declares a signer
and whose signature does not verify is refused unless `off`
(`ecli.packages.signing`).

Each may pin its hub key, the key that signs its index's root
(`ecli.packages.indextrust`): given with `ecli sources add ... --key FILE`,
or taken from the first signed root seen (trust on first use); the PEM and
its fingerprint are kept here, with how the pin was made.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import NamedTuple

from ecli.errors import NotFoundError, SourceError, UsageError
from ecli.files import write_atomic

SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_SOURCE_NAME = "hub"
DEFAULT_SOURCE_URL = "https://hub.ebpfhub.dev/api/v1/"
DEFAULT_PRIORITY = 1000
DEFAULT_ENV = "ECLI_DEFAULT_SOURCE"
SIGNATURE_POLICIES = ("require", "warn", "off")
DEFAULT_SIGNATURES = "warn"
PINNED_BY_KEY = "--key"
PINNED_ON_FIRST_USE = "first use"


class Source(NamedTuple):
    name: str
    location: str  # URL ending in '/', or an absolute folder path
    priority: int = 100  # lower is searched first
    signatures: str = DEFAULT_SIGNATURES  # one of SIGNATURE_POLICIES
    hub_key: str | None = None  # PEM of the pinned hub key; None: none pinned yet
    hub_key_fingerprint: str | None = None
    hub_key_pinned: str | None = None  # PINNED_BY_KEY or PINNED_ON_FIRST_USE

    @property
    def is_remote(self) -> bool:
        return self.location.startswith(("http://", "https://"))


def normalise_location(location: str) -> str:
    if location.startswith(("http://", "https://")):
        return location if location.endswith("/") else location + "/"
    if location.startswith("file://"):
        location = location[len("file://"):]
    if "://" in location:
        raise UsageError(f"{location!r}: a source is an http(s):// URL or a local folder")
    path = Path(location).expanduser().resolve()
    if path.is_file() and path.name == "index.json":
        path = path.parent
    if not (path / "index.json").is_file():
        raise NotFoundError(f"{location}: no index.json in that folder",
                            hint="point at the api/v1 folder of a built hub")
    return str(path)


def default_sources() -> list[Source]:
    """What is configured before the user configures anything."""
    location = os.environ.get(DEFAULT_ENV, DEFAULT_SOURCE_URL)
    if not location:
        return []
    return [Source(DEFAULT_SOURCE_NAME, normalise_location(location), DEFAULT_PRIORITY)]


def load(path: Path) -> list[Source]:
    if not path.exists():
        return default_sources()
    try:
        data = json.loads(path.read_bytes())
        sources = [Source(**item) for item in data["sources"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SourceError(f"{path}: cannot read the sources file ({exc})",
                          hint="fix or delete it, then add sources again") from None
    for source in sources:
        if source.signatures not in SIGNATURE_POLICIES:
            raise SourceError(f"{path}: source {source.name}: signatures "
                              f"{source.signatures!r} is not one of "
                              f"{', '.join(SIGNATURE_POLICIES)}",
                              hint=f"ecli sources add {source.name} {source.location} "
                              "--signatures warn")
    return sorted(sources, key=lambda s: (s.priority, s.name))


def save(path: Path, sources: list[Source]) -> None:
    data = {"sources": [s._asdict() for s in sources]}
    write_atomic(path, json.dumps(data, indent=2).encode() + b"\n")


def prepare(name: str, location: str, priority: int = 100,
            signatures: str = DEFAULT_SIGNATURES) -> Source:
    """The source `add` would save, checked, so its index can be read before it is."""
    if not SOURCE_NAME.match(name):
        raise UsageError(f"{name!r} is not a valid source name (letters, digits, . _ -)")
    if signatures not in SIGNATURE_POLICIES:
        raise UsageError(f"--signatures {signatures!r}: expected one of "
                         f"{', '.join(SIGNATURE_POLICIES)}")
    return Source(name, normalise_location(location), priority, signatures)


def add(path: Path, name: str, location: str, priority: int = 100,
        signatures: str = DEFAULT_SIGNATURES) -> Source:
    return keep(path, prepare(name, location, priority, signatures))


def keep(path: Path, source: Source) -> Source:
    """Save `source` (from `prepare`, perhaps with its hub key pinned), replacing its name."""
    sources = [s for s in load(path) if s.name != source.name]
    save(path, [*sources, source])
    return source


def pinned(source: Source, key: str, fingerprint: str, how: str) -> Source:
    """`source` with its hub key pinned (`how`: PINNED_BY_KEY or PINNED_ON_FIRST_USE)."""
    return source._replace(hub_key=key, hub_key_fingerprint=fingerprint, hub_key_pinned=how)


def pin(path: Path, source: Source, key: str, fingerprint: str) -> Source:
    """Pin the hub key first seen in `source`'s index (trust on first use) and save it."""
    return keep(path, pinned(source, key, fingerprint, PINNED_ON_FIRST_USE))


def remove(path: Path, name: str) -> None:
    sources = load(path)
    kept = [s for s in sources if s.name != name]
    if len(kept) == len(sources):
        raise NotFoundError(f"no source named {name!r}")
    save(path, kept)


def set_default(path: Path, location: str) -> Source:
    """Point the default source (`hub`) at `location`, keeping the other sources."""
    source = Source(DEFAULT_SOURCE_NAME, normalise_location(location), DEFAULT_PRIORITY)
    kept = [s for s in load(path) if s.name != DEFAULT_SOURCE_NAME]
    save(path, [*kept, source])
    return source
