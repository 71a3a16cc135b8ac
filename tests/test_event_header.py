"""Event types from a header: `ecli run --event-header FILE.h` and `ecli build` with
`[output] event_header`, on an object built with plain clang whose event struct is not
in its BTF (libbpf-tools style: a local `struct event *e = bpf_ringbuf_reserve(...)`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bpf_objects import ROOT
from ecli_process import RunningEcli, error_line, programs_left, run_ecli

HEADER = ROOT / "tests" / "bpf" / "header_events.h"
AT_FDCWD_U16 = (-100) & 0xFFFF


def traced(target: str, folder: Path, *extra: str, env: dict[str, str] | None = None
           ) -> tuple[list[dict], str]:
    """Run for 3 s filtered to this process, create one file; the events and its path."""
    run = RunningEcli([target, "--json", "--duration", "3", *extra, "--targ-pid",
                       str(os.getpid())], env=env)
    run.wait_attached()
    created = folder / "f"
    created.unlink(missing_ok=True)
    created.touch()  # creates it: an openat with O_CREAT
    out, err, code = run.finish()
    assert code == 0, err
    assert programs_left(run.program_ids) == set()
    return [json.loads(line) for line in out.splitlines()], str(created)


def assert_decoded(events: list[dict], created: str) -> None:
    mine = [e for e in events if e.get("fname") == created]
    assert len(mine) == 1, events
    pid = os.getpid()
    assert mine[0] == {"who.pid": pid, "who.uid": os.getuid(), "tag": (pid << 64) | 42,
                       "kind": "OPEN_CREATE", "dfd_low": AT_FDCWD_U16,
                       "comm": Path("/proc/self/comm").read_text().strip(),
                       "fname": created}


@pytest.mark.root
def test_without_the_header_events_are_hex_with_it_they_decode(objects, short_dir):
    obj = str(objects["header_events"])
    raw, created = traced(obj, short_dir)
    mine = [e for e in raw if created in e.get("strings", "")]
    assert mine and set(mine[0]) == {"size", "hex", "strings"}  # the struct is not in BTF
    events, created = traced(obj, short_dir, "--event-header", str(HEADER))
    assert_decoded(events, created)
    named, created = traced(obj, short_dir, "--event-header", str(HEADER),
                            "--event-type", "event")
    assert_decoded(named, created)


def refused(*args: str, env: dict[str, str] | None = None) -> str:
    ran = run_ecli("run", *args, env=env)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr
    assert "permissions" not in ran.stderr  # refused before anything was shown or loaded
    return error_line(ran)


def test_a_missing_clang_is_one_line_naming_the_package(objects, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    line = refused(str(objects["header_events"]), "--event-header", str(HEADER),
                   env={**os.environ, "PATH": str(empty)})
    assert line == (f"ecli: error: {HEADER}: compiling an event header needs clang, "
                    "which is not installed")
    ran = run_ecli("run", str(objects["header_events"]), "--event-header", str(HEADER),
                   env={**os.environ, "PATH": str(empty)})
    assert "hint: apt-get install clang" in ran.stderr


def test_bad_headers(objects, tmp_path):
    obj = str(objects["header_events"])
    broken = tmp_path / "broken.h"
    broken.write_text("struct event {\n\tunknown_t x;\n};\n")
    assert refused(obj, "--event-header", str(broken)) == (
        f"ecli: error: {broken}: clang cannot compile it: {broken}:2:2: error: unknown type "
        "name 'unknown_t'")
    twins = tmp_path / "twins.h"  # two structs of the event's 112 bytes
    twins.write_text("struct a { char x[112]; };\ntypedef struct { __u64 y[14]; } b_t;\n"
                     "struct small { int z; };\n")
    assert refused(obj, "--event-header", str(twins)) == (
        f"ecli: error: {twins}: 2 type(s) fit the events (112); it defines: a (112 bytes), "
        "b_t (112 bytes), small (4 bytes)")
    assert refused(obj, "--event-header", str(twins), "--event-type", "nope") == (
        f"ecli: error: {twins}: no struct, union or typedef 'nope' (it defines: a, b_t, small)")
    empty = tmp_path / "empty.h"
    empty.write_text("#define NOTHING 1\n")
    assert refused(obj, "--event-header", str(empty)) == \
        f"ecli: error: {empty}: defines no named struct or union"
    missing = tmp_path / "missing.h"
    assert refused(obj, "--event-header", str(missing)) == \
        f"ecli: error: {missing}: cannot read the event header: No such file or directory"
