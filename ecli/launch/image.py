"""Kind `image`: run an ordinary container image through podman or docker.

ecli does not pull or unpack container images itself: the engine does, by
digest when the index gave one. ecli first makes sure the engine has the
image (`image inspect`, else `pull`), so a missing or unreachable image is a
one-line ecli error rather than the engine's multi-line one, then replaces
itself with `ENGINE run --rm --pull=never ...`, so the container's exit
status is ecli's.

The container gets what an eBPF tool needs to observe the host, and nothing
that is the engine's business to decide: the capabilities the package
declares (`requirements.capabilities`, or `--privileged` for `ALL`), the
host's PID namespace (`--pid=host`, so PIDs it reports are the host's), the
host's network namespace (`--network=host`: XDP and tc programs attach to
the host's interfaces, and no container network has to be set up, so
netavark, CNI or iptables are never needed), and the kernel's tracing, debug
and BPF file systems mounted at their usual places. Engine settings such as
the OCI runtime, storage or ulimits come from the engine's own configuration
(containers.conf, storage.conf, registries.conf for podman).

The engine is $ECLI_CONTAINER_ENGINE when set (a name on PATH or a path),
else podman, else docker; each is probed with `ENGINE version`, so a docker
CLI whose daemon does not answer is reported as such. With no engine at all,
the user is told exactly that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING, NoReturn

from ecli.errors import EngineError

if TYPE_CHECKING:
    from ecli.packages.locate import LocatedPackage

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


def ensure_image(engine: str, reference: str, pull: str = "missing") -> None:
    """Have the engine hold `reference`, as the pull policy says; failures are one line.

    `missing` pulls only what the engine lacks, `always` pulls again (by digest
    this only checks the registry still holds it), `never` uses what is held.
    """
    try:
        if pull != "always":
            have = subprocess.run([engine, "image", "inspect", "--format", "{{.Id}}",
                                   reference], stdin=subprocess.DEVNULL, capture_output=True)
            if have.returncode == 0:
                return
            if pull == "never":
                raise EngineError(f"{os.path.basename(engine)} does not hold image {reference} "
                                  "and --pull is never",
                                  hint="pull it first, or use --pull missing")
        pulled = subprocess.run([engine, "pull", "--quiet", reference],
                                stdin=subprocess.DEVNULL, capture_output=True)
    except OSError as exc:
        raise EngineError(f"cannot start {engine}: {exc.strerror}") from None
    if pulled.returncode != 0:
        lines = pulled.stderr.decode(errors="replace").strip().splitlines()
        reason = lines[-1].removeprefix("Error: ") if lines else f"exit {pulled.returncode}"
        raise EngineError(f"cannot pull image {reference}: {reason}",
                          hint="check that the registry is reachable and still holds it")


def command(engine: str, package: LocatedPackage, program_args: list[str]) -> list[str]:
    """The engine command line; pure, so tests can check what would run."""
    if not package.reference:
        raise EngineError(f"{package.name}: the index gives no image reference")
    argv = [engine, "run", "--rm", "--pull=never", "--pid=host", "--network=host"]
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


def run(package: LocatedPackage, program_args: list[str], pull: str = "missing") -> NoReturn:
    """Replace ecli with the engine running the package's image."""
    engine = find_engine()
    argv = command(engine, package, program_args)
    ensure_image(engine, package.reference or "", pull)
    try:
        os.execv(argv[0], argv)
    except OSError as exc:
        raise EngineError(f"cannot start {argv[0]}: {exc.strerror}") from None
