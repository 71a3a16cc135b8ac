"""Run the real `ecli` command in tests, and watch the kernel's programs."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any


def ecli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ecli", *args]


def run_ecli(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
             **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(ecli_command(*args), capture_output=True, text=True,
                          env=env, timeout=timeout, **kwargs)


# A wrapper for RunningEcli that reports the run's own peak RSS on its last stderr line.
# wait4 on the run itself would not do: a child forked from pytest starts with pytest's
# peak (hundreds of MB late in a session), and exec keeps it; a child of this small
# process starts with none.
PEAK_RSS_WRAPPER = (sys.executable, "-c", (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:], close_fds=False)\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(f'peak-rss-kib: {usage.ru_maxrss}', file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"))


def peak_rss_kib(stderr: str) -> int:
    """The peak RSS PEAK_RSS_WRAPPER reported, in KiB."""
    return int(stderr.rstrip().rsplit("peak-rss-kib: ", 1)[1])


class RunningEcli:
    """`ecli -v run ...` in the background; knows when, and which, programs are attached.

    It reads the states the run writes to a pipe (`ecli run --status-fd`), not
    its wording on stderr, and opens no file while the run traces (a test's own
    opens must not become events). Tests check for leaks by these exact program
    ids, so other eBPF users of the machine (another test run, a developer's
    tracer) cannot disturb them. `wrapper` runs ecli under another command
    (`ip netns exec NS`). `stdout` takes the events instead of a pipe (a file: a
    run that prints much must not wait on a full pipe).
    """

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None,
                 wrapper: Sequence[str] = (), stdin: Any = None,
                 stdout: IO[str] | None = None) -> None:
        self._states, writer = os.pipe()
        self.argv = [*wrapper, *ecli_command("-v", "run", "--status-fd", str(writer), *args)]
        self.process = subprocess.Popen(self.argv, stdout=stdout or subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env,
                                        pass_fds=(writer,), stdin=stdin)
        os.close(writer)
        self._buffer = b""
        self.states: list[dict] = []
        self.program_ids: set[int] = set()

    def _read_states(self, timeout: float) -> bool:
        """Take in what the run wrote within `timeout`; True once it closed the pipe."""
        if not select.select([self._states], [], [], timeout)[0]:
            return False
        chunk = os.read(self._states, 65536)
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        self.states += [json.loads(line) for line in lines]
        return not chunk

    def wait_attached(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            closed = self._read_states(max(0.0, min(0.5, deadline - time.monotonic())))
            if self.states and self.states[-1]["state"] == "attached":
                self.program_ids = {program["id"] for program in self.states[-1]["programs"]}
                assert self.program_ids, f"the run attached no program: {self.states[-1]}"
                return
            if closed:
                _, err = self.process.communicate()
                raise AssertionError(f"ecli exited before attaching: {self.states}: {err}")
        raise AssertionError("ecli did not attach in time")

    def finish(self, timeout: float = 60) -> tuple[str, str, int]:
        """(stdout, stderr, exit status); all of them, even after wait_attached read them
        (Popen.communicate keeps what an earlier call read)."""
        out, err = self.process.communicate(timeout=timeout)
        while select.select([self._states], [], [], 0)[0] and not self._read_states(0):
            pass  # the last state: exited, with its status
        os.close(self._states)
        return out, err, self.process.returncode

    def json_events(self, out: str) -> list[dict]:
        """The events: every JSON line but the maps reports (`{"time", "final", "maps"}`)."""
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return [e for e in lines if set(e) != {"time", "final", "maps"}]

    def json_maps(self, out: str) -> dict[str, dict]:
        """The maps of the last report (the one at exit), by name."""
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        reports = [e for e in lines if set(e) == {"time", "final", "maps"}]
        assert reports and reports[-1]["final"], f"no maps report at exit in {out[-500:]!r}"
        return {m["map"]: m for m in reports[-1]["maps"]}


def trace_own_open(args: Sequence[str], folder: Path, env: dict[str, str] | None = None,
                   stdin: Any = None) -> tuple[list[dict], str, str]:
    """`ecli run ARGS --json --duration 3 --targ-pid PID` of an object that traces opens,
    filtered to this process; one file created while attached: (events, its path, stderr).
    Nothing may stay loaded."""
    run = RunningEcli([*args, "--json", "--duration", "3", "--targ-pid", str(os.getpid())],
                      env=env, stdin=stdin)
    run.wait_attached()
    created = folder / "f"
    created.unlink(missing_ok=True)
    created.touch()  # creates it: an openat with O_CREAT
    out, err, code = run.finish()
    assert code == 0, err
    assert programs_left(run.program_ids) == set()
    return [json.loads(line) for line in out.splitlines()], str(created), err


def on_terminal(argv: list[str], answer: bytes, env: dict[str, str],
                stdout: Any = subprocess.DEVNULL) -> tuple[int, str]:
    """Run with stdin and stderr on a pseudo-terminal; answer the question when asked.
    Standard output goes to `stdout` (a file to read what the program printed)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(argv, stdin=follower, stderr=follower, stdout=stdout, env=env)
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 30
    answered = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"Run it? [y/N]" in seen:
            os.write(leader, answer)
            answered = True
        if process.poll() is not None and not ready:
            break
    process.wait(timeout=30)
    os.close(leader)
    return process.returncode, seen.decode(errors="replace")


def bpf_program_ids() -> set[int]:
    """Ids of every eBPF program loaded in the kernel right now."""
    shown = subprocess.run(["bpftool", "-j", "prog", "show"], check=True,
                           capture_output=True, text=True).stdout
    return {prog["id"] for prog in json.loads(shown or "[]")}


def programs_left(ids: set[int], timeout: float = 5.0) -> set[int]:
    """Which of these programs are still loaded once the kernel settles.

    The kernel frees a program shortly after its last file descriptor closes
    (deferred work), so give it a moment before calling it a leak.
    """
    deadline = time.monotonic() + timeout
    while (left := ids & bpf_program_ids()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def links_of(ids: set[int]) -> set[int]:
    """Ids of the links (attachments) of these programs."""
    shown = subprocess.run(["bpftool", "-j", "link", "show"], check=True,
                           capture_output=True, text=True).stdout
    return {link["id"] for link in json.loads(shown or "[]") if link.get("prog_id") in ids}


def touch_unique(directory: Path, tag: str) -> Path:
    """Open (create) a file whose name no other process will use."""
    path = directory / f"ecli-{tag}-{os.getpid()}-{time.monotonic_ns()}"
    with open(path, "w"):
        pass
    return path


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `ecli: error:` line of a failed command (permissions may be shown before it)."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("ecli: error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]
