"""Serve /metrics from a thread of the ecli process, with the standard library.

The socket is bound when the server is made, before the program is loaded,
so a bad or busy address fails the run before anything reaches the kernel.
Scrapes are served one at a time (a scrape reads the maps, bounded), each
connection with a timeout, so a slow client cannot hold the run; the event
loop runs in the main thread meanwhile.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer

from ecli.errors import UsageError
from ecli.metrics import exposition

CLIENT_TIMEOUT = 5.0  # seconds a scraper may take to send its request
Scrape = Callable[[bool], bytes]  # openmetrics? -> the body


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT or [IPV6]:PORT, as --metrics takes it."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]") if host.startswith("[") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--metrics: {text!r} is not HOST:PORT (e.g. 127.0.0.1:9435)")
    return host, int(port)


class _Server(HTTPServer):
    scrape: Scrape
    failures = 0

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()[:2]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = CLIENT_TIMEOUT
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.partition("?")[0] != "/metrics":
            self._send(404, b"not found: ecli serves /metrics\n", "text/plain; charset=utf-8")
            return
        openmetrics = exposition.wants_openmetrics(self.headers.get("Accept"))
        try:
            body = self.server.scrape(openmetrics)
        except Exception as exc:  # one failed scrape, never the run
            self.server.failures += 1
            self._send(500, f"scrape failed: {type(exc).__name__}: {exc}\n".encode(),
                       "text/plain; charset=utf-8")
            return
        self._send(200, body, exposition.OPENMETRICS if openmetrics else exposition.TEXT)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not logged: the run's output is its events and maps."""


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

    @property
    def failures(self) -> int:
        return self._server.failures

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
