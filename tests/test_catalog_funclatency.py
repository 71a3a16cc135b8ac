"""funclatency on the real kernel: the binary and the function come from the command line
(`--binary`, `--symbol`: uprobes whose sections name no target), and the histogram counts
exactly the calls a process made, in the buckets their duration puts them in.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_catalog import Held, final_maps, histogram_total, packages, records_of

from ecli_process import error_line, run_ecli

pytestmark = pytest.mark.root
__all__ = ["packages"]  # the session's built examples, shared with test_catalog.py

# A program with a function of its own that takes at least 2 ms and returns twice its
# argument; it waits for a line on stdin before calling it 25 times.
PROGRAM = r"""
#include <unistd.h>
__attribute__((noinline)) long slow_step(long n) { usleep(2000); return n * 2; }
int main(void) { char c; if (read(0, &c, 1) != 1) return 1;
                 for (long i = 0; i < 25; i++) slow_step(i); return 0; }
"""


@pytest.fixture(scope="module")
def slow_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("funclatency")
    (folder / "slow.c").write_text(PROGRAM)
    subprocess.run(["cc", "-O1", "-o", str(folder / "slow"), str(folder / "slow.c")], check=True)
    return folder / "slow"


def latency(records: list[dict]) -> dict:
    [histogram] = final_maps(records, "latency")
    return histogram


def test_a_function_of_a_program_built_here_counts_every_call_at_its_duration(
        packages, slow_program):
    child = subprocess.Popen([str(slow_program)], stdin=subprocess.PIPE, text=True)
    run = packages.run("funclatency", "--binary", str(slow_program), "--symbol", "slow_step",
                       "--pid", str(child.pid), "--calls", "--duration", "3")
    child.communicate("go\n", timeout=30)
    assert child.returncode == 0
    records = records_of(run)
    histogram = latency(records)
    assert histogram["unit"] == "nsecs"
    assert histogram_total(histogram) == 25
    # usleep(2000): every call takes 2 ms or more, so none falls below the 2^20 ns bucket
    assert all(bucket["count"] == 0 for bucket in histogram["buckets"]
               if bucket["slot"] < 20), histogram
    calls = events_of_records(records)
    assert {(e["pid"], e["comm"]) for e in calls} == {(child.pid, "slow")}
    assert sorted(e["ret"] for e in calls) == [2 * i for i in range(25)]


def test_a_libc_function_found_by_the_librarys_name(packages):
    child = Held("libc = ctypes.CDLL('libc.so.6')\nfor _ in range(10): libc.usleep(1000)",
                 preamble="import ctypes")
    records = packages.watch("funclatency", child, "--binary", "libc.so.6", "--symbol", "usleep")
    assert histogram_total(latency(records)) == 10
    assert events_of_records(records) == []  # no --calls: the histogram only


def events_of_records(records: list[dict]) -> list[dict]:
    return [r for r in records if set(r) != {"time", "final", "maps"}]


def test_min_us_keeps_only_the_slow_calls(packages, slow_program):
    child = subprocess.Popen([str(slow_program)], stdin=subprocess.PIPE, text=True)
    run = packages.run("funclatency", "--binary", str(slow_program), "--symbol", "slow_step",
                       "--pid", str(child.pid), "--calls", "--min-us", "1000000",
                       "--duration", "3")
    child.communicate("go\n", timeout=30)
    records = records_of(run)
    assert histogram_total(latency(records)) == 25  # the histogram counts every call
    assert events_of_records(records) == []  # none took a second


@pytest.mark.parametrize(("args", "message"), [
    (["--binary", "/nonexistent/prog", "--symbol", "main"],
     "--binary /nonexistent/prog: no such file"),
    (["--binary", "/etc/hostname", "--symbol", "main"],
     "--binary /etc/hostname: not an ELF program or library"),
    (["--binary", "/usr", "--symbol", "main"], "--binary /usr: not a regular file"),
    (["--binary", "no-such-library.so.9", "--symbol", "main"],
     "(uprobe no-such-library.so.9:main): the binary or its symbol was not found"),
    (["--binary", "/bin/true", "--symbol", "no_such_function_here"],
     "/bin/true:no_such_function_here): the binary or its symbol was not found"),
    (["--symbol", "read"], "the following arguments are required: --binary"),
])
def test_bad_targets_are_one_line_errors(packages, args, message):
    result = run_ecli("run", str(packages["funclatency"]), "--duration", "1", *args,
                      env=packages.env)
    assert result.returncode != 0
    line = error_line(result)
    assert message in line and line.startswith("ecli: error: ")
    assert "Traceback" not in result.stderr
