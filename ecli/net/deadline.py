"""How long one HTTP request may take, all told.

Socket timeouts bound each read and write; a server that sends one byte per
second never trips them and can hold a command forever. The deadline bounds
the whole request instead: connecting (and the proxy tunnel and the TLS
handshake), the headers, and the whole body, however it trickles in. Every
socket operation gets the tighter of its own timeout and the time left, so a
request ends by its deadline and no later. `ECLI_HTTP_TIMEOUT` sets it in
seconds; the default leaves a 20 MB blob 300 s, about 70 KB/s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from ecli.errors import UsageError

DEADLINE_ENV = "ECLI_HTTP_TIMEOUT"
DEFAULT_SECONDS = 300.0
_T = TypeVar("_T")


class DeadlinePassed(TimeoutError):
    """A socket operation cut short because the request's deadline came."""


def seconds_from_environment(env: Mapping[str, str] = os.environ) -> float:
    """ECLI_HTTP_TIMEOUT in seconds, else the default; a bad value is a usage error."""
    text = env.get(DEADLINE_ENV, "").strip()
    if not text:
        return DEFAULT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise UsageError(f"{DEADLINE_ENV}={text!r}: expected a number of seconds above 0")
    return seconds


class Deadline:
    """The moment one request must be over by, and the operations it bounds."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def within(self, operation: Callable[[float], _T], timeout: float) -> _T:
        """`operation(t)` with t the tighter of `timeout` and the time left.

        A timeout that the deadline imposed is DeadlinePassed; one that
        `timeout` imposed stays a plain TimeoutError (a silent server).
        """
        left = self.end - time.monotonic()
        if left <= 0:
            raise DeadlinePassed
        bound = min(timeout, left)
        try:
            return operation(bound)
        except DeadlinePassed:
            raise
        except TimeoutError:
            if bound < timeout:
                raise DeadlinePassed from None
            raise
