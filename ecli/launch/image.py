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
and BPF file systems mounted at their usual places.

What ecli knows about this host is passed on the engine's command line, so
no one has to edit the engine's configuration for an ordinary run: a
registry ecli speaks plain HTTP to (loopback, or ECLI_INSECURE_REGISTRIES) is
pulled with podman's `--tls-verify=false` (docker already treats loopback as
insecure); the container gets ecli's own open-file limit (`--ulimit nofile`), which a
process started here would have, rather than the
engine's default that may exceed the hard limit of a root without
CAP_SYS_RESOURCE; on a host with hybrid cgroups, where crun refuses to run,
podman is told to use runc. Everything else (storage, other registries)
stays the engine's own configuration.

The engine is $ECLI_CONTAINER_ENGINE when set (a name on PATH or a path),
else podman, else docker; each is probed with `ENGINE version`, so a docker
CLI whose daemon does not answer is reported as such. With no engine at all,
the user is told exactly that.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from typing import TYPE_CHECKING, NoReturn

from ecli.errors import EngineError

if TYPE_CHECKING:
    from ecli.packages.locate import LocatedPackage

ENGINES = ("podman", "docker")
HYBRID_CGROUPS = "/sys/fs/cgroup/unified"  # cgroup v2 mounted beside v1
# podman (4.x, as root) runs conmon, and so runc's init, with at most this many
# processes; runc cannot raise a container's limit above it (seen: 32768 works,
# 65536 is refused with EPERM).
PODMAN_NPROC = 32768
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
        pulled = subprocess.run([engine, "pull", "--quiet", *_pull_options(engine, reference),
                                 reference], stdin=subprocess.DEVNULL, capture_output=True)
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
    argv = [engine, *_engine_options(engine), "run", "--rm", "--pull=never", "--pid=host",
            "--network=host", *_limits(engine)]
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


def _is_podman(engine: str) -> bool:
    return os.path.basename(engine).startswith("podman")


def _pull_options(engine: str, reference: str) -> list[str]:
    """podman verifies TLS even on loopback; ecli speaks plain HTTP to those registries."""
    from ecli.oci.registry import is_plain_http

    registry = reference.split("/", 1)[0]
    return ["--tls-verify=false"] if _is_podman(engine) and is_plain_http(registry) else []


def _engine_options(engine: str) -> list[str]:
    """podman's global flags for this host: runc where crun cannot run (hybrid cgroups)."""
    if _is_podman(engine) and os.path.isdir(HYBRID_CGROUPS) and shutil.which("runc"):
        return ["--runtime=runc"]
    return []


def _limits(engine: str) -> list[str]:
    """ecli's own open-file limit for the container, never the engine's default (which
    can be above the hard limit); for podman the process limit too, since naming one
    limit drops its configured defaults, capped where its runtime can set it."""
    options = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        options.append(f"--ulimit=nofile={hard if soft == resource.RLIM_INFINITY else soft}"
                       f":{hard}")
    if _is_podman(engine) and options:
        processes = resource.getrlimit(resource.RLIMIT_NPROC)[0]
        if processes == resource.RLIM_INFINITY or processes > PODMAN_NPROC:
            processes = PODMAN_NPROC
        options.append(f"--ulimit=nproc={processes}:{processes}")
    return options


def run(package: LocatedPackage, program_args: list[str], pull: str = "missing") -> NoReturn:
    """Replace ecli with the engine running the package's image."""
    engine = find_engine()
    argv = command(engine, package, program_args)
    ensure_image(engine, package.reference or "", pull)
    try:
        os.execv(argv[0], argv)
    except OSError as exc:
        raise EngineError(f"cannot start {argv[0]}: {exc.strerror}") from None
