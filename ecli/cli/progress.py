"""Live feedback on stderr: status lines, warnings, and progress bars.

This is the one place that reports while a command is still working (the
result comes later, from `ecli.cli.render`). Domain code reports through plain
callbacks (`status` fits `ecli.packages.locate.Progress`, `BlobProgress` fits
a blob download's `progress(what, done, total)`), so nothing below the CLI
knows about terminals. Every message may quote a registry or an index, so it
is made inert before it is written.

A bar is drawn for a blob above `MIN_BYTES` and only when stderr is a
terminal (never in pipes, logs or tests); colour only where `use_color` says.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from ecli.text import inert

MIN_BYTES = 1 << 20
_REDRAW_SECONDS = 0.1


def use_color(stream: TextIO) -> bool:
    """Colour on a terminal, unless NO_COLOR is present and not empty (no-color.org) or
    TERM is "dumb". The only reading of NO_COLOR in ecli."""
    return (stream.isatty() and not os.environ.get("NO_COLOR")
            and os.environ.get("TERM") != "dumb")


def status(message: str) -> None:
    """A status line (`ecli: ...`) on stderr."""
    print(f"ecli: {inert(message)}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    """A warning (`ecli: warning: ...`) on stderr."""
    print(f"ecli: warning: {inert(message)}", file=sys.stderr, flush=True)


def ask(question: str) -> str:
    """Ask on stderr and read one answer line from stdin (the caller checked both are a tty)."""
    print(f"ecli: {inert(question)} ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip()


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
        label = inert(what)[:32]
        self.stream.write(f"\r  {label:<32} [{bar}] {_size(done):>9}/{_size(total)}")
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
