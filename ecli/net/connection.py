"""One HTTP connection whose every socket operation ends by the request's deadline.

http.client reads a response through `sock.makefile()` and writes with
`sock.sendall()`, one socket timeout per call. A `Connection` gives it a
`BoundedSocket` instead: each read and write gets the tighter of its own
timeout (connect, idle) and the time left before the request's deadline, so
a server trickling bytes is cut off at the deadline whatever it sends. The
connection opens its own socket, proxy tunnel and TLS handshake for the same
reason (`open_socket`, whose name lookup is bounded too, a CONNECT request
read through the bounded socket, and one `do_handshake`, which CPython bounds
as a whole).
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from ecli.net.base import CHUNK_SIZE
from ecli.net.deadline import Deadline

if TYPE_CHECKING:
    import ssl

_T = TypeVar("_T")


class BoundedSocket:
    """A connected socket as http.client uses it, bounded by its connection's deadline.

    As with `socket.makefile`, closing it while a response still reads from it
    (http.client hands a `Connection: close` socket over to the response) closes
    it when that reader is closed.
    """

    def __init__(self, sock: socket.socket, connection: Connection) -> None:
        self._sock = sock
        self._connection = connection
        self._readers = 0
        self._closed = False

    def sendall(self, data: bytes) -> None:
        self._within(lambda: self._sock.sendall(data))

    def recv_into(self, buffer: memoryview) -> int:
        return self._within(lambda: self._sock.recv_into(buffer))

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"mode {mode!r}: a bounded socket is read as 'rb' only")
        self._readers += 1
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        self._closed = True
        if self._readers <= 0:
            self._sock.close()

    def reader_closed(self) -> None:
        self._readers -= 1
        if self._closed and self._readers <= 0:
            self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def _within(self, operation: Callable[[], _T]) -> _T:
        def bounded(timeout: float) -> _T:
            self._sock.settimeout(timeout)
            return operation()

        return self._connection.deadline.within(bounded, self._connection.idle_timeout)


class _Reader(io.RawIOBase):
    """The raw stream under http.client's buffered reader."""

    def __init__(self, sock: BoundedSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._sock.reader_closed()
        super().close()


def open_socket(host: str, port: int, timeout: float) -> socket.socket:
    """`socket.create_connection` whose name lookup ends in `timeout` too.

    getaddrinfo takes no timeout (a silent name server holds glibc for its own
    timeout times its attempts), so a name is looked up in a daemon thread,
    left behind when time is up; an address literal needs no lookup.
    """
    end = time.monotonic() + timeout
    found = _lookup(host, port, timeout)
    failure: OSError = TimeoutError(f"connecting to {host}: timed out")
    for family, kind, proto, _name, address in found:
        left = end - time.monotonic()
        if left <= 0:
            break
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            failure = exc
    raise failure


def _lookup(host: str, port: int, timeout: float) -> list[tuple]:
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                  flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        pass  # a name, not an address
    answer: list[list[tuple] | OSError] = []

    def lookup() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            answer.append(exc)

    worker = threading.Thread(target=lookup, name=f"getaddrinfo {host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not answer:
        raise TimeoutError(f"looking up {host}: timed out")
    if isinstance(answer[0], OSError):
        raise answer[0]
    return answer[0]


class Connection(http.client.HTTPConnection):
    """A connection to `address` (the host, or a proxy), plain or TLS to `server`.

    `tunnel` (the proxy's headers) asks for a CONNECT tunnel to `server`
    first. The transport sets `deadline` before each request it sends.
    """

    def __init__(self, address: str, *, server: str, tls: ssl.SSLContext | None,
                 tunnel: Mapping[str, str] | None, connect_timeout: float,
                 idle_timeout: float, deadline: Deadline) -> None:
        super().__init__(address, timeout=connect_timeout, blocksize=CHUNK_SIZE)
        self.server = server  # host[:port] the requests are for
        self.tls = tls
        self.tunnel = tunnel
        self.idle_timeout = idle_timeout
        self.deadline = deadline

    def connect(self) -> None:
        raw = self.deadline.within(lambda timeout: open_socket(self.host, self.port, timeout),
                                   self.timeout)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = BoundedSocket(raw, self)  # type: ignore[assignment]
            if self.tunnel is not None:
                self._open_tunnel(self.tunnel)
            if self.tls is not None:
                tls = self._handshake(raw, self.tls)
                self.sock = BoundedSocket(tls, self)  # type: ignore[assignment]
        except BaseException:
            raw.close()
            self.sock = None
            raise

    def _open_tunnel(self, headers: Mapping[str, str]) -> None:
        lines = [f"CONNECT {self.server} HTTP/1.1", f"Host: {self.server}",
                 *(f"{name}: {value}" for name, value in headers.items()), "", ""]
        self.send("\r\n".join(lines).encode("latin-1"))
        answer = http.client.HTTPResponse(self.sock, method="CONNECT")  # type: ignore[arg-type]
        try:
            answer.begin()
        finally:
            answer.close()  # what a proxy says after its headers is not ours to read
        if answer.status != 200:
            raise OSError(f"the proxy refused the tunnel: {answer.status} {answer.reason}")

    def _handshake(self, raw: socket.socket, context: ssl.SSLContext) -> ssl.SSLSocket:
        hostname = urllib.parse.urlsplit(f"//{self.server}").hostname

        def handshake(timeout: float) -> ssl.SSLSocket:
            raw.settimeout(timeout)
            return context.wrap_socket(raw, server_hostname=hostname)

        return self.deadline.within(handshake, self.timeout)
