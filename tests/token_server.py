"""Registries that want credentials: htpasswd over TLS, and token auth with a real token server.

`self_signed` makes a certificate with openssl (for 127.0.0.1); `auth_registry`
writes a distribution config with TLS and an `auth:` section and starts it.

`running_token_server` serves distribution's token flow over TLS on
127.0.0.1: `GET /token?service=S&scope=repository:NAME:pull,push` with Basic
credentials checked against its own user list. It answers with a JWT that
CNCF distribution 2.8 accepts (registry/auth/token/token.go): RS256 signed,
header `x5c` holding the DER of the signing certificate, which the registry
trusts through `rootcertbundle`; claims iss (= the registry's `issuer`), aud
(= `service`), sub, exp, nbf, iat, jti and `access` [{type, name, actions}].
Anonymous requests get a token with no access (so the registry answers 401),
wrong credentials a 401; `POST /token` with an OAuth2 refresh_token grant
trades an identity token (`refresh_tokens`) for an access token. Signing is
openssl's (`dgst -sha256 -sign`): PKCS#1 v1.5 over SHA-256 is RS256. Every
request is recorded for the tests.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import ssl
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index_fixtures import serving
from registry_server import running_registry

ISSUER = "ebpfhub-test-issuer"
SERVICE = "ebpfhub-test-registry"


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """(cert.pem, key.pem) of a self-signed RSA certificate for 127.0.0.1 and localhost."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def htpasswd_file(path: Path, users: dict[str, str]) -> Path:
    lines = [subprocess.run(["htpasswd", "-Bbn", user, password], check=True,
                            capture_output=True, text=True, timeout=30).stdout.strip()
             for user, password in users.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def auth_registry(folder: Path, cert: Path, key: Path, auth: str) -> Iterator[str]:
    """A TLS registry with this `auth:` section (YAML text, indented 2); yields host:port."""
    config = folder / "config.yml"
    config.write_text(f"""version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {folder / 'storage'}
http:
  addr: 127.0.0.1:5000
  tls:
    certificate: {cert}
    key: {key}
auth:
{auth}""")
    with running_registry(storage=folder / "storage", config=config, scheme="https") as server:
        yield server.host


@contextlib.contextmanager
def htpasswd_registry(folder: Path, users: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """A registry with htpasswd auth over TLS; yields (host:port, its certificate)."""
    cert, key = self_signed(folder, "registry")
    htpasswd = htpasswd_file(folder / "htpasswd", users)
    with auth_registry(folder, cert, key, f"""  htpasswd:
    realm: ebpfhub-test
    path: {htpasswd}
""") as host:
        yield host, cert


# -- the token server -------------------------------------------------------------


@dataclass
class TokenServer:
    """A running token server: its realm URL and the requests it has answered."""

    realm: str
    users: dict[str, str]
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # identity token -> user
    seen: list[dict[str, object]] = field(default_factory=list)
    stop: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _access(scopes: list[str]) -> list[dict[str, object]]:
    """`repository:team/x:pull,push` → [{type, name, actions}] (the name may hold ':')."""
    granted = []
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind and name:
            granted.append({"type": kind, "name": name,
                            "actions": [a for a in actions.split(",") if a]})
    return granted


class _Signer:
    """Signs JWTs with the key whose certificate the registry trusts."""

    def __init__(self, cert: Path, key: Path) -> None:
        pem = cert.read_text()
        body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
        self.x5c = "".join(body.split())  # base64 of the DER, as the header wants it
        self.key = key

    def token(self, subject: str, access: list[dict[str, object]]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 300,
                  "nbf": now - 5, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing_input = (_b64url(json.dumps(header).encode()) + "."
                         + _b64url(json.dumps(claims).encode()))
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                   input=signing_input.encode(), capture_output=True,
                                   check=True, timeout=30).stdout
        return signing_input + "." + _b64url(signature)


def _handler(state: TokenServer, signer: _Signer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            user = self._user()
            state.seen.append({"path": url.path, "service": query.get("service", [""])[0],
                               "scope": query.get("scope", []), "user": user})
            if url.path != "/token":
                return self._answer(404, {"errors": [{"code": "NOT_FOUND",
                                                      "message": "no such endpoint"}]})
            if user is False:
                return self._answer(401, {"errors": [{"code": "UNAUTHORIZED",
                                                      "message": "bad user name or password"}]})
            access = _access(query.get("scope", [])) if user else []
            token = signer.token(user or "", access)
            return self._answer(200, {"token": token, "access_token": token,
                                      "expires_in": 300})

        def do_POST(self) -> None:
            """The OAuth2 refresh-token grant docker uses for identity tokens."""
            length = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            user = state.refresh_tokens.get(form.get("refresh_token", [""])[0])
            state.seen.append({"path": self.path, "service": form.get("service", [""])[0],
                               "scope": form.get("scope", []), "user": user or False,
                               "grant": form.get("grant_type", [""])[0]})
            if form.get("grant_type") != ["refresh_token"] or user is None:
                return self._answer(400, {"error": "invalid_grant"})
            token = signer.token(user, _access(form.get("scope", [])))
            return self._answer(200, {"access_token": token, "expires_in": 300})

        def _user(self) -> str | bool | None:
            """The user name when the credentials are right, None if none, False if wrong."""
            header = self.headers.get("Authorization", "")
            if not header:
                return None
            scheme, _, value = header.partition(" ")
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return False
            ok = scheme.lower() == "basic" and state.users.get(user) == password
            return user if ok else False

        def _answer(self, code: int, document: dict[str, object]) -> None:
            body = json.dumps(document).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def running_token_server(users: dict[str, str], tls: tuple[Path, Path],
                         signing: tuple[Path, Path], refresh_tokens: dict[str, str] | None = None
                         ) -> Iterator[TokenServer]:
    """A token server on a free port of 127.0.0.1 over TLS (`tls` = cert, key)."""
    state = TokenServer("", users, dict(refresh_tokens or {}))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, _Signer(*signing)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls[0]), str(tls[1]))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with state.stop:  # `state.stop.close()` stops it early (the "token server down" test)
        state.realm = state.stop.enter_context(serving(server, "https")) + "/token"
        yield state


@contextlib.contextmanager
def token_registry(folder: Path, users: dict[str, str],
                   refresh_tokens: dict[str, str] | None = None
                   ) -> Iterator[tuple[str, Path, TokenServer]]:
    """A TLS registry with token auth and its token server; yields (host, CA, server).

    One certificate serves TLS for both (so trusting it for the registry is
    enough); another, the registry's `rootcertbundle`, signs the tokens.
    """
    cert, key = self_signed(folder, "tls")
    signing = self_signed(folder, "token-signer")
    with running_token_server(users, (cert, key), signing, refresh_tokens) as tokens, \
            auth_registry(folder, cert, key, f"""  token:
    realm: {tokens.realm}
    service: {SERVICE}
    issuer: {ISSUER}
    rootcertbundle: {signing[0]}
""") as host:
        yield host, cert, tokens
