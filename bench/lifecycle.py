"""Detached runs and doctor: how long each lifecycle command takes (run as root).

Prints one markdown table of medians over --runs repetitions:
`ecli run --detach` until the ID is printed (programs attached), `ecli ps`,
`ecli logs`, `ecli stop` (SIGTERM until the process is gone), `ecli doctor`
and `ecli doctor OBJECT`, and the kernel time for the program ids of a
stopped run to disappear.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bpf_objects import OPENSNOOP, compile_bpf  # noqa: E402
from ecli_process import ecli_command, programs_left  # noqa: E402

os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # users have compiled bytecode


def timed(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    result = subprocess.run(ecli_command(*args), capture_output=True, text=True, env=env,
                            check=True, timeout=120)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="ecli-bench-") as work:
        obj = compile_bpf(OPENSNOOP, Path(work) / "obj")
        env = {**os.environ, "ECLI_HOME": str(Path(work) / "home")}
        times: dict[str, list[float]] = {}
        for _ in range(runs):
            took, started = timed(["run", "--detach", str(obj), "--json"], env)
            times.setdefault("ecli run --detach (until attached, ID printed)", []).append(took)
            run_id = started.stdout.strip()
            took, listed = timed(["ps", "--json"], env)
            (run,) = json.loads(listed.stdout)
            assert run["id"] == run_id and run["state"] == "attached"
            ids = set(run["programs"])
            times.setdefault("ecli ps --json (1 run)", []).append(took)
            times.setdefault("ecli logs ID", []).append(timed(["logs", run_id], env)[0])
            times.setdefault("ecli stop ID (SIGTERM, until gone)", []).append(
                timed(["stop", run_id], env)[0])
            start = time.perf_counter()
            assert programs_left(ids) == set()
            times.setdefault("programs gone from the kernel after stop", []).append(
                time.perf_counter() - start)
            times.setdefault("ecli doctor", []).append(timed(["doctor"], env)[0])
            times.setdefault("ecli doctor OBJECT", []).append(timed(["doctor", str(obj)], env)[0])
    print(f"| step (median of {runs}) | seconds |")
    print("| --- | --- |")
    for step, values in times.items():
        print(f"| {step} | {statistics.median(values):.3f} |")


if __name__ == "__main__":
    main()
