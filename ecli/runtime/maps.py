"""Read the maps a program keeps its state and results in, for `ecli run` to show.

Every map is shown, decoded by its BTF key and value types, except event
channels (ring buffers, perf event arrays), stack stores, program arrays and
maps of maps (`spec.maps` holds only `.maps` definitions, so the internal
`.rodata`/`.bss`/`.data`/`.kconfig` maps never appear). Some maps are shown
in a richer way, by a naming convention (documented in ecli.h) shared with
bumblebee's prefixes:

  * histogram: the value is a struct with a `slots` array (one histogram per
    key, as in libbpf-tools), or the map is named `hist_*` / `*_hist` and its
    key is the log2 slot (an integer, or a struct with a `slot` field whose
    other fields label separate histograms);
  * counters: named `counter_*`, `gauge_*`, `*_count` or `*_counts`: a table
    like any other map's; when the key has `*stack_id` fields and the object
    has a stack trace map, the stacks are read and symbolised instead.

Tables keep their `top` largest entries by the first numeric value field, read
in bounded memory (`mapread`): a map of a million entries costs its top rows.
Per-CPU values are summed, or kept per CPU too (`MapChoice.per_cpu`). Nothing
here prints: the CLI renders what `read_views` returns.
"""

from __future__ import annotations

import ctypes
import functools
import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ecli.errors import ArtifactError, UsageError
from ecli.kernel.types import MAP_STACK_TRACE, MAP_TYPE_VALUES
from ecli.runtime import btf as b
from ecli.runtime import libbpf
from ecli.runtime.decode import BytesDecoder, StructDecoder
from ecli.runtime.mapread import EntryReader
from ecli.runtime.spec import MapSpec, ObjectSpec

if TYPE_CHECKING:
    from ecli.runtime.filters import Filter
    from ecli.runtime.symbols import KernelSymbols, UserSymbols

NOT_SHOWN = frozenset(MAP_TYPE_VALUES[name] for name in (
    "ringbuf", "perf_event_array", "user_ringbuf",  # event channels: streamed, not read
    "stack_trace", "prog_array", "array_of_maps", "hash_of_maps"))
Decoder = StructDecoder | BytesDecoder
RowFilter = Callable[[Sequence[Any]], bool]


class MapChoice(NamedTuple):
    """Which maps to show and how: `--maps A,B` (`names`), `--no-maps` (`names=()`),
    `--per-cpu`, and the `--filter`s that tables' rows must match."""

    names: tuple[str, ...] | None = None  # None: every map
    per_cpu: bool = False
    filters: tuple[Filter, ...] = ()


EVERY_MAP = MapChoice()

class Histogram(NamedTuple):
    map_name: str
    label: str  # the key, for one histogram per key; "" for a single one
    unit: str
    counts: list[int]  # index = log2 slot


class TableRow(NamedTuple):
    key: list[Any]
    value: list[Any]  # per-CPU maps: summed over the CPUs
    per_cpu: list[list[Any]] | None = None  # with MapChoice.per_cpu: each CPU's value


class CounterTable(NamedTuple):
    map_name: str
    key_columns: list[str]
    value_columns: list[str]
    rows: Sequence[TableRow] = ()
    total: int = 0  # entries in the map (that the filters kept); rows holds the top ones
    kind: str = "counters"  # "counters" (by its name) or "table" (any other map)
    map_type: str = ""
    note: str = ""  # why the map is not (entirely) shown: unreadable, or read in part


class StackRow(NamedTuple):
    count: int
    labels: dict[str, Any]  # the key's other fields: pid, comm...
    kernel: list[str]  # frames, innermost first
    user: list[str]


class StackCounts(NamedTuple):
    map_name: str
    rows: list[StackRow]
    total: int


class MapView(NamedTuple):
    spec: MapSpec
    kind: str  # "hist-slots", "hist-keys", "counters", "stacks" or "table"
    key: Decoder
    value: Decoder
    unit: str
    per_cpu: bool = False
    keep: RowFilter | None = None  # the --filter predicate over key + value columns

    @property
    def columns(self) -> list[str]:
        return [*self.key.columns, *self.value.columns]


def shown_maps(spec: ObjectSpec) -> list[MapSpec]:
    """The maps `ecli run` shows when nothing is chosen: all but channels and stores."""
    return [m for m in spec.maps if m.type not in NOT_SHOWN]


def views(spec: ObjectSpec, units: Mapping[str, str] | None = None,
          choice: MapChoice = EVERY_MAP) -> list[MapView]:
    """How to read and show each chosen map of `spec`."""
    candidates = shown_maps(spec)
    if choice.names is not None:
        known = {m.name for m in candidates}
        unknown = [name for name in choice.names if name not in known]
        if unknown:
            raise UsageError(f"--maps: no map {unknown[0]!r} to show in {spec.path.name} "
                             f"(maps: {', '.join(sorted(known)) or 'none'})")
        candidates = [m for m in candidates if m.name in choice.names]
    has_stacks = any(m.type == MAP_STACK_TRACE for m in spec.maps)
    found = []
    for m in candidates:
        key = _decoder(spec.btf, m.key_type, m.key_size, "key")
        if key.columns == ["value"]:  # a scalar key
            key.columns = ["key"]
        kind = _kind(spec.btf, m)
        if kind == "counters" and has_stacks and any(
                c.endswith("stack_id") for c in key.columns):
            kind = "stacks"
        value = _decoder(spec.btf, m.value_type, m.value_size, "value")
        keep = None
        if kind in ("table", "counters") and choice.filters:
            from ecli.runtime.filters import predicate

            keep = predicate(choice.filters, [*key.columns, *value.columns])
        found.append(MapView(m, kind, key, value, (units or {}).get(m.name, "value"),
                             choice.per_cpu, keep))
    return found


def _decoder(btf: b.Btf, type_id: int | None, size: int, column: str) -> Decoder:
    """By the BTF type; raw bytes in hex when there is none or it has nothing to decode."""
    if type_id is not None:
        try:
            return StructDecoder(btf, type_id)
        except ArtifactError:
            pass
    return BytesDecoder(size, column)


def _kind(btf: b.Btf, m: MapSpec) -> str:
    if m.key_type is None or m.value_type is None:
        return "table"
    value = btf.strip(m.value_type)
    if value.kind == b.KIND_STRUCT and any(
        member.name == "slots" and btf.strip(member.type_id).kind == b.KIND_ARRAY
        for member in value.members
    ):
        return "hist-slots"
    if m.name.startswith("hist_") or m.name.endswith("_hist"):
        return "hist-keys"
    if m.name.startswith(("counter_", "gauge_")) or m.name.endswith(("_count", "_counts")):
        return "counters"
    return "table"


def read_views(found: list[MapView], fd_of: Callable[[str], int], top: int,
               stack_map: str | None = None) -> list[Histogram | CounterTable | StackCounts]:
    results: list[Histogram | CounterTable | StackCounts] = []
    for view in found:
        reader = EntryReader(fd_of(view.spec.name), view.spec.type, view.spec.key_size,
                             view.spec.value_size)
        if view.kind == "stacks" and stack_map:
            results.append(_stacks(view, _table(view, reader, top), fd_of(stack_map)))
        elif view.kind == "hist-slots":
            results += _slot_histograms(view, _entries(view, reader))
        elif view.kind == "hist-keys":
            results += _key_histograms(view, _entries(view, reader))
        else:
            results.append(_table(view, reader, top))
    return results


def _decoded(view: MapView, reader: EntryReader, key: bytes, value: bytes) -> TableRow:
    size, stride = view.spec.value_size, reader.stride
    per_cpu = [view.value.decode(value[i * stride : i * stride + size])
               for i in range(reader.cpus)]
    return TableRow(view.key.decode(key), _sum(per_cpu),
                    per_cpu if view.per_cpu and reader.cpus > 1 else None)


def rows(view: MapView, reader: EntryReader,
         entries: Iterable[tuple[bytes, bytes]] | None = None) -> Iterator[TableRow]:
    """The entries (default: every one `reader` yields) decoded, per-CPU values summed:
    the metrics exporter reads whole maps, bounded by the reader's limit."""
    return (_decoded(view, reader, k, v) for k, v in (reader if entries is None else entries))


def _entries(view: MapView, reader: EntryReader) -> list[tuple[list[Any], list[Any]]]:
    return [(row.key, row.value) for row in rows(view, reader)]


def _table(view: MapView, reader: EntryReader, top: int) -> CounterTable:
    """The `top` entries by the first numeric value field; only those are decoded whole
    (unless a filter needs every row decoded), so memory stays bounded by `top`."""
    total = 0
    at = _weight_column(view.value)

    def counted(entries: Iterator[Any]) -> Iterator[Any]:
        nonlocal total
        for entry in entries:
            total += 1
            yield entry

    if view.keep is None:
        weight = raw_number(view, reader, at)
        best = heapq.nlargest(top, counted(iter(reader)), key=weight)
        rows = [_decoded(view, reader, k, v) for k, v in best]
    else:
        keep = view.keep
        decoded = (_decoded(view, reader, k, v) for k, v in reader)
        rows = heapq.nlargest(top, counted(r for r in decoded if keep([*r.key, *r.value])),
                              key=lambda r: (_number(r.value[at]) or 0) if at is not None else 0)
    note = reader.error or (f"read the first {reader.read} entries only: the map holds more"
                            if reader.truncated else "")
    return CounterTable(view.spec.name, view.key.columns, view.value.columns, rows, total,
                        "counters" if view.kind in ("counters", "stacks") else "table",
                        view.spec.type_name, note)


def _weight_column(value: Decoder) -> int | None:
    """The first column that decodes to a number (enums decode to names; bools are not)."""
    zero = value.decode(bytes(value.size))
    return next((i for i, v in enumerate(zero) if _number(v) is not None), None)


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def raw_number(view: MapView, reader: EntryReader,
               at: int | None) -> Callable[[tuple[bytes, bytes]], int | float]:
    """One numeric value column of an entry, read from its raw value and summed over the
    CPUs, without decoding the rest: a table's weight, a metric's value."""
    if at is None:
        return lambda _entry: 0
    assert isinstance(view.value, StructDecoder)  # a number column means a BTF type
    read = view.value.column_reader(at)
    if reader.cpus == 1:
        return lambda entry: read(entry[1], 0)
    bases = [i * reader.stride for i in range(reader.cpus)]
    return lambda entry: sum(read(entry[1], base) for base in bases)


def _sum(per_cpu: list[list[Any]]) -> list[Any]:
    if len(per_cpu) == 1:
        return per_cpu[0]
    return [_add(column) for column in zip(*per_cpu, strict=True)]


def _add(items: Sequence[Any]) -> Any:
    """One field over the CPUs: numbers summed, arrays and structs field by field, other
    values (names, strings, flags) as the first CPU has them."""
    first = items[0]
    if _number(first) is not None:
        return sum(items)
    if isinstance(first, list):
        return [_add(group) for group in zip(*items, strict=True)]
    if isinstance(first, dict):
        return {name: _add([item[name] for item in items]) for name in first}
    return first


def _slot_histograms(view: MapView, entries: list[tuple[list[Any], list[Any]]]
                     ) -> list[Histogram]:
    slots_at = view.value.columns.index("slots")
    histograms = []
    for key, value in entries:
        label = " ".join(f"{c}={v}" for c, v in zip(view.key.columns, key, strict=True))
        if len(entries) == 1 and key in ([0], ["0"]):
            label = ""
        extra = [f"{c}={v}" for i, (c, v) in enumerate(zip(view.value.columns, value,
                                                           strict=True)) if i != slots_at]
        histograms.append(Histogram(view.spec.name, " ".join([label, *extra]).strip(),
                                    view.unit, list(value[slots_at])))
    return histograms


def _key_histograms(view: MapView, entries: list[tuple[list[Any], list[Any]]]
                    ) -> list[Histogram]:
    columns = view.key.columns
    slot_at = next((i for i, c in enumerate(columns) if c in ("slot", "bucket")), 0)
    grouped: dict[str, dict[int, int]] = {}
    for key, value in entries:
        label = " ".join(f"{c}={v}" for i, (c, v) in enumerate(zip(columns, key, strict=True))
                         if i != slot_at)
        count = value[0] if isinstance(value[0], int) else 0
        grouped.setdefault(label, {})[int(key[slot_at])] = count
    return [
        Histogram(view.spec.name, label, view.unit,
                  [slots.get(i, 0) for i in range(max(slots) + 1 if slots else 0)])
        for label, slots in sorted(grouped.items())
    ]


MAX_STACK_DEPTH = 127


@functools.cache
def _symbols() -> tuple[KernelSymbols, UserSymbols]:
    """Loaded once, on the first stack: kallsyms alone is thousands of lines."""
    from ecli.runtime.symbols import KernelSymbols, UserSymbols

    return KernelSymbols(), UserSymbols()


def _stacks(view: MapView, table: CounterTable, stack_fd: int) -> StackCounts:
    kernel_symbols, user_symbols = _symbols()
    rows = []
    for key, value, _per_cpu in table.rows:
        fields = dict(zip(view.key.columns, key, strict=True))
        pid = next((v for c, v in fields.items() if c in ("pid", "tgid")), 0)
        kernel = user = []
        for column, stack_id in fields.items():
            if not column.endswith("stack_id") or not isinstance(stack_id, int):
                continue
            addresses = _stack(stack_fd, stack_id)
            if column.startswith(("kern", "kernel")):
                kernel = [kernel_symbols.name(a) for a in addresses]
            else:
                user = [user_symbols.name(int(pid), a) for a in addresses]
        labels = {c: v for c, v in fields.items() if not c.endswith("stack_id")}
        rows.append(StackRow(int(value[0]), labels, kernel, user))
    return StackCounts(view.spec.name, rows, table.total)


def _stack(fd: int, stack_id: int) -> list[int]:
    if stack_id < 0:  # the program could not take it (e.g. -EFAULT: no user stack)
        return []
    key = ctypes.c_uint32(stack_id)
    frames = (ctypes.c_uint64 * MAX_STACK_DEPTH)()
    if libbpf.get().bpf_map_lookup_elem(fd, ctypes.byref(key), frames) != 0:
        return []
    return [address for address in frames if address][:MAX_STACK_DEPTH]
