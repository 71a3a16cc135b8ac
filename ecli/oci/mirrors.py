"""Registry mirrors: pull `ghcr.io/x/y` from `127.0.0.1:5000/x/y` instead.

In the spirit of containers' registries.conf: a registry host maps to mirror
hosts, tried in order, and the registry itself last. The repository path and
the digest stay the same, and every byte is verified against the digest, so
a mirror cannot change what runs. Mirrors come from `mirrors.json` (what
`ecli mirrors add` writes) and then from the `registry_mirrors` of each
source's cached root document (what an operator's hub announces).
"""

from __future__ import annotations

import json
from pathlib import Path

from ecli.errors import NotFoundError, UsageError
from ecli.files import write_atomic
from ecli.oci.credentials import check_host
from ecli.paths import Paths


def configured(paths: Paths) -> dict[str, list[str]]:
    """The user's own mirrors (mirrors.json)."""
    path = paths.mirrors_file
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read the mirrors file ({exc})",
                         hint="fix or delete it") from None
    mirrors = data.get("mirrors") if isinstance(data, dict) else None
    if not isinstance(mirrors, dict) or not all(
            isinstance(v, list) and all(isinstance(h, str) for h in v) for v in mirrors.values()):
        raise UsageError(f"{path}: expected {{\"mirrors\": {{HOST: [MIRROR, ...]}}}}")
    return mirrors


def from_sources(paths: Paths) -> dict[str, list[str]]:
    """Mirrors announced by the sources' cached root documents."""
    found: dict[str, list[str]] = {}
    root = paths.index_cache_dir
    for index in sorted(root.glob("*/index.json")) if root.is_dir() else []:
        try:
            announced = json.loads(index.read_bytes()).get("registry_mirrors") or {}
        except (OSError, ValueError, AttributeError):
            continue  # a broken cache is reported by the commands that read it
        for registry, mirror in announced.items() if isinstance(announced, dict) else ():
            hosts = [mirror] if isinstance(mirror, str) else mirror
            if isinstance(hosts, list):
                found.setdefault(registry, []).extend(h for h in hosts if isinstance(h, str))
    return found


def for_registry(paths: Paths, registry: str) -> list[str]:
    """Mirror hosts to try before `registry`, in order, without duplicates."""
    hosts = configured(paths).get(registry, []) + from_sources(paths).get(registry, [])
    return [h for i, h in enumerate(hosts) if h not in hosts[:i] and h != registry]


def add(paths: Paths, registry: str, mirror: str) -> None:
    registry, mirror = check_host(registry), check_host(mirror)
    if registry == mirror:
        raise UsageError(f"{registry} cannot mirror itself")
    mirrors = configured(paths)
    hosts = mirrors.setdefault(registry, [])
    if mirror not in hosts:
        hosts.append(mirror)
    _save(paths.mirrors_file, mirrors)


def remove(paths: Paths, registry: str, mirror: str | None = None) -> None:
    mirrors = configured(paths)
    hosts = mirrors.get(registry)
    if not hosts or (mirror is not None and mirror not in hosts):
        what = f"mirror {mirror}" if mirror else "mirror"
        raise NotFoundError(f"no {what} configured for {registry}")
    if mirror is None:
        del mirrors[registry]
    else:
        hosts.remove(mirror)
        if not hosts:
            del mirrors[registry]
    _save(paths.mirrors_file, mirrors)


def _save(path: Path, mirrors: dict[str, list[str]]) -> None:
    write_atomic(path, json.dumps({"mirrors": mirrors}, indent=2).encode() + b"\n")
