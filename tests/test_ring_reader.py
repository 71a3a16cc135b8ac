"""ecli's ring buffer and perf buffer readers on the real kernel, driven by a C load
generator.

tests/bpf/ring_reader.bpf.c writes each getppid(2) of the generator to two
rings: `kept` (every odd record discarded) and `sized` (one page; samples of
8 to 71 bytes, `len` letters of text, so records wrap the ring's end), and
to a perf event array, `seen` (samples of 12 to 523 bytes, `perf_len`
letters of blob, in 256 KiB per CPU: records wrap its end too).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecli.runtime import streams as streams_module
from ecli.runtime.attach import Attached
from ecli.runtime.loader import LoadedObject
from ecli.runtime.ringbuf import Samples
from ecli.runtime.runner import RunSettings, prepare
from ecli.runtime.streams import EventStreams

from bpf_objects import BUILD, ROOT
from ecli_process import RunningEcli, programs_left

pytestmark = pytest.mark.root
RING_PAGE = 4096


@pytest.fixture(scope="module")
def loadgen() -> Path:
    """bench/bpf/loadgen.c: N getppid(2) calls after a line on stdin, optionally paced."""
    BUILD.mkdir(parents=True, exist_ok=True)
    binary = BUILD / "loadgen"
    subprocess.run(["cc", "-O2", "-o", str(binary), str(ROOT / "bench" / "bpf" / "loadgen.c")],
                   check=True)
    return binary


def traced_load(obj: Path, loadgen: Path, out: Path, calls: int, rate: int = 0,
                tail: int = 0) -> tuple[list[dict], dict[str, int]]:
    """Run ecli on the generator's pid while it makes `calls` calls (then `tail` more
    after a pause); (events, lost per map). The generator stays on one CPU, so its
    tail reaches the perf buffer that has losses to report."""
    cpu = min(os.sched_getaffinity(0))
    load = subprocess.Popen([str(loadgen), str(calls), str(rate), str(tail)],
                            stdin=subprocess.PIPE,
                            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    try:
        with open(out, "w") as events_file:
            run = RunningEcli([str(obj), "--json", "--targ-pid", str(load.pid)],
                              stdout=events_file)
            run.wait_attached()
            load.communicate(b"go\n", timeout=120)
            run.process.send_signal(signal.SIGINT)  # the run drains the rings and reports
            _, err, code = run.finish()
    finally:
        load.kill()
        load.wait()
    assert code == 0, err
    assert programs_left(run.program_ids) == set()
    lost = {m.group(2): int(m.group(1))
            for m in re.finditer(r"(\d+) event\(s\) lost: (\w+) was full", err)}
    return run.json_events(out.read_text()), lost


def check_sized(events: list[dict]) -> list[dict]:
    """The `sized` events, each exactly what the program wrote, in the order written."""
    sized = [e for e in events if "sized_seq" in e]
    for event in sized:
        seq = event["sized_seq"]
        assert event["len"] == seq & 63, event
        assert event["text"] == chr(ord("a") + seq % 26) * event["len"], event
    seqs = [e["sized_seq"] for e in sized]
    assert seqs == sorted(set(seqs)), "events repeated or out of order"
    return sized


def check_perf(events: list[dict]) -> list[dict]:
    """The `seen` events, each exactly what the program wrote, none twice (CPUs'
    buffers are read in turn: their events interleave out of order)."""
    seen = [e for e in events if "perf_seq" in e]
    for event in seen:
        seq, length, blob = event["perf_seq"], event["perf_len"], event["blob"]
        assert length == seq & 511, event
        # perf pads a sample to 8 bytes and leaves the padding as it was (no zeros)
        assert blob[:length] == chr(ord("A") + seq % 26) * length and len(blob) < length + 8
    assert len({e["perf_seq"] for e in seen}) == len(seen), "events repeated"
    return seen


def record_bytes(event: dict) -> int:
    """The ring space of one `sized` record: header, the 8 + len byte sample, padding."""
    return (8 + 8 + event["len"] + 7) // 8 * 8


def test_discarded_records_are_skipped_and_records_wrap_the_ring(objects, loadgen, tmp_path):
    calls = 3000
    events, lost = traced_load(objects["ring_reader"], loadgen, tmp_path / "out", calls,
                               rate=3000)
    # two rings in one object, each decoded by its own type
    kept = [e["kept_seq"] for e in events if "kept_seq" in e]
    assert "kept" not in lost  # 1,500 records of 16 bytes in 256 KiB
    assert kept == list(range(0, calls, 2)), "discarded records shown or kept ones missed"
    sized = check_sized(events)
    assert len(sized) + lost.get("sized", 0) == calls
    assert sum(map(record_bytes, sized)) > 20 * RING_PAGE  # the ring wrapped 20 times over
    # variable sizes: every length from 0 to 63, samples not a multiple of 8 among them
    assert {e["len"] for e in sized} == set(range(64))
    assert len(check_perf(events)) + lost.get("seen", 0) == calls


def test_a_burst_larger_than_the_ring_is_fully_accounted(objects, loadgen, tmp_path):
    burst, tail = 200_000, 10  # about 9 MB of samples into a 4 KiB ring, at full speed
    calls = burst + tail
    events, lost = traced_load(objects["ring_reader"], loadgen, tmp_path / "out", burst,
                               tail=tail)
    sized = check_sized(events)
    assert lost["sized"] > 0, "the burst did not overflow the ring: no test of the counts"
    assert len(sized) + lost["sized"] == calls
    seen = check_perf(events)
    # the perf buffers (64 pages a CPU) overflow too when the machine is otherwise idle;
    # under load the reader may keep up: either way, every call is written or counted
    assert len(seen) + lost.get("seen", 0) == calls
    kept = [e["kept_seq"] for e in events if "kept_seq" in e]
    assert all(seq % 2 == 0 for seq in kept)
    # every even call is written or lost; an odd one is discarded or lost
    assert calls // 2 <= len(kept) + lost.get("kept", 0) <= calls


@contextlib.contextmanager
def streams_in_process(obj: Path, handle) -> Iterator[EventStreams]:
    """`obj` loaded and attached here, filtered to this process, every ring added to the
    EventStreams yielded with `handle(map name, decoder, samples)`."""
    run = prepare(obj, RunSettings(), "ring_reader", ["--targ-pid", str(os.getpid())])
    with LoadedObject(run.spec, run.args.rodata, run.name) as loaded, \
            Attached(loaded, run.args.attach):
        streams = EventStreams(run.name)
        try:
            for name, (event_map, decoder) in run.streams.items():
                streams.add(event_map, loaded.map_fd(name),
                            lambda samples, n=name, d=decoder: handle(n, d, samples))
            yield streams
        finally:
            streams.close()


def calls(n: int) -> None:
    for _ in range(n):
        os.getppid()


@pytest.mark.parametrize("mapped", [True, False], ids=["mapped pages", "libbpf"])
def test_both_paths_give_the_same_events(objects, monkeypatch, mapped):
    """The mapped readers, and libbpf's callbacks where memory ordering rules them out."""
    monkeypatch.setattr(streams_module, "ordered_memory", lambda: mapped)
    columns: dict[str, list[list]] = {}

    def collect(name: str, decoder, samples: Samples) -> None:
        for i, column in enumerate(decoder.decode_batch(samples)):
            columns.setdefault(name, [[] for _ in decoder.columns])[i] += column

    with streams_in_process(objects["ring_reader"], collect) as streams:
        calls(60)  # about 3 KB of `sized` records: the page holds them
        streams.poll(5)
    assert columns["kept"] == [list(range(0, 60, 2))]
    seqs, lengths, texts = columns["sized"]
    assert seqs == list(range(60))
    assert lengths == seqs
    assert texts == [chr(ord("a") + seq % 26) * seq for seq in seqs]
    assert sorted(columns["seen"][0]) == list(range(60))
    check_perf([dict(zip(("perf_seq", "perf_len", "blob"), row, strict=True))
                for row in zip(*columns["seen"], strict=True)])


def test_a_handler_error_is_raised_in_python_and_its_batch_consumed(objects):
    batches: list[tuple[str, int]] = []

    def fail_once(name: str, _decoder, samples: Samples) -> None:
        batches.append((name, len(samples.offsets)))
        if len(batches) == 1:
            raise ValueError("handler failed")

    with streams_in_process(objects["ring_reader"], fail_once) as streams:
        calls(10)
        with pytest.raises(ValueError, match="handler failed"):
            streams.poll(5)
        assert batches == [("kept", 5)]  # the error stopped the drain at the first ring
        streams.poll(5)
    assert batches[:2] == [("kept", 5), ("sized", 10)]  # the failed batch is not read again
    assert sum(n for name, n in batches if name == "seen") == 10


def test_events_reach_a_pipe_while_the_run_goes_on(objects, loadgen):
    """Output to a pipe is not flushed per event, yet a quiet stream's event is written
    when it comes, not held until exit."""
    load = subprocess.Popen([str(loadgen), "1"], stdin=subprocess.PIPE)
    run = RunningEcli([str(objects["ring_reader"]), "--json", "--targ-pid", str(load.pid)])
    try:
        run.wait_attached()
        load.communicate(b"go\n", timeout=60)
        assert run.process.stdout is not None
        ready, _, _ = select.select([run.process.stdout], [], [], 30)
        assert ready, "no event written while the run goes on"
        assert json.loads(run.process.stdout.readline()) in (
            {"kept_seq": 0}, {"sized_seq": 0, "len": 0, "text": ""})
        assert run.process.poll() is None
    finally:
        run.process.send_signal(signal.SIGINT)
        _, err, code = run.finish()
    assert code == 0, err
