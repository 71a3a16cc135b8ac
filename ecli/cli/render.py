"""All terminal output of the CLI's results: tables, text, JSON, errors, and runs.

Commands return a `Result` (what to show as text, what as JSON, what with -q);
`show` prints it, the way pipx's result rendering does. Live feedback while a
command works (status lines, warnings, progress bars) is `ecli.cli.progress`.

Text from outside (an index, a registry, an artifact, a BPF object) is hostile,
so everything written here in text mode passes through `ecli.text.inert`:
table cells, lines, event columns, map tables, error messages and hints. JSON
output is written as ASCII, so every control character in it is a `\\u` escape
and the document itself stays inert on a terminal.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from typing import Any, NamedTuple, TextIO

from ecli.text import inert

# Blocks are named tuples and Result a plain class, not dataclasses: this module is
# imported by every command, and making a dataclass costs more than a table of rows.


class Text(NamedTuple):
    """A line (or, `multiline`, a paragraph such as a package description) of output;
    `gap` puts a blank line before it."""

    text: str
    multiline: bool = False
    gap: bool = False


class Table(NamedTuple):
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]


class Mark(NamedTuple):
    """`before` + ✓/✗/? + `text`: doctor's checks; the mark is coloured on a terminal."""

    ok: bool | None
    text: str
    before: str = "  "


Block = Text | Table | Mark


class Result:
    """What a command returns; `show` prints it.

    `output` is the text form, `data` the `--json` document (None: the command
    has no JSON form), `quiet` what `-q` shows instead of `output` (None: the
    same as `output`, for answers such as tables; [] for confirmations),
    `notes` status lines for stderr, also silenced by `-q`, and `warnings`
    for stderr, always shown (a yanked version, a skipped source).
    """

    def __init__(self, output: list[Block] | None = None, *, data: Any = None,
                 quiet: list[Block] | None = None, notes: list[str] | None = None,
                 warnings: Sequence[str] = (), exit_code: int = 0) -> None:
        self.output = output if output is not None else []
        self.data = data
        self.quiet = quiet
        self.notes = notes if notes is not None else []
        self.warnings = list(warnings)
        self.exit_code = exit_code

    def line(self, text: str = "", *, multiline: bool = False, gap: bool = False) -> None:
        self.output.append(Text(text, multiline, gap))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.output.append(Table(headers, rows))


def show(result: Result, *, as_json: bool, quiet: bool, stream: TextIO = sys.stdout) -> int:
    """Print `result` as JSON, as text, or as its -q form; its exit code."""
    if result.warnings or (result.notes and not quiet):
        from ecli.cli.progress import status, warn

        for warning in result.warnings:
            warn(warning)
        for note in result.notes if not quiet else ():
            status(note)
    if as_json and result.data is not None:
        print_json(result.data, stream)
        return result.exit_code
    blocks = result.output if not quiet or result.quiet is None else result.quiet
    marks = _Marks(stream) if any(isinstance(b, Mark) for b in blocks) else None
    for block in blocks:
        if isinstance(block, Table):
            print_table(block.headers, block.rows, stream)
        elif isinstance(block, Mark):
            assert marks is not None
            line = f"{inert(block.before)}{marks(block.ok)} {inert(block.text)}"
            stream.write(line.rstrip() + "\n")
        else:
            gap = "\n" if block.gap else ""
            stream.write(gap + inert(block.text, multiline=block.multiline) + "\n")
    stream.flush()
    return result.exit_code


def print_json(data: Any, stream: TextIO = sys.stdout) -> None:
    json.dump(data, stream, indent=2, default=str)  # ASCII: control characters escaped
    stream.write("\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                stream: TextIO = sys.stdout) -> None:
    cells = [[str(v) for v in row] for row in rows]
    if not _all_plain(cells):  # the usual listing is plain ASCII: checked once, not per cell
        cells = [[inert(v) for v in row] for row in cells]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    # one format string for every row: listings can be thousands of rows long (search)
    line = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + ("  {}" if len(widths) > 1 else "{}")
    stream.write("".join(line.format(*row).rstrip() + "\n" for row in [headers, *cells]))


def write_bytes(chunks: Any, stream: Any = None) -> None:
    """Copy bytes as they come (`ecli logs`: a log the run's own renderer wrote, inert)."""
    out = stream or sys.stdout.buffer
    for chunk in chunks:
        out.write(chunk)
        out.flush()


class _Marks:
    """✓ / ✗ / ? in colour on a terminal (see `use_color`); words when not UTF-8."""

    def __init__(self, stream: TextIO) -> None:
        from ecli.cli.progress import use_color

        self.colour = use_color(stream)
        utf8 = (getattr(stream, "encoding", "") or "").lower().replace("-", "") == "utf8"
        self.symbols = {True: "✓", False: "✗", None: "?"} if utf8 else \
            {True: "ok", False: "NO", None: "??"}

    def __call__(self, ok: bool | None) -> str:
        symbol = self.symbols[ok]
        if not self.colour:
            return symbol
        code = {True: "32", False: "31", None: "33"}[ok]
        return f"\033[{code}m{symbol}\033[0m"


# -- errors ------------------------------------------------------------------------


def show_error(error: Any, *, verbose: int, as_json: bool) -> None:
    """An EcliError: one line on stderr (more only for a kernel log), its hint, and with
    -v its reference; with --json also `{"error": ...}` on stdout, one line, for scripts."""
    message = inert(error.message, multiline=error.multiline)
    print(f"ecli: error: {message}", file=sys.stderr)
    if error.hint:
        print(f"hint: {inert(error.hint)}", file=sys.stderr)
    if verbose:
        print(f"reference: {error.reference}", file=sys.stderr)
    if as_json:  # one line: `ecli run --json` writes JSON lines
        document = {"error": {"message": error.message, "hint": error.hint,
                              "reference": error.reference, "exit_code": error.exit_code}}
        print(json.dumps(document), flush=True)


def show_internal_error(error: BaseException) -> None:
    print(f"ecli: internal error: {type(error).__name__}: {inert(str(error))}",
          file=sys.stderr)
    print("hint: this is a bug in ecli; run again with -v for the traceback and "
          "report it", file=sys.stderr)


# -- runs: events, maps, status ------------------------------------------------------

# JSON lines are the hot path: strings are encoded by the C encoder, as ASCII.
def _all_plain(cells: list[list[str]]) -> bool:
    """Whether every cell is printable ASCII (no control character, no line break)."""
    text = "".join("".join(row) for row in cells)
    return text.isascii() and text.isprintable()


_json_string = json.encoder.py_encode_basestring_ascii  # type: ignore[attr-defined]
if getattr(json.encoder, "c_encode_basestring_ascii", None):
    _json_string = json.encoder.c_encode_basestring_ascii  # type: ignore[attr-defined]


def _json_value(value: Any) -> str:
    """One value of a column whose type varies (formatted fields, arrays, floats)."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        return _json_string(value)
    return json.dumps(value, default=str)


def _text_column(values: Sequence[Any]) -> list[str]:
    """A column's cells as inert text: checked for control characters once per column."""
    texts = list(map(str, values))
    joined = "".join(texts)
    return texts if joined.isascii() and joined.isprintable() else list(map(inert, texts))


class EventPrinter:
    """Prints decoded events as aligned columns under a header, or JSON lines.

    Events come a batch at a time, as columns: the line template is built once
    (`%d` for int columns, encoders mapped over the others), each batch is one
    `%` per event and one `write`. The stream is flushed by the run loop (at
    least every 100 ms), and by a terminal's line buffering.
    """

    def __init__(self, columns: Sequence[str], widths: Sequence[int],
                 types: Sequence[type | None], *, as_json: bool, timestamp: bool,
                 stream: TextIO = sys.stdout) -> None:
        self.as_json = as_json
        self.timestamp = timestamp
        self.stream = stream
        self._header = None if as_json else [inert(c.upper()) for c in columns]
        if as_json:
            fields = [json.dumps(c).replace("%", "%%") + (": %d" if t is int else ": %s")
                      for c, t in zip(columns, types, strict=True)]
            self._template = ("{" + ('"time": %.6f, ' if timestamp else "") + ", ".join(fields)
                              + "}\n")
            self._encoders = [(i, _json_string if t is str else _json_value)
                              for i, t in enumerate(types) if t is not int]
        else:
            widths = [max(len(h), w) for h, w in zip(self._header, widths, strict=True)]
            cells = [f"%-{w}s" for w in widths[:-1]] + ["%s"]
            self._template = ("%-8s " if timestamp else "") + " ".join(cells) + "\n"

    def write(self, columns: Sequence[Sequence[Any]]) -> None:
        if not columns or not columns[0]:
            return
        if self.as_json:
            cells: list[Iterable[Any]] = list(columns)
            for i, encode in self._encoders:
                cells[i] = map(encode, cells[i])
            stamp = time.time()
        else:
            cells = [_text_column(column) for column in columns]
            stamp = time.strftime("%H:%M:%S")
            if self._header is not None:
                self.stream.write(self._template % (*(("TIME",) if self.timestamp else ()),
                                                    *self._header))
                self._header = None
        if self.timestamp:
            cells.insert(0, repeat(stamp))
        rows = zip(*cells, strict=False)  # the stamp column is an endless repeat()
        self.stream.write("".join(map(self._template.__mod__, rows)))

    def flush(self) -> None:
        self.stream.flush()


HIST_BAR_WIDTH = 40


def log2_histogram_lines(unit: str, counts: Sequence[int]) -> list[str]:
    """bcc's print_log2_hist look: one row per power-of-two bucket, with a bar."""
    unit = inert(unit)
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
    """`ecli run`'s `RunOutput`: status on stderr, events and maps on stdout.

    `on_attached` hears the attached programs too (the run's status file).
    """

    def __init__(self, name: str, *, as_json: bool, timestamp: bool, verbose: int,
                 quiet: bool, stream: TextIO = sys.stdout,
                 on_attached: Callable[[Sequence[Any]], None] | None = None,
                 duration: float | None = None) -> None:
        self.name = name
        self.duration = duration
        self.as_json = as_json
        self.timestamp = timestamp
        self.verbose = verbose
        self.quiet = quiet
        self.stream = stream
        self.on_attached = on_attached

    def attached(self, programs: Sequence[Any], ends_itself: bool) -> None:
        """The status line says how the run ends: by itself once its iterators are read,
        or after --duration, or by Ctrl-C."""
        from ecli.cli.progress import status

        if self.on_attached:
            self.on_attached(programs)
        if self.verbose:
            for program in programs:
                status(f"{self.name}: program {program.name} id {program.id} "
                       f"attached to {program.section}")
        if not self.quiet:
            ending = ("iterators only: the run ends once they are read" if ends_itself
                      else f"stops after {self.duration:g}s, or Ctrl-C" if self.duration
                      else "Ctrl-C to stop")
            status(f"{self.name}: {len(programs)} program(s) attached; {ending}")

    def events(self, _map_name: str, decoder: Any) -> EventPrinter:
        return EventPrinter(decoder.columns, decoder.widths, decoder.types, as_json=self.as_json,
                            timestamp=self.timestamp, stream=self.stream)

    def maps(self, results: Sequence[Any], final: bool) -> None:
        if self.as_json:
            record = {"time": time.time(), "final": final,
                      "maps": [_map_json(result) for result in results]}
            self.stream.write(json.dumps(record, default=str) + "\n")
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
                self.stream.write(f"\n{inert(title)}\n")
                self.stream.write("\n".join(log2_histogram_lines(result.unit, result.counts)))
                self.stream.write("\n")
            else:
                self._table(result)
        self.stream.flush()

    def _table(self, result: Any) -> None:
        """A map's entries, largest first; with --per-cpu a row per CPU, then their sum."""
        self.stream.write(f"\n{inert(result.map_name)}\n")
        if result.note:
            self.stream.write(f"({inert(result.note)})\n")
        per_cpu = any(row.per_cpu for row in result.rows)
        headers = [*result.key_columns, *(["cpu"] if per_cpu else []), *result.value_columns]
        rows: list[list[Any]] = []
        for row in result.rows:
            for cpu, value in enumerate(row.per_cpu or ()):
                rows.append([*row.key, cpu, *value])
            rows.append([*row.key, *(["all"] if per_cpu else []), *row.value])
        if rows or not result.note:
            print_table([inert(c.upper()) for c in headers],
                        [[_cell(v) for v in row] for row in rows], self.stream)
        if not result.total and not result.note:
            self.stream.write("(no entries)\n")
        if result.total > len(result.rows):
            self.stream.write(f"... and {result.total - len(result.rows)} more\n")

    def _stacks(self, result: Any) -> None:
        """bcc's profile look: frames innermost first, a '--' between kernel and user."""
        self.stream.write(f"\n{inert(result.map_name)}\n")
        for row in result.rows:
            for frame in row.kernel:
                self.stream.write(f"    {inert(frame)}\n")
            if row.kernel and row.user:
                self.stream.write("    --\n")
            for frame in row.user:
                self.stream.write(f"    {inert(frame)}\n")
            labels = inert(" ".join(f"{k}={v}" for k, v in row.labels.items()))
            self.stream.write(f"    -                {labels}\n        {row.count}\n\n")
        if result.total > len(result.rows):
            self.stream.write(f"... and {result.total - len(result.rows)} more stacks\n")

    def iterated(self, program: str, lines: Iterable[str]) -> None:
        """An iterator's text as it wrote it, or one JSON record per line."""
        if self.as_json:
            for line in lines:
                self.stream.write(json.dumps({"iterator": program, "line": line}) + "\n")
        else:
            for line in lines:
                self.stream.write(inert(line) + "\n")
        self.stream.flush()

    def lost(self, lost: dict[str, int]) -> None:
        from ecli.cli.progress import status

        for map_name, count in lost.items():
            status(f"{self.name}: {count} event(s) lost: {map_name} was full "
                   "(the reader fell behind)")


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
    document = {"map": result.map_name, "type": result.kind, "map_type": result.map_type,
                "total": result.total, "entries": [_row_json(result, row) for row in result.rows]}
    if result.note:
        document["note"] = result.note
    return document


def _row_json(result: Any, row: Any) -> dict[str, Any]:
    entry = {"key": dict(zip(result.key_columns, row.key, strict=True)),
             "value": dict(zip(result.value_columns, row.value, strict=True))}
    if row.per_cpu:
        entry["per_cpu"] = [dict(zip(result.value_columns, value, strict=True))
                            for value in row.per_cpu]
    return entry


def _cell(value: Any) -> Any:
    """Arrays and arrays of structs in a table cell: compact JSON, not Python's repr."""
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), default=str)
    return value


# -- permissions and inspections ----------------------------------------------------


def print_permissions(name: str, permissions: Sequence[Any], target: str,
                      stream: TextIO = sys.stderr) -> None:
    """The short block `ecli run` shows before loading: level, id, what it allows."""
    stream.write(f"ecli: {inert(name)}: permissions (`ecli inspect {inert(target)}` "
                 "tells more):\n")
    width = max(len(p.id) for p in permissions)
    for permission in permissions:
        stream.write(f"  {permission.level:<9}  {inert(permission.id):<{width}}  "
                     f"{inert(permission.text)}\n")
    stream.flush()


def inspection_json(report: Any) -> dict[str, Any]:
    """`ecli inspect --json`: the package, each object, and the summary of them all."""
    from ecli.documents import plain

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


def inspection_blocks(report: Any) -> list[Block]:
    """`ecli inspect`: one section per object, then the permissions of them all."""
    what = " ".join(x for x in (report.name, report.version or "", f"(kind {report.kind})") if x)
    blocks: list[Block] = [Text(what)]
    if report.digest:
        blocks.append(Text(f"digest: {report.digest}"))
    for obj in report.objects:
        found = obj.inspection
        blocks += [Text(f"object {obj.name} ({found.size} bytes, license "
                        f"{found.license or 'none'}, kernel >= {found.min_kernel})", gap=True),
                   Text("programs", gap=True),
                   Table(("section", "type", "attach"),
                         [(p.section, p.type, p.attach or "-") for p in found.programs])]
        if obj.maps:
            blocks += [Text("maps", gap=True),
                       Table(("name", "type", "key", "value", "entries"),
                             [(m.name, m.type, m.key_size, m.value_size, m.max_entries)
                              for m in obj.maps])]
        blocks.append(Text(f"helpers: {', '.join(found.helpers) or 'none'}", gap=True))
    blocks += [Text(f"unreadable: {line}", gap=True) for line in report.unreadable]
    if report.index is not None:
        blocks.append(Text("the hub's inspection of this version: "
                           f"{len(report.index.programs)} program(s), kernel >= "
                           f"{report.index.min_kernel}", gap=True))
    if report.note:
        blocks.append(Text(f"note: {report.note}", gap=True))
    summary = report.summary
    if summary is None:
        blocks.append(Text("no eBPF object could be read: permissions unknown", gap=True))
        return blocks
    if summary.min_kernel:
        blocks += [Text(f"minimum kernel: {summary.min_kernel}", gap=True),
                   Text(f"capabilities: {' '.join(summary.capabilities)}")]
    blocks += [Text("permissions", gap=True),
               Table(("level", "id", "what it allows"),
                     [(p.level, p.id, p.text) for p in summary.permissions])]
    return blocks
