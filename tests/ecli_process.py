"""Run the real `ecli` command in tests, and watch the kernel's programs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


def ecli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ecli", *args]


def run_ecli(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
             **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(ecli_command(*args), capture_output=True, text=True,
                          env=env, timeout=timeout, **kwargs)


def run_state(path: Path) -> dict | None:
    """The JSON state `ecli run --status-file PATH` wrote, or None before it wrote one."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None


class RunningEcli:
    """`ecli -v run ...` in the background; knows when, and which, programs are attached.

    It reads the run's `--status-file` (state, program ids, exit status), not
    its wording on stderr. Tests check for leaks by these exact program ids, so
    other eBPF users of the machine (another test run, a developer's tracer)
    cannot disturb them.
    """

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="ecli-run-state-"))
        self.status_file = self._dir / "state.json"
        self.argv = ecli_command("-v", "run", "--status-file", str(self.status_file), *args)
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env)
        self.stderr_lines: list[str] = []
        self.program_ids: set[int] = set()

    def wait_attached(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            exited = self.process.poll() is not None
            state = run_state(self.status_file)
            if state and state["state"] == "attached":
                self.program_ids = {program["id"] for program in state["programs"]}
                assert self.program_ids, f"the run attached no program: {state}"
                return
            if exited:
                _, err = self.process.communicate()
                self.stderr_lines.append(err)
                raise AssertionError(f"ecli exited before attaching: {state}: {err}")
            time.sleep(0.02)
        raise AssertionError("ecli did not attach in time")

    def state(self) -> dict | None:
        return run_state(self.status_file)

    def finish(self, timeout: float = 60) -> tuple[str, str, int]:
        out, err = self.process.communicate(timeout=timeout)
        shutil.rmtree(self._dir, ignore_errors=True)
        return out, "".join(self.stderr_lines) + err, self.process.returncode

    def json_events(self, out: str) -> list[dict]:
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


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
