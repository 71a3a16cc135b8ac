"""HTTP/1.1 for the registry client, on the standard library's `http.client`.

Why not requests (or oras-py, built on it): importing them costs about
0.27 s, five times what a 20 MB pull spends downloading, hashing and
syncing. A registry client needs little of HTTP: keep-alive connections,
verified TLS, timeouts, redirects (blob GETs are sent to storage), bodies
streamed in and out. That is all this module does; what the registry says
(status codes, challenges, digests) is registry.py's and auth.py's business.

Connections are kept alive per (scheme, host, port), one idle connection each
(the client is single-threaded; a response still being read holds its own).
TLS is verified against the system's roots plus the registry's CA, if any,
as docker's certs.d does. Redirects of GET and HEAD are followed up to
`MAX_REDIRECTS`, and the Authorization header is dropped when one leaves the
host it was meant for. Proxies are taken from the environment as requests and
curl take them (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`): HTTPS
through a CONNECT tunnel, plain HTTP in absolute form; `http://user:pass@`
proxies get a Proxy-Authorization header. Every failure below HTTP is a
`TransportError` whose `kind` is unreachable, timeout, tls or broken; the
caller words it.
"""

from __future__ import annotations

import http.client
import os
import socket
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ecli.errors import TransportError
from ecli.oci.credentials import Credential

if TYPE_CHECKING:
    import ssl

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
MAX_REDIRECTS = 5
CHUNK_SIZE = 1 << 16
DRAIN_LIMIT = 1 << 16  # an unread body this small is read so its connection can be reused
USER_AGENT = "ecli"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_Key = tuple[str, str]  # (scheme, netloc)
_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy"})


class _Proxy:
    """Where to connect instead of the host, and the header the proxy may want."""

    def __init__(self, url: str, target: str) -> None:
        parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            reason = f"the proxy {url!r} is not an http:// URL"
            raise TransportError(f"cannot reach {target}: {reason}", kind="unreachable",
                                 host=target, reason=reason)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        self.netloc = f"{host}:{parts.port or 80}"
        self.headers: dict[str, str] = {}
        if parts.username:
            credential = Credential(urllib.parse.unquote(parts.username),
                                    urllib.parse.unquote(parts.password or ""))
            self.headers["Proxy-Authorization"] = credential.basic_header()


def _proxy_for(scheme: str, netloc: str) -> _Proxy | None:
    """The proxy the environment names for this URL, if any and not bypassed by NO_PROXY."""
    if not any(name.lower() in _PROXY_VARIABLES for name in os.environ):
        return None  # the usual case, without importing urllib.request
    import urllib.request

    proxies = urllib.request.getproxies_environment()
    url = proxies.get(scheme) or proxies.get("all")
    if not url or urllib.request.proxy_bypass_environment(netloc, proxies):
        return None
    return _Proxy(url, netloc)


class Response:
    """A response whose body is read on demand; close it (or use `with`) when done."""

    def __init__(self, raw: http.client.HTTPResponse, url: str, host: str,
                 release: Callable[[bool], None]) -> None:
        self._raw = raw
        self._release = release
        self._released = False
        self.status = raw.status
        self.headers = raw.headers  # case-insensitive `get`
        self.url = url  # the URL that answered, after redirects
        self.host = host

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def iter_chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The body in chunks of at most `size` bytes; the connection is reused after."""
        while True:
            chunk = self._read(size)
            if not chunk:
                self._finish(reusable=True)
                return
            yield chunk

    def read(self, limit: int) -> bytes:
        """At most `limit + 1` bytes of the body, so callers can tell "too large"."""
        data = bytearray()
        while len(data) <= limit:
            chunk = self._read(min(CHUNK_SIZE, limit + 1 - len(data)))
            if not chunk:
                self._finish(reusable=True)
                break
            data += chunk
        return bytes(data)

    def close(self) -> None:
        """Done with the body: drain a small remainder to keep the connection, else drop it."""
        if self._released:
            return
        remaining = self._raw.length
        if remaining is not None and remaining <= DRAIN_LIMIT and not self._raw.will_close:
            try:
                self._raw.read()
            except (OSError, http.client.HTTPException):
                self._finish(reusable=False)
                return
            self._finish(reusable=True)
        else:
            self._finish(reusable=False)

    def _read(self, size: int) -> bytes:
        try:
            return self._raw.read(size)
        except TimeoutError:
            self._finish(reusable=False)
            raise TransportError(f"{self.host} stopped sending", kind="timeout",
                                 host=self.host, reason="timed out") from None
        except (OSError, http.client.HTTPException) as exc:
            self._finish(reusable=False)
            reason = _reason(exc)
            raise TransportError(f"reading from {self.host} failed: {reason}", kind="broken",
                                 host=self.host, reason=reason) from None

    def _finish(self, *, reusable: bool) -> None:
        if not self._released:
            self._released = True
            self._release(reusable and not self._raw.will_close)


class Transport:
    """Keep-alive HTTP(S) connections for one client; `close()` when done."""

    def __init__(self, ca_file: Path | None = None, *,
                 timeouts: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT)) -> None:
        self.ca_file = ca_file
        self.timeouts = timeouts
        self._idle: dict[_Key, http.client.HTTPConnection] = {}
        self._proxies: dict[_Key, _Proxy | None] = {}
        self._context: ssl.SSLContext | None = None

    def close(self) -> None:
        for connection in self._idle.values():
            connection.close()
        self._idle.clear()

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                body: bytes | BinaryIO | None = None) -> Response:
        """Send one request, following redirects of GET and HEAD; the final response."""
        headers = dict(headers or {})
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, headers, body)
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
              body: bytes | BinaryIO | None) -> Response:
        key = _key(url)
        parts = urllib.parse.urlsplit(url)
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        headers = {"User-Agent": USER_AGENT, **headers}
        if key not in self._proxies:
            self._proxies[key] = _proxy_for(*key)
        proxy = self._proxies[key]
        if proxy is not None and key[0] == "http":  # absolute form, through the proxy
            target = urllib.parse.urlunsplit((*key, parts.path or "/", parts.query, ""))
            headers.update(proxy.headers)
        for attempt in range(2):
            connection = self._idle.pop(key, None)
            reused = connection is not None
            if connection is None:
                connection = self._connect(key)
            if hasattr(body, "seek"):
                body.seek(0)  # type: ignore[union-attr]
            try:
                connection.request(method, target, body=body, headers=headers)
                raw = connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.BadStatusLine) as exc:
                connection.close()
                if reused and attempt == 0:
                    continue  # the server closed an idle connection: once more, afresh
                raise _translate(exc, key[1], proxy) from None
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                raise _translate(exc, key[1], proxy) from None

            def release(reusable: bool, connection: http.client.HTTPConnection = connection
                        ) -> None:
                if reusable and key not in self._idle:
                    self._idle[key] = connection
                else:
                    connection.close()

            return Response(raw, url, key[1], release)
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _connect(self, key: _Key) -> http.client.HTTPConnection:
        scheme, netloc = key
        connect_timeout, read_timeout = self.timeouts
        proxy = self._proxies.get(key)
        address = proxy.netloc if proxy else netloc
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(address, timeout=connect_timeout,
                                                     context=self._tls(netloc),
                                                     blocksize=CHUNK_SIZE)
            if proxy is not None:
                connection.set_tunnel(netloc, headers=proxy.headers)
        elif scheme == "http":
            connection = http.client.HTTPConnection(address, timeout=connect_timeout,
                                                    blocksize=CHUNK_SIZE)
        else:
            raise TransportError(f"{netloc}: unsupported URL scheme {scheme!r}", kind="broken",
                                 host=netloc, reason=f"unsupported URL scheme {scheme!r}")
        try:
            connection.connect()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise _translate(exc, netloc, proxy) from None
        assert connection.sock is not None
        connection.sock.settimeout(read_timeout)
        return connection

    def _tls(self, host: str) -> ssl.SSLContext:
        import ssl

        if self._context is None:
            context = ssl.create_default_context()
            if self.ca_file is not None:
                try:
                    context.load_verify_locations(cafile=str(self.ca_file))
                except (OSError, ssl.SSLError) as exc:
                    reason = f"cannot load the CA file {self.ca_file}: {_reason(exc)}"
                    raise TransportError(reason, kind="tls", host=host, reason=reason) from None
            self._context = context
        return self._context


def _key(url: str) -> _Key:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc


def _translate(exc: BaseException, host: str, proxy: _Proxy | None = None) -> TransportError:
    """A socket, TLS or protocol failure as a TransportError with a short reason."""
    error = _translated(exc, host)
    if proxy is not None:
        error.reason = f"{error.reason} (through the proxy {proxy.netloc})"
        error.message = f"{error.message} (through the proxy {proxy.netloc})"
        error.args = (error.message,)
    return error


def _translated(exc: BaseException, host: str) -> TransportError:
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or _reason(exc)
        return TransportError(f"TLS error talking to {host}: {reason}", kind="tls", host=host,
                              reason=reason)
    if isinstance(exc, ssl.SSLError):
        reason = _reason(exc)
        return TransportError(f"TLS error talking to {host}: {reason}", kind="tls", host=host,
                              reason=reason)
    if isinstance(exc, TimeoutError):
        return TransportError(f"{host} did not answer in time", kind="timeout", host=host,
                              reason="timed out")
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
