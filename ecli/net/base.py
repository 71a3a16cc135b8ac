"""The seam between ecli's HTTP clients and the network, as httpx's BaseTransport is.

The registry client, the index client and URL downloads take a `Transport`
and get `Response`s from it; `ecli.net.transport.HTTPTransport` is the one
real implementation. Tests may hand a client another transport (canned
answers, a malformed or oversized body) instead of running a server.

A `Response` streams its body from a `Body`; whoever reads it either reads
to the end (the connection can be reused) or closes it early.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import BinaryIO, Protocol

CHUNK_SIZE = 1 << 16


class Headers(Protocol):
    """Case-insensitive response headers (`email.message.Message` is one)."""

    def get(self, name: str, default: None = None) -> str | None: ...

    def get_all(self, name: str, failobj: None = None) -> list[str] | None: ...


class Body(Protocol):
    """Where a response's bytes come from; failures are TransportErrors."""

    def read(self, size: int) -> bytes:
        """Up to `size` bytes; b"" at the end."""
        ...

    def release(self, finished: bool) -> None:
        """Done with it: `finished` when read to the end, else given up early."""
        ...


class Response:
    """A response whose body is read on demand; close it (or use `with`) when done."""

    def __init__(self, status: int, reason: str, headers: Headers, url: str, host: str,
                 body: Body) -> None:
        self.status = status
        self.reason = reason  # the status line's phrase, as the server wrote it
        self.headers = headers
        self.url = url  # the URL that answered, after redirects
        self.host = host  # its host[:port], for messages
        self._body = body
        self._released = False

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def iter_chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The body in chunks of at most `size` bytes."""
        while chunk := self._read(size):
            yield chunk

    def read(self, limit: int) -> bytes:
        """At most `limit + 1` bytes of the body, so callers can tell "too large"."""
        data = bytearray()
        while len(data) <= limit and (chunk := self._read(min(CHUNK_SIZE, limit + 1 - len(data)))):
            data += chunk
        return bytes(data)

    def close(self) -> None:
        """Done with the body, read or not."""
        self._release(finished=False)

    def _read(self, size: int) -> bytes:
        if self._released:
            return b""
        try:
            chunk = self._body.read(size)
        except BaseException:
            self._release(finished=False)
            raise
        if not chunk:
            self._release(finished=True)
        return chunk

    def _release(self, *, finished: bool) -> None:
        if not self._released:
            self._released = True
            self._body.release(finished)


class Transport(Protocol):
    """Sends requests; one per client, closed when the client is done."""

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | BinaryIO | None = None) -> Response:
        """Send one request (following redirects of GET and HEAD); the final response.

        Failures below HTTP (refused, TLS, the deadline) are TransportErrors.
        """
        ...

    def close(self) -> None: ...
