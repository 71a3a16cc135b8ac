"""Read the maps a program keeps its results in: counters and log2 histograms.

Which maps are results is a naming convention (documented in ecli.h), shared
with bumblebee's prefixes:

  * histogram: the value is a struct with a `slots` array (one histogram per
    key, as in libbpf-tools), or the map is named `hist_*` / `*_hist` and its
    key is the log2 slot (an integer, or a struct with a `slot` field whose
    other fields label separate histograms);
  * counters: named `counter_*`, `gauge_*`, `*_count` or `*_counts`: a table of
    keys and values, largest first; when the key has `*stack_id` fields and the
    object has a stack trace map, the stacks are read and symbolised instead.

Other maps are the program's own state and are not shown. Per-CPU values are
summed. Nothing here prints: the CLI renders what `read_views` returns.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecli.kernel.types import MAP_STACK_TRACE
from ecli.runtime import btf as b
from ecli.runtime import libbpf
from ecli.runtime.decode import StructDecoder
from ecli.runtime.spec import MapSpec, ObjectSpec

if TYPE_CHECKING:
    from ecli.runtime.symbols import KernelSymbols, UserSymbols

PERCPU_TYPES = {5, 6, 10}  # percpu_hash, percpu_array, lru_percpu_hash
TABLE_TYPES = {1, 2, 5, 6, 9, 10}  # hash, array, their per-CPU and LRU kinds
MAX_ENTRIES_READ = 100_000


@dataclass
class Histogram:
    map_name: str
    label: str  # the key, for one histogram per key; "" for a single one
    unit: str
    counts: list[int]  # index = log2 slot


@dataclass
class CounterTable:
    map_name: str
    key_columns: list[str]
    value_columns: list[str]
    rows: list[tuple[list[Any], list[Any]]] = field(default_factory=list)
    total: int = 0  # entries in the map; rows holds the largest `top` of them


@dataclass
class StackRow:
    count: int
    labels: dict[str, Any]  # the key's other fields: pid, comm...
    kernel: list[str]  # frames, innermost first
    user: list[str]


@dataclass
class StackCounts:
    map_name: str
    rows: list[StackRow]
    total: int


@dataclass(frozen=True)
class MapView:
    spec: MapSpec
    kind: str  # "hist-slots", "hist-keys", "counters" or "stacks"
    key: StructDecoder
    value: StructDecoder
    unit: str


def views(spec: ObjectSpec, units: Mapping[str, str] | None = None) -> list[MapView]:
    """The maps of `spec` that hold results to show, by the naming convention."""
    found = []
    has_stacks = any(m.type == MAP_STACK_TRACE for m in spec.maps)
    for m in spec.maps:
        if m.type not in TABLE_TYPES or m.key_type is None or m.value_type is None:
            continue
        kind = _kind(spec.btf, m)
        if kind:
            key = StructDecoder(spec.btf, m.key_type)
            if key.columns == ["value"]:  # a scalar key
                key.columns = ["key"]
            if kind == "counters" and has_stacks and any(
                    c.endswith("stack_id") for c in key.columns):
                kind = "stacks"
            found.append(MapView(m, kind, key, StructDecoder(spec.btf, m.value_type),
                                 (units or {}).get(m.name, "value")))
    return found


def _kind(btf: b.Btf, m: MapSpec) -> str | None:
    value = btf.strip(m.value_type or 0)
    if value.kind == b.KIND_STRUCT and any(
        member.name == "slots" and btf.strip(member.type_id).kind == b.KIND_ARRAY
        for member in value.members
    ):
        return "hist-slots"
    if m.name.startswith("hist_") or m.name.endswith("_hist"):
        return "hist-keys"
    if m.name.startswith(("counter_", "gauge_")) or m.name.endswith(("_count", "_counts")):
        return "counters"
    return None


def read_views(found: list[MapView], fd_of: Callable[[str], int], top: int,
               stack_map: str | None = None) -> list[Histogram | CounterTable | StackCounts]:
    results: list[Histogram | CounterTable | StackCounts] = []
    for view in found:
        entries = _entries(view, fd_of(view.spec.name))
        if view.kind == "stacks" and stack_map:
            results.append(_stacks(view, entries, top, fd_of(stack_map)))
        elif view.kind == "hist-slots":
            results += _slot_histograms(view, entries)
        elif view.kind == "hist-keys":
            results += _key_histograms(view, entries)
        else:
            results.append(_counters(view, entries, top))
    return results


def _entries(view: MapView, fd: int) -> list[tuple[list[Any], list[Any]]]:
    lib = libbpf.get()
    key_size, value_size = view.key.size, view.value.size
    percpu = view.spec.type in PERCPU_TYPES
    cpus = lib.libbpf_num_possible_cpus() if percpu else 1
    stride = (value_size + 7) & ~7 if percpu else value_size
    key = ctypes.create_string_buffer(key_size)
    next_key = ctypes.create_string_buffer(key_size)
    value = ctypes.create_string_buffer(stride * cpus)
    entries = []
    previous = None
    while len(entries) < MAX_ENTRIES_READ:
        if lib.bpf_map_get_next_key(fd, previous, next_key) != 0:
            break
        ctypes.memmove(key, next_key, key_size)
        previous = key
        if lib.bpf_map_lookup_elem(fd, key, value) != 0:
            continue  # deleted between the two calls
        raw = value.raw
        decoded = [view.value.decode(raw[i * stride : i * stride + value_size])
                   for i in range(cpus)]
        entries.append((view.key.decode(key.raw), _sum(decoded)))
    return entries


def _sum(per_cpu: list[list[Any]]) -> list[Any]:
    if len(per_cpu) == 1:
        return per_cpu[0]
    total = []
    for column in zip(*per_cpu, strict=True):
        first = column[0]
        if isinstance(first, int) and not isinstance(first, bool):
            total.append(sum(column))
        elif isinstance(first, list):
            total.append([sum(items) for items in zip(*column, strict=True)])
        else:
            total.append(first)
    return total


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


def _counters(view: MapView, entries: list[tuple[list[Any], list[Any]]],
              top: int) -> CounterTable:
    def weight(entry: tuple[list[Any], list[Any]]) -> int:
        numbers = [v for v in entry[1] if isinstance(v, int) and not isinstance(v, bool)]
        return numbers[0] if numbers else 0

    ordered = sorted(entries, key=weight, reverse=True)
    return CounterTable(view.spec.name, view.key.columns, view.value.columns, ordered[:top],
                        len(ordered))


MAX_STACK_DEPTH = 127


@functools.cache
def _symbols() -> tuple[KernelSymbols, UserSymbols]:
    """Loaded once, on the first stack: kallsyms alone is thousands of lines."""
    from ecli.runtime.symbols import KernelSymbols, UserSymbols

    return KernelSymbols(), UserSymbols()


def _stacks(view: MapView, entries: list[tuple[list[Any], list[Any]]], top: int,
            stack_fd: int) -> StackCounts:
    kernel_symbols, user_symbols = _symbols()
    table = _counters(view, entries, top)
    rows = []
    for key, value in table.rows:
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
