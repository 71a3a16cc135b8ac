"""Programs written for other runners run unchanged: event types inferred, maps shown.

Each object here is our own, written in the style of one ecosystem: plain
libbpf-tools perf arrays, eunomia-bpf ring buffers, bumblebee's prefixes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from ecli.oci import reference

from bpf_objects import ROOT
from bumblebee import push_bumblebee
from ecli_process import RunningEcli, touch_unique, trace_own_open

pytestmark = pytest.mark.root
BPF_TESTS = ROOT / "tests" / "bpf"


def run_and_open(obj, tmp_path, *extra: str) -> tuple[list[dict], str, str]:
    return trace_own_open([str(obj), *extra], tmp_path)


def test_perf_array_events_decode_by_inferred_type(objects, short_dir):
    events, opened, _ = run_and_open(objects["perf_array"], short_dir)
    mine = [e for e in events if e.get("fname") == opened]
    assert mine == [{"pid": os.getpid(), "dfd": -100, "fname": opened}]


def test_plain_ring_buffer_events_decode_by_inferred_type(objects, short_dir):
    events, opened, _ = run_and_open(objects["plain_ringbuf"], short_dir)
    mine = [e for e in events if e.get("fname") == opened]
    assert len(mine) == 1 and mine[0]["pid"] == os.getpid()
    assert set(mine[0]) == {"pid", "flags", "fname"}


def test_unknown_event_type_prints_a_dump(objects, short_dir):
    events, opened, _ = run_and_open(objects["raw_events"], short_dir)
    dumps = [e for e in events if opened[:31].encode().hex()[:40] in e["hex"]]
    assert dumps, events[:3]
    assert set(dumps[0]) == {"size", "hex", "strings"}
    assert dumps[0]["strings"].startswith(opened[:20])


def test_event_type_can_be_named(objects, short_dir):
    events, opened, _ = run_and_open(objects["perf_array"], short_dir,
                                     "--event-type", "perf_event_t")
    assert any(e.get("fname") == opened for e in events)


def test_unknown_event_type_name_is_an_error(objects):
    run = subprocess.run(
        [sys.executable, "-m", "ecli", "run",
         str(objects["perf_array"]), "--event-type", "nope"],
        capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "--event-type: no struct or typedef 'nope'" in run.stderr


def test_bumblebee_prefixes_print_events_counters_and_histograms(objects, short_dir):
    events, opened, _ = run_and_open(objects["bumblebee_style"], short_dir)
    assert {"pid": os.getpid(), "comm": events[0]["comm"]} in events
    maps = next(e for e in events if "maps" in e)
    assert maps["final"] is True
    counters = next(m for m in maps["maps"] if m["map"] == "counter_opens")
    assert counters["type"] == "counters"
    assert counters["entries"][0]["key"] == {"key": os.getpid()}
    assert counters["entries"][0]["value"]["value"] >= 1
    hist = next(m for m in maps["maps"] if m["map"] == "hist_name_len")
    assert hist["type"] == "log2_histogram"
    slot = len(opened).bit_length() - 1  # ecli_log2 of the name length (with its NUL)
    assert any(b["slot"] in (slot, slot + 1) and b["count"] >= 1 for b in hist["buckets"])


def test_histogram_is_drawn_with_bars(objects, short_dir):
    run = RunningEcli([str(objects["bumblebee_style"]), "--duration", "3",
                       "--targ-pid", str(os.getpid())])
    run.wait_attached()
    touch_unique(short_dir, "bars")
    out, err, code = run.finish()
    assert code == 0, err
    assert "hist_name_len" in out
    assert "value : count    distribution" in out
    assert "|****************************************|" in out  # the largest bucket
    assert "counter_opens" in out and "KEY" in out


def test_interval_prints_maps_while_running(objects, short_dir):
    run = RunningEcli([str(objects["bumblebee_style"]), "--json", "--duration", "3.5",
                       "--interval", "1", "--targ-pid", str(os.getpid())])
    run.wait_attached()
    touch_unique(short_dir, "interval")
    out, err, code = run.finish()
    assert code == 0, err
    reports = [json.loads(line) for line in out.splitlines() if '"maps"' in line]
    assert [r["final"] for r in reports] == [False, False, False, True]


def test_lost_events_are_counted_exactly(objects):
    run = RunningEcli([str(objects["lost_events"]), "--json", "--duration", "3",
                       "--targ-pid", str(os.getpid())])
    run.wait_attached()
    for _ in range(10):
        os.getppid()  # each call emits a burst of 16 into a 4 KiB ring buffer
    out, err, code = run.finish()
    assert code == 0, err
    received = len([line for line in out.splitlines() if '"seq"' in line])
    lost_lines = [line for line in err.splitlines() if "event(s) lost" in line]
    assert len(lost_lines) == 1, err
    lost = int(re.search(r"(\d+) event\(s\) lost", lost_lines[0]).group(1))
    assert received + lost == 160
    assert lost > 0


def test_a_bumblebee_artifact_runs_from_a_registry(objects, registry, short_dir, tmp_path):
    ref = reference.parse(f"{registry.host}/solo/beetrace:v1")
    push_bumblebee(objects["bumblebee_style"].read_bytes(), ref, tmp_path / "bee")
    env = {**os.environ, "ECLI_HOME": str(tmp_path / "home")}
    run = RunningEcli([str(ref), "--json", "--duration", "3", "--targ-pid", str(os.getpid())],
                      env=env)
    run.wait_attached()
    touch_unique(short_dir, "bee")
    out, err, code = run.finish()
    assert code == 0, err
    assert "ecli: beetrace:" in err  # named after the repository, as bee names it
    events = [json.loads(line) for line in out.splitlines()]
    assert any(e.get("pid") == os.getpid() for e in events)
