"""All terminal output of the CLI: tables, JSON, and streams of events.

Commands return data; this module decides how it looks. JSON output is
one document (or one line per event) with no decoration, for scripts.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO


def print_json(data: Any, stream: TextIO = sys.stdout) -> None:
    json.dump(data, stream, indent=2, ensure_ascii=False, default=str)
    stream.write("\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                stream: TextIO = sys.stdout) -> None:
    cells = [[str(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        stream.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        stream.write("\n")


class EventPrinter:
    """Prints decoded events as aligned columns under a header, or JSON lines."""

    def __init__(self, columns: Sequence[str], widths: Sequence[int], *, as_json: bool,
                 timestamp: bool, stream: TextIO = sys.stdout) -> None:
        self.columns = list(columns)
        self.as_json = as_json
        self.timestamp = timestamp
        self.stream = stream
        self.widths = [max(len(c), w) for c, w in zip(self.columns, widths, strict=True)]
        self._header_done = as_json

    def event(self, values: Sequence[Any]) -> None:
        if self.as_json:
            record = dict(zip(self.columns, values, strict=True))
            if self.timestamp:
                record = {"time": time.time(), **record}
            self.stream.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            return
        texts = [str(v) for v in values]
        if not self._header_done:
            self._write_row([c.upper() for c in self.columns], "TIME")
            self._header_done = True
        self._write_row(texts, time.strftime("%H:%M:%S"))

    def _write_row(self, texts: Sequence[str], stamp: str) -> None:
        parts = [f"{stamp:<8}"] if self.timestamp else []
        last = len(texts) - 1
        for i, (text, width) in enumerate(zip(texts, self.widths, strict=True)):
            parts.append(text if i == last else text.ljust(width))
        self.stream.write(" ".join(parts) + "\n")

    def flush(self) -> None:
        self.stream.flush()
