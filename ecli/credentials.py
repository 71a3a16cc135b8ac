"""Registry credentials and trusted CAs that ecli keeps itself.

`ecli login` writes `auth.json` under ecli's config folder, in docker's
shape (`{"auths": {HOST: {"auth": base64(user:password)}}}`) so people and
tools recognise it, with mode 0600 in a 0700 folder: it holds a password.
Lookups try ecli's file first; the registry client then falls back to
docker's `config.json` and its credential helpers (through oras-py).

A CA for a registry with a private certificate lives where docker keeps
them, `certs.d/HOST[:PORT]/ca.crt`; `ecli login --ca-file` copies it there
so every later pull and push trusts it. Registries with a CA are spoken to
over HTTPS even on loopback.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ecli.atomic import write_atomic
from ecli.errors import UsageError
from ecli.paths import Paths

_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$")
CA_FILE_ENV = "ECLI_CA_FILE"


@dataclass(frozen=True)
class Credential:
    username: str
    password: str


def check_host(registry: str) -> str:
    """A registry host as written in references: `host[:port]`, nothing else."""
    registry = registry.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not registry or not _HOST.match(registry):
        raise UsageError(f"{registry!r} is not a registry host (e.g. ghcr.io, 127.0.0.1:5000)")
    return registry


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {"auths": {}}
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read the credentials file ({exc})",
                         hint="fix or delete it, then log in again") from None
    if not isinstance(data, dict) or not isinstance(data.get("auths", {}), dict):
        raise UsageError(f"{path}: not a credentials file (expected an 'auths' object)")
    data.setdefault("auths", {})
    return data


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    write_atomic(path, json.dumps(data, indent=2).encode() + b"\n", mode=0o600)


def save(paths: Paths, registry: str, credential: Credential) -> None:
    if not credential.username or ":" in credential.username:
        raise UsageError("a user name is required and cannot contain ':'")
    data = _read(paths.credentials_file)
    token = base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()
    data["auths"][check_host(registry)] = {"auth": token}
    _write(paths.credentials_file, data)


def remove(paths: Paths, registry: str) -> bool:
    data = _read(paths.credentials_file)
    if data["auths"].pop(check_host(registry), None) is None:
        return False
    _write(paths.credentials_file, data)
    return True


def find(registry: str, paths: Paths | None = None) -> Credential | None:
    """ecli's own credential for `registry`, if `ecli login` stored one."""
    paths = paths or Paths.from_environment()
    entry = _read(paths.credentials_file)["auths"].get(registry)
    if not isinstance(entry, dict) or not isinstance(entry.get("auth"), str):
        return None
    try:
        username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{paths.credentials_file}: the entry for {registry} is not "
                         "base64 of user:password", hint=f"ecli login {registry}") from None
    return Credential(username, password)


def docker_configs() -> list[str]:
    """docker's config.json as docker finds it: $DOCKER_CONFIG first, then ~/.docker."""
    folder = os.environ.get("DOCKER_CONFIG")
    candidates = [Path(folder) / "config.json"] if folder else []
    candidates.append(Path.home() / ".docker" / "config.json")
    return [str(c) for c in candidates if c.is_file()]


def registries(paths: Paths) -> list[str]:
    return sorted(_read(paths.credentials_file)["auths"])


# -- trusted CAs ------------------------------------------------------------------


def ca_file(registry: str, paths: Paths | None = None) -> Path | None:
    """The CA to trust for `registry`: ECLI_CA_FILE, else certs.d/REGISTRY/ca.crt."""
    explicit = os.environ.get(CA_FILE_ENV)
    if explicit:
        return Path(explicit)
    paths = paths or Paths.from_environment()
    candidate = paths.certs_dir / registry / "ca.crt"
    return candidate if candidate.is_file() else None


def trust(paths: Paths, registry: str, source: Path) -> Path:
    """Copy a CA certificate (PEM) to certs.d/REGISTRY/ca.crt."""
    try:
        pem = source.read_bytes()
    except OSError as exc:
        raise UsageError(f"{source}: cannot read the CA file: {exc.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise UsageError(f"{source}: not a PEM certificate")
    target = paths.certs_dir / check_host(registry) / "ca.crt"
    write_atomic(target, pem)
    return target
