"""One run's exporter: what `ecli run --metrics/--otel-endpoint` adds to the run.

Made before the program is loaded (the address is bound then, so a busy or
bad address stops the run before anything reaches the kernel); the runner
starts it once the maps exist and stops it before they are unloaded (it is
the runner's `MapWatcher`). Scrapes and pushes share one lock: the collector
counts across reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ecli.metrics import exposition
from ecli.metrics.collect import MAX_SERIES, Collector
from ecli.metrics.families import Family
from ecli.metrics.server import MetricsServer
from ecli.oci.config import MetricInfo
from ecli.runtime.spec import ObjectSpec

if TYPE_CHECKING:
    from ecli.metrics.otlp import OtlpPusher

DEFAULT_PUSH_INTERVAL = 15.0  # seconds, when --interval is not given


class Exporter:
    def __init__(self, spec: ObjectSpec, package: str, units: Mapping[str, str],
                 configured: Mapping[str, MetricInfo], *, address: str | None = None,
                 otel_endpoint: str | None = None, interval: float | None = None,
                 otel_protocol: str | None = None,
                 max_series: int | None = None,
                 warn: Callable[[str], None] = lambda _line: None) -> None:
        # None: the option was not given (the CLI tells given from default by it)
        self.collector = Collector(spec, package, units, configured,
                                   MAX_SERIES if max_series is None else max_series)
        self._lock = threading.Lock()
        self.pusher: OtlpPusher | None = None
        if otel_endpoint:  # imported only then: the transport brings ssl
            from ecli.metrics.otlp import OtlpPusher

            self.pusher = OtlpPusher(otel_endpoint, interval or DEFAULT_PUSH_INTERVAL, package,
                                     warn, otel_protocol)
            self.collector.extra.append(self.pusher.own)
        self.server = MetricsServer(address) if address else None  # last: nothing to undo
        self._fd_of: Callable[[str], int] | None = None

    def families(self) -> list[Family]:
        assert self._fd_of is not None, "started"
        with self._lock:
            return self.collector.collect(self._fd_of)

    def start(self, fd_of: Callable[[str], int]) -> None:
        self._fd_of = fd_of
        if self.server:
            self.server.start(lambda openmetrics: exposition.render(self.families(),
                                                                    openmetrics))
        if self.pusher:
            self.pusher.start(self.families)

    def stop(self) -> None:
        """Also when the run never started (a failed load): the socket is closed."""
        if self.server:
            self.server.stop()
        if self.pusher:
            self.pusher.stop()
