"""Detached runs on the real kernel: run --detach, ps, logs, stop, and kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecli.paths import Paths

from ecli_process import (
    bpf_program_ids,
    links_of,
    programs_left,
    run_ecli,
    touch_unique,
)

pytestmark = pytest.mark.root


def ecli(env: dict[str, str], *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return run_ecli(*args, env=env, **kwargs)


def detach(env: dict[str, str], *args: str) -> tuple[str, set[int]]:
    """`ecli run --detach ARGS`: the run's ID and the ids of its programs (its state file)."""
    result = ecli(env, "run", "--detach", *args)
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    state = json.loads((Paths.from_environment(env).runs_dir / f"{run_id}.state").read_bytes())
    assert state["state"] in ("attached", "exited"), state
    ids = {program["id"] for program in state["programs"]}
    assert ids, (result.stderr, state)
    return run_id, ids


def ps(env: dict[str, str]) -> list[dict]:
    result = ecli(env, "ps", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def maps_of(ids: set[int]) -> set[int]:
    """Ids of the maps these programs use, as bpftool shows them."""
    shown = subprocess.run(["bpftool", "-j", "prog", "show"], check=True,
                           capture_output=True, text=True).stdout
    return {m for prog in json.loads(shown or "[]") if prog["id"] in ids
            for m in prog.get("map_ids", [])}


def maps_left(map_ids: set[int]) -> set[int]:
    shown = subprocess.run(["bpftool", "-j", "map", "show"], check=True,
                           capture_output=True, text=True).stdout
    return map_ids & {m["id"] for m in json.loads(shown or "[]")}


def wait_for(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_detach_ps_logs_stop(objects, env, tmp_path):
    run_id, ids = detach(env, str(objects["opensnoop"]), "--json")
    [listed] = ps(env)
    assert listed["id"] == run_id
    assert listed["name"] == "opensnoop"
    assert set(listed["programs"]) == ids
    assert listed["state"] == "attached"  # from the run's own state file
    assert ids <= bpf_program_ids(), "loaded while detached"
    assert len(links_of(ids)) == 2, "and attached"
    map_ids = maps_of(ids)
    assert len(map_ids) >= 2, "start, events (and .rodata)"
    assert Path(f"/proc/{listed['pid']}").exists()

    opened = touch_unique(tmp_path, "detached")

    def event_logged() -> bool:
        log = ecli(env, "logs", run_id).stdout
        return any(json.loads(line).get("fname") == str(opened)
                   for line in log.splitlines() if line.startswith("{"))

    assert wait_for(event_logged), ecli(env, "logs", run_id).stdout[-2000:]
    table = ecli(env, "ps").stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "PID", "STARTED", "UPTIME", "TARGET", "LOG"]
    assert table[1].startswith(f"{run_id}  opensnoop")
    assert ecli(env, "ps", "-q").stdout == f"{run_id}\n"  # docker's `ps -q`: IDs only

    stopped = ecli(env, "stop", run_id, "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout) == [{"id": run_id, "name": "opensnoop",
                                           "signal": "SIGTERM", "exit_status": 0}]
    assert ps(env) == []
    assert programs_left(ids) == set()
    assert links_of(ids) == set()
    assert wait_for(lambda: maps_left(map_ids) == set(), timeout=5), maps_left(map_ids)
    assert not Path(listed["log"]).exists()


def test_kill_9_of_the_detached_ecli_leaves_nothing(objects, env):
    run_id, ids = detach(env, str(objects["opensnoop"]))
    [listed] = ps(env)
    map_ids = maps_of(ids)
    os.kill(listed["pid"], signal.SIGKILL)
    assert programs_left(ids) == set()
    assert links_of(ids) == set()
    assert wait_for(lambda: maps_left(map_ids) == set(), timeout=5), maps_left(map_ids)
    assert wait_for(lambda: ps(env) == [])  # pruned: its process is gone
    result = ecli(env, "stop", run_id)
    assert result.returncode == 1  # and the record went with it


def test_stop_by_name_and_all(objects, env):
    first, first_ids = detach(env, str(objects["opensnoop"]))
    second, second_ids = detach(env, str(objects["opensnoop"]))
    ambiguous = ecli(env, "stop", "opensnoop")
    assert ambiguous.returncode == 2
    assert "names 2 runs" in ambiguous.stderr
    result = ecli(env, "stop", "--all")
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split("\n")[:2]) == sorted(
        [f"{first} opensnoop: stopped (SIGTERM)", f"{second} opensnoop: stopped (SIGTERM)"])
    assert programs_left(first_ids | second_ids) == set()
    nothing = ecli(env, "stop", "--all")
    assert nothing.returncode == 0 and nothing.stdout == ""


def test_logs_follow_ends_when_the_run_ends(objects, env):
    run_id, ids = detach(env, str(objects["opensnoop"]), "--duration", "2")
    started = time.monotonic()
    result = ecli(env, "logs", "-f", run_id, timeout=30)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 1.0, "followed until the run ended"
    assert "2 program(s) attached" in result.stdout
    assert "detached after" in result.stdout  # the run's last line
    assert f"ecli: run {run_id} (opensnoop) exited with status 0" in result.stderr
    assert programs_left(ids) == set()
    assert ps(env) == []


def test_stop_of_an_unknown_id_is_a_one_line_error(env):
    result = ecli(env, "stop", "feedbeef")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "ecli: error: no detached run with ID or name 'feedbeef' ('ecli ps' lists them)"]
    logs = ecli(env, "logs", "feedbeef")
    assert logs.returncode == 1 and len(logs.stderr.splitlines()) == 1
    usage = ecli(env, "stop")
    assert usage.returncode == 2 and usage.stderr.startswith("ecli: error:")


def test_a_run_that_cannot_attach_fails_at_once(objects, env):
    result = ecli(env, "run", "--detach", str(objects["kprobe_only"]))
    assert result.returncode == 1
    assert result.stderr.startswith("ecli: error: the detached run failed:")
    assert "this kernel has no kprobe support (CONFIG_KPROBES" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert ps(env) == []
    runs = Path(env["ECLI_HOME"]) / "state" / "runs"
    assert sorted(p.name for p in runs.iterdir()) == [".lock"], "nothing half-written"


def test_a_reused_pid_is_never_signalled(env):
    """A record whose pid now belongs to another program is pruned, not killed."""
    from ecli.launch.detached import RunRecord, Runs, _start_ticks
    from ecli.paths import Paths

    stranger = subprocess.Popen(["sleep", "60"])
    try:
        runs_dir = Paths.from_environment(env).runs_dir
        runs_dir.mkdir(parents=True)
        record = RunRecord("0badc0de", "opensnoop", "opensnoop", stranger.pid,
                           _start_ticks(stranger.pid) or 0, time.time(),
                           ("python3", "-m", "ecli", "-v", "run", "opensnoop"),
                           str(runs_dir / "0badc0de.log"))
        (runs_dir / "0badc0de.json").write_bytes(record.to_json())
        assert Runs(runs_dir).find("0badc0de") == record
        result = ecli(env, "stop", "0badc0de")
        assert result.returncode == 0
        assert "had already exited" in result.stdout
        assert stranger.poll() is None, "sleep was not signalled"
        assert ps(env) == []
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.parametrize(("args", "code", "message"), [
    (["stop"], 2, "name the runs to stop"),
    (["stop", "--all", "abc"], 2, "name the runs to stop"),
    (["logs"], 2, "the following arguments are required: ID|NAME"),
    (["logs", "nosuchrun"], 1, "no detached run with ID or name 'nosuchrun'"),
    (["logs", "-f", "0"], 1, "no detached run with ID or name '0'"),
])
def test_bad_lifecycle_input_is_one_line(env, args, code, message):
    result = ecli(env, *args)
    assert result.returncode == code
    assert message in result.stderr
    assert result.stderr.startswith(("ecli: error:", "usage:"))
    assert "Traceback" not in result.stderr


def test_an_unreadable_record_is_dropped_not_fatal(env):
    runs = Path(env["ECLI_HOME"]) / "state" / "runs"
    runs.mkdir(parents=True)
    (runs / "deadbeef.json").write_text("{not json")
    (runs / "cafe0001.json").write_text('{"version": 99}')
    assert ps(env) == []
    assert sorted(p.name for p in runs.iterdir()) == [".lock"]


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(env):
    from ecli.launch.detached import RunRecord, Runs, _start_ticks
    from ecli.paths import Paths

    argv = (sys.executable, "-c", "import signal, sys, time; "
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
            "time.sleep(60)")
    stubborn = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == "ready\n"
        runs_dir = Paths.from_environment(env).runs_dir
        record = RunRecord("5c0ffee5", "stubborn", "stubborn", stubborn.pid,
                           _start_ticks(stubborn.pid) or 0, time.time(), argv,
                           str(runs_dir / "5c0ffee5.log"))
        runs_dir.mkdir(parents=True)
        (runs_dir / "5c0ffee5.json").write_bytes(record.to_json())
        started = time.monotonic()
        result = Runs(runs_dir).stop(record, grace=0.5)
        assert result.signal == "SIGKILL"
        assert time.monotonic() - started < 5
        assert stubborn.wait(timeout=5) == -signal.SIGKILL
        assert ps(env) == []
    finally:
        stubborn.kill()
        stubborn.wait()
