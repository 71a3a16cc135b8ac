"""Start-up figures of ecli, side by side with their references, in one run.

    python bench/startup.py [--runs N]

Prints a table:
  * `ecli --help` wall time, beside `python -c pass`;
  * time from spawning a tracer until it reports an open() it did not see
    before: `ecli run` of a cached package (through a local source and the
    store), `ecli run` of a local .bpf.o, and `bpftrace` with the equivalent
    one-liner. Needs root, clang, bpftool, bpftrace and docker-registry.
Figures are medians over the runs; the tracers take turns, one run each.
Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bpf_objects import compile_bpf  # noqa: E402
from index_fixtures import cached_package_env  # noqa: E402
from registry_server import running_registry  # noqa: E402

BPFTRACE = ["bpftrace", "-e",
            'tracepoint:syscalls:sys_enter_openat { printf("%s\\n", str(args->filename)); }']
PROBE_INTERVAL = 0.002
# Users have compiled bytecode; measure with it (some shells set this variable).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
TIMEOUT = 10.0


def wall(command: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    times = []
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                   env=env)  # warm up
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                       env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def open_probe(token: str) -> None:
    """The event opensnoop-like tracers report: an open() of /tmp/TOKEN (which fails)."""
    with contextlib.suppress(FileNotFoundError):  # the attempt is the event
        os.close(os.open(f"/tmp/{token}", os.O_RDONLY))


def time_to_first_event(command: list[str], env: dict[str, str] | None = None,
                        trigger: Callable[[str], None] = open_probe) -> float:
    """Seconds from spawn until the tracer prints the token `trigger` keeps causing."""
    token = f"bench-{os.getpid()}-{time.monotonic_ns()}"
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, env=env)
    assert process.stdout is not None
    seen = b""
    try:
        while time.perf_counter() - start < TIMEOUT:
            trigger(token)
            ready, _, _ = select.select([process.stdout], [], [], PROBE_INTERVAL)
            if ready:
                seen += os.read(process.stdout.fileno(), 65536)
                if token.encode() in seen:
                    return time.perf_counter() - start
        raise RuntimeError(f"{command[0]} reported nothing in {TIMEOUT}s")
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # bpftrace sometimes ignores SIGTERM while detaching
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    ecli = [sys.executable, "-m", "ecli"]
    rows = [
        ("python -c pass", wall([sys.executable, "-c", "pass"], args.runs)),
        ("ecli --help", wall([*ecli, "--help"], args.runs)),
    ]
    with tempfile.TemporaryDirectory() as tmp, running_registry() as registry:
        work = Path(tmp)
        obj = compile_bpf(ROOT / "examples" / "opensnoop" / "opensnoop.bpf.c", work / "obj")
        env = cached_package_env(work, registry.host)
        wall([*ecli, "search", "open"], 1, env)  # warm the page cache
        rows.append(("ecli search open", wall([*ecli, "search", "open"], args.runs, env)))
        tracers = (
            ("bpftrace one-liner: first event", BPFTRACE, None),
            ("ecli run opensnoop (cached): first event", [*ecli, "run", "opensnoop"], env),
            ("ecli run ./opensnoop.bpf.o: first event", [*ecli, "run", str(obj)], env),
        )
        # in turns, one run of each, so a busy spell of the machine hits them all alike
        times: dict[str, list[float]] = {label: [] for label, _, _ in tracers}
        for turn in range(args.runs + 1):  # the first turn warms up
            for label, command, command_env in tracers:
                seconds = time_to_first_event(command, command_env)
                if turn:
                    times[label].append(seconds)
        rows += [(label, statistics.median(times[label])) for label, _, _ in tracers]
    print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
          f"kernel {platform.release()}, {time.strftime('%Y-%m-%d')}, median of {args.runs}")
    print(f"| {'what':<44} | seconds |")
    print(f"| {'-' * 44} | ------- |")
    for label, seconds in rows:
        print(f"| {label:<44} | {seconds:7.3f} |")


if __name__ == "__main__":
    main()
