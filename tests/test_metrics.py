"""`ecli run --metrics` and `--otel-endpoint` on the real kernel, scraped by a real Prometheus.

The package (tests/bpf/metrics_opens.bpf.c, built with a [metrics] table)
counts openat by result and file name length; the tests trigger those opens
themselves and read them back: from /metrics, through Debian's Prometheus
(its query API), and from a small OTLP/HTTP receiver of our own.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from test_catalog import DIRECT_WRITE
from test_examples import in_namespace, send_udp

from ecli.develop.build import load_project
from ecli.errors import ArtifactError, BuildError
from ecli.kernel.syscalls import syscall_names
from ecli.kernel.system import cgroup2_root
from ecli.metrics.collect import Collector
from ecli.metrics.exposition import label_name, metric_name, render
from ecli.metrics.families import Family
from ecli.metrics.labels import Decoders
from ecli.oci.config import LABEL_DECODERS, LabelInfo, MetricInfo, PackageConfig
from ecli.runtime.spec import ObjectSpec
from generator import syscall_table

from ecli_process import RunningEcli, error_line, programs_left, run_ecli
from registry_server import free_port

pytestmark = pytest.mark.root
REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "tests" / "bpf" / "metrics_opens.bpf.c"
PROJECT_METRICS = """
[metrics.open_results]
kind = "counter"
name = "opens"
help = "openat calls by result"

[metrics.open_results.labels]
err = "errno"
failed = { decoder = "static", name = "outcome", values = { "0" = "ok", "1" = "failed" } }

[metrics.name_lengths]
kind = "histogram"
name = "open_name_length_bytes"
buckets = "linear"
bucket_width = 8

[metrics.counter_raw]
kind = "counter"
help = "openat calls by pid (a key without BTF)"
"""
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@pytest.fixture(scope="module")
def project(make_bpf_project) -> Path:
    """The metrics_opens package, built (`ecli build`) with its [metrics] table."""
    root = make_bpf_project("mopens", source=SOURCE.read_text(), extra_toml=PROJECT_METRICS)
    built = run_ecli("build", str(root))
    assert built.returncode == 0, built.stderr
    return root


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition: (name, labels) -> value."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            match = _SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            labels = frozenset(_LABEL.findall(match[2] or ""))
            found[(match[1], labels)] = float(match[3])
    return found


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def scrape(port: int, accept: str | None = None) -> tuple[str, str]:
    """The body and content type of GET /metrics."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                     headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode(), response.headers["Content-Type"]


def fail_opens(folder: Path, count: int) -> Path:
    """`count` openat calls of a missing file (ENOENT); its path."""
    missing = folder / "no-such-file"
    for _ in range(count):
        with contextlib.suppress(FileNotFoundError):
            open(missing)  # noqa: SIM115 (it never opens)
    return missing


def finished(run: RunningEcli) -> str:
    _out, err, code = run.finish()
    assert code == 0, err
    assert programs_left(run.program_ids) == set()
    return err


def test_counters_histograms_and_hex_labels_of_a_package_with_metrics(project, tmp_path):
    port = free_port()
    run = RunningEcli([str(project), "--metrics", f"127.0.0.1:{port}", "--no-maps",
                       "--duration", "6", "--pid", str(os.getpid())])
    run.wait_attached()
    missing = fail_opens(tmp_path, 7)
    for _ in range(3):
        (tmp_path / "there").touch()
        with open(tmp_path / "there"):
            pass
    text, content_type = scrape(port)
    openmetrics, om_type = scrape(port, "application/openmetrics-text;version=1.0.0")
    err = finished(run)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    found = samples(text)
    # labels through the package's decoders: errno and a static table
    assert value(found, "opens_total", err="ENOENT", outcome="failed") >= 7
    assert value(found, "opens_total", err="0x0", outcome="ok") >= 3  # errno 0: hex, counted
    assert value(found, "ecli_metrics_undecoded_labels_total") >= 1
    # a key without BTF: a hex label (our pid, as the kernel stores it), counted
    pid_key = "0x" + os.getpid().to_bytes(4, "little").hex()
    assert value(found, "mopens_raw_total", key=pid_key) >= 10
    # a linear histogram keyed by slot (8 bytes wide): cumulative buckets, +Inf == count
    slot = min(len(str(missing)) + 1, 64) // 8  # as bpf_probe_read_user_str counts (64 max)
    upper = value(found, "open_name_length_bytes_bucket", le=f"{(slot + 1) * 8 - 1}.0")
    lower = value(found, "open_name_length_bytes_bucket", le=f"{slot * 8 - 1}.0") or 0
    assert upper - lower >= 7
    total = value(found, "open_name_length_bytes_count")
    assert value(found, "open_name_length_bytes_bucket", le="+Inf") == total >= 10
    assert "# TYPE open_name_length_bytes histogram" in text
    assert "# HELP opens_total openat calls by result" in text
    # Prometheus' own linter takes it
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # OpenMetrics when asked: families without _total, and the EOF marker
    assert om_type.startswith("application/openmetrics-text; version=1.0.0")
    assert "# TYPE opens counter" in openmetrics and openmetrics.endswith("# EOF\n")
    assert value(samples(openmetrics), "opens_total", err="ENOENT", outcome="failed") >= 7
    assert f"at http://127.0.0.1:{port}/metrics" in err


@contextlib.contextmanager
def prometheus(target_port: int) -> Iterator[int]:
    """Debian's Prometheus scraping 127.0.0.1:target_port every second; its port."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="prom") as folder:
        config = Path(folder) / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: ecli\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n")
        process = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={folder}/data",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield port
        finally:
            process.terminate()
            process.wait(timeout=30)


def query(port: int, promql: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            answer = json.load(response)
    except (urllib.error.URLError, ConnectionError):
        return []  # not up yet
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def first_value(port: int, promql: str, above: float = -1, timeout: float = 30) -> float:
    """The first result of `promql` once it is above `above` (Prometheus scrapes each 1s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = query(port, promql)
        if result and float(result[0]["value"][1]) > above:
            return float(result[0]["value"][1])
        time.sleep(0.5)
    raise AssertionError(f"{promql}: nothing above {above} in {timeout}s")


def test_prometheus_scrapes_a_growing_counter_and_a_histogram_quantile(project, tmp_path):
    port = free_port()
    run = RunningEcli([str(project), "--metrics", f"127.0.0.1:{port}", "--no-maps",
                       "--duration", "40", "--pid", str(os.getpid())])
    run.wait_attached()
    try:
        with prometheus(port) as prom:
            fail_opens(tmp_path, 3)
            failed = 'opens_total{err="ENOENT",outcome="failed"}'
            before = first_value(prom, failed)
            fail_opens(tmp_path, 25)  # the real trigger
            after = first_value(prom, failed, above=before + 24)
            assert after >= before + 25
            quantile = first_value(
                prom, "histogram_quantile(0.5, sum by (le) (open_name_length_bytes_bucket))")
            assert quantile > 0
            up = first_value(prom, 'up{job="ecli"}')
            assert up == 1
    finally:
        run.process.terminate()
    finished(run)


@pytest.mark.parametrize(("address", "message"), [
    ("127.0.0.1", "'127.0.0.1' is not HOST:PORT"),
    ("127.0.0.1:70000", "is not HOST:PORT"),
    ("127.0.0.1:http", "is not HOST:PORT"),
    ("192.0.2.1:9435", "cannot listen there: Cannot assign requested address"),
])
def test_a_bad_metrics_address_stops_the_run_before_loading(objects, address, message):
    result = run_ecli("run", str(objects["metrics_opens"]), "--metrics", address,
                      "--duration", "1")
    assert result.returncode == 2
    line = error_line(result)
    assert "--metrics" in line and message in line, line
    assert "attached" not in result.stderr


def test_a_metrics_address_in_use_stops_the_run_before_loading(objects):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_ecli("run", str(objects["metrics_opens"]), "--metrics",
                          f"127.0.0.1:{port}", "--duration", "1")
    assert result.returncode == 2
    assert error_line(result) == (f"ecli: error: --metrics 127.0.0.1:{port}: cannot listen "
                                  "there: already in use")
    assert "attached" not in result.stderr


def test_a_detached_run_is_scraped_and_its_server_ends_with_it(objects, env):
    port = free_port()
    started = run_ecli("run", "--detach", str(objects["maps_bumblebee"]), "--metrics",
                       f"127.0.0.1:{port}", env=env)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    try:
        (Path(tempfile.gettempdir()) / "ecli-metrics-detached").touch()
        text, _ = scrape(port)
        assert "# TYPE maps_bumblebee_openers_total counter" in text
        assert any(name == "maps_bumblebee_openers_total" and v >= 1
                   for (name, _), v in samples(text).items())
    finally:
        stopped = run_ecli("stop", run_id, env=env)
    assert stopped.returncode == 0, stopped.stderr
    with pytest.raises(urllib.error.URLError):
        scrape(port)
    # a second detached run on a port in use: one line, nothing left running
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        refused = run_ecli("run", "--detach", str(objects["maps_bumblebee"]), "--metrics",
                           f"127.0.0.1:{busy}", env=env)
    assert refused.returncode != 0
    assert f"--metrics 127.0.0.1:{busy}: cannot listen there: already in use" in refused.stderr
    listed = run_ecli("ps", "--json", env=env)
    assert all(run["state"] != "running" for run in json.loads(listed.stdout)), listed.stdout


def scrape_outcome(port: int) -> str:
    """'page' for a whole page (its last family there), 'refused' for a connection the
    server refused or reset; anything else (a 500, half a page) raises."""
    try:
        text, _ = scrape(port)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError | ConnectionResetError):
            return "refused"
        raise
    except ConnectionResetError:  # RemoteDisconnected too: closed before an answer
        return "refused"
    assert text.rstrip().splitlines()[-1].startswith("ecli_metrics_map_read_errors_total"), text
    return "page"


def test_scrapes_while_a_detached_run_stops_get_a_whole_page_or_a_refusal(objects, env):
    port = free_port()
    started = run_ecli("run", "--detach", str(objects["maps_bumblebee"]), "--metrics",
                       f"127.0.0.1:{port}", env=env)
    assert started.returncode == 0, started.stderr
    outcomes: list[str] = []
    errors: list[BaseException] = []
    stopping = threading.Event()

    def scrape_on() -> None:
        try:
            while not stopping.is_set() or outcomes[-1:] != ["refused"]:
                outcomes.append(scrape_outcome(port))
        except BaseException as exc:  # the test thread asserts on it
            errors.append(exc)

    scraper = threading.Thread(target=scrape_on, daemon=True)
    try:
        assert scrape_outcome(port) == "page"
        scraper.start()
        time.sleep(0.3)  # scrapes go on, one after another
        stopping.set()
        stopped = run_ecli("stop", started.stdout.strip(), env=env)
    finally:
        stopping.set()
        scraper.join(timeout=30)
    assert stopped.returncode == 0, stopped.stderr
    assert not errors, errors
    assert "page" in outcomes and outcomes[-1] == "refused"
    assert set(outcomes) == {"page", "refused"}
    listed = run_ecli("ps", "--json", env=env)
    assert all(run["state"] != "running" for run in json.loads(listed.stdout)), listed.stdout


def test_the_series_cap_drops_and_counts_label_sets(objects, tmp_path):
    port = free_port()
    run = RunningEcli([str(objects["maps_bumblebee"]), "--metrics", f"127.0.0.1:{port}",
                       "--metrics-max-series", "1", "--no-maps", "--duration", "4"])
    run.wait_attached()
    for _ in range(3):  # three more processes that open files: three more keys
        subprocess.run(["cat", "/proc/self/comm"], check=True, capture_output=True)
    text, _ = scrape(port)
    finished(run)
    found = samples(text)
    openers = [k for k in found if k[0] == "maps_bumblebee_openers_total"]
    assert len(openers) == 1
    assert value(found, "ecli_metrics_dropped_series_total") >= 3


class _Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver: decodes each request into opentelemetry-proto's
    ExportMetricsServiceRequest (protobuf as it is, JSON by OTLP's JSON mapping), keeps
    it with its content type, answers 200."""

    received: ClassVar[list[tuple[str, ExportMetricsServiceRequest]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        kind = self.headers["Content-Type"]
        if kind == "application/x-protobuf":
            message = ExportMetricsServiceRequest.FromString(body)
        else:
            message = ParseDict(json.loads(body), ExportMetricsServiceRequest())
        type(self).received.append((kind, message))
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def failed_opens(message: ExportMetricsServiceRequest) -> int:
    """The ENOENT openat counter of one push (0 before the first such open)."""
    metrics = {m.name: m for m in message.resource_metrics[0].scope_metrics[0].metrics}
    if "opens" not in metrics:
        return 0
    opens = metrics["opens"].sum
    assert opens.is_monotonic and opens.aggregation_temporality == 2  # cumulative
    return sum(point.as_int for point in opens.data_points
               if any(a.key == "err" and a.value.string_value == "ENOENT"
                      for a in point.attributes))


@pytest.mark.parametrize(("protocol", "content_type"), [
    (None, "application/x-protobuf"),  # OTLP/HTTP's default
    ("http/json", "application/json"),
])
def test_otlp_pushes_decode_as_sums_and_histograms(project, tmp_path, protocol, content_type):
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    chosen = ["--otel-protocol", protocol] if protocol else []
    try:
        run = RunningEcli([str(project), "--otel-endpoint",
                           f"http://127.0.0.1:{server.server_address[1]}", "--interval", "0.5",
                           *chosen, "--no-maps", "--duration", "4", "--pid", str(os.getpid())])
        run.wait_attached()
        deadline = time.monotonic() + 3
        while not _Receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _Receiver.received, "no push within 3 s"
        before = failed_opens(_Receiver.received[0][1])
        fail_opens(tmp_path, 5)  # the real trigger
        finished(run)
    finally:
        server.shutdown()
        server.server_close()
    assert len(_Receiver.received) >= 3  # every 0.5s, and once at exit
    assert {kind for kind, _ in _Receiver.received} == {content_type}
    last = _Receiver.received[-1][1].resource_metrics[0]
    assert {(a.key, a.value.string_value) for a in last.resource.attributes} >= {
        ("ecli.package", "mopens"), ("service.name", "ecli")}
    assert failed_opens(_Receiver.received[-1][1]) >= before + 5
    metrics = {m.name: m for m in last.scope_metrics[0].metrics}
    histogram = metrics["open_name_length_bytes"].histogram
    assert histogram.aggregation_temporality == 2
    point = histogram.data_points[0]
    assert list(point.explicit_bounds[:3]) == [7.0, 15.0, 23.0]
    assert len(point.bucket_counts) == len(point.explicit_bounds) + 1  # and the overflow
    assert point.count == sum(point.bucket_counts) >= 5
    slot = min(len(str(tmp_path / "no-such-file")) + 1, 64) // 8  # as the kernel counts
    assert point.bucket_counts[slot] >= 5


def test_an_unreachable_otlp_endpoint_is_retried_counted_and_the_run_goes_on(objects):
    port, closed = free_port(), free_port()
    run = RunningEcli([str(objects["metrics_opens"]), "--otel-endpoint",
                       f"http://127.0.0.1:{closed}/v1/metrics", "--interval", "0.3",
                       "--metrics", f"127.0.0.1:{port}", "--no-maps", "--duration", "4"])
    run.wait_attached()
    time.sleep(2.5)
    text, _ = scrape(port)
    err = finished(run)
    found = samples(text)
    assert value(found, "ecli_metrics_otlp_pushes_total", outcome="failed") >= 1
    assert value(found, "ecli_metrics_otlp_pushes_total", outcome="retried") >= 2
    assert value(found, "ecli_metrics_otlp_pushes_total", outcome="sent") == 0
    # bounded: at most two retries a push (the one under way included)
    assert value(found, "ecli_metrics_otlp_pushes_total", outcome="retried") <= \
        2 * (value(found, "ecli_metrics_otlp_pushes_total", outcome="failed") + 1)
    warnings = [line for line in err.splitlines() if "OTLP push" in line]
    assert len(warnings) == 1, err  # said once, not once a push
    assert f"OTLP push to http://127.0.0.1:{closed}/v1/metrics failed" in warnings[0]


@pytest.mark.parametrize(("args", "message"), [
    (("--otel-endpoint", "udp://x:1"), "--otel-endpoint: 'udp://x:1' is not an http(s) URL"),
    (("--otel-endpoint", "http://127.0.0.1:4318", "--otel-protocol", "grpc"),
     "--otel-protocol: 'grpc' is not one of http/protobuf, http/json"),
    # an option tuning an export, given without the export, would do nothing: refused
    (("--otel-protocol", "http/json"), "--otel-protocol needs --otel-endpoint"),
    (("--otel-protocol", "http/protobuf"), "--otel-protocol needs --otel-endpoint"),
    (("--otel-protocol", "grpc"), "--otel-protocol needs --otel-endpoint"),
    (("--metrics", "127.0.0.1:0", "--otel-protocol", "http/json"),
     "--otel-protocol needs --otel-endpoint"),
    (("--metrics-max-series", "5"), "--metrics-max-series needs --metrics or --otel-endpoint"),
    (("--metrics-max-series", "0"), "--metrics-max-series needs --metrics or --otel-endpoint"),
    (("--metrics", "127.0.0.1:0", "--metrics-max-series", "0"),
     "--metrics-max-series must be a positive number"),
])
def test_a_bad_otlp_endpoint_or_protocol_is_refused(objects, args, message):
    result = run_ecli("run", str(objects["metrics_opens"]), *args, "--duration", "1")
    assert result.returncode == 2
    assert message in error_line(result)
    assert "attached" not in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--otel-protocol", "http/json"), "ecli: error: --otel-protocol needs --otel-endpoint"),
    (("--metrics-max-series", "5"),
     "ecli: error: --metrics-max-series needs --metrics or --otel-endpoint"),
])
def test_an_export_option_without_its_export_is_refused_before_the_target_too(
        objects, args, message):
    result = run_ecli("run", *args, str(objects["metrics_opens"]), "--duration", "1")
    assert (result.returncode, error_line(result)) == (2, message)
    assert "attached" not in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--top", "0"), "--top must be a positive number"),
    (("--duration", "0"), "--duration must be a positive number of seconds"),
    (("--interval", "0"), "--interval must be a positive number of seconds"),
])
def test_a_zero_after_the_target_is_refused_as_before_it(objects, args, message):
    """ecli's options among the program's once took 0 for "not given" and ran on."""
    for argv in ((*args, str(objects["metrics_opens"])), (str(objects["metrics_opens"]), *args)):
        result = run_ecli("run", *argv, timeout=20)
        assert (result.returncode, error_line(result)) == (2, f"ecli: error: {message}")
        assert "attached" not in result.stderr


def test_max_series_with_only_an_otel_endpoint_is_accepted(objects):
    """The series cap is the collector's: it bounds OTLP pushes as it does scrapes."""
    result = run_ecli("run", str(objects["metrics_opens"]), "--otel-endpoint",
                      "http://127.0.0.1:9/v1/metrics", "--metrics-max-series", "5",
                      "--no-maps", "--duration", "1")
    assert result.returncode == 0, result.stderr
    assert "attached" in result.stderr


@pytest.mark.parametrize(("metrics", "message"), [
    ({"m": {"kind": "summary"}}, "metrics.m: kind 'summary' is not one of counter, gauge"),
    ({"m": {}}, "metrics.m: missing field 'kind'"),
    ({"m": {"kind": "counter", "labels": {"k": "morse"}}},
     "metrics.m: labels.k: unknown decoder 'morse'"),
    ({"m": {"kind": "counter", "labels": {"k": {"decoder": "static"}}}},
     "metrics.m: labels.k: the static decoder needs values"),
    ({"m": {"kind": "histogram", "buckets": "log10"}}, "buckets 'log10' is not one of"),
    ({"m": {"kind": "histogram", "bucket_width": 0}}, "bucket_width must be a positive"),
    ({"m": {"kind": "histogram", "scale": "micro"}}, "metrics.m: scale must be a positive"),
    ({"m": {"kind": "histogram", "scale": -1}}, "metrics.m: scale must be a positive"),
    ({"m": "counter"}, "metrics.m: expected an object, got str"),
])
def test_bad_metrics_in_a_package_config(metrics, message):
    with pytest.raises(ArtifactError) as caught:
        PackageConfig.from_dict({"name": "p", "version": "1", "kind": "bpf", "object": "p.o",
                                 "metrics": metrics}, "p.json")
    assert caught.value.message.startswith("p.json: ")
    assert message in caught.value.message


def test_a_package_config_keeps_its_metrics_and_configs_without_stay_the_same():
    info = MetricInfo("counter", "opens", "h", {"err": LabelInfo("errno")}, ("value",))
    config = PackageConfig("p", "1", "bpf", object="p.o", metrics={"open_results": info})
    assert PackageConfig.from_json(config.to_json(), "p.json") == config
    plain = PackageConfig("p", "1", "bpf", object="p.o")
    assert b"metrics" not in plain.to_json()


@pytest.mark.parametrize(("configured", "message"), [
    ({"nope": MetricInfo("counter")}, "x: metrics.nope: no map 'nope' to export"),
    ({"open_results": MetricInfo("counter", labels={"pid": LabelInfo("errno")})},
     "x: metrics.open_results: labels.pid: the key has no field 'pid' (fields: err, failed)"),
    ({"open_results": MetricInfo("histogram")},
     "x: metrics.open_results: a histogram needs a value with a `slots` array"),
    ({"open_results": MetricInfo("counter", values=("bytes",))},
     "x: metrics.open_results: values: the value has no field 'bytes'"),
    ({"open_results": MetricInfo("counter", "calls"),
      "counter_raw": MetricInfo("counter", "calls")},
     "x: metrics.counter_raw: metric calls_total is also metrics.open_results's"),
    ({"open_results": MetricInfo("counter", labels={"failed": LabelInfo("hex", "err")})},
     "x: metrics.open_results: two key fields make the label 'err'"),
])
def test_metrics_that_do_not_fit_the_object_are_refused(objects, configured, message):
    with pytest.raises(ArtifactError) as caught:
        Collector(ObjectSpec.from_file(objects["metrics_opens"]), "x", {}, configured)
    assert message in caught.value.message


@pytest.mark.parametrize(("text", "metric", "label"), [
    ("my-package.map", "my_package_map", "my_package_map"),
    ("9lives", "_9lives", "_9lives"),
    ("__reserved", "__reserved", "_reserved"),
    ("a:b", "a:b", "a_b"),
    ("", "_", "_"),
])
def test_names_fit_prometheus_grammar(text, metric, label):
    assert metric_name(text) == metric
    assert label_name(text) == label


def test_the_exposition_escapes_text_labels_and_writes_integer_ones_as_numbers():
    hostile = Family("comms", "counter", "by command", ("comm",))
    hostile.add(('a"b\\c\nd_total 1e9',), 3)  # a command name may hold anything
    hostile.add(("plain",), 1)
    keys = Family("calls", "gauge", "by key", ("id", "group"))
    keys.add((7, 3), 5)  # integer key fields, as the collector leaves them
    keys.add((7, 3), 2)  # equal labels add up
    empty = Family("none", "counter", "nothing yet")
    text = bytes(render([hostile, keys, empty], openmetrics=False)).decode()
    assert text == ("# HELP comms_total by command\n# TYPE comms_total counter\n"
                    'comms_total{comm="a\\"b\\\\c\\nd_total 1e9"} 3\n'
                    'comms_total{comm="plain"} 1\n'
                    "# HELP calls by key\n# TYPE calls gauge\n"
                    'calls{id="7",group="3"} 7\n')
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert value(samples(text), "comms_total", comm='a\\"b\\\\c\\nd_total 1e9') == 3


@pytest.mark.parametrize(("example", "names"), [
    ("runqlat", [("runqlat_runq_latency_seconds", "histogram")]),
    ("xdpcount", [("xdpcount_packets_total", "counter"), ("xdpcount_bytes_total", "counter")]),
    ("biolatency", [("biolatency_io_latency_seconds", "histogram"),
                    ("biolatency_disk_latency_seconds", "histogram")]),
    ("syscount", [("syscount_calls_total", "counter"), ("syscount_errors_total", "counter")]),
    ("softirqs", [("softirqs_total", "counter"), ("softirqs_latency_seconds", "histogram")]),
    ("vfsstat", [("vfsstat_operations_total", "counter")]),
])
def test_examples_declare_their_metrics(objects, example, names):
    project = load_project(REPO / "examples" / example)
    config = project.config
    collector = Collector(ObjectSpec.from_file(objects[example]), config.name,
                          config.output.units, config.metrics)
    assert collector.names() == names


def test_an_unknown_metrics_field_in_ecli_toml_is_named(tmp_path):
    (tmp_path / "x.bpf.c").write_text("")
    (tmp_path / "ecli.toml").write_text(
        "[package]\nname = 'x'\nversion = '1'\nsource = 'x.bpf.c'\n"
        "[metrics.m]\nkind = 'counter'\nbukets = 'log2'\n")
    with pytest.raises(BuildError) as caught:
        load_project(tmp_path)
    assert caught.value.message.endswith("ecli.toml: unknown field metrics.m.bukets")



def raw_request(port: int, data: bytes) -> bytes:
    """What the server answers to these bytes, up to its closing the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(data)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return answer


def test_requests_other_than_a_scrape_get_one_line_and_the_server_goes_on(objects):
    port = free_port()
    run = RunningEcli([str(objects["maps_bumblebee"]), "--metrics", f"127.0.0.1:{port}",
                       "--no-maps", "--duration", "4"])
    run.wait_attached()
    answers = {
        "post": raw_request(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
        "other path": raw_request(port, b"GET /admin HTTP/1.1\r\n\r\n"),
        "garbage": raw_request(port, b"\x16\x03\x01 hello\r\n\r\n"),
        "huge header": raw_request(port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 +
                                   b"\r\n\r\n"),
        "head": raw_request(port, b"HEAD /metrics HTTP/1.1\r\n\r\n"),
    }
    Path("/proc/self/comm").read_text()  # an openat for the counters
    text, _ = scrape(port)
    finished(run)
    assert answers["post"].startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert answers["other path"].startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert answers["other path"].endswith(b"\r\n\r\nnot found: ecli serves /metrics\n")
    assert answers["garbage"].startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert answers["huge header"] == b""  # closed without reading the rest
    head, _, body = answers["head"].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b""
    assert b"Content-Length: " in head and b"Content-Length: 0\r\n" not in head
    # no [metrics] (a bare object): the counter_ map by its name, no `counter` in it
    assert "# TYPE maps_bumblebee_openers_total counter" in text


def built_example(name: str, folder: Path) -> Path:
    """examples/NAME copied into `folder` and built with `ecli build`, as users build it."""
    project = folder / name
    shutil.copytree(REPO / "examples" / name, project, ignore=shutil.ignore_patterns("build"))
    built = run_ecli("build", str(project))
    assert built.returncode == 0, built.stderr
    return project


def test_the_runqlat_package_exports_its_histogram_in_seconds(tmp_path):
    """examples/runqlat as built: [metrics] renames it, `scale` turns usecs into seconds."""
    project = built_example("runqlat", tmp_path)
    port = free_port()
    run = RunningEcli([str(project), "--metrics", f"127.0.0.1:{port}", "--no-maps",
                       "--duration", "4"])
    run.wait_attached()
    time.sleep(1.5)  # the scheduler switches tasks all the time: the histogram fills
    text, _ = scrape(port)
    finished(run)
    found = samples(text)
    count = value(found, "runqlat_runq_latency_seconds_count")
    assert count > 0
    assert value(found, "runqlat_runq_latency_seconds_bucket", le="+Inf") == count
    assert value(found, "runqlat_runq_latency_seconds_bucket", le="1e-06") is not None
    assert value(found, "runqlat_runq_latency_seconds_bucket", le="0.001023") is not None
    assert "# HELP runqlat_runq_latency_seconds How long runnable tasks waited for a CPU" in text


@pytest.fixture
def cgroup_dir() -> Iterator[Path]:
    """A new cgroup v2 directory, removed after the test."""
    group = Path(cgroup2_root()) / f"ecli-metrics-{os.getpid()}-{time.monotonic_ns()}"
    group.mkdir()
    yield group
    group.rmdir()


def test_label_decoders_read_this_machine(cgroup_dir):
    decoders = Decoders()

    def decode(name: str, value: object, **extra: object) -> str | None:
        return decoders.decoder(LabelInfo(name, **extra))(value)  # type: ignore[arg-type]

    kallsyms = Path("/proc/kallsyms").read_text().splitlines()
    address = next(int(line.split()[0], 16) for line in kallsyms
                   if line.split()[1:3] == ["T", "schedule"])
    assert decode("ksym", address) == "schedule"
    assert decode("ksym", address + 1) == "schedule"  # inside the function
    assert decode("ksym", 1) is None  # below every symbol
    assert decode("errno", -2) == decode("errno", 2) == "ENOENT"
    assert decode("errno", 0) is None
    openat = next(n for n, name in syscall_names().items() if name == "openat")
    assert decode("syscall", openat) == "openat"
    assert decode("syscall", 100_000) is None
    assert decode("ipv4", 0x0100007F) == "127.0.0.1"  # __be32 as the kernel stores it
    assert decode("ipv6", [0, 0, 0, 0x01000000]) == "::1"
    assert decode("ifname", socket.if_nametoindex("lo")) == "lo"
    assert decode("ifname", 999_999) is None
    assert decode("majorminor", (8 << 20) | 16) == "8:16"
    assert decode("cgroup", cgroup_dir.stat().st_ino) == f"/{cgroup_dir.name}"
    assert decode("cgroup", 2**62) is None
    assert decode("static", 6, values={"6": "tcp"}) == "tcp"
    assert decode("static", 17, values={"6": "tcp"}) is None
    assert decode("hex", 255) == "0xff"
    assert set(LABEL_DECODERS) == {"ksym", "errno", "syscall", "ipv4", "ipv6", "cgroup",
                                   "ifname", "majorminor", "static", "hex"}


def test_the_syscall_table_is_what_the_generator_writes():
    tables = [syscall_table.parse_unistd(Path(header).read_text()) for header in (
        "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm-generic/unistd.h")]
    assert tables[0][257] == "openat" and tables[1][56] == "openat"
    assert syscall_table.render(*tables) == syscall_table.TABLE.read_text()


def test_the_xdpcount_package_sums_its_per_cpu_counters(veth_pair, tmp_path):
    """examples/xdpcount as built, on a veth: a per-CPU hash, exported summed and named by
    its [metrics] table, scraped inside the run's network namespace."""
    here, peer = veth_pair
    project = built_example("xdpcount", tmp_path)
    subprocess.run(["ip", "-n", here, "link", "set", "lo", "up"], check=True)
    port = free_port()
    run = in_namespace(here, [str(project), "--ifname", "eclia", "--metrics",
                              f"127.0.0.1:{port}", "--no-maps", "--duration", "5"])
    run.wait_attached()
    send_udp(peer, 25)
    text = subprocess.run(["ip", "netns", "exec", here, "curl", "-sf",
                           f"http://127.0.0.1:{port}/metrics"],
                          check=True, capture_output=True, text=True).stdout
    finished(run)
    found = samples(text)
    assert value(found, "xdpcount_packets_total", proto="UDP") == 25
    assert value(found, "xdpcount_bytes_total", proto="UDP") == 25 * (14 + 20 + 8 + 100)
    assert "# HELP xdpcount_packets_total Packets and bytes received at the XDP hook" in text


class ScrapedRun:
    """A built example running with --metrics: scrape it before and after a trigger."""

    def __init__(self, project: Path, *args: str) -> None:
        self.port = free_port()
        self.run = RunningEcli([str(project), "--metrics", f"127.0.0.1:{self.port}",
                                "--no-maps", *args])
        self.run.wait_attached()

    def scrape(self) -> tuple[dict, str]:
        text, _ = scrape(self.port)
        return samples(text), text

    def finish(self) -> None:
        finished(self.run)


def test_the_syscount_package_counts_calls_and_failures_by_name(tmp_path):
    running = ScrapedRun(built_example("syscount", tmp_path), "--duration", "5",
                         "--pid", str(os.getpid()))
    before, _ = running.scrape()
    for _ in range(300):  # the real trigger
        os.getppid()
    for _ in range(7):
        with contextlib.suppress(OSError):
            os.close(987654)
    after, text = running.scrape()
    running.finish()
    calls = [value(found, "syscount_calls_total", syscall="getppid") or 0
             for found in (before, after)]
    assert calls[1] - calls[0] == 300
    assert value(after, "syscount_errors_total", syscall="getppid") == 0
    errors = [value(found, "syscount_errors_total", syscall="close") or 0
              for found in (before, after)]
    assert errors[1] - errors[0] >= 7
    assert "# HELP syscount_calls_total System calls and failed system calls, by name" in text


def test_the_biolatency_package_exports_io_latency_in_seconds(tmp_path):
    running = ScrapedRun(built_example("biolatency", tmp_path), "--duration", "8")
    before, _ = running.scrape()
    target = Path("/var/tmp") / f"ecli-metrics-{os.getpid()}"  # a disk: /tmp may be tmpfs
    try:
        writer = subprocess.run([sys.executable, "-c", "import os, sys\n" + DIRECT_WRITE,
                                 str(target)], timeout=30)
        assert writer.returncode == 0
    finally:
        target.unlink(missing_ok=True)
    after, text = running.scrape()
    running.finish()
    name = "biolatency_io_latency_seconds"
    counts = [value(found, f"{name}_count") or 0 for found in (before, after)]
    assert counts[1] - counts[0] >= 16  # 16 direct writes of 64 KiB (and others' I/O)
    assert value(after, f"{name}_bucket", le="+Inf") == counts[1]
    assert value(after, f"{name}_bucket", le="1e-06") is not None  # slot 0: microseconds
    assert "biolatency_disk_latency_seconds_count" not in text  # filled only with --disks


def test_the_softirqs_package_counts_network_receive(tmp_path):
    running = ScrapedRun(built_example("softirqs", tmp_path), "--duration", "5", "--hist")
    before, _ = running.scrape()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    with receiver, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for _ in range(50):  # loopback delivers through the NET_RX softirq
            sender.sendto(b"x", receiver.getsockname())
    after, _ = running.scrape()
    running.finish()
    received = [value(found, "softirqs_total", vec="net_rx") or 0 for found in (before, after)]
    assert received[1] > received[0]
    timer = value(after, "softirqs_latency_seconds_count", vec="timer")
    assert timer and value(after, "softirqs_latency_seconds_bucket", vec="timer",
                           le="+Inf") == timer


def test_the_vfsstat_package_counts_operations_by_kind(tmp_path):
    running = ScrapedRun(built_example("vfsstat", tmp_path), "--duration", "5",
                         "--pid", str(os.getpid()))
    before, _ = running.scrape()
    for i in range(20):  # the real trigger
        fd = os.open(tmp_path / f"f{i}", os.O_CREAT | os.O_WRONLY, 0o600)
        os.fsync(fd)
        os.close(fd)
        os.unlink(tmp_path / f"f{i}")
    after, _ = running.scrape()
    running.finish()
    for op in ("FSYNC", "UNLINK"):
        counts = [value(found, "vfsstat_operations_total", op=op) or 0
                  for found in (before, after)]
        assert counts[1] - counts[0] == 20, op
