"""Registry credentials and trusted CAs that ecli keeps itself.

`ecli login` writes `auth.json` under ecli's config folder, in docker's
shape (`{"auths": {HOST: {"auth": base64(user:password)}}}`) so people and
tools recognise it, with mode 0600 in a 0700 folder: it holds a password.
`lookup` is the one question the registry client asks: ecli's file first,
then docker's `config.json` as docker reads it (`credHelpers` for the host,
else `credsStore`, else `auths`), running `docker-credential-NAME get` for
the helpers, then podman's, skopeo's and buildah's `auth.json`
(containers-auth.json(5): `$REGISTRY_AUTH_FILE`, else
`$XDG_RUNTIME_DIR/containers/auth.json`; then `~/.config/containers/auth.json`),
which has the same shape and is read the same way. A user name of `<token>`
marks an identity token (an OAuth2 refresh token), which the Bearer flow
trades for an access token.

A CA for a registry with a private certificate lives where docker keeps
them, `certs.d/HOST[:PORT]/ca.crt` (`ecli.net.trust` owns that place and
reads it for every connection); `ecli login --ca-file` copies it there so
every later pull and push trusts it.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ecli.errors import RegistryError, UsageError
from ecli.files import write_atomic
from ecli.net.basic import basic_header, basic_token
from ecli.net.trust import ca_path
from ecli.paths import Paths

_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$")
IDENTITY_TOKEN_USER = "<token>"
HELPER_TIMEOUT = 30.0
_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")
_DOCKER_HUB_KEY = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Credential:
    username: str
    password: str

    @property
    def identity_token(self) -> str | None:
        """The refresh token when this is docker's `<token>` user, else None."""
        return self.password if self.username == IDENTITY_TOKEN_USER else None

    @property
    def encoded(self) -> str:
        """base64 of `user:password`: docker's `auth` field, and HTTP Basic's token."""
        return basic_token(self.username, self.password)

    def basic_header(self) -> str:
        """The value of an `Authorization` header for HTTP Basic."""
        return basic_header(self.username, self.password)

    @classmethod
    def decode(cls, auth: str, path: Path, key: str, hint: str | None = None) -> Credential:
        """A docker `auth` field read back; a bad one names the file and entry."""
        try:
            username, _, password = base64.b64decode(auth).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise UsageError(f"{path}: the entry for {key} is not base64 of user:password",
                             hint=hint) from None
        return cls(username, password)


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
    data["auths"][check_host(registry)] = {"auth": credential.encoded}
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
    return Credential.decode(entry["auth"], paths.credentials_file, registry,
                             hint=f"ecli login {registry}")


def lookup(registry: str, paths: Paths | None = None) -> Credential | None:
    """The credential to present to `registry`: ecli's own, else docker's; None if neither."""
    own = find(registry, paths)
    if own is not None:
        return own
    for config in (*docker_configs(), *containers_auth_files()):
        found = _from_docker_config(config, registry)
        if found is not None:
            return found
    return None


def docker_configs() -> list[Path]:
    """docker's config.json as docker finds it: $DOCKER_CONFIG first, then ~/.docker."""
    folder = os.environ.get("DOCKER_CONFIG")
    candidates = [Path(folder) / "config.json"] if folder else []
    candidates.append(Path.home() / ".docker" / "config.json")
    return [c for c in candidates if c.is_file()]


def containers_auth_files() -> list[Path]:
    """The containers tools' auth files, in their own order (containers-auth.json(5))."""
    chosen = os.environ.get("REGISTRY_AUTH_FILE")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    candidates = [Path(chosen)] if chosen else (
        [Path(runtime) / "containers" / "auth.json"] if runtime else [])
    candidates.append(Path(config) / "containers" / "auth.json")
    return [c for c in candidates if c.is_file()]


def _keys(registry: str) -> tuple[str, ...]:
    """How docker may have written `registry` as a key (Docker Hub has its own URL)."""
    if registry in _DOCKER_HUB:
        return (_DOCKER_HUB_KEY, *_DOCKER_HUB)
    return (registry, f"https://{registry}", f"http://{registry}")


def _from_docker_config(path: Path, registry: str) -> Credential | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read this registry credentials file ({exc})",
                         hint="fix it, or point DOCKER_CONFIG / REGISTRY_AUTH_FILE "
                              "elsewhere") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a registry credentials file (expected a JSON object)")
    helpers = data.get("credHelpers") if isinstance(data.get("credHelpers"), dict) else {}
    for key in _keys(registry):
        if isinstance(helpers.get(key), str):
            return _from_helper(helpers[key], key)
    if isinstance(data.get("credsStore"), str) and data["credsStore"]:
        found = _from_helper(data["credsStore"], _keys(registry)[0])
        if found is not None:
            return found
    auths = data.get("auths") if isinstance(data.get("auths"), dict) else {}
    for key in _keys(registry):
        entry = auths.get(key)
        if isinstance(entry, dict):
            found = _from_auth_entry(entry, path, key)
            if found is not None:
                return found
    return None


def _from_auth_entry(entry: dict, path: Path, key: str) -> Credential | None:
    """An `auths` entry: base64 `auth`, or `username`/`password`; `identitytoken` wins."""
    username, password = entry.get("username"), entry.get("password")
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        decoded = Credential.decode(entry["auth"], path, key)
        username, password = decoded.username, decoded.password
    if isinstance(entry.get("identitytoken"), str) and entry["identitytoken"]:
        return Credential(IDENTITY_TOKEN_USER, entry["identitytoken"])
    if isinstance(username, str) and username and isinstance(password, str):
        return Credential(username, password)
    return None


def _from_helper(name: str, server: str) -> Credential | None:
    """Ask `docker-credential-NAME get` (the host on stdin, JSON on stdout)."""
    import subprocess  # only here: most pulls never run a helper

    program = f"docker-credential-{name}"
    try:
        done = subprocess.run([program, "get"], input=server, capture_output=True, text=True,
                              timeout=HELPER_TIMEOUT, check=False)
    except FileNotFoundError:
        raise RegistryError(f"{server}: the credential helper {program} is not installed",
                            hint="install it, or remove it from docker's config.json") from None
    except subprocess.TimeoutExpired:
        raise RegistryError(f"{server}: the credential helper {program} did not answer "
                            f"in {HELPER_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise RegistryError(f"{server}: cannot run {program}: {exc.strerror}") from None
    said = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        if "credentials not found" in said.lower():
            return None
        first = said.splitlines()[0] if said else f"exit status {done.returncode}"
        raise RegistryError(f"{server}: the credential helper {program} failed: {first}")
    try:
        answer = json.loads(done.stdout)
        username, secret = answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f"{server}: the credential helper {program} did not answer "
                            "JSON with Username and Secret") from None
    if not isinstance(username, str) or not isinstance(secret, str) or not secret:
        return None
    return Credential(username, secret)


# -- trusted CAs ------------------------------------------------------------------


def trust(paths: Paths, registry: str, source: Path) -> Path:
    """Copy a CA certificate (PEM) to certs.d/REGISTRY/ca.crt."""
    try:
        pem = source.read_bytes()
    except OSError as exc:
        raise UsageError(f"{source}: cannot read the CA file: {exc.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise UsageError(f"{source}: not a PEM certificate")
    target = ca_path(paths, check_host(registry))
    write_atomic(target, pem)
    return target
