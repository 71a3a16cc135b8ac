"""Progress bars and status lines on stderr, only where a person is watching.

A bar is drawn for a blob above `MIN_BYTES` and only when stderr is a
terminal (never in pipes, logs or tests); colour only when also `NO_COLOR`
is unset and TERM is not "dumb". Domain code reports progress through plain
callbacks (`ProgressFn`), so nothing below the CLI knows about terminals.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

MIN_BYTES = 1 << 20
_REDRAW_SECONDS = 0.1


def use_color(stream: TextIO = sys.stderr) -> bool:
    return (stream.isatty() and "NO_COLOR" not in os.environ
            and os.environ.get("TERM") != "dumb")


class BlobProgress:
    """A `progress(what, done, total)` callback drawing one bar per large blob."""

    def __init__(self, stream: TextIO = sys.stderr, *, enabled: bool | None = None) -> None:
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.color = self.enabled and use_color(stream)
        self._last = 0.0
        self._open: str | None = None

    def __call__(self, what: str, done: int, total: int) -> None:
        if not self.enabled or total < MIN_BYTES:
            return
        now = time.monotonic()
        finished = done >= total
        if not finished and now - self._last < _REDRAW_SECONDS and self._open == what:
            return
        self._last, self._open = now, what
        width = 30
        filled = int(width * min(done, total) / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        if self.color:
            bar = f"\033[32m{bar[:filled]}\033[0m{bar[filled:]}"
        self.stream.write(f"\r  {what[:32]:<32} [{bar}] {_size(done):>9}/{_size(total)}")
        if finished:
            self.stream.write("\n")
            self._open = None
        self.stream.flush()


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def status(message: str) -> None:
    """A status line (`ecli: ...`) on stderr."""
    print(f"ecli: {message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    print(f"ecli: warning: {message}", file=sys.stderr, flush=True)
