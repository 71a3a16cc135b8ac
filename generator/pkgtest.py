"""A package's own proof that it works: run it with ecli, trigger it, look for the evidence.

Each index entry declares a `test` (docs/index-format.md): program options,
a trigger command run once every program is attached (optionally typed into
a terminal, for readline-style probes), and what must appear: an event with
given field values, or a result map with at least one entry. The same code
runs on the host (tests/test_kernel_matrix.py, over every entry) and inside
each guest kernel (`python -m generator.pkgtest PLAN`, by generator/guest.py),
so this module imports nothing but the standard library: the arm64 guest runs
it with Debian's arm64 Python and no virtual environment. In a guest each
test's ecli is a fork of the plan's own process (`Forked`), which keeps every
module the tests before it imported: under TCG, Python's start and ecli's
imports cost 3-10 s per test (docs/benchmarks.md).
"""

from __future__ import annotations

import importlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULT_MARK = "@@ecli-result"
REASON_CHARS = 2000  # a failure keeps the tail of ecli's error (the verifier's log)
ATTACH_SECONDS = 120.0  # TCG is slow: loading a program may take seconds there


@dataclass(frozen=True)
class PackageTest:
    """The `test` of an index entry."""

    trigger: str
    expect_event: dict[str, Any] = field(default_factory=dict)
    expect_map: str = ""
    options: tuple[str, ...] = ()
    tty_input: tuple[str, ...] = ()  # lines typed into the trigger through a terminal
    settle: float = 1.0  # seconds after the trigger before the run is stopped

    @classmethod
    def from_plain(cls, plain: dict[str, Any]) -> PackageTest:
        expect = plain.get("expect", {})
        return cls(plain["trigger"], dict(expect.get("event", {})), expect.get("map", ""),
                   tuple(plain.get("options", ())), tuple(plain.get("tty_input", ())),
                   float(plain.get("settle", 1.0)))


@dataclass(frozen=True)
class Outcome:
    result: str  # pass | fail
    reason: str = ""


class Forked:
    """`ecli ARGS` run by a fork of this process (a `subprocess.Popen` look-alike for
    `run_test`): the modules imported here are already loaded in it. What it prints
    goes to files, read once it has exited."""

    def __init__(self, args: list[str], scratch: Path) -> None:
        self._out, self._err = Path(scratch, "out"), Path(scratch, "err")
        self._modules = Path(scratch, "modules")
        self.returncode: int | None = None
        self.pid = os.fork()
        if self.pid == 0:
            self._child(args)

    def _child(self, args: list[str]) -> None:
        code = 70
        try:
            for fd, path in ((1, self._out), (2, self._err)):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
            from ecli.cli.main import main

            code = main(args)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            self._modules.write_text("\n".join(sorted(sys.modules)))
            os._exit(code)

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("ecli", timeout or 0)
            time.sleep(0.05)
        return self.returncode or 0

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self.wait(timeout)
        return _read(self._out), _read(self._err)

    def send_signal(self, number: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, number)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def warm(self) -> None:
        """Import here what the child imported, so that the next fork starts with it."""
        names = self._modules.read_text().split() if self._modules.exists() else []
        for name in names:
            if name.startswith("ecli") and name not in sys.modules:
                try:
                    importlib.import_module(name)
                except Exception:  # a module that cannot be imported twice: the fork imports it
                    continue


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def run_test(target: str, test: PackageTest, *, ecli: list[str] | None = None,
             env: dict[str, str] | None = None, forked: bool = False) -> Outcome:
    """Run `target` (a .bpf.o path or a reference) under ecli and judge the evidence;
    `forked`: in a fork of this process (see `Forked`) instead of a new Python."""
    command = ecli or [sys.executable, "-m", "ecli"]
    with tempfile.TemporaryDirectory(prefix="ecli-pkgtest-") as scratch:
        status = Path(scratch, "status.json")
        args = ["run", "--json", "--yes", "--pull", "never", "--duration", "600",
                "--status-file", str(status), target, *test.options]
        run: Forked | subprocess.Popen[str] = Forked(args, Path(scratch)) if forked else (
            subprocess.Popen([*command, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env))
        try:
            if not _wait_attached(run, status):
                out, err = run.communicate(timeout=60)
                return Outcome("fail", _tail(err or out or f"ecli exited {run.returncode} "
                                             "before attaching"))
            _trigger(test)
            time.sleep(test.settle)
            run.send_signal(signal.SIGTERM)
            out, err = run.communicate(timeout=120)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
            if isinstance(run, Forked):
                run.warm()
    if run.returncode != 0:
        return Outcome("fail", _tail(err or f"ecli exited {run.returncode}"))
    return judge(out, test)


def judge(output: str, test: PackageTest) -> Outcome:
    """Does ecli's JSON output hold what the test expects?"""
    records = []
    for line in output.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    if test.expect_event:
        wanted = {key: str(value) for key, value in test.expect_event.items()}
        for record in records:
            if isinstance(record, dict) and all(
                    str(record.get(key)) == value for key, value in wanted.items()):
                return Outcome("pass")
        return Outcome("fail", f"no event with {_fields(wanted)} among {len(records)} records")
    for record in records:
        for table in record.get("maps", []) if isinstance(record, dict) else []:
            if table.get("map") == test.expect_map and _holds_something(table):
                return Outcome("pass")
    return Outcome("fail", f"the result map {test.expect_map!r} stayed empty")


def _holds_something(table: dict[str, Any]) -> bool:
    """A counter or stack map with an entry, or a histogram with a counted bucket."""
    return bool(table.get("entries")) or any(
        bucket.get("count") for bucket in table.get("buckets", []))


def _wait_attached(run: subprocess.Popen[str], status: Path) -> bool:
    deadline = time.monotonic() + ATTACH_SECONDS
    while time.monotonic() < deadline and run.poll() is None:
        try:
            if json.loads(status.read_text()).get("state") == "attached":
                return True
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    return False


def _trigger(test: PackageTest) -> None:
    if not test.tty_input:
        subprocess.run(["/bin/sh", "-c", test.trigger], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120, check=False)
        return
    pid, fd = pty.fork()
    if pid == 0:
        os.execv("/bin/sh", ["sh", "-c", test.trigger])
    try:
        for line in test.tty_input:
            os.write(fd, line.encode() + b"\n")
            _drain(fd)
    finally:
        _drain(fd)
        os.close(fd)
        os.waitpid(pid, 0)


def _drain(fd: int, quiet: float = 0.5, limit: float = 10.0) -> None:
    """Read what the terminal printed until it has been quiet for `quiet` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], quiet)
        if not ready:
            return
        try:
            if not os.read(fd, 4096):
                return
        except OSError:
            return


def _fields(wanted: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in wanted.items())


def _tail(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    tail = "\n".join(lines[-20:])
    return tail[-REASON_CHARS:]


def main(argv: list[str]) -> int:
    """`python -m generator.pkgtest PLAN.json`: each test, one marked JSON line each."""
    plan = json.loads(Path(argv[0]).read_text())
    for item in plan["tests"]:
        try:
            outcome = run_test(item["target"], PackageTest.from_plain(item["test"]),
                               forked=True)
        except (OSError, subprocess.SubprocessError) as exc:  # the next test still runs
            outcome = Outcome("fail", f"the test could not run: {exc}")
        record = {key: item[key] for key in ("package", "version", "digest")}
        record.update(result=outcome.result, reason=outcome.reason)
        print(RESULT_MARK, json.dumps(record, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
