"""index/inspection.json one digest at a time, for builds that reuse most pages.

Parsing every inspection of a 10,000-package hub costs seconds, while a
rebuild renders only the packages that changed. `inspection.write` puts one
digest per line, so the raw line is enough to tell whether a package's
inspections changed (it is part of the build cache's key), and only the
lines of the packages being rendered need parsing. They are parsed by
`inspection.read` itself, given a file of just those lines: one parser, one
set of checks. A file not in that layout (written by hand, or by another
version) is read whole, as a build without the cache reads it, and any
problem in a line is reported by reading the whole file.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from generator import inspection
from generator.problems import GeneratorError

_LINE = re.compile(rb'"(sha256:[0-9a-f]{64})": \{.*\},?')


class Inspections:
    """The inspection file, parsed on demand; `whole` is set when it had to be read whole."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lines: dict[str, bytes] = {}
        self.whole: inspection.Cache | None = None
        raw = b""
        if path is not None:
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                raw = b""
            except OSError:
                self.whole = inspection.read(path)  # reports the error
                return
        lines = _split(raw)
        if lines is None:
            assert path is not None
            self.whole = inspection.read(path)
        else:
            self.lines = lines

    def key(self, digest: str) -> bytes:
        """What identifies the digest's inspection: its line, or its parsed form."""
        if self.whole is not None:
            return repr(self.whole.get(digest)).encode()
        return self.lines.get(digest, b"-")

    def parse(self, digests: set[str]) -> inspection.Cache:
        """The inspections of `digests` (those the file holds)."""
        if self.whole is not None:
            return {d: self.whole[d] for d in digests if d in self.whole}
        chosen = [self.lines[d] for d in sorted(digests) if d in self.lines]
        if not chosen:
            return {}
        assert self.path is not None
        body = b",\n".join(line.rstrip(b",") for line in chosen)
        with tempfile.TemporaryDirectory(prefix="hub-inspection-") as folder:
            part = Path(folder) / inspection.INSPECTION_FILE
            part.write_bytes(_header() + body + b"\n}}\n")
            try:
                return inspection.read(part)
            except GeneratorError:
                pass
        self.whole = inspection.read(self.path)  # names the real file in its problem
        return {d: self.whole[d] for d in digests if d in self.whole}


def _header() -> bytes:
    return b'{"schema_version": %d, "digests": {\n' % inspection.SCHEMA_VERSION


def _split(raw: bytes) -> dict[str, bytes] | None:
    """digest -> its line, when `raw` is laid out as `inspection.write` writes it."""
    if not raw:
        return {}
    header = _header()
    if not raw.startswith(header) or not raw.endswith(b"\n}}\n"):
        return None
    found: dict[str, bytes] = {}
    for line in raw[len(header):-4].split(b"\n"):
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None or match.group(1).decode() in found:
            return None
        found[match.group(1).decode()] = line
    return found
