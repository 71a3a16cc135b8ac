"""What `ecli run --metrics` costs: one scrape of N series, and the exporter's RSS and CPU.

    sudo .venv/bin/python bench/metrics.py [--series 10000] [--seconds 60]

bench/bpf/metrics_series.bpf.c adds one counter key per getppid(2) of this
process, so N calls make N series. Scrape: GET /metrics of that run, timed
from the request to the last byte, beside Debian's prometheus-node-exporter
(the reference exporter, its own default collectors) in the same run. Cost:
the same run for --seconds with and without --metrics, scraped every 15 s
as Prometheus would, at 100 series and at --series; CPU time (utime + stime)
and RSS of ecli at the end.
Not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # measure as users run it

from bpf_objects import compile_bpf  # noqa: E402
from ecli_process import RunningEcli  # noqa: E402
from registry_server import free_port  # noqa: E402

SCRAPES = 20
COST_SMALL = 100  # series of a typical package (runqlat: 30)
SCRAPE_INTERVAL = 15.0


def scrape(port: int) -> tuple[float, int]:
    """Milliseconds of one GET /metrics, and the series (sample lines) it held."""
    start = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        body = response.read()
    elapsed = (time.perf_counter() - start) * 1000
    return elapsed, sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def wait_serving(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            scrape(port)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing serves 127.0.0.1:{port}")


def timings(port: int) -> tuple[list[float], int]:
    scrape(port)  # the first one loads what later ones reuse
    runs = [scrape(port) for _ in range(SCRAPES)]
    return [ms for ms, _ in runs], runs[-1][1]


def start_ecli(obj: Path, series: int, port: int | None) -> RunningEcli:
    extra = ["--metrics", f"127.0.0.1:{port}"] if port else []
    run = RunningEcli([str(obj), "--no-maps", "--targ-pid", str(os.getpid()), *extra])
    run.wait_attached()
    for _ in range(series):
        os.getppid()
    return run


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cost(obj: Path, series: int, seconds: float, metrics: bool) -> tuple[float, float]:
    """CPU seconds over `seconds` (after attaching and filling) and RSS MiB at the end."""
    port = free_port() if metrics else None
    run = start_ecli(obj, series, port)
    pid = run.process.pid
    if port:
        wait_serving(port)
    begin, started = cpu_seconds(pid), time.monotonic()
    next_scrape = started
    while time.monotonic() - started < seconds:
        if port and time.monotonic() >= next_scrape:
            scrape(port)
            next_scrape += SCRAPE_INTERVAL
        time.sleep(0.2)
    used, rss = cpu_seconds(pid) - begin, rss_mib(pid)
    run.process.terminate()
    run.finish()
    return used, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="length of each cost run (default: 60)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        obj = compile_bpf(ROOT / "bench" / "bpf" / "metrics_series.bpf.c", Path(work))
        port = free_port()
        run = start_ecli(obj, args.series, port)
        wait_serving(port)
        ecli_ms, ecli_series = timings(port)
        run.process.terminate()
        run.finish()
        node_port = free_port()
        node = subprocess.Popen(["prometheus-node-exporter",
                                 f"--web.listen-address=127.0.0.1:{node_port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_serving(node_port)
            node_ms, node_series = timings(node_port)
        finally:
            node.terminate()
            node.wait()
        costs = {series: (cost(obj, series, args.seconds, metrics=False),
                          cost(obj, series, args.seconds, metrics=True))
                 for series in (COST_SMALL, args.series)}
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, {when}, "
          f"Python {platform.python_version()}")
    print(f"\n{SCRAPES} scrapes each (after one warm-up):\n")
    print("| exporter | series | median ms | p90 ms | max ms | series per ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, ms, count in (("ecli run --metrics", ecli_ms, ecli_series),
                            ("prometheus-node-exporter", node_ms, node_series)):
        p90 = statistics.quantiles(ms, n=10)[-1]
        print(f"| {name} | {count} | {statistics.median(ms):.1f} | {p90:.1f} | {max(ms):.1f} | "
              f"{count / statistics.median(ms):.0f} |")
    print(f"\nThe same run for {args.seconds:g} s, scraped every {SCRAPE_INTERVAL:g} s:\n")
    print("| series | run | CPU s | CPU % | RSS MiB |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for series, (without, with_metrics) in costs.items():
        for name, (used, rss) in (("without --metrics", without),
                                  ("with --metrics", with_metrics)):
            print(f"| {series} | {name} | {used:.2f} | {100 * used / args.seconds:.2f} | "
                  f"{rss:.1f} |")
        added = with_metrics[0] - without[0]
        print(f"| {series} | added | {added:.2f} | {100 * added / args.seconds:.2f} | "
              f"{with_metrics[1] - without[1]:.1f} |")


if __name__ == "__main__":
    main()
