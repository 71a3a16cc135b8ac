"""Answers to a registry's 401: HTTP Basic, or distribution's Bearer token flow.

A registry that wants credentials answers 401 with `WWW-Authenticate`.
`Basic realm=...` is answered with the stored user and password. `Bearer
realm=URL,service=S,scope=SCOPE` sends the client to a token service: GET
`URL?service=S&scope=SCOPE` (with Basic credentials when there are some,
anonymously otherwise), take `token` (or `access_token`) from the JSON
answer and retry with `Authorization: Bearer TOKEN`. An identity token
(docker's `<token>` user) is traded instead by a POST of an OAuth2
`refresh_token` grant, as docker does. Tokens are kept per (realm, service,
scope) for the client's lifetime: a push asks again only when the registry
wants a wider scope (pull, then pull+push), or when a token was refused.

Credentials are asked of ecli.oci.credentials once, on the first challenge, so a
registry that never asks never runs a credential helper. Token services
that fail are one-line errors naming the realm.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from ecli.errors import RegistryError, TransportError
from ecli.net.base import Response, Transport
from ecli.oci.credentials import Credential

MAX_TOKEN_BYTES = 1 << 20
_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')


@dataclass(frozen=True)
class Challenge:
    """One `WWW-Authenticate` challenge: its scheme (lowercase) and parameters."""

    scheme: str
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """`Bearer realm="..",service="..",scope=".."` as a Challenge; None if empty."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {}
    for name, value in _PARAM.findall(rest):
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name.lower()] = value
    return Challenge(scheme.lower(), params)


class Authenticator:
    """The Authorization header for one registry client, renewed on each challenge."""

    def __init__(self, where: str, transport: Transport,
                 credential: Callable[[], Credential | None]) -> None:
        self.where = where  # the reference, for messages
        self.transport = transport
        self._lookup = credential
        self._credential: Credential | None = None
        self._looked_up = False
        self._tokens: dict[tuple[str, str, str], str] = {}
        self.header: dict[str, str] = {}

    def use(self, credential: Credential) -> None:
        """Present this credential from now on (`ecli login` checks one)."""
        self._credential, self._looked_up = credential, True
        self.header = {}

    def answer(self, response: Response, action: str) -> bool:
        """Set the header that answers this 401; False when nothing new can be tried."""
        challenges = [c for c in map(parse_challenge,
                                     response.headers.get_all("WWW-Authenticate") or [])
                      if c is not None]
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        if bearer is not None and bearer.params.get("realm"):
            return self._bearer(bearer, action)
        if any(c.scheme == "basic" for c in challenges):
            credential = self.credential()
            if credential is None or credential.identity_token:
                return False
            header = {"Authorization": credential.basic_header()}
            if header == self.header:
                return False  # these very credentials were refused
            self.header = header
            return True
        return False

    def credential(self) -> Credential | None:
        if not self._looked_up:
            self._credential, self._looked_up = self._lookup(), True
        return self._credential

    # -- the token flow ------------------------------------------------------

    def _bearer(self, challenge: Challenge, action: str) -> bool:
        params = challenge.params
        key = (params["realm"], params.get("service", ""), params.get("scope", ""))
        cached = self._tokens.get(key)
        if cached is not None and self.header != {"Authorization": f"Bearer {cached}"}:
            self.header = {"Authorization": f"Bearer {cached}"}
            return True
        token = self._fetch_token(*key, action=action)
        self._tokens[key] = token
        header = {"Authorization": f"Bearer {token}"}
        if header == self.header:
            return False
        self.header = header
        return True

    def _fetch_token(self, realm: str, service: str, scope: str, *, action: str) -> str:
        if not realm.startswith(("https://", "http://")):
            raise RegistryError(f"{self.where}: the registry names a token service that is "
                                f"not a URL: {realm!r}")
        credential = self.credential()
        scopes = [("scope", s) for s in scope.split()]
        service_param = [("service", service)] if service else []
        headers = {"Accept": "application/json"}
        body = None
        method = "GET"
        url = realm
        if credential is not None and credential.identity_token:
            method = "POST"
            body = urllib.parse.urlencode([
                ("grant_type", "refresh_token"), ("refresh_token", credential.identity_token),
                ("client_id", "ecli"), *service_param, *scopes]).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            query = [*service_param, *scopes]
            if credential is not None:
                query.append(("account", credential.username))
                headers["Authorization"] = credential.basic_header()
            if query:
                url += ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        try:
            response = self.transport.request(method, url, headers=headers, body=body)
            with response:
                raw = response.read(MAX_TOKEN_BYTES)
        except TransportError as exc:
            raise RegistryError(f"{self.where}: cannot get a token from {realm}: "
                                f"{exc.reason}") from None
        if response.status in (401, 403):
            raise RegistryError(
                f"{self.where}: {action}: access denied by {realm} "
                f"(HTTP {response.status}{error_detail(raw)})",
                hint="check the user name and password (ecli login)")
        if response.status != 200:
            raise RegistryError(f"{self.where}: cannot get a token from {realm}: "
                                f"HTTP {response.status}{error_detail(raw)}")
        if len(raw) > MAX_TOKEN_BYTES:
            raise RegistryError(f"{self.where}: cannot get a token from {realm}: "
                                f"the answer is larger than {MAX_TOKEN_BYTES} bytes")
        try:
            answer = json.loads(raw)
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token or not token.isprintable():
            raise RegistryError(f"{self.where}: cannot get a token from {realm}: "
                                "the answer holds no token")
        return token


def error_detail(body: bytes) -> str:
    """`: reason` from an error body: distribution's `errors[0]`, OAuth2's `error`, or
    a short line of plain text; "" when there is nothing worth showing."""
    try:
        data = json.loads(body)
    except ValueError:
        text = body[:200].decode(errors="replace").strip().splitlines()
        return f": {text[0]}" if text and text[0].isprintable() else ""
    if not isinstance(data, dict):
        return ""
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        text = errors[0].get("message") or errors[0].get("code")
    else:
        text = data.get("error_description") or data.get("error") or data.get("details")
    return f": {text}" if isinstance(text, str) and text.isprintable() else ""
