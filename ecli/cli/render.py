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
    # one format string for every row: listings can be thousands of rows long (search)
    line = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + ("  {}" if len(widths) > 1 else "{}")
    stream.write("".join(line.format(*row).rstrip() + "\n" for row in [headers, *cells]))


_json_string = json.encoder.py_encode_basestring  # type: ignore[attr-defined]
if hasattr(json.encoder, "c_encode_basestring") and json.encoder.c_encode_basestring:
    _json_string = json.encoder.c_encode_basestring


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
        # JSON lines are the hot path: the keys are encoded once, values by type.
        self._keys = [("{" if i == 0 else ", ") + json.dumps(c) + ": "
                      for i, c in enumerate(self.columns)]
        if timestamp:
            self._keys[0] = ", " + self._keys[0][1:]

    def event(self, values: Sequence[Any]) -> None:
        if self.as_json:
            parts = [f'{{"time": {time.time():.6f}'] if self.timestamp else []
            for key, value in zip(self._keys, values, strict=True):
                kind = type(value)
                if kind is int:
                    parts.append(key + str(value))
                elif kind is str:
                    parts.append(key + _json_string(value))
                else:
                    parts.append(key + json.dumps(value, ensure_ascii=False, default=str))
            parts.append("}\n")
            self.stream.write("".join(parts))
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


HIST_BAR_WIDTH = 40


def log2_histogram_lines(unit: str, counts: Sequence[int]) -> list[str]:
    """bcc's print_log2_hist look: one row per power-of-two bucket, with a bar."""
    last = max((i for i, c in enumerate(counts) if c), default=-1)
    if last < 0:
        return [f"{unit:>20} : count    distribution", "(no values)"]
    peak = max(counts)
    lines = [f"{unit:>20} : count    distribution"]
    for slot in range(last + 1):
        low, high = 1 << slot, (1 << (slot + 1)) - 1  # slot = floor(log2(value))
        if slot == 0:
            low = 0
        bar = "*" * (counts[slot] * HIST_BAR_WIDTH // peak if peak else 0)
        lines.append(f"{low:>8} -> {high:<8} : {counts[slot]:<8} |{bar:<{HIST_BAR_WIDTH}}|")
    return lines


class RunPrinter:
    """How `ecli run` shows a run: status on stderr, events and maps on stdout."""

    def __init__(self, name: str, *, as_json: bool, timestamp: bool, verbose: int,
                 quiet: bool, stream: TextIO = sys.stdout) -> None:
        self.name = name
        self.as_json = as_json
        self.timestamp = timestamp
        self.verbose = verbose
        self.quiet = quiet
        self.stream = stream

    def attached(self, programs: Sequence[Any]) -> None:
        if self.verbose:
            for program in programs:
                print(f"ecli: {self.name}: program {program.name} id {program.id} "
                      f"attached to {program.section}", file=sys.stderr)
        if not self.quiet:
            print(f"ecli: {self.name}: {len(programs)} program(s) attached; Ctrl-C to stop",
                  file=sys.stderr, flush=True)

    def events(self, _map_name: str, decoder: Any) -> EventPrinter:
        return EventPrinter(decoder.columns, decoder.widths, as_json=self.as_json,
                            timestamp=self.timestamp, stream=self.stream)

    def maps(self, results: Sequence[Any], final: bool) -> None:
        if self.as_json:
            record = {"time": time.time(), "final": final,
                      "maps": [_map_json(result) for result in results]}
            self.stream.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            self.stream.flush()
            return
        self.stream.write(f"\n--- {time.strftime('%H:%M:%S')}"
                          f"{' (at exit)' if final else ''} ---\n")
        from ecli.runtime.maps import Histogram, StackCounts

        for result in results:
            if isinstance(result, StackCounts):
                self._stacks(result)
            elif isinstance(result, Histogram):
                title = f"{result.map_name}" + (f" [{result.label}]" if result.label else "")
                self.stream.write(f"\n{title}\n")
                self.stream.write("\n".join(log2_histogram_lines(result.unit, result.counts)))
                self.stream.write("\n")
            else:
                self.stream.write(f"\n{result.map_name}\n")
                print_table([c.upper() for c in [*result.key_columns, *result.value_columns]],
                            [[*key, *value] for key, value in result.rows], self.stream)
                if result.total > len(result.rows):
                    self.stream.write(f"... and {result.total - len(result.rows)} more\n")
        self.stream.flush()

    def _stacks(self, result: Any) -> None:
        """bcc's profile look: frames innermost first, a '--' between kernel and user."""
        self.stream.write(f"\n{result.map_name}\n")
        for row in result.rows:
            for frame in row.kernel:
                self.stream.write(f"    {frame}\n")
            if row.kernel and row.user:
                self.stream.write("    --\n")
            for frame in row.user:
                self.stream.write(f"    {frame}\n")
            labels = " ".join(f"{k}={v}" for k, v in row.labels.items())
            self.stream.write(f"    -                {labels}\n        {row.count}\n\n")
        if result.total > len(result.rows):
            self.stream.write(f"... and {result.total - len(result.rows)} more stacks\n")

    def lost(self, lost: dict[str, int]) -> None:
        for map_name, count in lost.items():
            print(f"ecli: {self.name}: {count} event(s) lost: {map_name} was full "
                  "(the reader fell behind)", file=sys.stderr)


def _map_json(result: Any) -> dict[str, Any]:
    from ecli.runtime.maps import Histogram, StackCounts

    if isinstance(result, StackCounts):
        return {"map": result.map_name, "type": "stacks", "total": result.total,
                "entries": [{"count": r.count, **r.labels, "kernel": r.kernel, "user": r.user}
                            for r in result.rows]}
    if isinstance(result, Histogram):
        return {"map": result.map_name, "type": "log2_histogram", "label": result.label,
                "unit": result.unit,
                "buckets": [{"slot": i, "count": c} for i, c in enumerate(result.counts)]}
    return {"map": result.map_name, "type": "counters", "total": result.total,
            "entries": [{"key": dict(zip(result.key_columns, key, strict=True)),
                         "value": dict(zip(result.value_columns, value, strict=True))}
                        for key, value in result.rows]}


# -- permissions and inspections ----------------------------------------------------


def print_permissions(name: str, permissions: Sequence[Any], target: str,
                      stream: TextIO = sys.stderr) -> None:
    """The short block `ecli run` shows before loading: level, id, what it allows."""
    stream.write(f"ecli: {name}: permissions (`ecli inspect {target}` tells more):\n")
    width = max(len(p.id) for p in permissions)
    for permission in permissions:
        stream.write(f"  {permission.level:<9}  {permission.id:<{width}}  {permission.text}\n")
    stream.flush()


def inspection_json(report: Any) -> dict[str, Any]:
    """`ecli inspect --json`: the package, each object, and the summary of them all."""
    from ecli.hubindex.model import plain

    summary = report.summary
    return {
        "name": report.name, "kind": report.kind, "version": report.version,
        "digest": report.digest,
        "objects": [{"object": o.name, **plain(o.inspection), "maps": plain(o.maps)}
                    for o in report.objects],
        "unreadable": list(report.unreadable),
        "index_inspection": plain(report.index),
        "note": report.note or None,
        "min_kernel": summary.min_kernel if summary else None,
        "capabilities": list(summary.capabilities) if summary else [],
        "permissions": plain(summary.permissions) if summary else [],
    }


def print_inspection(report: Any, stream: TextIO = sys.stdout) -> None:
    """`ecli inspect`: one section per object, then the permissions of them all."""
    what = " ".join(x for x in (report.name, report.version or "", f"(kind {report.kind})") if x)
    stream.write(f"{what}\n")
    if report.digest:
        stream.write(f"digest: {report.digest}\n")
    for obj in report.objects:
        found = obj.inspection
        stream.write(f"\nobject {obj.name} ({found.size} bytes, license "
                     f"{found.license or 'none'}, kernel >= {found.min_kernel})\n")
        stream.write("\nprograms\n")
        print_table(("section", "type", "attach"),
                    [(p.section, p.type, p.attach or "-") for p in found.programs], stream)
        if obj.maps:
            stream.write("\nmaps\n")
            print_table(("name", "type", "key", "value", "entries"),
                        [(m.name, m.type, m.key_size, m.value_size, m.max_entries)
                         for m in obj.maps], stream)
        stream.write(f"\nhelpers: {', '.join(found.helpers) or 'none'}\n")
    for line in report.unreadable:
        stream.write(f"\nunreadable: {line}\n")
    if report.index is not None:
        stream.write("\nthe hub's inspection of this version: "
                     f"{len(report.index.programs)} program(s), kernel >= "
                     f"{report.index.min_kernel}\n")
    if report.note:
        stream.write(f"\nnote: {report.note}\n")
    summary = report.summary
    if summary is None:
        stream.write("\nno eBPF object could be read: permissions unknown\n")
        return
    stream.write(f"\nminimum kernel: {summary.min_kernel}\n"
                 f"capabilities: {' '.join(summary.capabilities)}\n\npermissions\n")
    print_table(("level", "id", "what it allows"),
                [(p.level, p.id, p.text) for p in summary.permissions], stream)
