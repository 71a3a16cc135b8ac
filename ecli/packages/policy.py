"""The operator's policy: which references may run, how far permissions go, whether to pull.

One JSON file (`policy.json` beside `sources.json`), read by every command that
locates or runs a package, written by `ecli policy`:

- `allowed`: patterns a package's resolved reference must match (`ghcr.io/org/*`,
  or an exact `REPO@sha256:...`), as Inspektor Gadget's allowed-gadgets; empty:
  everything is allowed. Local builds (paths) are the user's own and not checked.
- `max_permission`: the highest permission level a package may have (`info`,
  `elevated`, `dangerous`); above it the package is refused, even with --yes,
  unless it is listed in `trusted` by exact name, digest or `REPO@sha256:...`.
- `pull`: `missing` (the default) or `never`: never contact a registry, work only
  from the store and the cached indexes, as `--pull never` on every command.

Each value says where it came from (`default` or the file), for `ecli policy show`.
Enforcement sits where each fact is known: references and pulling in
`ecli.packages.locate`, the permission cap in `ecli run`'s consent.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from ecli.errors import EcliError, PolicyError, UsageError
from ecli.files import write_atomic
from ecli.oci import reference as references
from ecli.paths import Paths

LEVELS = ("info", "elevated", "dangerous")
PULL_MODES = ("missing", "never")
KEYS = ("allowed", "trusted", "max_permission", "pull")
SETTABLE = {"max-permission": ("max_permission", LEVELS), "pull": ("pull", PULL_MODES)}


class Policy(NamedTuple):
    allowed: tuple[str, ...] = ()
    trusted: tuple[str, ...] = ()
    max_permission: str = "dangerous"
    pull: str = "missing"
    origins: Mapping[str, str] = MappingProxyType({})  # key -> "default" or the file

    def where(self, key: str) -> str:
        return self.origins.get(key, "default")

    def allows(self, reference: str) -> bool:
        """True when `reference` (REGISTRY/REPO[:TAG][@DIGEST], or a URL) matches a pattern."""
        if not self.allowed:
            return True
        candidates = {reference}
        try:
            parsed = references.parse(reference)
            candidates.add(parsed.name)
            if parsed.digest:
                candidates.add(f"{parsed.name}@{parsed.digest}")
        except EcliError:  # a URL: matched as written
            pass
        return any(fnmatch.fnmatchcase(c, pattern) if "@" not in pattern else c == pattern
                   for pattern in self.allowed for c in candidates)

    def trusts(self, name: str, digest: str | None, reference: str | None) -> bool:
        named = {name, digest, reference}
        if reference and digest:
            with contextlib.suppress(EcliError):  # a URL names no repository
                named.add(f"{references.parse(reference).name}@{digest}")
        return any(entry in named for entry in self.trusted)


def load(paths: Paths) -> Policy:
    """The policy in force; a value that is not valid is refused with the file and key."""
    path = paths.policy_file
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return Policy()
    except (OSError, ValueError) as exc:
        raise PolicyError(f"{path}: cannot read the policy file ({exc})",
                          hint="fix or delete it") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a JSON object with keys "
                          f"{', '.join(KEYS)}")
    for key, value in data.items():
        _check(path, key, value)
    return Policy(tuple(data.get("allowed", ())), tuple(data.get("trusted", ())),
                  data.get("max_permission", "dangerous"), data.get("pull", "missing"),
                  {key: str(path) for key in data})


def in_force(paths: Paths) -> dict[str, dict[str, object]]:
    """Every value of the policy with where it came from, the sources' signature modes too
    (`ecli sources add --signatures`): what `ecli policy show` prints."""
    from ecli.packages import sources

    current = load(paths)
    shown: dict[str, dict[str, object]] = {
        key: {"value": list(value) if isinstance(value, tuple) else value,
              "from": current.where(key)}
        for key in KEYS for value in (getattr(current, key),)}
    where = str(paths.sources_file) if paths.sources_file.exists() else "default"
    for source in sources.load(paths.sources_file):
        shown[f"signatures.{source.name}"] = {"value": source.signatures,
                                              "from": f"source {source.name} ({where})"}
    return shown


def _check(path: Path, key: str, value: object) -> None:
    if key not in KEYS:
        raise PolicyError(f"{path}: {key}: unknown key (known: {', '.join(KEYS)})")
    if key in ("allowed", "trusted"):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise PolicyError(f"{path}: {key}: expected a list of non-empty strings")
        return
    choices = LEVELS if key == "max_permission" else PULL_MODES
    if value not in choices:
        raise PolicyError(f"{path}: {key}: {value!r} is not one of {', '.join(choices)}")


def _write(paths: Paths, key: str, value: object) -> Policy:
    """The file with `key` set to `value` (None: removed, back to its default)."""
    path = paths.policy_file
    current = load(paths)
    data = {k: getattr(current, k) for k in KEYS if current.where(k) != "default"}
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
    data.pop(key, None)
    if value is not None:
        data[key] = value
    write_atomic(path, json.dumps(data, indent=2).encode() + b"\n")
    return load(paths)


def set_value(paths: Paths, key: str, value: str) -> Policy:
    if key not in SETTABLE:
        raise UsageError(f"policy key {key!r}: expected one of {', '.join(SETTABLE)}")
    name, choices = SETTABLE[key]
    if value not in choices:
        raise UsageError(f"policy {key} {value!r}: expected one of {', '.join(choices)}")
    return _write(paths, name, value)


def reset(paths: Paths, key: str) -> Policy:
    """Back to the default: `key` is a `SETTABLE` name or `allowed` / `trusted`."""
    name = SETTABLE[key][0] if key in SETTABLE else key
    if name not in KEYS:
        raise UsageError(f"policy key {key!r}: expected one of "
                         f"{', '.join([*SETTABLE, 'allowed', 'trusted'])}")
    return _write(paths, name, None)


def add_to(paths: Paths, key: str, entry: str) -> Policy:
    """Add `entry` to the `allowed` or `trusted` list (once)."""
    if not entry:
        raise UsageError(f"policy {key}: an empty entry")
    listed = list(getattr(load(paths), key))
    return _write(paths, key, listed if entry in listed else [*listed, entry])


def check_reference(paths: Paths, name: str, reference: str) -> None:
    """Refuse a package whose resolved reference matches no allowed pattern: before any pull."""
    policy = load(paths)
    if not policy.allows(reference):
        raise PolicyError(f"{name}: {reference} is not allowed by the policy "
                          f"(allowed: {', '.join(policy.allowed)}; {policy.where('allowed')})",
                          hint=f"ecli policy allow {reference}")


def no_pull(paths: Paths) -> str | None:
    """Why pulling is forbidden by the policy, or None when it is not."""
    policy = load(paths)
    return f"the policy forbids pulling (pull = never in {policy.where('pull')})" \
        if policy.pull == "never" else None


def check_permissions(paths: Paths, name: str, levels: list[str], digest: str | None,
                      reference: str | None) -> None:
    """Refuse, even with --yes, a package whose permissions pass the cap, unless trusted."""
    policy = load(paths)
    cap = LEVELS.index(policy.max_permission)
    above = sorted({lv for lv in levels if LEVELS.index(lv) > cap}, key=LEVELS.index)
    if above and not policy.trusts(name, digest, reference):
        raise PolicyError(f"{name}: {reference or name} has {above[-1]} permissions and the "
                          f"policy allows at most {policy.max_permission} "
                          f"({policy.where('max_permission')})",
                          hint=f"ecli policy trust {digest or name}")
