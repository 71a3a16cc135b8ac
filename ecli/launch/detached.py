"""Detached runs: start `ecli run` in the background, list, stop and read them.

`ecli run --detach` starts the same command line again as a child in a new
session, with no terminal and its output in a log file, and returns once the
child's state file says its programs are attached. Each run is one JSON record
beside its log and its state file under `Paths.runs_dir`; all are written
atomically, and changes to the set of records happen under an fcntl lock.

The state file (`RunState`) is what `ecli run --status-file PATH` writes about
itself: attached (with its pid and program ids), then exited (with its exit
status, and its error and hint when it failed). Nothing reads the log's
wording: the log is for people (`ecli logs`).

A record's process is trusted only while `/proc/PID` still shows the same
start time and the same command line: a pid the kernel has reused for
something else is a finished run, never a process to signal. Nothing here
prints; the CLI renders what these functions return.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ecli.errors import LifecycleError, NotFoundError, UsageError
from ecli.files import locked, write_atomic

RECORD_VERSION = 1
STATE_VERSION = 1
ATTACH_TIMEOUT = 120.0  # seconds: a first run may pull the package before attaching
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
_POLL = 0.05
_ID = re.compile(r"^[0-9a-f]{1,12}$")


def _versioned_json(record: Any, version: int) -> bytes:
    """One line of JSON (a run's states go to a file descriptor as JSON lines too)."""
    return json.dumps({"version": version, **asdict(record)}).encode()


def _unversioned(raw: bytes, version: int) -> dict[str, Any]:
    """The fields of a JSON file written by `_versioned_json` with this `version`."""
    data = json.loads(raw)
    if not isinstance(data, dict) or data.pop("version", None) != version:
        raise ValueError(f"not a version {version} file")
    return data


@dataclass(frozen=True)
class RunRecord:
    """One detached run as stored in `runs_dir/ID.json`."""

    id: str
    name: str
    target: str
    pid: int
    start_ticks: int  # /proc/PID/stat field 22: tells a reused pid apart
    started: float  # wall-clock seconds since the epoch
    argv: tuple[str, ...]  # the child's exact command line
    log: str
    programs: tuple[int, ...] = ()  # kernel ids of the attached programs

    def to_json(self) -> bytes:
        return _versioned_json(self, RECORD_VERSION)

    @classmethod
    def from_json(cls, raw: bytes) -> RunRecord:
        data = _unversioned(raw, RECORD_VERSION)
        data["argv"] = tuple(data["argv"])
        data["programs"] = tuple(data.get("programs", ()))
        return cls(**data)

    @property
    def uptime(self) -> float:
        return max(0.0, time.time() - self.started)


@dataclass(frozen=True)
class AttachedState:
    """One attached program as the state file names it (as `bpftool prog show` does)."""

    id: int
    name: str
    section: str


@dataclass(frozen=True)
class RunState:
    """What a run says of itself in its state file (`ecli run --status-file PATH`)."""

    state: str  # "attached", then "exited"
    name: str
    pid: int
    programs: tuple[AttachedState, ...] = ()
    exit_status: int | None = None  # once exited
    error: str | None = None  # the run's own error message, when it failed
    hint: str | None = None

    def to_json(self) -> bytes:
        return _versioned_json(self, STATE_VERSION)

    @classmethod
    def from_json(cls, raw: bytes) -> RunState:
        data = _unversioned(raw, STATE_VERSION)
        data["programs"] = tuple(AttachedState(**p) for p in data.get("programs", ()))
        return cls(**data)


def write_state(path: Path, state: RunState) -> None:
    write_atomic(path, state.to_json(), mode=0o600)


def read_state(path: Path) -> RunState | None:
    """The state a run last wrote, or None before it wrote one (or if unreadable)."""
    try:
        return RunState.from_json(path.read_bytes())
    except (OSError, ValueError, TypeError, KeyError):
        return None


@dataclass(frozen=True)
class DetachResult:
    """What `start` saw: a run now attached, or a child that finished before attaching."""

    record: RunRecord | None
    output: str  # the child's log so far (its status lines, or its help text)
    programs: tuple[AttachedState, ...] = ()


@dataclass(frozen=True)
class StopResult:
    record: RunRecord
    signal: str  # "SIGTERM", "SIGKILL", or "" when it had already exited
    exit_status: int | None = None  # what the run's state file says, when it says


class Runs:
    """The records of detached runs under one state directory."""

    def __init__(self, runs_dir: Path) -> None:
        self.dir = runs_dir

    # --- the set of records --------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with locked(self.dir / ".lock"):
            yield

    def _read_all(self) -> list[RunRecord]:
        records = []
        for path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else ():
            try:
                records.append(RunRecord.from_json(path.read_bytes()))
            except (OSError, ValueError, TypeError, KeyError):
                path.unlink(missing_ok=True)  # unreadable: no run can be found through it
        return records

    def _remove(self, record: RunRecord) -> None:
        (self.dir / f"{record.id}.json").unlink(missing_ok=True)
        self.state_file(record.id).unlink(missing_ok=True)
        Path(record.log).unlink(missing_ok=True)

    def state_file(self, run_id: str) -> Path:
        """Where the run writes its `RunState` (not `*.json`: that is the records' glob)."""
        return self.dir / f"{run_id}.state"

    def state(self, record: RunRecord) -> RunState | None:
        return read_state(self.state_file(record.id))

    def running(self) -> list[RunRecord]:
        """Every run whose process is still alive, oldest first; the rest are pruned."""
        with self._locked():
            alive = []
            for record in self._read_all():
                if is_alive(record):
                    alive.append(record)
                else:
                    self._remove(record)
        return sorted(alive, key=lambda r: r.started)

    def find(self, key: str) -> RunRecord:
        """A run by ID, unique ID prefix or NAME; records of exited runs are kept for logs."""
        with self._locked():
            records = self._read_all()
        exact = [r for r in records if r.id == key]
        if exact:
            return exact[0]
        by_name = [r for r in records if r.name == key]
        by_prefix = [r for r in records if _ID.match(key) and r.id.startswith(key)]
        matches = by_name or by_prefix
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(r.id for r in matches)
            raise UsageError(f"{key!r} names {len(matches)} runs ({ids})",
                             hint="use one of the IDs, or 'ecli stop --all'")
        raise NotFoundError(f"no detached run with ID or name {key!r} ('ecli ps' lists them)")

    # --- start ----------------------------------------------------------------

    def start(self, target: str, run_argv: Sequence[str],
              timeout: float = ATTACH_TIMEOUT) -> DetachResult:
        """Start `ecli run --status-file ...` detached; wait until it is attached or has ended.

        `run_argv` is the command line from `run` on, without `--detach`.
        """
        run_id = self._new_id()
        log = self.dir / f"{run_id}.log"
        state_file = self.state_file(run_id)
        argv = (sys.executable, "-m", "ecli", run_argv[0], "--status-file", str(state_file),
                *run_argv[1:])
        with open(log, "wb") as out:
            os.chmod(log, 0o600)
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     close_fds=True)
        try:
            state = _wait_attached(child, state_file, timeout)
        except BaseException:
            _kill_group(child)
            log.unlink(missing_ok=True)
            state_file.unlink(missing_ok=True)
            raise
        text = log.read_bytes().decode("utf-8", "replace")
        if state is None or state.state != "attached":
            log.unlink(missing_ok=True)
            state_file.unlink(missing_ok=True)
            if child.returncode == 0:
                return DetachResult(None, text)
            message, hint = _failure(state, text, child.returncode)
            raise LifecycleError(message, hint=hint)
        record = RunRecord(run_id, state.name, target, child.pid,
                           _start_ticks(child.pid) or 0, time.time(), argv, str(log),
                           tuple(p.id for p in state.programs))
        with self._locked():
            write_atomic(self.dir / f"{run_id}.json", record.to_json(), mode=0o600)
        return DetachResult(record, text, state.programs)

    def _new_id(self) -> str:
        with self._locked():
            while True:
                run_id = secrets.token_hex(4)
                if not (self.dir / f"{run_id}.json").exists():
                    (self.dir / f"{run_id}.log").touch(mode=0o600)
                    return run_id

    # --- stop and logs ---------------------------------------------------------

    def stop(self, record: RunRecord, grace: float = STOP_GRACE) -> StopResult:
        """SIGTERM, up to `grace` seconds to detach cleanly, then SIGKILL; drop the record."""
        sent = ""
        if is_alive(record):
            sent = "SIGTERM"
            _signal(record.pid, signal.SIGTERM)
            if not _wait_gone(record, grace):
                sent = "SIGKILL"
                _signal(record.pid, signal.SIGKILL)
                if not _wait_gone(record, grace):
                    raise LifecycleError(f"run {record.id} (pid {record.pid}) survived SIGKILL")
        state = self.state(record)
        with self._locked():
            self._remove(record)
        return StopResult(record, sent, state.exit_status if state else None)

    def stop_all(self) -> list[StopResult]:
        return [self.stop(record) for record in self.running()]

    @staticmethod
    def read_log(record: RunRecord) -> bytes:
        try:
            return Path(record.log).read_bytes()
        except FileNotFoundError:
            return b""

    @staticmethod
    def follow(record: RunRecord, interval: float = 0.2) -> Iterator[bytes]:
        """The log from the start, then what is appended, until the process has exited."""
        try:
            handle = open(record.log, "rb")  # noqa: SIM115 - held open while following
        except FileNotFoundError:
            return
        with handle:
            while True:
                alive = is_alive(record)  # checked before reading: no line is missed
                chunk = handle.read()
                if chunk:
                    yield chunk
                elif not alive:
                    return
                else:
                    time.sleep(interval)


# --- processes ---------------------------------------------------------------

def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), or None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the name may hold spaces and ')'
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _cmdline(pid: int) -> tuple[str, ...] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return tuple(part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0")[:-1])


def is_alive(record: RunRecord) -> bool:
    """The record's process still runs, and really is that `ecli run` (not a reused pid)."""
    ticks = _start_ticks(record.pid)
    if ticks is None or (record.start_ticks and ticks != record.start_ticks):
        return False
    return _cmdline(record.pid) == record.argv


def _wait_gone(record: RunRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive(record):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def _wait_attached(child: subprocess.Popen[bytes], state_file: Path,
                   timeout: float) -> RunState | None:
    """The run's state once it is attached, or its last state (maybe none) once it exited."""
    deadline = time.monotonic() + timeout
    while True:
        exited = child.poll() is not None  # before reading, so its last state is in
        state = read_state(state_file)
        if exited or (state is not None and state.state == "attached"):
            return state
        if time.monotonic() >= deadline:
            raise LifecycleError(f"the detached run did not attach within {timeout:.0f}s; "
                                 "it was killed", hint="run it without --detach to see why")
        time.sleep(_POLL)


def _failure(state: RunState | None, log: str, code: int) -> tuple[str, str | None]:
    """The run's own error and hint from its state file; else the log's last line."""
    if state is not None and state.error:
        return f"the detached run failed: {state.error}", state.hint
    tail = [line for line in log.splitlines() if line.strip()][-1:]
    return (f"the detached run exited with status {code} before attaching"
            + (f": {tail[0]}" if tail else ""), None)
