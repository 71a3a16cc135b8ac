"""Kind `image` end to end: a real image in the real registry, run by a real podman.

The image is a busybox rootfs made here (no network), pushed by digest to the
test registry; `ecli run boxed -- ARGS` must run it through podman with the
host's PID namespace, the declared capabilities and tracefs, pass the
arguments and hand back the container's exit status. Podman keeps
everything (storage, run state, events) under the test's temporary folder,
with the vfs driver so no mount outlives a test. That folder is a short one
under /tmp, removed afterwards: under pytest's long tmp_path, conmon's
socket paths pass the 108-byte limit and every run waits 20 s for a
timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ecli.hubindex import model
from ecli.trust import keys

from ecli_process import error_line, run_ecli
from pm_fixtures import index_document, write_catalog

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "cat", "grep", "ls", "echo")
# arguments: PID-to-look-at EXIT-STATUS ANYTHING...
SCRIPT = """\
echo "pid1=$(cat /proc/1/comm)"
echo "comm=$(cat /proc/$1/comm)"
grep CapEff /proc/self/status
ls /sys/kernel/tracing/events | grep -x -e syscalls -e sched | sed 's/^/events=/'
for a in "$@"; do echo "arg=[$a]"; done
exit "$2"
"""
CAP_PERFMON, CAP_BPF = 38, 39


@contextmanager
def short_folder() -> Iterator[Path]:
    """A short-pathed temporary folder for podman's state, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="ecli-pd-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def podman_env(folder: Path, registry_host: str, *, tuned: bool = True) -> dict[str, str]:
    """Environment for a podman that keeps all its state under `folder`.

    `tuned`: set up as this host needs when podman is used by hand: runc
    rather than crun (crun refuses cgroup v1/v2 hybrid hosts, this VM),
    explicit ulimits (root here lacks CAP_SYS_RESOURCE, and podman's default,
    nofile 1048576, is above the hard limit), the plain-HTTP registry marked
    insecure. Without it, only where podman keeps its state is changed: what
    `ecli run` must manage on its own.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{folder}/root"\nrunroot = "{folder}/run"\n')
    runtime = '\nruntime = "runc"\ncgroup_manager = "cgroupfs"' if tuned else ""
    limits = '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
    (folder / "containers.conf").write_text(
        (limits if tuned else "") + f'[engine]{runtime}\ntmp_dir = "{folder}/tmp"\n'
        f'events_logger = "file"\nevents_logfile_path = "{folder}/events.log"\n')
    insecure = f'[[registry]]\nlocation = "{registry_host}"\ninsecure = true\n'
    (folder / "registries.conf").write_text(insecure if tuned else "")
    return {**os.environ,
            "CONTAINERS_STORAGE_CONF": str(folder / "storage.conf"),
            "CONTAINERS_CONF": str(folder / "containers.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(folder / "registries.conf")}


def podman(*args: str, env: dict[str, str], stdin: bytes | None = None) -> str:
    result = subprocess.run(["podman", *args], input=stdin, capture_output=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def build_and_push(folder: Path, registry_host: str) -> str:
    """Import a busybox rootfs as an image, push it; returns its manifest digest."""
    rootfs = folder / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")
    tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True,
                         check=True).stdout
    with short_folder() as state:
        return _import_and_push(podman_env(state, registry_host), tar, folder, registry_host)


def _import_and_push(env: dict[str, str], tar: bytes, folder: Path, registry_host: str) -> str:
    entrypoint = json.dumps(["/bin/sh", "-c", SCRIPT, "box"])
    podman("import", "--change", f"ENTRYPOINT {entrypoint}", "-", "localhost/ecli-test-box:1",
           env=env, stdin=tar)
    digest_file = folder / "digest"
    podman("push", "--tls-verify=false", "--digestfile", str(digest_file),
           "localhost/ecli-test-box:1", f"{registry_host}/pm/box:1", env=env)
    podman("rmi", "--all", "--force", env=env)
    return digest_file.read_text().strip()


@pytest.fixture(scope="module")
def image_hub(registry, tmp_path_factory):
    """`boxed` (the pushed image, CAP_BPF + CAP_PERFMON) and `gone` (a digest never pushed)."""
    tmp = tmp_path_factory.mktemp("image")
    digest = build_and_push(tmp, registry.host)
    repository = f"{registry.host}/pm/box"
    boxed = index_document("boxed", repository, [("1.0.0", digest, None)], kind="image")
    boxed = boxed._replace(versions=tuple(
        v._replace(requirements={"capabilities": ["CAP_BPF", "CAP_PERFMON"]})
        for v in boxed.versions))
    gone = index_document("gone", repository, [("1.0.0", "sha256:" + "ab" * 32, None)],
                          kind="image")
    signed, forged = _signed_images(boxed, tmp, f"{repository}@{digest}")
    folder = write_catalog(tmp / "api" / "v1", [boxed, gone, signed, forged])
    return {"folder": folder, "registry": registry, "digest": digest}


def _signed_images(boxed: model.PackageDocument, tmp: Path, pinned: str
                   ) -> tuple[model.PackageDocument, model.PackageDocument]:
    """The same image, signed by its publisher (`ecli sign`): `signedbox` declares that
    key, `forgedbox` another one."""
    private, public = keys.generate(tmp / "publisher")
    signed = run_ecli("sign", pinned, "--key", str(private), env={**os.environ})
    assert signed.returncode == 0, signed.stderr
    _, stranger = keys.generate(tmp / "stranger")

    def declaring(name: str, key: Path) -> model.PackageDocument:
        pem = key.read_text()
        return boxed._replace(name=name, signer=model.Signer(
            pem, keys.load_public(key).fingerprint()))

    return declaring("signedbox", public), declaring("forgedbox", stranger)


@pytest.fixture
def env(env, image_hub):
    """ecli with the index as its only source, podman with per-test storage."""
    with short_folder() as state:
        yield from _ecli_env(env, image_hub, state)


def _ecli_env(base: dict[str, str], image_hub: dict, state: Path,
              tuned: bool = True) -> Iterator[dict[str, str]]:
    environment = {**podman_env(state, image_hub["registry"].host, tuned=tuned), **base,
                   "ECLI_CONTAINER_ENGINE": "podman"}
    environment.pop("DOCKER_CONFIG", None)  # podman fails on one without config.json
    added = run_ecli("sources", "add", "test", str(image_hub["folder"]), env=environment)
    assert added.returncode == 0, added.stderr
    yield environment
    subprocess.run(["podman", "rm", "--all", "--force"], env=environment, capture_output=True)
    subprocess.run(["podman", "rmi", "--all", "--force"], env=environment, capture_output=True)


def test_image_runs_in_podman_with_host_pid_capabilities_and_tracefs(env, tmp_path):
    me = os.getpid()
    result = run_ecli("run", "--yes", "boxed", "--", str(me), "7", "two words", "--flag", env=env,
                      timeout=180)
    assert "Traceback" not in result.stderr
    assert result.returncode == 7, result.stderr
    lines = result.stdout.splitlines()
    # (a) the host's PID namespace: the host's PID 1 and this test's own process
    assert f"pid1={Path('/proc/1/comm').read_text().strip()}" in lines
    assert f"comm={Path(f'/proc/{me}/comm').read_text().strip()}" in lines
    # (b) the declared capabilities are effective
    cap_eff = int(next(line for line in lines if line.startswith("CapEff:")).split()[1], 16)
    assert cap_eff & (1 << CAP_BPF), hex(cap_eff)
    assert cap_eff & (1 << CAP_PERFMON), hex(cap_eff)
    # (c) tracefs is mounted: its events folder is listed
    assert {"events=syscalls", "events=sched"} <= set(lines)
    # (d) the arguments reach the entrypoint unchanged
    args = [line for line in lines if line.startswith("arg=")]
    assert args == [f"arg=[{me}]", "arg=[7]", "arg=[two words]", "arg=[--flag]"]
    # --rm: nothing left behind in the engine
    assert podman("ps", "--all", "--quiet", env=env).strip() == ""


def test_a_local_registry_image_runs_with_no_engine_configuration(image_hub, tmp_path):
    """Nothing in podman's configuration but where it keeps its state: ecli passes what it
    knows (a plain-HTTP registry, this host's runtime and limits) on the command line."""
    with short_folder() as state:
        base = {**os.environ, "ECLI_HOME": str(tmp_path / "home")}
        environment = next(_ecli_env(base, image_hub, state, tuned=False))
        assert "insecure" not in Path(environment["CONTAINERS_REGISTRIES_CONF"]).read_text()
        try:
            result = run_ecli("run", "--yes", "boxed", "--", "1", "5", "bare", env=environment,
                              timeout=180)
            assert result.returncode == 5, result.stderr
            assert "arg=[bare]" in result.stdout.splitlines()
        finally:
            subprocess.run(["podman", "rmi", "--all", "--force"], env=environment,
                           capture_output=True)


def test_exit_status_zero_is_passed_through(env):
    result = run_ecli("run", "--yes", "boxed", "--", "1", "0", env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "arg=[0]" in result.stdout.splitlines()


def test_pull_policy_reaches_the_engine(env):
    never = run_ecli("run", "--yes", "--pull", "never", "boxed", "--", "1", "0", env=env,
                     timeout=180)
    assert never.returncode == 1, never.stderr
    assert error_line(never).startswith("ecli: error: podman does not hold image ")
    assert "--pull is never" in error_line(never)
    assert run_ecli("run", "--yes", "boxed", "--", "1", "0", env=env, timeout=180).returncode == 0
    again = run_ecli("run", "--yes", "--pull", "never", "boxed", "--", "1", "0", env=env,
                     timeout=180)
    assert again.returncode == 0, again.stderr
    always = run_ecli("run", "--yes", "--pull", "always", "boxed", "--", "1", "3", env=env,
                      timeout=180)
    assert always.returncode == 3, always.stderr


def test_an_image_is_verified_against_the_signer_its_entry_declares(env):
    """Checked from the registry before the engine pulls anything: a signature by another
    key is refused in one line, and the engine holds no image afterwards."""
    forged = run_ecli("run", "--yes", "forgedbox", "--", "1", "0", env=env, timeout=180)
    assert forged.returncode == 1, forged.stderr
    line = error_line(forged)
    assert line.startswith("ecli: error: forgedbox 1.0.0: signature refused: ")
    assert "not signed by the key" in line and "Traceback" not in forged.stderr
    assert podman("images", "--quiet", env=env).strip() == "", "nothing pulled"
    signed = run_ecli("run", "signedbox", "--", "1", "0", env=env, timeout=180)
    assert signed.returncode == 0, signed.stderr
    # vouched for by its declared signer: shown as elevated, not asked (no terminal here)
    assert "elevated   run-publisher-code" in signed.stderr and "signed by sha256:" \
        in signed.stderr, signed.stderr
    assert "unsigned" not in signed.stderr


def test_image_missing_from_the_registry_is_a_one_line_error(env):
    result = run_ecli("run", "--yes", "gone", env=env, timeout=180)
    assert result.returncode == 1, result.stderr
    first = error_line(result)
    assert first.startswith("ecli: error: cannot pull image "), result.stderr
    assert "sha256:" + "ab" * 32 in first
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_an_engine_whose_service_does_not_answer_is_a_clear_error(env, tmp_path):
    """Like docker without its daemon: podman as a remote client of a socket nobody serves."""
    remote = tmp_path / "remote.conf"
    remote.write_text("[engine]\nremote = true\n")
    nowhere = f"unix://{tmp_path}/no-service.sock"
    result = run_ecli("run", "--yes", "boxed", env={**env, "ECLI_CONTAINER_ENGINE": "podman",
                                           "CONTAINERS_CONF": str(remote),
                                           "CONTAINER_HOST": nowhere})
    assert result.returncode == 1, result.stderr
    first = error_line(result)
    assert first.startswith("ecli: error: no working container engine to run this image "
                            "(podman: "), first
    assert "no-service.sock" in first
    assert "Traceback" not in result.stderr
