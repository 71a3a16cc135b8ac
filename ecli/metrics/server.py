"""Serve /metrics from a thread of the ecli process, with the standard library.

The socket is bound when the server is made, before the program is loaded,
so a bad or busy address fails the run before anything reaches the kernel.
Scrapes are served one at a time (a scrape reads the maps, bounded), each
connection with a timeout and a cap on its request's size, so a slow or
hostile client cannot hold the run; the event loop runs in the main thread
meanwhile. The HTTP is the little a scraper needs (GET and HEAD, one request
a connection) on `socketserver`: `http.server` would bring `http.client`,
`ssl` and `email` along, 6 MB of memory for nothing a scrape uses.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import socketserver
import threading
from collections.abc import Callable

from ecli.errors import UsageError
from ecli.metrics import exposition

CLIENT_TIMEOUT = 5.0  # seconds a scraper may take to send its request
MAX_LINE = 8192  # bytes of the request line and of each header
MAX_HEADERS = 100
Scrape = Callable[[bool], bytes]  # openmetrics? -> the body
_PLAIN = "text/plain; charset=utf-8"


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT or [IPV6]:PORT, as --metrics takes it."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]") if host.startswith("[") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--metrics: {text!r} is not HOST:PORT (e.g. 127.0.0.1:9435)")
    return host, int(port)


class _Server(socketserver.TCPServer):
    allow_reuse_address = True
    scrape: Scrape


class _Handler(socketserver.StreamRequestHandler):
    server: _Server
    timeout = CLIENT_TIMEOUT

    def handle(self) -> None:
        try:
            words = self.rfile.readline(MAX_LINE).decode("latin-1").split()
            accept = self._accept_header()
        except (OSError, ValueError):  # timed out, reset, or a header too long or too many
            return
        if len(words) != 3 or not words[2].startswith("HTTP/"):
            self._send(400, "Bad Request", b"a request line: GET /metrics HTTP/1.1\n")
        elif words[0] not in ("GET", "HEAD"):
            self._send(405, "Method Not Allowed", b"only GET and HEAD\n")
        elif words[1].partition("?")[0] != "/metrics":
            self._send(404, "Not Found", b"not found: ecli serves /metrics\n")
        else:
            self._metrics(exposition.wants_openmetrics(accept), words[0] == "HEAD")

    def _accept_header(self) -> str | None:
        accept = None
        for _ in range(MAX_HEADERS):
            line = self.rfile.readline(MAX_LINE)
            if not line.endswith(b"\n"):
                raise ValueError("a header line too long, or the connection ended")
            if line in (b"\r\n", b"\n"):
                return accept
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "accept":
                accept = value.strip()
        raise ValueError("too many headers")

    def _metrics(self, openmetrics: bool, head: bool) -> None:
        try:
            body = self.server.scrape(openmetrics)
        except Exception as exc:  # one failed scrape, never the run
            self._send(500, "Internal Server Error",
                       f"scrape failed: {type(exc).__name__}: {exc}\n".encode())
            return
        self._send(200, "OK", body, exposition.OPENMETRICS if openmetrics else exposition.TEXT,
                   head)

    def _send(self, status: int, reason: str, body: bytes, content_type: str = _PLAIN,
              head: bool = False) -> None:
        header = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        with contextlib.suppress(OSError):  # the scraper went away
            self.wfile.write(header)
            if not head:
                self.wfile.write(body)  # not header + body: that would copy the body


class MetricsServer:
    """Bound at once; `start` serves from a daemon thread, `stop` ends it and closes."""

    def __init__(self, address: str) -> None:
        host, port = parse_address(address)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UsageError(f"--metrics {address}: cannot resolve {host!r}: "
                             f"{exc.strerror}") from None
        family, _, _, _, sockaddr = infos[0]
        server_class = type("_BoundServer", (_Server,), {"address_family": family})
        try:
            self._server = server_class(sockaddr[:2], _Handler)
        except OSError as exc:
            why = ("already in use" if exc.errno == errno.EADDRINUSE
                   else exc.strerror or str(exc))
            raise UsageError(f"--metrics {address}: cannot listen there: {why}",
                             hint="choose another port, or stop what listens there"
                             if exc.errno == errno.EADDRINUSE else None) from None
        self.address = self._server.server_address
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/metrics"

    def start(self, scrape: Scrape) -> None:
        self._server.scrape = scrape
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.2,),
                                        name="ecli-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
