"""Read a run's maps into metric families, on every scrape or push.

Which maps, and as what: the package's `[metrics]` table when it has one
(only the maps it names); otherwise by the naming convention `ecli run`
already shows maps by (ecli/runtime/maps.py): histogram maps become
Prometheus histograms, counter maps counters (`gauge_*` maps gauges), and
plain tables are left out.

A key's fields become labels, each through its decoder when the config names
one. A key that cannot be decoded (no BTF, or a decoder that does not know
the value) is exported with a hex label and counted in
`ecli_metrics_undecoded_labels_total`. A scrape holds at most `max_series`
series: a new label set past that is dropped, and once none are left the
rest of the maps' entries are counted without being decoded, all in
`ecli_metrics_dropped_series_total`. Maps are read with `EntryReader`'s
limit, so a scrape's memory and time stay bounded whatever the map holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from ecli.errors import ArtifactError
from ecli.metrics.exposition import label_name, metric_name
from ecli.metrics.families import Buckets, Family, Labels
from ecli.metrics.labels import Decode, Decoders, hexed, plain
from ecli.oci.config import MetricInfo
from ecli.runtime import maps
from ecli.runtime.decode import BytesDecoder, StructDecoder
from ecli.runtime.mapread import EntryReader
from ecli.runtime.spec import ObjectSpec

MAX_SERIES = 10_000
MAX_SLOTS = 1024  # a histogram key's slot beyond this is not a histogram's
_HISTOGRAM_VIEWS = ("hist-slots", "hist-keys")


@dataclass(frozen=True)
class _Label:
    column: int
    name: str
    decode: Decode | None


@dataclass(frozen=True)
class _Plan:
    """How one map becomes families, worked out once at start."""

    view: maps.MapView
    info: MetricInfo
    name: str
    help: str
    labels: tuple[_Label, ...]
    hex_keys: bool  # no BTF for the key: every label is hex
    values: tuple[tuple[int, str], ...] = ()  # counter/gauge: (value column, family name)
    slots_at: int | None = None  # histogram of a `slots` array: that value column
    slot_at: int | None = None  # histogram keyed by slot: that key column
    sum_at: int | None = None

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)


class Collector:
    """The families of one run's maps; `collect` reads them now."""

    def __init__(self, spec: ObjectSpec, package: str, units: Mapping[str, str],
                 configured: Mapping[str, MetricInfo], max_series: int = MAX_SERIES) -> None:
        self.max_series = max_series
        self.decoders = Decoders()
        self.dropped = 0
        self.undecoded = 0
        self.read_errors: dict[str, int] = {}
        self.extra: list[Callable[[], Family]] = []  # e.g. the OTLP pusher's own counters
        views = {v.spec.name: v for v in maps.views(spec, units)}
        chosen = configured or _by_names(views.values())
        unknown = [name for name in chosen if name not in views]
        if unknown:
            raise ArtifactError(f"{package}: metrics.{unknown[0]}: no map {unknown[0]!r} to "
                                f"export in {spec.path.name} "
                                f"(maps: {', '.join(sorted(views)) or 'none'})")
        self.plans = [self._plan(package, views[name], info, units.get(name, ""))
                      for name, info in chosen.items()]
        seen: dict[str, str] = {}
        for plan in self.plans:
            for name, _kind in self._names(plan):
                if name in seen:
                    raise ArtifactError(f"{package}: metrics.{plan.view.spec.name}: metric "
                                        f"{name} is also metrics.{seen[name]}'s",
                                        hint="give one of them another name")
                seen[name] = plan.view.spec.name

    @property
    def maps(self) -> list[str]:
        return [plan.view.spec.name for plan in self.plans]

    def names(self) -> list[tuple[str, str]]:
        """(sample name, kind) of each metric the maps export, as a scrape names them."""
        return [found for plan in self.plans for found in self._names(plan)]

    @staticmethod
    def _names(plan: _Plan) -> list[tuple[str, str]]:
        if plan.info.kind == "histogram":
            return [(plan.name, "histogram")]
        suffix = "_total" if plan.info.kind == "counter" else ""
        return [(f"{name}{suffix}", plan.info.kind) for _, name in plan.values]

    def collect(self, fd_of: Callable[[str], int]) -> list[Family]:
        self.decoders.refresh()
        budget = [self.max_series]
        families: list[Family] = []
        for plan in self.plans:
            families += self._read(plan, fd_of(plan.view.spec.name), budget)
        return [*families, *self._own(), *(make() for make in self.extra)]

    # -- planning ---------------------------------------------------------------

    def _plan(self, package: str, view: maps.MapView, info: MetricInfo, unit: str) -> _Plan:
        where = f"{package}: metrics.{view.spec.name}"
        name = metric_name(info.name or f"{package}_{_stem(view.spec.name)}")
        if (unit and info.kind == "histogram" and info.scale == 1.0
                and not name.endswith(f"_{unit}")):  # scaled: the name says the new unit
            name = metric_name(f"{name}_{unit}")
        text = info.help or f"map {view.spec.name} of {package}" + (
            f" ({unit})" if unit else "")
        key_columns, value_columns = view.key.columns, view.value.columns
        for column in info.labels:
            if column not in key_columns:
                raise ArtifactError(f"{where}: labels.{column}: the key has no field {column!r} "
                                    f"(fields: {', '.join(key_columns)})")
        slots_at = slot_at = sum_at = None
        values: tuple[tuple[int, str], ...] = ()
        skip: set[int] = set()
        if info.kind == "histogram":
            if "slots" in value_columns:
                slots_at = value_columns.index("slots")
            else:
                slot_at = next((i for i, c in enumerate(key_columns)
                                if c in ("slot", "bucket")), None)
                if slot_at is None and len(key_columns) == 1:
                    slot_at = 0  # the key is the slot
                if slot_at is None:
                    raise ArtifactError(f"{where}: a histogram needs a value with a `slots` "
                                        "array or a key with a `slot` field")
                skip.add(slot_at)
            sum_name = info.sum or ("sum" if "sum" in value_columns else "")
            if sum_name:
                if sum_name not in value_columns:
                    raise ArtifactError(f"{where}: sum: the value has no field {sum_name!r}")
                sum_at = value_columns.index(sum_name)
            if slots_at is not None and key_columns == ["key"] and view.spec.max_entries == 1:
                skip.add(0)  # one histogram: its key (0) is no label
        else:
            numeric = _numeric_columns(view.value)
            wanted = info.values or tuple(c for c in value_columns if c in numeric)
            missing = [c for c in wanted if c not in value_columns]
            if missing:
                raise ArtifactError(f"{where}: values: the value has no field {missing[0]!r} "
                                    f"(fields: {', '.join(value_columns)})")
            not_numbers = [c for c in wanted if c not in numeric]
            if not_numbers:
                raise ArtifactError(f"{where}: values: field {not_numbers[0]!r} is not a "
                                    "number")
            single = len(wanted) == 1
            values = tuple((value_columns.index(c),
                            name if single else metric_name(f"{name}_{c}")) for c in wanted)
        labels = tuple(
            _Label(i, self._label_name(info, column, info.kind),
                   self.decoders.decoder(info.labels[column]) if column in info.labels
                   else None)
            for i, column in enumerate(key_columns) if i not in skip)
        names = [label.name for label in labels]
        repeated = next((n for n in names if names.count(n) > 1), None)
        if repeated is not None:
            raise ArtifactError(f"{where}: two key fields make the label {repeated!r}",
                                hint="rename one: labels.FIELD = {decoder = ..., name = ...}")
        return _Plan(view, info, name, text, labels, isinstance(view.key, BytesDecoder),
                     values, slots_at, slot_at, sum_at)

    @staticmethod
    def _label_name(info: MetricInfo, column: str, kind: str) -> str:
        given = info.labels[column].name if column in info.labels else ""
        name = label_name(given or column)
        return f"{name}_" if kind == "histogram" and name == "le" else name

    # -- reading ----------------------------------------------------------------

    def _read(self, plan: _Plan, fd: int, budget: list[int]) -> list[Family]:
        spec = plan.view.spec
        reader = EntryReader(fd, spec.type, spec.key_size, spec.value_size)
        entries = self._within(iter(reader), budget)
        if plan.info.kind == "histogram":
            found = [self._histograms(plan, reader, entries, budget)]
        else:
            found = self._numbers(plan, reader, entries, budget)
        if reader.error or reader.truncated:
            self.read_errors[spec.name] = self.read_errors.get(spec.name, 0) + 1
        return found

    def _histograms(self, plan: _Plan, reader: EntryReader,
                    entries: Iterator[tuple[bytes, bytes]], budget: list[int]) -> Family:
        family = Family(plan.name, "histogram", plan.help, plan.label_names)
        for row in maps.rows(plan.view, reader, entries):
            value = self._buckets(plan, row)
            if value is not None:
                labels, undecoded = self._labels(plan, row.key)
                self.undecoded += undecoded
                self._add(family, labels, value, budget)
        return family

    def _numbers(self, plan: _Plan, reader: EntryReader,
                 entries: Iterator[tuple[bytes, bytes]], budget: list[int]) -> list[Family]:
        """Counters and gauges: the hot path of a big scrape. Each value column is read
        from the raw value alone, each key's labels by `_labels_of`."""
        found = [Family(name, plan.info.kind, plan.help, plan.label_names)
                 for _, name in plan.values]
        columns = [(family.samples, maps.raw_number(plan.view, reader, at))
                   for family, (at, _) in zip(found, plan.values, strict=True)]
        labels_of = self._labels_of(plan)
        for entry in entries:
            labels = labels_of(entry[0])
            for samples, read in columns:  # Family.add and _add, inlined for numbers
                if labels in samples:
                    samples[labels] += read(entry)
                elif budget[0] > 0:
                    samples[labels] = read(entry)
                    budget[0] -= 1
                else:
                    self.dropped += 1
        return found

    def _within(self, entries: Iterator[tuple[bytes, bytes]],
                budget: list[int]) -> Iterator[tuple[bytes, bytes]]:
        """The raw entries while the scrape has series to spare; the rest are only counted
        (reading raw entries is cheap, decoding them is not)."""
        for entry in entries:
            if budget[0] <= 0:
                self.dropped += 1 + sum(1 for _ in entries)
                return
            yield entry

    def _add(self, family: Family, labels: Labels, value: float | Buckets,
             budget: list[int]) -> None:
        if labels not in family.samples:
            cost = len(value.bounds) + 3 if isinstance(value, Buckets) else 1
            if cost > budget[0]:
                self.dropped += 1
                return
            budget[0] -= cost
        family.add(labels, value)

    def _labels_of(self, plan: _Plan) -> Callable[[bytes], Labels]:
        """A raw key's labels (hex ones counted). Nothing is kept from scrape to scrape
        (10,000 keys' labels would be megabytes): keys of plain integer fields, the
        common case, are unpacked in one C call, their numbers the labels as they are
        (written out by the exposition, never stored as text)."""
        key, columns = plan.view.key, [label.column for label in plan.labels]
        unpack = key.unpacker() if isinstance(key, StructDecoder) else None
        if (unpack is None or plan.hex_keys
                or any(label.decode or key.types[label.column] is not int  # type: ignore[union-attr]
                       for label in plan.labels)):
            def decoded(raw: bytes) -> Labels:
                labels, undecoded = self._labels(plan, key.decode(raw))
                self.undecoded += undecoded
                return labels

            return decoded
        if columns == list(range(len(key.columns))):  # every field a label, in order
            return unpack
        if len(columns) == 1:
            at = columns[0]
            return lambda raw: (unpack(raw)[at],)
        pick = itemgetter(*columns)
        return lambda raw: pick(unpack(raw))

    @staticmethod
    def _labels(plan: _Plan, key: Sequence[Any]) -> tuple[Labels, int]:
        """The labels of a decoded key, and how many of them are hex (undecoded)."""
        labels, undecoded = [], 0
        for label in plan.labels:
            value = key[label.column]
            if plan.hex_keys:
                undecoded += 1
                text = f"0x{value}"
            elif label.decode is None:
                text = plain(value)
            else:
                shown = label.decode(value)
                if shown is None:
                    undecoded += 1
                    shown = hexed(value)
                text = shown
            labels.append(text)
        return tuple(labels), undecoded

    def _buckets(self, plan: _Plan, row: maps.TableRow) -> Buckets | None:
        info = plan.info
        total = _number(row.value[plan.sum_at]) if plan.sum_at is not None else None
        if plan.slots_at is not None:
            counts = [int(n) for n in row.value[plan.slots_at]]
        else:
            slot = row.key[plan.slot_at]  # type: ignore[index]
            count = _number(row.value[0])
            if not isinstance(slot, int) or not 0 <= slot < MAX_SLOTS or count is None:
                return None
            counts = [0] * slot + [int(count)]
        if total is not None and info.scale != 1.0:
            total *= info.scale
        return Buckets(bounds(info, len(counts)), counts, total)

    def _own(self) -> list[Family]:
        """The exporter's own counters, always present."""
        dropped = Family("ecli_metrics_dropped_series", "counter",
                         "label sets left out of scrapes by the series cap")
        dropped.add((), self.dropped)
        undecoded = Family("ecli_metrics_undecoded_labels", "counter",
                           "key fields exported as hex: no BTF, or a decoder did not know them")
        undecoded.add((), self.undecoded)
        errors = Family("ecli_metrics_map_read_errors", "counter",
                        "reads of a map that failed or stopped at the read limit", ("map",))
        for name in self.maps:
            errors.add((name,), self.read_errors.get(name, 0))
        return [dropped, undecoded, errors]


def bounds(info: MetricInfo, slots: int) -> list[float]:
    """Each slot's inclusive upper bound in the map's unit: a log2 slot i holds 2^i to
    2^(i+1)-1 (slot 0 also 0), as libbpf-tools' log2l counts; a linear slot i of width w
    holds i*w to (i+1)*w - 1; times `scale` (e.g. microseconds to seconds)."""
    if info.buckets == "linear":
        return [((i + 1) * info.bucket_width - 1) * info.scale for i in range(slots)]
    return [((1 << (i + 1)) - 1) * info.scale for i in range(slots)]


def _by_names(views: Sequence[maps.MapView] | Any) -> dict[str, MetricInfo]:
    chosen = {}
    for view in views:
        if view.kind in _HISTOGRAM_VIEWS:
            chosen[view.spec.name] = MetricInfo("histogram")
        elif view.kind == "counters":
            kind = "gauge" if view.spec.name.startswith("gauge_") else "counter"
            chosen[view.spec.name] = MetricInfo(kind)
    return chosen


def _numeric_columns(value: maps.Decoder) -> set[str]:
    """The value columns that decode to numbers (enums decode to names, bools are not)."""
    if not isinstance(value, StructDecoder):
        return set()
    zero = value.decode(bytes(value.size))
    return {c for c, v in zip(value.columns, zero, strict=True) if _number(v) is not None}


def _stem(map_name: str) -> str:
    """A map's name without the prefix or suffix that only says its kind (the metric's
    type says it: Prometheus' linter refuses `counter` in a counter's name)."""
    for prefix in ("counter_", "gauge_", "hist_"):
        if map_name.startswith(prefix) and len(map_name) > len(prefix):
            return map_name.removeprefix(prefix)
    return map_name.removesuffix("_hist") or map_name


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None
