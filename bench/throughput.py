"""Event throughput and memory of `ecli run`, beside bpftrace and a C reader, in one run.

    sudo .venv/bin/python bench/throughput.py [--events 1000000] [--rate 200000]

A C load generator calls getppid(2) N times, first as fast as it can, then
paced at --rate calls per second; each call is one event. ecli runs
bench/bpf/getppid_events.bpf.c (16 MiB ring buffer) with `--json > file`;
bpftrace runs the equivalent one-liner printing a JSON-like line per event;
the ceiling is bench/bpf/ringbuf_reader.c, the same object read by libbpf's
`ring_buffer__poll` with a callback that only counts; last, ecli on the same
events sent through a perf event array (getppid_perf_events.bpf.c). For each:
events written (counted, for the C reader), events lost (as each reports),
the rate from the load's start to the last event, and peak RSS. Not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # measure as users run it

from bpf_objects import compile_bpf  # noqa: E402

QUIET_SECONDS = 1.0


def bpftrace_program(pid: int) -> list[str]:
    return ["bpftrace", "-e",
            f"tracepoint:syscalls:sys_enter_getppid /pid == {pid}/ "
            '{ printf("{\\"pid\\": %d, \\"cpu\\": %d, \\"comm\\": \\"%s\\"}\\n", '
            "pid, cpu, comm); }"]


def start_load(loadgen: Path, events: int, rate: int) -> subprocess.Popen:
    return subprocess.Popen([str(loadgen), str(events), str(rate)], stdin=subprocess.PIPE)


def go(load: subprocess.Popen) -> float:
    """Start the load; the CLOCK_MONOTONIC time it started (the C reader's clock)."""
    start = time.clock_gettime(time.CLOCK_MONOTONIC)
    assert load.stdin is not None
    load.stdin.write(b"go\n")
    load.stdin.close()
    return start


def measure(label: str, make_command, loadgen: Path, events: int, rate: int,
            work: Path) -> dict:
    load = start_load(loadgen, events, rate)
    out_path = work / f"{label}.out"
    with open(out_path, "wb") as out:
        tracer = subprocess.Popen(make_command(load.pid), stdout=out, stderr=subprocess.PIPE)
        ready = _wait_ready(tracer, label)
        start = go(load)
        load.wait()
        last_size, last_change = -1, time.clock_gettime(time.CLOCK_MONOTONIC)
        while time.clock_gettime(time.CLOCK_MONOTONIC) - last_change < QUIET_SECONDS:
            size = out_path.stat().st_size
            if size != last_size:
                last_size, last_change = size, time.clock_gettime(time.CLOCK_MONOTONIC)
            time.sleep(0.05)
        elapsed = last_change - start
        rss = _peak_rss_kib(tracer.pid)
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=60)
    text = out_path.read_text(errors="replace")
    written = sum(1 for line in text.splitlines() if line.startswith('{"pid"'))
    lost = _lost(ready + err.decode(errors="replace") + text)
    return _row(label, written, lost, elapsed, rss)


def measure_ceiling(reader: Path, obj: Path, loadgen: Path, events: int, rate: int) -> dict:
    """The C reader: it counts samples and reports the time of the last one at SIGINT."""
    load = start_load(loadgen, events, rate)
    tracer = subprocess.Popen([str(reader), str(obj), str(load.pid)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    _wait_ready(tracer, "attached")
    start = go(load)
    load.wait()
    time.sleep(QUIET_SECONDS)
    rss = _peak_rss_kib(tracer.pid)
    tracer.send_signal(signal.SIGINT)
    out, err = tracer.communicate(timeout=60)
    if tracer.returncode:
        raise RuntimeError(f"ringbuf_reader failed: {err.decode(errors='replace')}")
    samples, lost, last = out.split()
    return _row("C ring_buffer__poll", int(samples), int(lost), float(last) - start, rss)


def _row(tool: str, written: int, lost: int, seconds: float, rss_kib: int) -> dict:
    return {"tool": tool, "written": written, "lost": lost, "seconds": seconds,
            "rate": written / seconds if seconds > 0 else 0.0, "rss_mib": rss_kib / 1024}


def _wait_ready(tracer: subprocess.Popen, label: str) -> str:
    """Read stderr until the tracer says it is attached (ecli, the C reader) or after a
    pause (bpftrace)."""
    assert tracer.stderr is not None
    if label != "bpftrace":
        seen = ""
        while "attached" not in seen:
            line = tracer.stderr.readline().decode(errors="replace")
            if not line:
                raise RuntimeError(f"{label} exited: {seen}")
            seen += line
        return seen
    time.sleep(3)  # bpftrace prints "Attaching 1 probe..." before it is attached
    return ""


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _lost(text: str) -> int:
    ecli = re.search(r"(\d+) event\(s\) lost", text)
    if ecli:
        return int(ecli.group(1))
    return sum(int(n) for n in re.findall(r"Lost (\d+) events", text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=200_000,
                        help="events per second of the paced round (0: skip it)")
    args = parser.parse_args()
    bpf = ROOT / "bench" / "bpf"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        obj = compile_bpf(bpf / "getppid_events.bpf.c", work)
        perf_obj = compile_bpf(bpf / "getppid_perf_events.bpf.c", work)
        loadgen, reader = work / "loadgen", work / "ringbuf_reader"
        subprocess.run(["cc", "-O2", "-o", str(loadgen), str(bpf / "loadgen.c")], check=True)
        subprocess.run(["cc", "-O2", "-o", str(reader), str(bpf / "ringbuf_reader.c"), "-lbpf"],
                       check=True)
        ecli = [sys.executable, "-m", "ecli", "run", str(obj), "--json"]
        ecli_perf = [sys.executable, "-m", "ecli", "run", str(perf_obj), "--json"]
        rows = []
        for rate in (0, args.rate) if args.rate else (0,):
            pace = f"{rate:,}/s" if rate else "full speed"
            for row in (
                measure("bpftrace", bpftrace_program, loadgen, args.events, rate, work),
                measure("ecli --json", lambda pid: [*ecli, "--targ-pid", str(pid)], loadgen,
                        args.events, rate, work),
                measure_ceiling(reader, obj, loadgen, args.events, rate),
                measure("ecli --json, perf buffer", lambda pid: [*ecli_perf, "--targ-pid",
                                                                str(pid)],
                        loadgen, args.events, rate, work),
            ):
                rows.append({**row, "pace": pace})
    print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
          f"kernel {platform.release()}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"{args.events} events, load average {os.getloadavg()[0]:.2f}")
    print("| load | tool | written | lost | written + lost | seconds | events/s | "
          "peak RSS MiB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['pace']} | {r['tool']} | {r['written']} | {r['lost']} | "
              f"{r['written'] + r['lost']} | {r['seconds']:.2f} | {r['rate']:,.0f} | "
              f"{r['rss_mib']:.1f} |")


if __name__ == "__main__":
    main()
