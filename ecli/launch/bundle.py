"""Kind `bundle`: run the entrypoint of the extracted bundle (`ecli.packages.bundles`).

The entrypoint runs as ecli's child in its own process group, so ecli can
obey its run options: `--duration` ends the group (SIGTERM, then SIGKILL
after a grace period), SIGINT/SIGTERM/SIGHUP sent to ecli are forwarded to
it, and its exit status becomes ecli's. Output options reach it only when its
config's `run_options` says it understands them (`passed_options`); others are
refused rather than silently dropped. The entrypoint must resolve inside the
bundle. docs/formats.md (kind `bundle`) is the contract with package authors.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecli.errors import ArtifactError, UsageError
from ecli.packages.bundles import extracted
from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.packages.locate import LocatedPackage


def entrypoint(package: LocatedPackage, root: Path) -> list[str]:
    """The command line to run: the entrypoint resolved inside `root`, fixed args."""
    assert package.config is not None
    command = list(package.config.entrypoint)
    if not command:
        raise ArtifactError(f"{package.name}: the bundle has no entrypoint")
    relative = command[0]
    normal = posixpath.normpath(relative)
    if relative.startswith("/") or normal == ".." or normal.startswith("../"):
        raise ArtifactError(f"{package.name}: entrypoint {relative!r} must be a path inside "
                            "the bundle")
    path = root / normal
    real_root = os.path.realpath(root)
    if not os.path.realpath(path).startswith(real_root + os.sep):
        raise ArtifactError(f"{package.name}: entrypoint {relative!r} resolves outside the bundle")
    if not path.is_file():
        raise ArtifactError(f"{package.name}: entrypoint {relative!r} is not a file of the bundle")
    if not os.access(path, os.X_OK):
        raise ArtifactError(f"{package.name}: entrypoint {relative!r} is not executable")
    return [str(path), *command[1:]]


GRACE_SECONDS = 5.0
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    killed: bool = False  # --duration ended and it needed SIGKILL after the grace period


def passed_options(package: LocatedPackage, given: Mapping[str, Any]) -> list[str]:
    """The flags for the run options the user gave (`{"json": True, "top": 5}`), when
    the bundle declares it understands each; a one-line refusal for the first it does not."""
    declared = package.config.run_options if package.config else ()
    argv: list[str] = []
    for name, value in given.items():
        if name not in declared:
            understood = ", ".join(f"--{o}" for o in declared) or "none"
            raise UsageError(f"{package.name}: this bundle does not understand --{name} "
                             f"(its run_options: {understood})",
                             hint=f"run it without --{name}")
        argv += [f"--{name}"] if value is True else [f"--{name}", str(value)]
    return argv


def run(package: LocatedPackage, program_args: list[str], paths: Paths,
        duration: float | None = None) -> Outcome:
    """Run the entrypoint with the passed options and the user's arguments appended,
    until it exits or `duration` ends."""
    root = extracted(package, paths)
    argv = [*entrypoint(package, root), *program_args]
    env = dict(os.environ)
    env["ECLI_BUNDLE_DIR"] = str(root)
    env["ECLI_PACKAGE_NAME"] = package.name
    env["ECLI_PACKAGE_VERSION"] = package.version or ""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    with _Forwarding() as forwarding:
        try:
            child = subprocess.Popen(argv, env=env, process_group=0)
        except OSError as exc:
            raise ArtifactError(f"{package.name}: cannot run {argv[0]}: {exc.strerror}"
                                ) from None
        forwarding.start(child.pid)
        try:
            return _supervise(child, duration)
        finally:
            forwarding.group = None


def _supervise(child: subprocess.Popen[bytes], duration: float | None) -> Outcome:
    try:
        return Outcome(_status(child.wait(timeout=duration)))
    except subprocess.TimeoutExpired:
        pass
    _signal_group(child.pid, signal.SIGTERM)
    try:
        status = child.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(child.pid, signal.SIGKILL)
        return Outcome(_status(child.wait()), killed=True)
    # ended by our SIGTERM, as asked: that is a normal end of a timed run
    return Outcome(0 if status == -signal.SIGTERM else _status(status))


def _status(returncode: int) -> int:
    """A shell's exit status: killed by signal N is 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(group, signum)


class _Forwarding:
    """While the bundle runs, the signals that would end ecli go to its process group."""

    def __init__(self) -> None:
        self.group: int | None = None
        self.pending: list[int] = []  # arrived before the bundle's group existed
        self.started = False

    def start(self, group: int) -> None:
        """Forward to `group` from now on, and what arrived while it was being started."""
        self.group, self.started = group, True
        while self.pending:
            _signal_group(group, self.pending.pop(0))

    def _handler(self, signum: int, _frame: object) -> None:
        if self.group is not None:
            _signal_group(self.group, signum)
        elif not self.started:
            self.pending.append(signum)

    def __enter__(self) -> _Forwarding:
        self._previous = {sig: signal.signal(sig, self._handler) for sig in FORWARDED}
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
