"""Event throughput and memory of `ecli run`, beside bpftrace, in one run.

    sudo .venv/bin/python bench/throughput.py [--events 1000000]

A C load generator calls getppid(2) N times as fast as it can; each call is
one event. ecli runs bench/bpf/getppid_events.bpf.c (16 MiB ring buffer) with
`--json > file`; bpftrace runs the equivalent one-liner printing a JSON-like
line per event. For each: events written, events lost (as each reports), the
rate from the load's start to the last line written, and peak RSS. Not a test.
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


def measure(label: str, make_command, loadgen: Path, events: int, work: Path) -> dict:
    load = subprocess.Popen([str(loadgen), str(events)], stdin=subprocess.PIPE)
    out_path = work / f"{label}.out"
    with open(out_path, "wb") as out:
        tracer = subprocess.Popen(make_command(load.pid), stdout=out, stderr=subprocess.PIPE)
        ready = _wait_ready(tracer, label)
        start = time.perf_counter()
        assert load.stdin is not None
        load.stdin.write(b"go\n")
        load.stdin.close()
        load.wait()
        last_size, last_change = -1, time.perf_counter()
        while time.perf_counter() - last_change < QUIET_SECONDS:
            size = out_path.stat().st_size
            if size != last_size:
                last_size, last_change = size, time.perf_counter()
            time.sleep(0.05)
        elapsed = last_change - start
        rss = _peak_rss_kib(tracer.pid)
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=60)
    text = out_path.read_text(errors="replace")
    written = sum(1 for line in text.splitlines() if line.startswith('{"pid"'))
    lost = _lost(ready + err.decode(errors="replace") + text)
    return {"tool": label, "written": written, "lost": lost, "seconds": elapsed,
            "rate": written / elapsed if elapsed else 0.0, "rss_mib": rss / 1024}


def _wait_ready(tracer: subprocess.Popen, label: str) -> str:
    """Read stderr until the tracer says it is attached (ecli) or after a pause (bpftrace)."""
    assert tracer.stderr is not None
    if label.startswith("ecli"):
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        obj = compile_bpf(ROOT / "bench" / "bpf" / "getppid_events.bpf.c", work)
        loadgen = work / "loadgen"
        subprocess.run(["cc", "-O2", "-o", str(loadgen), str(ROOT / "bench" / "bpf" / "loadgen.c")],
                       check=True)
        ecli = [sys.executable, "-m", "ecli", "run", str(obj), "--json"]
        rows = [
            measure("bpftrace", bpftrace_program, loadgen, args.events, work),
            measure("ecli --json", lambda pid: [*ecli, "--targ-pid", str(pid)], loadgen,
                    args.events, work),
        ]
    print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
          f"kernel {platform.release()}, {time.strftime('%Y-%m-%d')}, {args.events} events")
    print("| tool | written | lost | written + lost | seconds | events/s | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['tool']} | {r['written']} | {r['lost']} | {r['written'] + r['lost']} | "
              f"{r['seconds']:.2f} | {r['rate']:,.0f} | {r['rss_mib']:.1f} |")


if __name__ == "__main__":
    main()
