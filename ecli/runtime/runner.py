"""Run a kind-`bpf` package: options, load, attach, stream events, detach.

This is the whole life of `ecli run` once the object is on disk. Output
goes through a printer the caller supplies, so the runtime never decides
how things look.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ecli.oci.config import PackageConfig
from ecli.runtime.decode import StructDecoder
from ecli.runtime.loader import AttachedProgram, LoadedObject
from ecli.runtime.options import object_options, parse_program_args
from ecli.runtime.spec import MAP_RINGBUF, ObjectSpec

POLL_INTERVAL_MS = 100


class EventSink(Protocol):
    def event(self, values: Sequence[Any]) -> None: ...
    def flush(self) -> None: ...


@dataclass(frozen=True)
class RunSummary:
    programs: int
    events: int
    seconds: float


@dataclass(frozen=True)
class PreparedRun:
    name: str
    spec: ObjectSpec
    rodata: dict[str, bytes]
    streams: dict[str, StructDecoder]  # ring buffer map name -> event decoder


def prepare(object_path: Path, config: PackageConfig | None, name: str,
            argv: Sequence[str]) -> PreparedRun:
    """Read the object and parse the program's own arguments (may print help and exit)."""
    spec = ObjectSpec.from_file(object_path)
    infos = config.options if config else {}
    options = object_options(spec, infos)
    rodata = parse_program_args(f"ecli run {name}", spec, options, argv,
                                config.description if config else "")
    streams = {
        m.name: StructDecoder(spec.btf, m.value_type)
        for m in spec.maps if m.type == MAP_RINGBUF and m.value_type is not None
    }
    return PreparedRun(name, spec, rodata, streams)


def execute(run: PreparedRun, make_sink: Callable[[StructDecoder], EventSink],
            duration: float | None,
            on_attached: Callable[[list[AttachedProgram]], None]) -> RunSummary:
    """Load, attach and print events until a signal or the duration ends."""
    stop = _StopFlag()
    count = 0
    started = time.monotonic()
    with stop, LoadedObject(run.spec, run.rodata, run.name) as loaded:
        sinks: list[EventSink] = []
        handlers = {}
        for map_name, decoder in run.streams.items():
            sink = make_sink(decoder)
            sinks.append(sink)

            def handle(data: bytes, decoder: StructDecoder = decoder,
                       sink: EventSink = sink) -> None:
                nonlocal count
                count += 1
                sink.event(decoder.decode(data))

            handlers[map_name] = handle
        loaded.open_ring_buffers(handlers)
        on_attached(loaded.programs)
        deadline = started + duration if duration is not None else None
        while not stop.requested:
            timeout = POLL_INTERVAL_MS
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                timeout = min(timeout, max(1, int(left * 1000)))
            if handlers:
                loaded.poll(timeout)
            else:
                time.sleep(timeout / 1000)
            for sink in sinks:
                sink.flush()
        programs = len(loaded.programs)
    return RunSummary(programs, count, time.monotonic() - started)


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
