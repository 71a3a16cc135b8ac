"""Run a kind-`bpf` package: options, load, attach, stream events, show maps, detach.

This is the whole life of `ecli run` once the object is on disk: parse
(spec, options), load (loader), attach (attach), stream and read maps. The
caller supplies `RunSettings` (plain data the CLI builds from the package
config: the runtime reads no distribution format) and a `RunOutput`, so the
runtime never decides how things look.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ecli.kernel.types import MAP_RINGBUF, MAP_STACK_TRACE
from ecli.runtime import maps
from ecli.runtime.attach import Attached, AttachedProgram
from ecli.runtime.btf import Btf
from ecli.runtime.decode import RawDecoder, StructDecoder
from ecli.runtime.loader import LoadedObject
from ecli.runtime.options import OptionText, ProgramArgs, object_options, parse_program_args
from ecli.runtime.ringbuf import Samples
from ecli.runtime.spec import GlobalSpec, MapSpec, ObjectSpec
from ecli.runtime.streams import EventStreams

if TYPE_CHECKING:
    from ecli.runtime.event_header import EventTypes
    from ecli.runtime.filters import Filter, FilteredDecoder
    from ecli.runtime.formats import FormattedDecoder

    # what decodes one event map's events (filters and formats are imported when used)
    Decoder = StructDecoder | RawDecoder | FormattedDecoder | FilteredDecoder

POLL_SECONDS = 0.1
FLUSH_SECONDS = 0.1


class EventSink(Protocol):
    """Where one event map's events go, a decoded batch at a time (one list per column).

    `flush` follows a batch at once when the last flush is FLUSH_SECONDS old (a
    quiet stream shows each event when it comes), else at most FLUSH_SECONDS later
    (a busy one is written in large pieces).
    """

    def write(self, columns: Sequence[Sequence[Any]]) -> None: ...
    def flush(self) -> None: ...


class RunOutput(Protocol):
    """Where a run's results go; the CLI implements it."""

    def attached(self, programs: list[AttachedProgram], ends_itself: bool) -> None:
        """`ends_itself`: every program is an iterator, so the run ends once they are read
        (no signal needed)."""
    def events(self, map_name: str, decoder: Decoder) -> EventSink: ...
    def maps(self, results: list[maps.Histogram | maps.CounterTable | maps.StackCounts],
             final: bool) -> None: ...
    def lost(self, lost: dict[str, int]) -> None: ...
    def iterated(self, program: str, lines: Iterable[str]) -> None: ...


class MapWatcher(Protocol):
    """Reads the maps beside the run (the metrics exporter): started once the programs are
    attached, stopped before the object is unloaded."""

    def start(self, fd_of: Callable[[str], int]) -> None: ...
    def stop(self) -> None: ...


class RunSettings(NamedTuple):
    """What a package says about running it, as plain data (the CLI reads its config)."""

    description: str = ""
    options: Mapping[str, OptionText] = MappingProxyType({})  # by global name
    fields: Mapping[str, str] = MappingProxyType({})  # event field -> format
    units: Mapping[str, str] = MappingProxyType({})  # histogram map -> unit
    event_types: EventTypes | None = None  # decode events with these types, not the object's


class RunSummary(NamedTuple):
    programs: int
    events: int
    lost: int
    seconds: float


class PreparedRun(NamedTuple):
    name: str
    spec: ObjectSpec
    args: ProgramArgs
    streams: dict[str, tuple[MapSpec, Decoder]]  # event map name -> (map, decoder)
    views: list[maps.MapView]
    lost_counters: dict[str, GlobalSpec]
    stack_map: str | None  # the stack trace map that *_stack_id keys refer to


def prepare(object_path: Path, settings: RunSettings, name: str,
            argv: Sequence[str], shown: maps.MapChoice = maps.EVERY_MAP) -> PreparedRun:
    """Read the object and parse the program's own arguments (may print help and exit).
    `shown` chooses the maps and carries the `--filter`s for events and map rows."""
    spec = ObjectSpec.from_file(object_path)
    options = object_options(spec, settings.options)
    args = parse_program_args(f"ecli run {name}", spec, options, argv, settings.description)
    streams: dict[str, tuple[MapSpec, Decoder]] = {}
    for event_map in spec.event_maps():
        btf, type_id = _event_type(spec, event_map, args.event_type, settings.event_types)
        decoder: Decoder = RawDecoder() if type_id is None else StructDecoder(btf, type_id)
        if shown.filters:
            decoder = _filtered(decoder, shown.filters)  # before any formatting
        if settings.fields and type_id is not None:
            from ecli.runtime.formats import FormattedDecoder

            decoder = FormattedDecoder(decoder, settings.fields)
        streams[event_map.name] = (event_map, decoder)
    found = maps.views(spec, settings.units, shown)
    if shown.filters:
        from ecli.runtime.filters import check_fields

        check_fields(shown.filters, {
            **{f"events of {m}": d.columns for m, (_, d) in streams.items()},
            **{f"map {v.spec.name}": v.columns for v in found
               if v.kind in ("table", "counters")}})
    counters = {
        m.name: counter for m in spec.maps
        if m.type == MAP_RINGBUF and (counter := spec.lost_counter(m.name)) is not None
    }
    stack_map = next((m.name for m in spec.maps if m.type == MAP_STACK_TRACE), None)
    return PreparedRun(name, spec, args, streams, found, counters, stack_map)


def _filtered(decoder: Decoder, chosen: Sequence[Filter]) -> Decoder:
    """`decoder`, dropping the events that `chosen` (`--filter`) reject; itself when no
    filter names one of its fields."""
    from ecli.runtime.filters import FilteredDecoder, predicate

    keep = predicate(chosen, decoder.columns)
    return decoder if keep is None else FilteredDecoder(decoder, keep)


def _event_type(spec: ObjectSpec, event_map: MapSpec, named: str | None,
                outside: EventTypes | None) -> tuple[Btf, int | None]:
    """The BTF and type id of `event_map`'s events: from an event header or the package's
    BTF when given (`RunSettings.event_types`), else from the object (None: unknown)."""
    if outside is not None:
        return outside.btf, outside.pick(named, spec.event_sizes(event_map))
    return spec.btf, spec.event_type(event_map, named)


def execute(run: PreparedRun, output: RunOutput, duration: float | None,
            interval: float | None, top: int, watcher: MapWatcher | None = None) -> RunSummary:
    """Load, attach and report until a signal or the duration ends; `watcher` reads the
    maps meanwhile from its own threads. Iterators are read once, right after attaching;
    an object whose programs are all iterators ends there."""
    stop = _StopFlag()
    count = 0
    started = time.monotonic()
    with stop, LoadedObject(run.spec, run.args.rodata, run.name) as loaded, \
            Attached(loaded, run.args.attach) as attached:
        streams = EventStreams(run.name)
        sinks: list[EventSink] = []
        try:
            for map_name, (event_map, decoder) in run.streams.items():
                sink = output.events(map_name, decoder)
                sinks.append(sink)

                def handle(samples: Samples, decoder: Decoder = decoder,
                           sink: EventSink = sink) -> None:
                    nonlocal count
                    columns = decoder.decode_batch(samples)
                    if columns and columns[0]:  # a --filter may have dropped them all
                        count += len(columns[0])
                        sink.write(columns)

                streams.add(event_map, loaded.map_fd(map_name), handle)
            if watcher is not None:
                watcher.start(loaded.map_fd)
            # an object of iterators only has said everything once they are read
            finished = 0 < len(attached.iterators) == len(attached.programs)
            output.attached(attached.programs, ends_itself=finished)
            if attached.iterators:
                from ecli.runtime.iterators import read_lines

                for program, link in attached.iterators:
                    output.iterated(program.name, read_lines(link.pointer or 0, run.name,
                                                             program.name))
            deadline = started + duration if duration is not None else None
            next_report = time.monotonic() + interval if interval and run.views else None
            next_flush, unflushed = 0.0, False
            while not (stop.requested or finished):
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                wake = min(t for t in (deadline, next_report, unflushed and next_flush,
                                       now + POLL_SECONDS) if t)
                if streams.empty:
                    time.sleep(max(0.0, wake - now))
                else:
                    unflushed = streams.poll(max(0.0, wake - now)) > 0 or unflushed
                    if unflushed and time.monotonic() >= next_flush:
                        for sink in sinks:
                            sink.flush()
                        next_flush, unflushed = time.monotonic() + FLUSH_SECONDS, False
                if next_report is not None and time.monotonic() >= next_report:
                    output.maps(maps.read_views(run.views, loaded.map_fd, top, run.stack_map),
                                final=False)
                    next_report += interval  # type: ignore[operator]
            # detached first, so the last events and the final maps are one consistent
            # snapshot: no program adds to one map between the reads of two
            attached.close()
            streams.drain(final=True)
            for sink in sinks:
                sink.flush()
            lost = streams.lost(loaded.read_global, run.lost_counters)
        finally:
            if watcher is not None:
                watcher.stop()
            streams.close()
        if run.views:
            output.maps(maps.read_views(run.views, loaded.map_fd, top, run.stack_map), final=True)
        output.lost({name: n for name, n in lost.items() if n})
        programs = len(attached.programs)
    return RunSummary(programs, count, sum(lost.values()), time.monotonic() - started)


class _StopFlag:
    """SIGINT and SIGTERM end the run between polls, never in the middle of one."""

    def __init__(self) -> None:
        self.requested = False

    def _handler(self, _signum: int, _frame: object) -> None:
        self.requested = True

    def __enter__(self) -> None:
        self._previous = {
            sig: signal.signal(sig, self._handler) for sig in (signal.SIGINT, signal.SIGTERM)
        }

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
