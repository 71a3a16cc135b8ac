"""Kind `image`: run an ordinary container image through podman or docker.

ecli does not pull or unpack container images itself: the engine does, by
digest when the index gave one. The container gets the capabilities the
package declares (`requirements.capabilities`), the host's PID namespace and
the kernel's tracing and BPF file systems, because eBPF tools observe the
host. With no engine, or a docker whose daemon does not answer, the user is
told exactly that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING, NoReturn

from ecli.errors import EngineError

if TYPE_CHECKING:
    from ecli.locate import LocatedPackage

ENGINES = ("podman", "docker")
ENGINE_ENV = "ECLI_CONTAINER_ENGINE"
PROBE_TIMEOUT_SECONDS = 10
HOST_MOUNTS = ("/sys/kernel/tracing", "/sys/kernel/debug", "/sys/fs/bpf")


def find_engine() -> str:
    """The path of a working engine: $ECLI_CONTAINER_ENGINE, podman, then docker."""
    wanted = os.environ.get(ENGINE_ENV)
    candidates = [wanted] if wanted else list(ENGINES)
    found = [(name, path) for name in candidates if (path := shutil.which(name))]
    if not found:
        raise EngineError(
            f"this package is a container image, and neither {' nor '.join(candidates)} "
            "is installed",
            hint="install podman (apt-get install podman) or docker, then run it again")
    problems = []
    for name, path in found:
        try:
            probe = subprocess.run([path, "version"], stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=PROBE_TIMEOUT_SECONDS)
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"{name}: {exc}")
            continue
        if probe.returncode == 0:
            return path
        last = (probe.stderr or probe.stdout).decode(errors="replace").strip().splitlines()
        problems.append(f"{name}: {last[-1] if last else f'exit {probe.returncode}'}")
    raise EngineError(f"no working container engine to run this image ({'; '.join(problems)})",
                      hint="start the docker daemon, or install podman")


def command(engine: str, package: LocatedPackage, program_args: list[str]) -> list[str]:
    """The engine command line; pure, so tests can check what would run."""
    if not package.reference:
        raise EngineError(f"{package.name}: the index gives no image reference")
    argv = [engine, "run", "--rm", "--pid=host"]
    capabilities = package.requirements.get("capabilities") or []
    if "ALL" in capabilities or "privileged" in package.requirements.get("permissions", []):
        argv.append("--privileged")
    else:
        argv += [f"--cap-add={c.removeprefix('CAP_')}" for c in capabilities
                 if isinstance(c, str)]
    argv += [f"--volume={m}:{m}" for m in HOST_MOUNTS if os.path.isdir(m)]
    if os.isatty(0):
        argv.append("-it")
    return [*argv, package.reference, *program_args]


def run(package: LocatedPackage, program_args: list[str]) -> NoReturn:
    argv = command(find_engine(), package, program_args)
    try:
        os.execv(argv[0], argv)
    except OSError as exc:
        raise EngineError(f"cannot start {argv[0]}: {exc.strerror}") from None
