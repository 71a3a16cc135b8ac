"""Push the same families over OTLP/HTTP, every interval, as protobuf or JSON.

The body is an `ExportMetricsServiceRequest` (opentelemetry-proto,
collector/metrics/v1): counters as cumulative monotonic sums, gauges as
gauges, histograms as cumulative explicit-bucket histograms (`bucketCounts`
has one more entry than `explicitBounds`: the overflow). It is made once, in
OTLP's JSON mapping, and sent as it is (`http/json`) or parsed into the
message of the `opentelemetry-proto` package and serialised
(`http/protobuf`, OTLP/HTTP's default): one mapping, two encodings. A push
is tried `ATTEMPTS` times within the interval; failed pushes and retries are
counted (`ecli_metrics_otlp_*_total`, also on /metrics), and the first
failure after a success is reported once through `warn`.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from ecli import __version__
from ecli.errors import TransportError, UsageError
from ecli.metrics.families import Buckets, Family
from ecli.net.transport import HTTPTransport

ATTEMPTS = 3
BACKOFF = 0.5  # seconds before the second attempt; doubled each time
MAX_DEADLINE = 10.0  # seconds one attempt may take
MAX_REPLY = 1 << 16
PROTOCOLS = ("http/protobuf", "http/json")  # as OTEL_EXPORTER_OTLP_PROTOCOL names them
_CONTENT_TYPES = {"http/protobuf": "application/x-protobuf", "http/json": "application/json"}


def endpoint_url(text: str) -> str:
    """The URL pushes go to: OTLP/HTTP's default path when the URL has none."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--otel-endpoint: {text!r} is not an http(s) URL "
                         "(e.g. http://127.0.0.1:4318)")
    if parts.path in ("", "/"):
        parts = parts._replace(path="/v1/metrics")
    return urllib.parse.urlunsplit(parts)


def request(families: list[Family], package: str, started_ns: int,
            now_ns: int) -> dict[str, Any]:
    """The ExportMetricsServiceRequest, in OTLP's JSON mapping."""
    metrics = [_metric(f, started_ns, now_ns) for f in families if f.samples]
    return {"resourceMetrics": [{
        "resource": {"attributes": [_attribute("service.name", "ecli"),
                                    _attribute("ecli.package", package)]},
        "scopeMetrics": [{"scope": {"name": "ecli", "version": __version__},
                          "metrics": metrics}],
    }]}


def encoder(protocol: str) -> Callable[[dict[str, Any]], bytes]:
    """How a request goes on the wire. The protobuf definitions are imported here, once
    a push is asked for: a run without --otel-endpoint never loads them."""
    if protocol not in PROTOCOLS:
        raise UsageError(f"--otel-protocol: {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if protocol == "http/json":
        return lambda message: json.dumps(message, separators=(",", ":")).encode()
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    return lambda message: ParseDict(message, ExportMetricsServiceRequest()).SerializeToString()


def _metric(family: Family, started_ns: int, now_ns: int) -> dict[str, Any]:
    points = []
    for labels, value in sorted(family.samples.items()):
        point: dict[str, Any] = {"attributes": [_attribute(k, str(v)) for k, v in
                                                zip(family.label_names, labels, strict=True)],
                                 "startTimeUnixNano": str(started_ns),
                                 "timeUnixNano": str(now_ns)}
        if isinstance(value, Buckets):
            point.update(count=str(value.count), explicitBounds=value.bounds,
                         bucketCounts=[str(n) for n in value.counts] + ["0"])
            if value.sum is not None:
                point["sum"] = float(value.sum)
        elif isinstance(value, int):
            point["asInt"] = str(value)
        else:
            point["asDouble"] = float(value)
        points.append(point)
    shown: dict[str, Any] = {"name": family.name, "description": family.help}
    if family.kind == "counter":
        shown["sum"] = {"dataPoints": points, "aggregationTemporality": 2, "isMonotonic": True}
    elif family.kind == "gauge":
        shown["gauge"] = {"dataPoints": points}
    else:
        shown["histogram"] = {"dataPoints": points, "aggregationTemporality": 2}
    return shown


def _attribute(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


class OtlpPusher:
    """Pushes what `families()` returns to `url` every `interval` seconds, from a thread."""

    def __init__(self, url: str, interval: float, package: str,
                 warn: Callable[[str], None], protocol: str | None = None) -> None:
        self.url = endpoint_url(url)
        self.protocol = PROTOCOLS[0] if protocol is None else protocol  # None: not given
        self._encode = encoder(self.protocol)
        self.interval = interval
        self.package = package
        self.warn = warn
        self.pushes = self.failures = self.retries = 0
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_ns = time.time_ns()
        self._transport = HTTPTransport(deadline=min(MAX_DEADLINE, interval))

    def own(self) -> Family:
        family = Family("ecli_metrics_otlp_pushes", "counter",
                        "OTLP pushes by outcome (failed: after every retry)", ("outcome",))
        family.add(("sent",), self.pushes)
        family.add(("failed",), self.failures)
        family.add(("retried",), self.retries)
        return family

    def start(self, families: Callable[[], list[Family]]) -> None:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.push(families(), ATTEMPTS)
            self.push(families(), 1)  # the last values, once, without holding the exit

        self._thread = threading.Thread(target=loop, name="ecli-otlp", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self._transport.close()

    def push(self, families: list[Family], attempts: int) -> bool:
        body = self._encode(request(families, self.package, self._started_ns,
                                    time.time_ns()))
        reason = ""
        for attempt in range(attempts):
            if attempt:
                self.retries += 1
                if self._stop.wait(BACKOFF * 2 ** (attempt - 1)) and attempts > 1:
                    break  # stopping: the final push follows
            reason = self._send(body)
            if not reason:
                self.pushes += 1
                self._failing = False
                return True
        self.failures += 1
        if not self._failing:
            self.warn(f"metrics: OTLP push to {self.url} failed: {reason} "
                      f"(counted in ecli_metrics_otlp_pushes_total; retried every "
                      f"{self.interval:g}s)")
        self._failing = True
        return False

    def _send(self, body: bytes) -> str:
        """'' when the receiver took it, else why not."""
        try:
            with self._transport.request("POST", self.url, body=body, headers={
                    "Content-Type": _CONTENT_TYPES[self.protocol]}) as response:
                response.read(MAX_REPLY)
                if 200 <= response.status < 300:
                    return ""
                return f"HTTP {response.status} {response.reason}"
        except TransportError as exc:
            return exc.reason
