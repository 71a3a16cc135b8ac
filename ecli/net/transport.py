"""HTTPTransport: HTTP/1.1 on the standard library's `http.client`, for every client.

Why not requests (or oras-py, built on it): importing them costs about
0.27 s, five times what a 20 MB pull spends downloading, hashing and
syncing. ecli needs little of HTTP: keep-alive connections, verified TLS,
timeouts, redirects (blob GETs are sent to storage), bodies streamed in and
out. That is all this module does; what a registry or an index says
(status codes, challenges, digests, documents) is its client's business.

Connections are kept alive per (scheme, host, port), one idle connection each
(clients are single-threaded; a response still being read holds its own).
TLS is verified against the system's roots plus the host's own CA, if any
(`ecli.net.trust`: ECLI_CA_FILE or certs.d/HOST/ca.crt), host by host, as
docker's certs.d does; a client may add one CA for every host it is sent to
(a registry's, for its token service and blob storage, as docker does).
Redirects of GET and HEAD are followed up to `MAX_REDIRECTS`, and the
Authorization header is dropped when one leaves the host it was meant for.
Proxies come from the environment (`ecli.net.proxies`). Each request has an
overall deadline (`ecli.net.deadline`, ECLI_HTTP_TIMEOUT) covering its
redirects, connections, headers and whole body; a silent server is given up
after `IDLE_TIMEOUT` sooner. Every failure below HTTP is a
`TransportError` whose `kind` is unreachable, timeout, tls or broken, and
whose message names the host; the caller adds what it was doing.
"""

from __future__ import annotations

import http.client
import socket
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ecli.errors import TransportError
from ecli.net import deadline as deadlines
from ecli.net import proxies, trust
from ecli.net.base import Response
from ecli.net.connection import Connection
from ecli.text import control_characters, inert

if TYPE_CHECKING:
    import ssl

CONNECT_TIMEOUT = 10.0
IDLE_TIMEOUT = 60.0  # a server that sends nothing at all for this long has stopped
MAX_REDIRECTS = 5
DRAIN_LIMIT = 1 << 16  # an unread body this small is read so its connection can be reused
USER_AGENT = "ecli"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_Key = tuple[str, str]  # (scheme, netloc)


class _HTTPBody:
    """A response body on a kept-alive connection; failures become TransportErrors."""

    def __init__(self, raw: http.client.HTTPResponse, host: str, connection: Connection,
                 transport: HTTPTransport, key: _Key) -> None:
        self._raw = raw
        self._host = host
        self._connection = connection
        self._transport = transport
        self._key = key
        self._broken = False

    def read(self, size: int) -> bytes:
        try:
            return self._raw.read(size)
        except (OSError, http.client.HTTPException) as exc:
            self._broken = True
            raise _translate(exc, self._host, self._connection.deadline) from None

    def release(self, finished: bool) -> None:
        reusable = finished
        remaining = self._raw.length
        if not finished and not self._broken and remaining is not None and (
                remaining <= DRAIN_LIMIT):
            try:
                self._raw.read()
                reusable = True
            except (OSError, http.client.HTTPException):
                reusable = False
        self._transport._release(self._key, self._connection,
                                 reusable and not self._raw.will_close)


class HTTPTransport:
    """Keep-alive HTTP(S) connections for one client; `close()` when done.

    `deadline` (seconds) bounds each request as a whole, ECLI_HTTP_TIMEOUT's
    value by default; the connect and idle timeouts are never longer. `ca_file`
    is trusted for every host, beside each host's own CA.
    """

    def __init__(self, *, ca_file: Path | None = None, deadline: float | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT,
                 idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.ca_file = ca_file
        self.deadline = deadline if deadline is not None else deadlines.seconds_from_environment()
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self._idle: dict[_Key, Connection] = {}
        self._proxies: dict[_Key, proxies.Proxy | None] = {}
        self._contexts: dict[tuple[Path, ...], ssl.SSLContext] = {}

    def close(self) -> None:
        for connection in self._idle.values():
            connection.close()
        self._idle.clear()

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | BinaryIO | None = None) -> Response:
        """Send one request, following redirects of GET and HEAD; the final response."""
        headers = dict(headers or {})
        deadline = deadlines.Deadline(self.deadline)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, headers, body, deadline)
            location = response.headers.get("Location")
            if (response.status not in _REDIRECTS or not location
                    or method not in ("GET", "HEAD")):
                return response
            response.close()
            target = urllib.parse.urljoin(url, location)
            if _key(target) != _key(url):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = target
        host = _key(url)[1]
        raise TransportError(f"{host}: more than {MAX_REDIRECTS} redirects", kind="broken",
                             host=host, reason=f"more than {MAX_REDIRECTS} redirects")

    # -- connections ------------------------------------------------------------

    def _send(self, method: str, url: str, headers: dict[str, str],
              body: bytes | BinaryIO | None, deadline: deadlines.Deadline) -> Response:
        key = _key(url)
        scheme, netloc = key
        if control_characters(url, multiline=False) or " " in url:
            # http.client would refuse it too, quoting the raw bytes in its message
            raise TransportError(f"{inert(netloc)}: refusing a URL that holds control "
                                 "characters or spaces", kind="broken", host=netloc,
                                 reason="a URL that holds control characters or spaces")
        parts = urllib.parse.urlsplit(url)
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        # The host asked, not the proxy connected to (http.client would name the proxy)
        headers = {"Host": netloc, "User-Agent": USER_AGENT, **headers}
        if key not in self._proxies:
            self._proxies[key] = proxies.proxy_for(scheme, netloc)
        proxy = self._proxies[key]
        if proxy is not None and scheme == "http":  # absolute form, through the proxy
            target = urllib.parse.urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
            headers.update(proxy.headers)
        for attempt in range(2):
            connection = self._idle.pop(key, None)
            reused = connection is not None
            try:
                if connection is None:
                    connection = self._connection(key, proxy, deadline)
                connection.deadline = deadline
                if hasattr(body, "seek"):
                    body.seek(0)  # type: ignore[union-attr]
                connection.request(method, target, body=body, headers=headers)
                raw = connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.BadStatusLine) as exc:
                if connection is not None:
                    connection.close()
                if reused and attempt == 0:
                    continue  # the server closed an idle connection: once more, afresh
                raise _translate(exc, netloc, deadline, proxy) from None
            except (OSError, http.client.HTTPException) as exc:
                if connection is not None:
                    connection.close()
                raise _translate(exc, netloc, deadline, proxy) from None
            return Response(raw.status, raw.reason, raw.headers, url, netloc,
                            _HTTPBody(raw, netloc, connection, self, key))
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _connection(self, key: _Key, proxy: proxies.Proxy | None,
                    deadline: deadlines.Deadline) -> Connection:
        scheme, netloc = key
        if scheme not in ("http", "https"):
            raise TransportError(f"{netloc}: unsupported URL scheme {scheme!r}", kind="broken",
                                 host=netloc, reason=f"unsupported URL scheme {scheme!r}")
        tls = self._tls(netloc) if scheme == "https" else None
        tunnel = proxy.headers if proxy is not None and tls is not None else None
        return Connection(proxy.netloc if proxy else netloc, server=netloc, tls=tls,
                          tunnel=tunnel, connect_timeout=self.connect_timeout,
                          idle_timeout=self.idle_timeout, deadline=deadline)

    def _release(self, key: _Key, connection: Connection, reusable: bool) -> None:
        if reusable and key not in self._idle:
            self._idle[key] = connection
        else:
            connection.close()

    def _tls(self, host: str) -> ssl.SSLContext:
        cas = tuple(dict.fromkeys(ca for ca in (self.ca_file, trust.ca_file(host)) if ca))
        if cas not in self._contexts:
            self._contexts[cas] = trust.tls_context(cas, host)
        return self._contexts[cas]


def _key(url: str) -> _Key:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc


def _translate(exc: BaseException, host: str, deadline: deadlines.Deadline,
               proxy: proxies.Proxy | None = None) -> TransportError:
    """A socket, TLS or protocol failure as a TransportError with a short reason."""
    error = _translated(exc, host, deadline)
    if proxy is not None:
        error.reason = f"{error.reason} (through the proxy {proxy.netloc})"
        error.message = f"{error.message} (through the proxy {proxy.netloc})"
        error.args = (error.message,)
    return error


def _translated(exc: BaseException, host: str, deadline: deadlines.Deadline) -> TransportError:
    import ssl

    if isinstance(exc, deadlines.DeadlinePassed):
        reason = f"no complete answer within {deadline.seconds:g} s"
        return TransportError(f"no complete answer from {host} within {deadline.seconds:g} s",
                              kind="timeout", host=host, reason=reason)
    if isinstance(exc, TimeoutError):
        return TransportError(f"{host} did not answer in time", kind="timeout", host=host,
                              reason="timed out")
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or _reason(exc)
        return TransportError(f"TLS error talking to {host}: {reason}", kind="tls", host=host,
                              reason=reason)
    if isinstance(exc, ssl.SSLError):
        reason = _reason(exc)
        return TransportError(f"TLS error talking to {host}: {reason}", kind="tls", host=host,
                              reason=reason)
    if isinstance(exc, socket.gaierror | ConnectionRefusedError) or (
            isinstance(exc, OSError) and not isinstance(exc, ConnectionResetError
                                                        | BrokenPipeError)):
        reason = _reason(exc)
        return TransportError(f"cannot reach {host}: {reason}", kind="unreachable", host=host,
                              reason=reason)
    reason = _reason(exc)
    return TransportError(f"talking to {host} failed: {reason}", kind="broken", host=host,
                          reason=reason)


def _reason(exc: BaseException) -> str:
    """What went wrong in a few lowercase words, without errno numbers or tracebacks."""
    import ssl

    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection"
    if isinstance(exc, http.client.IncompleteRead):
        return "the connection closed before the end of the body"
    text = str(exc).strip().splitlines()
    return text[0].lower() if text and text[0] else type(exc).__name__
