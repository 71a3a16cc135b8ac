"""Run the real `ecli` command in tests, and watch the kernel's programs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ATTACHED = "attached"


def ecli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ecli", *args]


def run_ecli(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
             **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(ecli_command(*args), capture_output=True, text=True,
                          env=env, timeout=timeout, **kwargs)


class RunningEcli:
    """`ecli run ...` in the background; knows when its programs are attached."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            ecli_command("run", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env)
        self.stderr_lines: list[str] = []

    def wait_attached(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        assert self.process.stderr is not None
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                raise AssertionError(f"ecli exited before attaching: {self.stderr_lines}")
            self.stderr_lines.append(line)
            if ATTACHED in line:
                return
        raise AssertionError("ecli did not attach in time")

    def finish(self, timeout: float = 60) -> tuple[str, str, int]:
        out, err = self.process.communicate(timeout=timeout)
        return out, "".join(self.stderr_lines) + err, self.process.returncode

    def json_events(self, out: str) -> list[dict]:
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def bpf_program_ids() -> set[int]:
    """Ids of every eBPF program loaded in the kernel right now."""
    shown = subprocess.run(["bpftool", "-j", "prog", "show"], check=True,
                           capture_output=True, text=True).stdout
    return {prog["id"] for prog in json.loads(shown or "[]")}


def programs_left(before: set[int], timeout: float = 5.0) -> set[int]:
    """Programs loaded since `before` that are still there once the kernel settles.

    The kernel frees a program shortly after its last file descriptor closes
    (deferred work), so give it a moment before calling it a leak.
    """
    deadline = time.monotonic() + timeout
    while (left := bpf_program_ids() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def bpf_link_ids() -> set[int]:
    shown = subprocess.run(["bpftool", "-j", "link", "show"], check=True,
                           capture_output=True, text=True).stdout
    return {link["id"] for link in json.loads(shown or "[]")}


def touch_unique(directory: Path, tag: str) -> Path:
    """Open (create) a file whose name no other process will use."""
    path = directory / f"ecli-{tag}-{os.getpid()}-{time.monotonic_ns()}"
    with open(path, "w"):
        pass
    return path
