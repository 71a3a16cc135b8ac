"""Servers on 127.0.0.1 that misbehave on purpose, for the transport's tests.

`trickling_server` answers some paths at once and the others one byte per
second (after its headers, or its headers too); `running_proxy` is a forward
proxy that records what it is asked; `over_tls` puts a server behind a test
certificate. Each stops by itself: a trickle ends after `MAX_TRICKLE` bytes,
or as soon as the `with` block ends.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from index_fixtures import serving

BODY = 1 << 10  # what a trickled answer announces; it never gets that far
MAX_TRICKLE = 60  # bytes: a trickle ends by itself within a minute
HEADERS, BODY_ONLY = "headers", "body"  # what trickles: the whole answer, or its body


def _read_head(client: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head and (data := client.recv(65536)):
        head += data
    return head


@contextlib.contextmanager
def trickling_server(fast: dict[str, tuple[dict[str, str], bytes]] | None = None,
                     trickle: str = BODY_ONLY, interval: float = 1.0
                     ) -> Iterator[tuple[str, list[str]]]:
    """Paths in `fast` (path -> headers, body) are answered at once; any other path
    gets a 200 whose body (or whole answer) comes one byte every `interval`
    seconds. Yields (base URL, the paths asked)."""
    fast = fast or {}
    asked: list[str] = []
    stop = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            client: socket.socket = self.request
            client.settimeout(30)
            with contextlib.suppress(OSError):
                while head := _read_head(client):  # kept alive until the trickle
                    path = head.split(b" ", 2)[1].decode()
                    asked.append(path)
                    if path in fast:
                        headers, body = fast[path]
                        client.sendall(_answer(headers, body))
                        continue
                    answer = _answer({}, b"", length=BODY)
                    if trickle == BODY_ONLY:
                        client.sendall(answer)
                        answer = b"x" * BODY
                    for byte in answer[:MAX_TRICKLE]:
                        if stop.wait(interval):
                            return
                        client.sendall(bytes([byte]))
                    return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    try:
        with serving(server) as url:
            yield url, asked
    finally:
        stop.set()


def _answer(headers: dict[str, str], body: bytes, length: int | None = None) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Length: {len(body) if length is None else length}",
             *(f"{name}: {value}" for name, value in headers.items()), "", ""]
    return "\r\n".join(lines).encode() + body


@contextlib.contextmanager
def running_proxy() -> Iterator[tuple[str, list[str]]]:
    """A forward proxy on 127.0.0.1: CONNECT tunnels and absolute-form requests, each
    connection piped to the host it names; yields (its URL, the first line of each)."""
    seen: list[str] = []

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            client: socket.socket = self.request
            head = _read_head(client)
            line = head.split(b"\r\n", 1)[0].decode()
            seen.append(line)
            method, target, _ = line.split(" ", 2)
            address = target if method == "CONNECT" else urllib.parse.urlsplit(target).netloc
            host, _, port = address.rpartition(":")
            upstream = socket.create_connection((host, int(port)), timeout=30)
            if method == "CONNECT":
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                head = head.split(b"\r\n\r\n", 1)[1]
            upstream.sendall(head)  # an absolute-form request goes on as it is
            back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
            back.start()
            pipe(client, upstream)
            back.join(timeout=30)
            upstream.close()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with serving(server) as url:
        yield url, seen


@contextlib.contextmanager
def over_tls(server: socketserver.TCPServer, cert: Path, key: Path) -> Iterator[str]:
    """`server` speaking TLS with `cert` for a `with` block; yields its https:// URL."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with serving(server, "https") as url:
        yield url
